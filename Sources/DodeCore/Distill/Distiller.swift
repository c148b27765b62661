import Foundation

/// D-ODE distillation (method.md §3): a sequential, greedy, closed-form fit of one coefficient per
/// network evaluation (or m for a generalised basis) against teacher states at exactly the
/// student's landing points.
///
/// At evaluation k, with earlier coefficients applied, the update is evaluated with the raw D_k
/// (b) and its change along each direction (Δ_m) — from the coefficient of the consumed
/// prediction, or by evaluating a Lua solver's update twice — and
/// λ = argmin ‖T − b − Σ λ_m Δ_m‖² (+ ridge·‖λ‖²), summing ⟨Δ_m, Δ_n⟩ and ⟨Δ_m, T − b⟩ over every
/// coordinate of every sample in Double. The student continues from b + Σ λ_m Δ_m.
public final class Distiller {
    public struct Config {
        public var directions: [Direction] = [.previous]
        public var space: FitSpace = .data
        public var first: FirstEvaluation = .zero
        public var ridge: Double = 0
        /// |⟨Δ,Δ⟩| below this fraction of ⟨T − b, T − b⟩ (or exactly 0) counts as degenerate.
        public var degenerateTolerance: Double = 1e-24
        public init() {}
    }

    /// One batch's student run and its teacher targets (one per evaluation).
    public final class Batch {
        public let run: SolverRun
        public let targets: [Tensor]
        let den: Denoiser
        let cond: Tensor?
        var pending: (b: Tensor, deltas: [Tensor?], effects: [DirectionEffect?], upd: Update, G: [[Double]], r: [Double], rss: Double)? = nil
        init(run: SolverRun, targets: [Tensor], den: Denoiser, cond: Tensor?) {
            self.run = run; self.targets = targets; self.den = den; self.cond = cond
        }
    }

    public let solver: Solver
    public let config: Config
    public private(set) var lambdas: [[Double]] = []
    public private(set) var residualBefore: [Double] = []
    public private(set) var residualAfter: [Double] = []
    public private(set) var warnings: [String] = []

    public init(solver: Solver, config: Config) throws {
        if config.first == .noise && config.space != .eps {
            throw CoreError("first = 'noise' (x_T as the previous ε) needs space = 'eps'")
        }
        guard config.ridge >= 0, config.ridge.isFinite else { throw CoreError("ridge must be a non-negative number") }
        guard !config.directions.isEmpty else { throw CoreError("at least one direction is needed") }
        if config.directions.contains(.effectiveEps) && config.space == .eps {
            throw CoreError("direction 'effective_eps' already acts in ε; leave space = 'data'")
        }
        self.solver = solver
        self.config = config
    }

    /// The teacher's grid: the student grid refined k times, with the student's stage points
    /// inserted, so a teacher state exists at every student landing point.
    public static func teacherGrid(student plan: Plan, grid: Grid, k: Int) throws -> Grid {
        guard k >= 2 else { throw CoreError("k must be an integer ≥ 2 (got \(k))") }
        let refined = try grid.refine(k)
        let extra = plan.stagePoints(of: grid)
        return extra.isEmpty ? refined : try refined.inserting(extra)
    }

    /// Teacher states at every student landing point (one tensor per evaluation).
    public static func targets(teacher: Solver, den: Denoiser, x: Tensor, grid: Grid, student plan: Plan, k: Int,
                               cond: Tensor? = nil, progress: ((Int, Int) -> Void)? = nil) throws -> [Tensor] {
        let tg = try teacherGrid(student: plan, grid: grid, k: k)
        var want: [Int] = []
        for e in plan.evaluations {
            guard let i = tg.index(ofS: e.lands.s) else {
                throw CoreError("internal: the teacher grid has no point at s = \(e.lands.s)")
            }
            want.append(i)
        }
        var done = 0
        let (_, kept) = try Sampler.sample(teacher, den, x, tg, cond: cond, keep: Set(want)) { _ in
            done += 1
            progress?(done, tg.steps)
        }
        return try want.map { i in
            guard let t = kept[i] else { throw CoreError("internal: no teacher state kept at grid index \(i)") }
            return t
        }
    }

