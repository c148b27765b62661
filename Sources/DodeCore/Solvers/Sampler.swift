/// Runs a solver over a grid from start states: the `solver:sample` of the Lua API.
public enum Sampler {
    /// What a step callback receives (after a grid step's last evaluation).
    public struct StepInfo {
        /// Grid step (0-based).
        public let step: Int
        /// Evaluations so far.
        public let nfe: Int
        /// The grid point the step landed on.
        public let point: Point
        /// The state there (schedule space) and the step's last raw prediction.
        public let x: Tensor
        public let denoised: Tensor
        public let order: Int
    }

    /// The denoiser call with context for errors.
    static func evaluate(_ den: Denoiser, _ run: SolverRun, _ e: Evaluation, cond: Tensor?) throws -> Tensor {
        let out = try run.buffer()
        try den.denoise(run.state, at: e.at, cond: cond, into: out)
        return out
    }

    /// Checks that the grid and the denoiser share a schedule and the state matches the denoiser.
    public static func checkCompatible(_ den: Denoiser, _ grid: Grid, _ x: Tensor) throws {
        guard den.schedule.id == grid.schedule.id else {
            throw CoreError("the grid's schedule (\(grid.schedule.name)) is not the denoiser's " +
                            "(\(den.schedule.name)); build the grid from den:schedule()")
        }
        guard x.rank >= 1 else { throw CoreError("x must have a batch dimension") }
    }

    /// Samples from x (schedule space) along the grid. `keep` lists grid indices (0-based) whose
    /// states to return (index 0 is the start). Returns the final state and the kept states.
    public static func sample(_ solver: Solver, _ den: Denoiser, _ x: Tensor, _ grid: Grid, cond: Tensor? = nil,
                              keep: Set<Int> = [],
                              callback: ((StepInfo) throws -> Void)? = nil) throws -> (Tensor, [Int: Tensor]) {
        try checkCompatible(den, grid, x)
        let run = try SolverRun(solver: solver, grid: grid, x: x)
        var kept: [Int: Tensor] = [:]
        if keep.contains(0) { kept[0] = run.state.clone() }
        while let e = run.next {
            let d = try evaluate(den, run, e, cond: cond)
            try run.step(d)
            if e.final {
                if keep.contains(e.step + 1) { kept[e.step + 1] = run.state.clone() }
                if let callback {
                    try callback(StepInfo(step: e.step, nfe: run.k, point: e.lands, x: run.state, denoised: d,
                                          order: e.order))
                }
            }
        }
        return (run.state, kept)
    }
}
