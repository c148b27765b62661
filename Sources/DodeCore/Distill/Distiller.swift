/// D-ODE distillation (docs/method.md §4): a sequential, greedy, closed-form fit of one
/// coefficient per network evaluation (or m for a generalised basis) against teacher states at
/// exactly the student's landing points.
///
/// At evaluation k, with earlier coefficients applied, the update is evaluated with the raw D_k
/// (b) and its change along each direction (Δ_m) — from the coefficient of the consumed
/// prediction, or by evaluating a Lua solver's update twice — and
/// λ = argmin ‖T − b − Σ λ_m Δ_m‖² (+ ridge·‖λ‖²), from the exact sums ⟨Δ_m, Δ_n⟩ and
/// ⟨Δ_m, T − b⟩ over every coordinate of every sample (`FitStatistics`). The student continues
/// from b + Σ λ_m Δ_m.
///
/// `Distiller.fit(_:)` (Distiller+Fit.swift) is the whole procedure behind `dode.distill.fit`;
/// the pieces here let a caller drive it batch by batch.
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
        /// The current evaluation's uncorrected landing, directions and update, between
        /// `accumulate` and `apply`.
        var pending: (b: Tensor, deltas: [Tensor?], effects: [DirectionEffect?], upd: Update)? = nil
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

    /// Evaluates the batch's next prediction and returns the sums of its evaluation; leaves the
    /// uncorrected landing and the directions pending for `apply`.
    public func accumulate(_ b: Batch) throws -> FitStatistics {
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
                let eff = try Directions.effect(dir, space: config.space, first: config.first, k: k, run: run,
                                                solver: solver)
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
                let eff = try Directions.effect(dir, space: config.space, first: config.first, k: k, run: run,
                                                solver: solver)
                effects.append(eff)
                switch eff {
                case .consumed(let c)?:
                    let shifted = try run.materialize((Combination([(1, .d(k))]) + c).scaled(1 / e.lands.alpha),
                                                      landing: e.lands)
                    deltas.append(try Tensor.binary(.sub, try f(shifted), base))
                case .landing?: throw CoreError("direction 'effective_eps' needs a built-in solver")
                case nil: deltas.append(nil)
                }
            }
        }
        let resid = try Tensor.binary(.sub, b.targets[k].to(base.dtype), base)
        let m = config.directions.count
        var st = FitStatistics(directions: m)
        for i in 0..<m {
            guard let di = deltas[i] else { continue }
            st.exists[i] = true
            st.r[i] = try di.exactDot(resid)
            for j in i..<m {
                guard let dj = deltas[j] else { continue }
                st.G[i][j] = try di.exactDot(dj)
                st.G[j][i] = st.G[i][j]
            }
        }
        st.rss = try resid.exactDot(resid)
        st.count = resid.count
        b.pending = (base, deltas, effects, upd)
        return st
    }

    /// Solves the normal equations of the summed statistics. With a ridge term the objective is
    /// the mean squared residual over the n coordinates plus ridge·‖λ‖². A direction that does
    /// not exist at this evaluation (the first one, say) gets λ = 0; an existing one with
    /// ⟨Δ, Δ⟩ ≈ 0 is degenerate: λ = 0 and a warning.
    public func solve(_ st: FitStatistics, k: Int) -> [Double] {
        let (G, r, rss) = st.values
        let m = r.count
        var lam = [Double](repeating: 0, count: m)
        var active: [Int] = []
        for i in 0..<m where st.exists[i] {
            if G[i][i] > config.degenerateTolerance * Swift.max(rss, 1e-300) && G[i][i].isFinite {
                active.append(i)
            } else {
                warnings.append("evaluation \(k + 1): direction '\(config.directions[i].rawValue)' is degenerate " +
                                "(<Δ,Δ> = \(G[i][i])); λ = 0")
            }
        }
        if active.isEmpty { return lam }
        let scale = 1 / Double(Swift.max(st.count, 1))
        let A = active.map { i in active.map { j in G[i][j] * scale + (i == j ? config.ridge : 0) } }
        let bvec = active.map { r[$0] * scale }
        if let sol = try? LinearSystem.solve(A, bvec) {
            for (q, i) in active.enumerated() { lam[i] = sol[q] }
        } else {
            warnings.append("evaluation \(k + 1): the normal equations are singular; λ = 0")
        }
        return lam
    }

    /// Applies λ to a batch's pending evaluation and advances its run.
    public func apply(_ b: Batch, lambda lam: [Double]) throws {
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
            for (name, c) in aux {
                run.setAux(name, try run.materialize(c.substituting(consumed: consumed), landing: e.at), at: e.at)
            }
        }
        b.pending = nil
        try run.advance(to: out)
    }

    /// Fits over batches in rounds, one per evaluation (docs/method.md §4.4): every batch
    /// advances by one evaluation and contributes its sums, `world` adds every other process's
    /// (one collective per evaluation), then λ is solved from the totals and applied to every
    /// batch. Since the sums are exact, the result is bit-for-bit that of one fit on the union
    /// of all batches of all processes.
    public func fit(_ batches: [Batch], world: Communicator? = nil, progress: ((Int, Int) -> Void)? = nil) throws {
        guard let first = batches.first else { throw CoreError("no batches to fit") }
        let nfe = first.run.plan.nfe
        for b in batches where b.run.plan.nfe != nfe { throw CoreError("internal: batches with different plans") }
        if let world, world.size > 1 {
            try world.requireSame("D-ODE fits (evaluations, directions)",
                                  [Int64(nfe), Int64(config.directions.count)]) {
                "\($0[0]) evaluations and \($0[1]) directions"
            }
        }
        let m = config.directions.count
        lambdas = []; residualBefore = []; residualAfter = []; warnings = []
        for k in 0..<nfe {
            var st = FitStatistics(directions: m)
            for b in batches { st.add(try accumulate(b)) }
            if let world { try st.reduce(over: world) }
            let lam = solve(st, k: k)
            for b in batches { try apply(b, lambda: lam) }
            // ‖T − b − Σλ_mΔ_m‖² from the sums: no extra pass over the states.
            let (G, r, rss) = st.values
            var after = rss
            for i in 0..<m {
                after -= 2 * lam[i] * r[i]
                for j in 0..<m { after += lam[i] * lam[j] * G[i][j] }
            }
            let n = Double(Swift.max(st.count, 1))
            lambdas.append(lam)
            residualBefore.append((rss / n).squareRoot())
            residualAfter.append((Swift.max(after, 0) / n).squareRoot())
            progress?(k + 1, nfe)
        }
    }

    /// Packs the result.
    public func result(grid: Grid, plan: Plan, metadata: [String: Any]) -> DODEFit {
        DODEFit(lambdas: lambdas, residualBefore: residualBefore, residualAfter: residualAfter, warnings: warnings,
                directions: config.directions, space: config.space, first: config.first, ridge: config.ridge,
                metadata: metadata, grid: grid, solver: solver, plan: plan)
    }
}
