/// k-diffusion's linear multistep method (`sample_lms`, default order 4): with slopes
/// d_j = (y_j − D_j)/s_j, y' = y + Σ_j c_j·d_{i−j}, c_j the integral over [s_i, s_{i+1}] of the
/// Lagrange basis polynomial through the last min(i + 1, order) noise levels (here by
/// Gauss–Legendre quadrature, exact for these polynomials).
public final class LMSSolver: Solver {
    public let name = "lms"
    public let order: Int
    public var options: [String: String] { ["order": String(order)] }
    public var historyDepth: Int { order }

    public static let entry = SolverEntry(name: "lms",
        help: "k-diffusion's linear multistep method (Lagrange coefficients integrated in s).",
        options: [.integer("order", 1...4, default: 4, "the highest order (reached after order − 1 steps)")]) {
        try LMSSolver(order: $0.int("order"))
    }

    public init(order: Int = 4) throws {
        self.order = try SolverOption.checkOrder(order, in: 1...4, solver: "lms")
    }

    public func plan(_ grid: Grid) throws -> Plan {
        .onePerStep(grid, orders: Plan.warmUpOrders(grid, order: order))
    }

    public func update(_ k: Int, _ run: SolverRun) throws -> Update {
        let e = run.evaluation(k)
        let cur = e.order
        let nodes = (0..<cur).map { run.evaluation(k - $0).at.s }
        var c = Combination([(1, .y(k))])
        for j in 0..<cur {
            let coef = Quadrature.integrate(e.at.s, e.lands.s) { Quadrature.lagrange(j, nodes, $0) }
            c.addEps(coef, y: k - j, d: j == 0 ? .consumed : .d(k - j), s: nodes[j])
        }
        return .linear(landing: c, aux: [])
    }
}
