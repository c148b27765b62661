/// The whole D-ODE fit as one call (the `dode.distill.fit` of the Lua API; docs/method.md §4):
/// teacher targets for every batch, the rounds of the fit, the result with its metadata.
extension Distiller {
    /// What a fit needs.
    public struct Request {
        /// The student solver and the denoiser it runs with.
        public var solver: Solver
        public var denoiser: Denoiser
        /// This process's start states (the schedule's space), one or more batches; fitting
        /// several batches equals fitting their union.
        public var batches: [Tensor]
        /// The student grid.
        public var grid: Grid
        /// The teacher runs on grid:refine(k) with the student's stage points inserted.
        public var k = 10
        /// The teacher (default: `Teacher.default(for: solver)`).
        public var teacher: Solver? = nil
        /// Precomputed teacher states at every landing point (one per evaluation), instead of
        /// running the teacher; only with a single batch.
        public var targets: [Tensor]? = nil
        /// Class labels for a conditional denoiser.
        public var cond: Tensor? = nil
        /// Recorded in the metadata (the seed of the fitting noise).
        public var seed: Int? = nil
        public var config = Config()
        /// The processes that fit the same λ on their own shards of the batch: their sums are
        /// added once per evaluation (nil: this process alone).
        public var world: Communicator? = nil
        /// Progress of the teacher passes and of the fit.
        public var progress: ((Progress) -> Void)? = nil

        public init(solver: Solver, denoiser: Denoiser, batches: [Tensor], grid: Grid) {
            self.solver = solver
            self.denoiser = denoiser
            self.batches = batches
            self.grid = grid
        }
    }

    /// Where a fit is.
    public enum Progress {
        /// Teacher pass of batch `batch` (0-based) of `batches`: `step` of `steps` steps done.
        case teacher(batch: Int, batches: Int, step: Int, steps: Int)
        /// Evaluation `evaluation` (1-based) of `nfe` fitted.
        case fit(evaluation: Int, nfe: Int)
    }

    /// Runs the teacher on every batch (or takes the given targets), fits λ over all batches
    /// (and all processes of `world`), and returns the fit with its metadata: solver, teacher,
    /// k, the total batch size over all processes, batches, ranks, grid, seed and dode version.
    public static func fit(_ q: Request) throws -> DODEFit {
        guard !q.batches.isEmpty else { throw CoreError("x: at least one batch of start states is needed") }
        let distiller = try Distiller(solver: q.solver, config: q.config)
        let plan = try q.solver.plan(q.grid)
        let teacher = q.teacher ?? Teacher.default(for: q.solver)
        var batches: [Batch] = []
        if let targets = q.targets {
            guard q.batches.count == 1 else { throw CoreError("'targets' goes with a single batch x") }
            batches.append(try distiller.batch(den: q.denoiser, x: q.batches[0], grid: q.grid, targets: targets,
                                               cond: q.cond))
        } else {
            for (i, x) in q.batches.enumerated() {
                let ts = try Teacher.targets(teacher, den: q.denoiser, x: x, grid: q.grid, student: plan, k: q.k,
                                             cond: q.cond) { done, total in
                    q.progress?(.teacher(batch: i, batches: q.batches.count, step: done, steps: total))
                }
                batches.append(try distiller.batch(den: q.denoiser, x: x, grid: q.grid, targets: ts, cond: q.cond))
            }
        }
        let world = q.world.flatMap { $0.size > 1 ? $0 : nil }
        try distiller.fit(batches, world: world) { k, nfe in q.progress?(.fit(evaluation: k, nfe: nfe)) }
        var rows = q.batches.reduce(0) { $0 + ($1.shape.first ?? 0) }
        if let world { rows = Int(try world.allreduce([Double(rows)], op: .sum)[0]) }
        var meta: [String: Any] = ["solver": q.solver.summary,
                                   "teacher": q.targets != nil ? "given targets" : teacher.summary,
                                   "k": q.k, "batch": rows, "batches": q.batches.count, "grid": q.grid.origin,
                                   "dode_version": dodeVersion]
        if let world { meta["ranks"] = world.size }
        if let seed = q.seed { meta["seed"] = seed }
        return distiller.result(grid: q.grid, plan: plan, metadata: meta)
    }
}
