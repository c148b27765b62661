/// The directions D-ODE fits coefficients along (docs/method.md §5.6). The default, `.previous` in data
/// space, is the paper's D̃_k = D_k + λ_k·(D_k − D_{k−1}); the others are the reference code's
/// variants and the generalised (IIA-style) basis.
public enum Direction: String, Sendable, CaseIterable {
    /// D_k − D_{k−1}: the previous evaluation's raw output (whatever its stage).
    case previous
    /// D_k − D_{k−2}.
    case previous2
    /// D_k − D_j with j the previous evaluation of the same stage (Heun: predictor with the
    /// previous predictor, corrector with the previous corrector).
    case sameStage = "same_stage"
    /// y_k − D_k (s_k·ε_k): the noise direction at the current state.
    case noise
    /// ε_eff,k − ε_eff,k−1 for solvers whose update is a DDIM step with a combined ε (iPNDM,
    /// DEIS): the reference code's paper-faithful variant; added to the landing, not to D.
    case effectiveEps = "effective_eps"
}

/// The space λ acts in: on the data prediction (default) or on ε = (y − D)/s (the reference
/// code's family for noise-prediction solvers).
public enum FitSpace: String, Sendable { case data, eps }

/// First-evaluation rule: λ_0 = 0 (the reference code's data-prediction rule, the default), or
/// the noise-prediction rule that takes x_T itself as the previous ε (VP states only).
public enum FirstEvaluation: String, Sendable { case zero, noise }

/// How one direction enters the update after evaluation k.
enum DirectionEffect {
    /// D̃ = D_k + λ·shift (the update consumes the shifted prediction).
    case consumed(Combination)
    /// The landing moves by λ·shift (already in scaled-state units).
    case landing(Combination)
}

enum Directions {
    /// The effect of direction `dir` at evaluation k, or nil when it does not exist there (the
    /// first evaluation, or no earlier evaluation of the same stage). λ for a missing direction is 0.
    static func effect(_ dir: Direction, space: FitSpace, first: FirstEvaluation, k: Int, run: SolverRun,
                       solver: Solver) throws -> DirectionEffect? {
        let e = run.evaluation(k)
        func prev(_ j: Int) -> Combination? {
            guard j >= 0 else { return nil }
            switch space {
            case .data:
                return Combination([(1, .d(k)), (-1, .d(j))])
            case .eps:
                // D̃ = D_k − λ·s_k·(ε_k − ε_j): the prediction whose ε is ε_k + λ(ε_k − ε_j).
                var c = Combination.eps(k, pred: .d(k), s: e.at.s)
                c.add(Combination.eps(j, pred: .d(j), s: run.evaluation(j).at.s), scale: -1)
                return c.scaled(-e.at.s)
            }
        }
        switch dir {
        case .previous:
            if k == 0 {
                guard first == .noise, space == .eps else { return nil }
                // ε_{−1} = x_T = α_0·y_0.
                var c = Combination.eps(0, pred: .d(0), s: e.at.s)
                c.add(-e.at.alpha, .y(0))
                return .consumed(c.scaled(-e.at.s))
            }
            return prev(k - 1).map { .consumed($0) }
        case .previous2:
            return prev(k - 2).map { .consumed($0) }
        case .sameStage:
            var j = k - 1
            while j >= 0 && run.evaluation(j).stage != e.stage { j -= 1 }
            if j >= 0 && k - j > run.depth - 1 { return nil }
            return prev(j).map { .consumed($0) }
        case .noise:
            return .consumed(Combination([(1, .y(k)), (-1, .d(k))]))
        case .effectiveEps:
            guard k >= 1 else { return nil }
            guard let now = try solver.effectiveEps(k, run), let before = try solver.effectiveEps(k - 1, run) else {
                throw CoreError("direction 'effective_eps' needs a solver with a combined ε (ipndm or deis), " +
                                "not \(solver.name)")
            }
            // ε_eff,k uses the raw D_k; ε_eff,k−1 was built when k−1 was current.
            let a = now.substituting(consumed: Combination([(1, .d(k))]))
            let b = before.substituting(consumed: Combination([(1, .d(k - 1))]))
            return .landing((a - b).scaled(e.lands.s - e.at.s))
        }
    }
}
