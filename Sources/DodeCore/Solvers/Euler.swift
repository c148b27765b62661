/// Euler's method on the probability-flow ODE in s (k-diffusion `sample_euler`, diffusers
/// `EulerDiscreteScheduler`): y' = y + (s' − s)·(y − D)/s — algebraically the DDIM step.
public final class EulerSolver: Solver {
    public let name = "euler"
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