    /// Starts a batch: its student run and targets.
    public func batch(den: Denoiser, x: Tensor, grid: Grid, targets: [Tensor], cond: Tensor? = nil) throws -> Batch {
        try Sampler.checkCompatible(den, grid, x)
        let run = try SolverRun(solver: solver, grid: grid, x: x, extraDepth: 3)
        guard targets.count == run.plan.nfe else {
            throw CoreError("targets must hold one state per evaluation (\(run.plan.nfe)), got \(targets.count)")
        }
        for (i, t) in targets.enumerated() where t.shape != x.shape {
            throw CoreError("target \(i + 1) has shape \(formatShape(t.shape)), x has \(formatShape(x.shape))")
        }
        return Batch(run: run, targets: targets, den: den, cond: cond)
    }

    /// The two sums of one batch at its current evaluation: G = ⟨Δ_m, Δ_n⟩, r = ⟨Δ_m, T − b⟩,
    /// plus ‖T − b‖² and the element count. Leaves b and Δ pending for `apply`.
    public func accumulate(_ b: Batch) throws -> (G: [[Double]], r: [Double], rss: Double, n: Int, exists: [Bool]) {
        let run = b.run
        guard let e = run.next else { throw CoreError("the batch's run is finished") }
        let k = run.k
        let d = try Tensor.empty(run.state.shape, dtype: run.state.dtype)
        try b.den.denoise(run.state, at: e.at, cond: b.cond, into: d)
        try run.record(d)
        let upd = try solver.update(k, run)
        let base: Tensor
        var effects: [DirectionEffect?] = []
        var deltas: [Tensor?] = []
        switch upd {
        case let .linear(landing, _):
            base = try run.materialize(landing, landing: e.lands, consumed: d)
            let cc = landing.consumedCoefficient
            for dir in config.directions {
                let eff = try Directions.effect(dir, space: config.space, first: config.first, k: k, run: run, solver: solver)
                effects.append(eff)
                switch eff {
                case .consumed(let c)?: deltas.append(try run.materialize(c.scaled(cc), landing: e.lands))
                case .landing(let c)?: deltas.append(try run.materialize(c, landing: e.lands))
                case nil: deltas.append(nil)
                }
            }
        case let .function(f):
            base = try f(d)
            for dir in config.directions {
                let eff = try Directions.effect(dir, space: config.space, first: config.first, k: k, run: run, solver: solver)
                effects.append(eff)
                switch eff {
                case .consumed(let c)?:
                    let shifted = try run.materialize((Combination([(1, .d(k))]) + c).scaled(1 / e.lands.alpha), landing: e.lands)
                    deltas.append(try Tensor.binary(.sub, try f(shifted), base))
                case .landing?: throw CoreError("direction 'effective_eps' needs a built-in solver")
                case nil: deltas.append(nil)
                }
            }
        }
        let T = b.targets[k]
        let resid = try Tensor.binary(.sub, T.to(base.dtype), base)
        let m = config.directions.count
        var G = [[Double]](repeating: [Double](repeating: 0, count: m), count: m), r = [Double](repeating: 0, count: m)
        for i in 0..<m {
            guard let di = deltas[i] else { continue }
            r[i] = try di.dot(resid)
            for j in i..<m {
                guard let dj = deltas[j] else { continue }
                G[i][j] = try di.dot(dj)
                G[j][i] = G[i][j]
            }
        }
        let rss = resid.sumSquares()
        b.pending = (base, deltas, effects, upd, G, r, rss)
        return (G, r, rss, resid.count, effects.map { $0 != nil })
    }

    /// Solves the normal equations of the summed statistics. With a ridge term the objective is
    /// the mean squared residual over the n coordinates plus ridge·‖λ‖². A direction that does
    /// not exist at this evaluation (the first one, say) gets λ = 0; an existing one with
    /// ⟨Δ, Δ⟩ ≈ 0 is degenerate: λ = 0 and a warning.
    public func solve(G: [[Double]], r: [Double], rss: Double, n: Int, exists: [Bool], k: Int) -> [Double] {
        let m = r.count
        var lam = [Double](repeating: 0, count: m)
        var active: [Int] = []
        for i in 0..<m where exists[i] {
            if G[i][i] > config.degenerateTolerance * Swift.max(rss, 1e-300) && G[i][i].isFinite {
                active.append(i)
            } else {
                warnings.append("evaluation \(k + 1): direction '\(config.directions[i].rawValue)' is degenerate (<Δ,Δ> = \(G[i][i])); λ = 0")
            }
        }
        if active.isEmpty { return lam }
        let scale = 1 / Double(Swift.max(n, 1))
        let A = active.map { i in active.map { j in G[i][j] * scale + (i == j ? config.ridge : 0) } }
        let bvec = active.map { r[$0] * scale }
        if let sol = try? StepMath.solve(A, bvec) {
            for (q, i) in active.enumerated() { lam[i] = sol[q] }
        } else {
            warnings.append("evaluation \(k + 1): the normal equations are singular; λ = 0")
        }
        return lam
    }

