/// DDIM with η = 0 (Song et al. 2021): y' = r·y + (1 − r)·D, r = s_{i+1}/s_i. The same step is
/// Euler in s and DPM-Solver(++) of order 1 (method.md §2). One evaluation per step.
public final class DDIMSolver: Solver {
    public let name = "ddim"
    public var options: [String: String] { [:] }
    public var historyDepth: Int { 1 }
    public init() {}

    public func plan(_ grid: Grid) throws -> Plan {
        StepMath.onePerStep(grid, orders: Array(repeating: 1, count: grid.steps))
    }

    public func update(_ k: Int, _ run: SolverRun) throws -> Update {
        let e = run.evaluation(k)
        return .linear(landing: StepMath.firstOrder(k, from: e.at, to: e.lands), aux: [])
    }
}
