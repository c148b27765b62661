/// PNDM's pseudo linear multistep method as diffusers' `PNDMScheduler` with skip_prk_steps
/// (Liu et al. 2022): the update is the DDIM step written in ε, y' = y + (s' − s)·ε̂. Warm start:
/// ε₀ at x_T, a DDIM step to the second point and a second evaluation there, then the first step
/// is redone from x_T with (ε₀ + ε₁′)/2 (ε₁′ is not kept); later steps combine the kept ε's with
/// the Adams–Bashforth weights (3,−1)/2, (23,−16,5)/12, (55,−59,37,−9)/24. NFE = N + 1.
public final class PNDMSolver: Solver {
    public let name = "pndm"
    public var options: [String: String] { [:] }
    public var historyDepth: Int { 5 }
    public init() {}

    public static let entry = SolverEntry(name: "pndm",
        help: "diffusers' PNDM/PLMS with skip_prk_steps: DDIM in ε with Adams–Bashforth weights, " +
              "warm start re-evaluating the second point (N + 1 evaluations).") { _ in PNDMSolver() }

    public func plan(_ grid: Grid) throws -> Plan {
        let n = grid.steps
        if n == 1 { return .onePerStep(grid, orders: [1]) }
        var evs = [Evaluation(step: 0, stage: 0, at: grid[0], lands: grid[1], order: 2, final: false),
                   Evaluation(step: 0, stage: 1, at: grid[1], lands: grid[1], order: 2, final: true)]
        var orders = [2]
        for i in 1..<n {
            let o = Swift.min(i + 1, 4)
            evs.append(Evaluation(step: i, stage: 0, at: grid[i], lands: grid[i + 1], order: o, final: true))
            orders.append(o)
        }
        return Plan(evaluations: evs, stepOrders: orders)
    }

    /// The kept ε's at evaluation k ≥ 2, newest first: k, k−1, …, 2, then 0 (at most 4).
    func kept(_ k: Int) -> [Int] { Array((Array((2...k).reversed()) + [0]).prefix(4)) }

    public func update(_ k: Int, _ run: SolverRun) throws -> Update {
        let e = run.evaluation(k)
        if run.plan.evaluations.count == 1 || (k == 0) {
            return .linear(landing: .firstOrderStep(k, from: e.at, to: e.lands), aux: [])
        }
        if k == 1 {
            // Redo the first step from x_T with (ε₀ + ε₁′)/2.
            let p = run.evaluation(0)
            var epsMean = Combination.eps(0, pred: .d(0), s: p.at.s).scaled(0.5)
            epsMean.add(.eps(1, pred: .consumed, s: e.at.s), scale: 0.5)
            return .linear(landing: Combination([(1, .y(0))]) + epsMean.scaled(e.lands.s - p.at.s), aux: [])
        }
        let eh = AdamsBashforth.combine(kept(k), current: k, run)
        return .linear(landing: Combination([(1, .y(k))]) + eh.scaled(e.lands.s - e.at.s), aux: [])
    }
}
