/// The first-order step y' = r·y + (1 − r)·D with r = s_{i+1}/s_i, one evaluation per step.
/// DDIM with η = 0 (Song et al. 2021), Euler's method in s (k-diffusion `sample_euler`, diffusers
/// `EulerDiscreteScheduler`) and DPM-Solver(++) of order 1 are all this step (docs/method.md §3.3);
/// `DDIMSolver` and `EulerSolver` differ only in name.
public class FirstOrderSolver: Solver {
    public let name: String
    public var options: [String: String] { [:] }
    public var historyDepth: Int { 1 }
    init(name: String) { self.name = name }

    public func plan(_ grid: Grid) throws -> Plan {
        .onePerStep(grid, orders: Array(repeating: 1, count: grid.steps))
    }

    public func update(_ k: Int, _ run: SolverRun) throws -> Update {
        let e = run.evaluation(k)
        return .linear(landing: .firstOrderStep(k, from: e.at, to: e.lands), aux: [])
    }
}

/// DDIM with η = 0.
public final class DDIMSolver: FirstOrderSolver {
    public init() { super.init(name: "ddim") }

    public static let entry = SolverEntry(name: "ddim",
        help: "DDIM (η = 0): y' = r·y + (1 − r)·D with r = s'/s; one evaluation per step.") { _ in DDIMSolver() }
}
