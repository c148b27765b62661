/// The state of one run of a solver over a grid, evaluation by evaluation: the current state,
/// a window of past states and predictions, and solver memory. `sample` drives it from Swift;
/// the Lua stepper (`solver:start`) drives the same object from a Lua loop, so both give
/// bit-identical results.
public final class SolverRun {
    public let solver: Solver
    public let grid: Grid
    public let plan: Plan
    /// Index of the next evaluation (0-based).
    public private(set) var k = 0
    /// The current state in the schedule's space (x for VP, y for EDM).
    public private(set) var state: Tensor
    /// The last raw prediction.
    public private(set) var lastDenoised: Tensor? = nil

    var xs: [Int: Tensor] = [:]
    var ds: [Int: Tensor] = [:]
    var aux: [String: (Tensor, Point)] = [:]
    var pool: [Tensor] = []
    var lent: [Tensor?]
    let depth: Int

    public init(solver: Solver, grid: Grid, x: Tensor, plan: Plan? = nil, extraDepth: Int = 0) throws {
        self.solver = solver
        self.grid = grid
        self.plan = try plan ?? solver.plan(grid)
        guard x.rank >= 1 else { throw CoreError("x must have a batch dimension (got a 0-D tensor)") }
        guard !x.hasNonFinite() else { throw CoreError("the start state contains NaN or Inf") }
        state = x.contiguous().clone()
        depth = Swift.max(solver.historyDepth, 1) + extraDepth
        lent = [Tensor?](repeating: nil, count: depth + 1)
    }

    public var done: Bool { k >= plan.evaluations.count }
    /// The next evaluation, or nil when the run is finished.
    public var next: Evaluation? { done ? nil : plan.evaluations[k] }
    public func evaluation(_ j: Int) -> Evaluation { plan.evaluations[j] }

    // MARK: history access for solvers

    public func d(_ j: Int) throws -> Tensor {
        guard let t = ds[j] else {
            throw CoreError("internal: prediction \(j) is outside the kept history (k = \(k), depth \(depth))")
        }
        return t
    }

    public func x(_ j: Int) throws -> Tensor {
        guard let t = xs[j] else {
            throw CoreError("internal: state \(j) is outside the kept history (k = \(k), depth \(depth))")
        }
        return t
    }

    /// Records the prediction D_k made at the current state. Call before computing the update.
    /// A `borrowed` prediction belongs to the caller, who may overwrite it while the run still
    /// reads it (a Lua loop reusing one buffer with `den:into`; multistep and multistage solvers
    /// read past predictions): the run keeps a copy in one of its own buffers.
    public func record(_ denoised: Tensor, borrowed: Bool = false) throws {
        try Interrupt.check()
        guard !done else { throw CoreError("the run is finished (all \(plan.nfe) evaluations are done)") }
        guard denoised.shape == state.shape else {
            throw CoreError("the prediction has shape \(formatShape(denoised.shape)), " +
                            "the state \(formatShape(state.shape))")
        }
        if borrowed, let j = ds.first(where: { $0.value.storage === denoised.storage })?.key {
            // Already overwritten by the time it comes back: the run cannot recover D_j.
            throw CoreError("the prediction is written into the buffer that holds prediction \(j + 1), " +
                            "which the solver still uses; take a new st:buffer() for every evaluation")
        }
        xs[k] = state
        if borrowed && !(denoised === lent[k % lent.count]) {
            let own = try buffer()
            try own.copy(from: denoised)
            ds[k] = own
        } else {
            ds[k] = denoised.dtype == state.dtype && denoised.isContiguous
                ? denoised : denoised.contiguous().to(state.dtype)
        }
        lastDenoised = ds[k]
    }

    /// Evaluates a combination into a new state at `landing` (schedule space). `.consumed` uses
    /// `consumed` (required when the combination mentions it).
    public func materialize(_ c: Combination, landing: Point, consumed: Tensor? = nil) throws -> Tensor {
        var terms: [(Double, Tensor)] = []
        for (coef, r) in c.terms {
            switch r {
            case .consumed:
                guard let consumed else { throw CoreError("internal: a combination needs the consumed prediction") }
                terms.append((coef * landing.alpha, consumed))
            case .d(let j): terms.append((coef * landing.alpha, try d(j)))
            case .y(let j): terms.append((coef * landing.alpha / plan.evaluations[j].at.alpha, try x(j)))
            case .aux(let name):
                guard let (t, p) = aux[name] else { throw CoreError("internal: solver memory '\(name)' is not set") }
                terms.append((coef * landing.alpha / p.alpha, t))
            }
        }
        let out = try buffer()
        try Kernels.combine(into: out, terms)
        return out
    }

