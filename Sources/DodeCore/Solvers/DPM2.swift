import Foundation

/// k-diffusion's DPM-2 (`sample_dpm_2`): an Euler step to the midpoint s_mid = √(s_i·s_{i+1}),
/// then the full step with the midpoint slope; the step into s = 0 is Euler (2N − 1
/// evaluations). The first stage lands on s_mid, between grid points.
public final class DPM2Solver: Solver {
    public let name = "dpm2"
    public var options: [String: String] { [:] }
    public var historyDepth: Int { 2 }
    public init() {}

    public static let entry = SolverEntry(name: "dpm2",
        help: "k-diffusion's DPM-2: Euler to the geometric midpoint, then the step with the midpoint slope; " +
              "Euler into s = 0.") { _ in DPM2Solver() }

    public func plan(_ grid: Grid) throws -> Plan {
        try .twoStage(grid) { a, b in
            try grid.schedule.point(s: Foundation.exp(0.5 * (Foundation.log(a.s) + Foundation.log(b.s))))
        }
    }

    public func update(_ k: Int, _ run: SolverRun) throws -> Update {
        let e = run.evaluation(k)
        if e.stage == 0 { return .linear(landing: .firstOrderStep(k, from: e.at, to: e.lands), aux: []) }
        // y_{i+1} = y_i + (s_{i+1} − s_i)·(y_mid − D̃)/s_mid
        let p = run.evaluation(k - 1)
        var c = Combination([(1, .y(k - 1))])
        c.addEps(e.lands.s - p.at.s, y: k, d: .consumed, s: e.at.s)
        return .linear(landing: c, aux: [])
    }
}
