import Foundation

/// DEIS (Zhang & Chen 2023) as diffusers' `DEISMultistepScheduler` (deis_type 'logrho'),
/// orders 1–3: ε is interpolated by a Lagrange polynomial in log ρ (ρ = s) through the last
/// `order` evaluations and integrated over ρ exactly:
///   y_t = y_s + Σ_j c_j·ε_j,  c_j = ∫_{s}^{t} ℓ_j(log ρ) dρ
/// (here by 16-point Gauss–Legendre in u = log ρ, in Double). Order rules as DPM-Solver
/// multistep; a step into s = 0 is first order.
public final class DEISSolver: Solver {
    public let name = "deis"
    public let order: Int
    public let lowerOrderFinal: Bool
    public var options: [String: String] { ["order": String(order), "lower_order_final": String(lowerOrderFinal)] }
    public var historyDepth: Int { order }
    public var teachesItself: Bool { Self.entry.teachesItself }

    public static let entry = SolverEntry(name: "deis",
        help: "DEIS, diffusers' log-rho variant: ε interpolated in log s, integrated exactly over s " +
              "(coefficients by quadrature in Float64).",
        options: [.integer("order", 1...3, default: 2, "the order of the interpolating polynomial"), .lowerOrderFinal],
        teachesItself: true) {
        try DEISSolver(order: $0.int("order"), lowerOrderFinal: $0.bool("lower_order_final"))
    }

    public init(order: Int = 2, lowerOrderFinal: Bool = true) throws {
        self.order = try SolverOption.checkOrder(order, in: 1...3, solver: "deis")
        self.lowerOrderFinal = lowerOrderFinal
    }

    public func plan(_ grid: Grid) throws -> Plan {
        .onePerStep(grid, orders: Plan.multistepOrders(order: order, grid: grid, lowerOrderFinal: lowerOrderFinal))
    }

    /// Σ_j c_j·ε_j (the increment y_t − y_s).
    func increment(_ k: Int, _ run: SolverRun) -> Combination {
        let e = run.evaluation(k)
        if e.order == 1 || e.lands.isClean {
            return Combination.eps(k, pred: .consumed, s: e.at.s).scaled(e.lands.s - e.at.s)
        }
        let nodes = (0..<e.order).map { Foundation.log(run.evaluation(k - $0).at.s) }
        var c = Combination()
        for j in 0..<e.order {
            let coef = Quadrature.integrate(Foundation.log(e.at.s), Foundation.log(e.lands.s)) { u in
                Quadrature.lagrange(j, nodes, u) * Foundation.exp(u)
            }
            c.add(.eps(k - j, pred: j == 0 ? .consumed : .d(k - j), s: run.evaluation(k - j).at.s), scale: coef)
        }
        return c
    }

    public func update(_ k: Int, _ run: SolverRun) throws -> Update {
        .linear(landing: Combination([(1, .y(k))]) + increment(k, run), aux: [])
    }

    /// ε_eff with y_t = y_s + (t − s)·ε_eff (the DDIM form the reference code differences).
    public func effectiveEps(_ k: Int, _ run: SolverRun) throws -> Combination? {
        let e = run.evaluation(k)
        return increment(k, run).scaled(1 / (e.lands.s - e.at.s))
    }
}