    /// Stores solver memory (a state at `point`).
    public func setAux(_ name: String, _ t: Tensor, at point: Point) { aux[name] = (t, point) }

    /// Moves to the next evaluation with `newState` as the current state.
    public func advance(to newState: Tensor) throws {
        let e = plan.evaluations[k]
        if newState.hasNonFinite() {
            let where_ = "step \(e.step + 1) (evaluation \(k + 1)), " +
                         "landing at t = \(e.lands.t.map { String($0) } ?? "nil"), s = \(e.lands.s)"
            if let d = ds[k], d.hasNonFinite() {
                throw CoreError("NaN or Inf in the denoiser output at \(where_); " +
                                "it was evaluated at t = \(e.at.t.map { String($0) } ?? "nil"), s = \(e.at.s)")
            }
            throw CoreError("NaN or Inf in the solver state at \(where_)")
        }
        state = newState
        k += 1
        if done {
            // Nothing reads history after the last evaluation: hand the buffers back to the
            // allocator now rather than when the run object dies (a Lua stepper lives until the
            // garbage collector runs, and the next run would otherwise touch fresh pages).
            xs.removeAll(); ds.removeAll(); aux.removeAll(); pool.removeAll()
            lent = [Tensor?](repeating: nil, count: lent.count)
            return
        }
        // Drop history beyond the window, recycling buffers nobody else holds.
        let cutoff = k - depth
        for j in Array(xs.keys) where j < cutoff { recycle(xs.removeValue(forKey: j)) }
        for j in Array(ds.keys) where j < cutoff { recycle(ds.removeValue(forKey: j)) }
    }

    /// Applies a solver update for the current evaluation, with `.consumed` meaning `consumed`
    /// (default: the raw prediction D_k). Returns the landing state.
    @discardableResult
    public func apply(_ update: Update, consumed: Tensor? = nil) throws -> Tensor {
        let e = plan.evaluations[k]
        let cons = try consumed ?? d(k)
        switch update {
        case let .linear(landing, auxs):
            // Materialise everything before storing memory: the landing may read the old values.
            let stored = try auxs.map { ($0.0, try materialize($0.1, landing: e.at, consumed: cons)) }
            let out = try materialize(landing, landing: e.lands, consumed: cons)
            for (name, t) in stored { setAux(name, t, at: e.at) }
            try advance(to: out)
            return out
        case let .function(f):
            var out = try f(cons)
            guard out.shape == state.shape else {
                throw CoreError("solver '\(solver.name)': update returned shape \(formatShape(out.shape)), " +
                                "the state has \(formatShape(state.shape))")
            }
            // A state must not live in a buffer the run lends again (an update returning D itself).
            if lent.contains(where: { $0?.storage === out.storage }) { out = out.clone() }
            try advance(to: out.dtype == state.dtype ? out.contiguous() : out.to(state.dtype).contiguous())
            return state
        }
    }

    /// The standard step: record D_k, compute the solver's update, apply it.
    @discardableResult
    public func step(_ denoised: Tensor, borrowed: Bool = false) throws -> Tensor {
        try record(denoised, borrowed: borrowed)
        return try apply(try solver.update(k, self))
    }

    // MARK: buffers

    /// A buffer the run lends for the prediction of the current evaluation, so that a loop can
    /// write it in place (`den:into(st:buffer(), st:x(), st:point())`) and hand it back with no
    /// copy. The run owns a ring of depth + 1 of them: the one lent for evaluation k has left
    /// the history window (evaluations k − depth … k − 1) by the time k comes round again.
    public func predictionBuffer() throws -> Tensor {
        let i = k % lent.count
        if let t = lent[i] { return t }
        let t = try Tensor.empty(state.shape, dtype: state.dtype)
        lent[i] = t
        return t
    }

    /// A state-shaped buffer, reused from history that nothing else references.
    func buffer() throws -> Tensor {
        while let t = pool.popLast() {
            if t.shape == state.shape && t.dtype == state.dtype { return t }
        }
        return try Tensor.empty(state.shape, dtype: state.dtype)
    }

    func recycle(_ t: Tensor?) {
        guard var t else { return }
        // Only when this run holds the last reference (Lua callbacks may keep states).
        if isKnownUniquelyReferenced(&t) && t.storageIsUniquelyReferenced() && pool.count < 2 { pool.append(t) }
    }
}
