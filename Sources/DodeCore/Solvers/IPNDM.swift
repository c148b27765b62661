/// Improved PNDM (Zhang & Chen 2023): the PLMS Adams–Bashforth weights on ε with the DDIM
/// transfer y' = y + (s' − s)·ε_eff, without PNDM's extra warm-start evaluation (orders rise
/// min(i + 1, order) from the first step). Order ≤ 4.
public final class IPNDMSolver: Solver {
    public let name = "ipndm"
    public let order: Int
    public var options: [String: String] { ["order": String(order)] }
    public var historyDepth: Int { order }
    public var teachesItself: Bool { Self.entry.teachesItself }

    public static let entry = SolverEntry(name: "ipndm",
        help: "Improved PNDM: Adams–Bashforth on ε with the DDIM transfer, orders rising from 1, " +
              "no extra evaluation.",
        options: [.integer("order", 1...4, default: 4, "the highest Adams–Bashforth order")],
        teachesItself: true) {
        try IPNDMSolver(order: $0.int("order"))
    }

    public init(order: Int = 4) throws {
        self.order = try SolverOption.checkOrder(order, in: 1...4, solver: "ipndm")
    }

    public func plan(_ grid: Grid) throws -> Plan {
        .onePerStep(grid, orders: Plan.warmUpOrders(grid, order: order))
    }

    public func update(_ k: Int, _ run: SolverRun) throws -> Update {
        let e = run.evaluation(k)
        return .linear(landing: Combination([(1, .y(k))])
                                + (try effectiveEps(k, run) ?? Combination()).scaled(e.lands.s - e.at.s),
                       aux: [])
    }

    public func effectiveEps(_ k: Int, _ run: SolverRun) throws -> Combination? {
        let o = run.evaluation(k).order
        return AdamsBashforth.combine((0..<o).map { k - $0 }, current: k, run)
    }
}
