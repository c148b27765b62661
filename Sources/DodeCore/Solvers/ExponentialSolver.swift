/// What DPM-Solver and DPM-Solver++ share: order 1–3, multistep (diffusers' order rules) or
/// singlestep (the paper's logSNR fractions), and `lower_order_final`. Subclasses give the update.
public class ExponentialSolver: Solver {
    public let name: String
    public let order: Int
    public let singlestep: Bool
    public let lowerOrderFinal: Bool
    public var options: [String: String] {
        ["order": String(order), "method": singlestep ? "singlestep" : "multistep",
         "lower_order_final": String(lowerOrderFinal)]
    }
    public var historyDepth: Int { order }

    init(name: String, order: Int, singlestep: Bool, lowerOrderFinal: Bool) throws {
        self.name = name
        self.order = try SolverOption.checkOrder(order, in: 1...3, solver: name)
        self.singlestep = singlestep
        self.lowerOrderFinal = lowerOrderFinal
    }

    public func plan(_ grid: Grid) throws -> Plan {
        if singlestep { return try .singlestep(grid, order: order) }
        return .onePerStep(grid, orders: Plan.multistepOrders(order: order, grid: grid,
                                                              lowerOrderFinal: lowerOrderFinal))
    }

    public func update(_ k: Int, _ run: SolverRun) throws -> Update {
        throw CoreError("internal: \(name) does not implement update")
    }

    /// The options the catalogue entries of DPM-Solver and DPM-Solver++ share.
    static let catalogueOptions: [SolverOption] = [
        .integer("order", 1...3, default: 2, "the solver's order"),
        .choice("method", ["multistep", "singlestep"], default: "multistep",
                "multistep reuses past evaluations; singlestep takes order − 1 extra evaluations per step " +
                "at logSNR fractions (½; ⅓ and ⅔)"),
        .lowerOrderFinal,
    ]
}
