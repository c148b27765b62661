/// The D-variant of a solver: the same plan, with D̃_k = D_k + Σ_m λ_{k,m}·direction_m in the
/// update that immediately follows evaluation k (the history keeps raw outputs). Usable like any
/// solver: sample, plan, stepper, callbacks — and as the base of another fit.
public final class DSolver: Solver {
    public let base: Solver
    public let fit: DODEFit
    public var name: String { "d-" + base.name }
    public var options: [String: String] {
        var o = base.options
        o["d_ode"] = "\(fit.directions.map(\.rawValue).joined(separator: "+")) (\(fit.space.rawValue) space)"
        return o
    }
    public var historyDepth: Int { Swift.max(base.historyDepth, 3) + 1 }

    public init(base: Solver, fit: DODEFit) {
        self.base = base
        self.fit = fit
    }

    public func plan(_ grid: Grid) throws -> Plan {
        try fit.checkGrid(grid)
        let p = try base.plan(grid)
        guard p.nfe == fit.lambdas.count else {
            throw CoreError("the fit has \(fit.lambdas.count) coefficients but \(base.name) makes \(p.nfe) " +
                            "evaluations on this grid")
        }
        return p
    }

    public func update(_ k: Int, _ run: SolverRun) throws -> Update {
        let upd = try base.update(k, run)
        var shift = Combination(), landingShift = Combination()
        for (m, dir) in fit.directions.enumerated() {
            let lam = fit.lambdas[k][m]
            if lam == 0 { continue }
            switch try Directions.effect(dir, space: fit.space, first: fit.first, k: k, run: run, solver: base) {
            case .consumed(let c)?: shift.add(c, scale: lam)
            case .landing(let c)?: landingShift.add(c, scale: lam)
            case nil: continue
            }
        }
        let consumed = Combination([(1, .d(k))]) + shift
        switch upd {
        case let .linear(landing, aux):
            return .linear(landing: landing.substituting(consumed: consumed) + landingShift,
                           aux: aux.map { ($0.0, $0.1.substituting(consumed: consumed)) })
        case let .function(f):
            guard landingShift.terms.isEmpty else {
                throw CoreError("direction 'effective_eps' needs a built-in solver")
            }
            if shift.terms.isEmpty { return upd }
            let e = run.evaluation(k)
            return .function { d in
                // The consumed prediction D_k + shift, in data units (scale 1/α_land cancels).
                let dt = try run.materialize(consumed.scaled(1 / e.lands.alpha), landing: e.lands, consumed: d)
                return try f(dt)
            }
        }
    }

    public func effectiveEps(_ k: Int, _ run: SolverRun) throws -> Combination? { try base.effectiveEps(k, run) }
}
