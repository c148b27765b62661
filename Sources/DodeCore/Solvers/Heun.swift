/// EDM's Heun method (Karras et al. 2022; k-diffusion `sample_heun` with no churn): an Euler
/// predictor to s_{i+1}, then the average of the two slopes; the step into s = 0 is plain Euler,
/// so N steps cost 2N − 1 evaluations. The predictor's evaluation lands on s_{i+1} too.
public final class HeunSolver: Solver {
    public let name = "heun"
    public var options: [String: String] { [:] }
    public var historyDepth: Int { 2 }
    public init() {}

    public static let entry = SolverEntry(name: "heun",
        help: "EDM's Heun (k-diffusion sample_heun): Euler predictor, trapezoidal corrector; " +
              "the step into s = 0 is Euler (2N − 1 evaluations).") { _ in HeunSolver() }

    public func plan(_ grid: Grid) throws -> Plan {
        try .twoStage(grid) { _, b in b }   // the predictor lands on the next point
    }

    public func update(_ k: Int, _ run: SolverRun) throws -> Update {
        let e = run.evaluation(k)
        if e.stage == 0 { return .linear(landing: .firstOrderStep(k, from: e.at, to: e.lands), aux: []) }
        // Corrector: y_{i+1} = y_i + dt/2·(d_0 + d_1), d_0 = (y_i − D_0)/s_i, d_1 = (ŷ − D̃)/s_{i+1}.
        let p = run.evaluation(k - 1)
        let dt = e.lands.s - p.at.s
        var c = Combination([(1, .y(k - 1))])
        c.addEps(dt / 2, y: k - 1, d: .d(k - 1), s: p.at.s)
        c.addEps(dt / 2, y: k, d: .consumed, s: e.at.s)
        return .linear(landing: c, aux: [])
    }
}