    /// Applies λ to a batch's pending evaluation and advances its run.
    public func apply(_ b: Batch, lambda lam: [Double]) throws -> (before: Double, after: Double) {
        guard let p = b.pending else { throw CoreError("internal: no pending evaluation") }
        let run = b.run
        let k = run.k
        let e = run.evaluation(k)
        var terms: [(Double, Tensor)] = [(1, p.b)]
        for (i, dl) in p.deltas.enumerated() { if let dl, lam[i] != 0 { terms.append((lam[i], dl)) } }
        let out = try Tensor.empty(p.b.shape, dtype: p.b.dtype)
        try Kernels.combine(into: out, terms)
        // Solver memory (UniPC's corrected state) follows the corrected prediction.
        if case let .linear(_, aux) = p.upd, !aux.isEmpty {
            var shift = Combination()
            for (i, eff) in p.effects.enumerated() { if case .consumed(let c)? = eff { shift.add(c, scale: lam[i]) } }
            let consumed = Combination([(1, .d(k))]) + shift
            for (name, c) in aux { run.setAux(name, try run.materialize(c.substituting(consumed: consumed), landing: e.at), at: e.at) }
        }
        // ‖T − b − Σλ_mΔ_m‖² from this batch's sums (no extra pass over the state).
        var after = p.rss
        for i in 0..<lam.count {
            after -= 2 * lam[i] * p.r[i]
            for j in 0..<lam.count { after += lam[i] * lam[j] * p.G[i][j] }
        }
        let before = p.rss
        after = Swift.max(after, 0)
        b.pending = nil
        try run.advance(to: out)
        return (before, after)
    }

    /// Fits over batches in rounds, one per evaluation (method.md "Many batches"): each batch
    /// contributes its sums, `exchange` may add other processes' sums, then λ is solved from the
    /// totals and applied to every batch. The result equals a fit on the union of the batches.
    public func fit(_ batches: [Batch], exchange: ((Int, [[Double]], [Double], Double, Int) throws -> ([[Double]], [Double], Double, Int))? = nil,
                    progress: ((Int, Int) -> Void)? = nil) throws {
        guard let first = batches.first else { throw CoreError("no batches to fit") }
        let nfe = first.run.plan.nfe
        for b in batches where b.run.plan.nfe != nfe { throw CoreError("internal: batches with different plans") }
        let m = config.directions.count
        lambdas = []; residualBefore = []; residualAfter = []; warnings = []
        for k in 0..<nfe {
            var G = [[Double]](repeating: [Double](repeating: 0, count: m), count: m), r = [Double](repeating: 0, count: m)
            var rss = 0.0, n = 0
            var exists = [Bool](repeating: false, count: m)
            for b in batches {
                let s = try accumulate(b)
                for i in 0..<m { r[i] += s.r[i]; for j in 0..<m { G[i][j] += s.G[i][j] } }
                rss += s.rss
                n += s.n
                exists = s.exists
            }
            if let exchange { (G, r, rss, n) = try exchange(k, G, r, rss, n) }
            let lam = solve(G: G, r: r, rss: rss, n: n, exists: exists, k: k)
            var before = 0.0, after = 0.0
            for b in batches {
                let (x, y) = try apply(b, lambda: lam)
                before += x; after += y
            }
            lambdas.append(lam)
            residualBefore.append((before / Double(Swift.max(n, 1))).squareRoot())
            residualAfter.append((after / Double(Swift.max(n, 1))).squareRoot())
            progress?(k + 1, nfe)
        }
    }

    /// Packs the result.
    public func result(grid: Grid, plan: Plan, metadata: [String: Any]) -> DODEFit {
        DODEFit(lambdas: lambdas, residualBefore: residualBefore, residualAfter: residualAfter, warnings: warnings,
                directions: config.directions, space: config.space, first: config.first, ridge: config.ridge,
                metadata: metadata, grid: grid, solver: solver, plan: plan)
    }

    /// The default teacher (method.md §3): DDIM, except iPNDM and DEIS, which teach themselves.
    public static func defaultTeacher(for s: Solver) -> Solver {
        (s.name == "ipndm" || s.name == "deis") ? s : DDIMSolver()
    }
}
