import Foundation

/// DPM-Solver (Lu et al. 2022), noise-prediction form, orders 1–3, multistep (diffusers'
/// `DPMSolverMultistepScheduler` with algorithm_type 'dpmsolver', solver_type 'midpoint') or
/// singlestep (the paper's DPM-Solver-2 and -3 with r₁ = ½ and r₁ = ⅓, r₂ = ⅔). With
/// ε_j = (y_j − D_j)/s_j and s_t·(e^h − 1) = s_s − s_t, in scaled states:
///   1:  y_t = y_s − s_t(e^h − 1)·ε_0
///   2M: y_t = y_s − s_t(e^h − 1)·(ε_0 + ½·(ε_0 − ε_{−1})/r₀)
///   3M: y_t = y_s − s_t(e^h − 1)·ε_0 − s_t((e^h − 1)/h − 1)·D1 − s_t((e^h − 1 − h)/h² − ½)·D2
public final class DPMSolver: ExponentialSolver {
    public init(order: Int = 2, singlestep: Bool = false, lowerOrderFinal: Bool = true) throws {
        try super.init(name: "dpm", order: order, singlestep: singlestep, lowerOrderFinal: lowerOrderFinal)
    }

    public static let entry = SolverEntry(name: "dpm",
        help: "DPM-Solver (noise-prediction form), orders 1–3. Multistep warms up with lower orders; " +
              "singlestep takes order − 1 extra evaluations per step at logSNR fractions (½; ⅓ and ⅔).",
        options: catalogueOptions) {
        try DPMSolver(order: $0.int("order"), singlestep: $0.string("method") == "singlestep",
                      lowerOrderFinal: $0.bool("lower_order_final"))
    }

    /// ε of evaluation j (the consumed prediction for the current one).
    func eps(_ j: Int, _ k: Int, _ run: SolverRun) -> Combination {
        .eps(j, pred: j == k ? .consumed : .d(j), s: run.evaluation(j).at.s)
    }

    override public func update(_ k: Int, _ run: SolverRun) throws -> Update {
        let e = run.evaluation(k)
        if e.order == 1 || e.lands.isClean {
            return .linear(landing: .firstOrderStep(k, from: e.at, to: e.lands), aux: [])
        }
        return .linear(landing: singlestep ? singleStep(k, run, e) : multiStep(k, run, e), aux: [])
    }

    func multiStep(_ k: Int, _ run: SolverRun, _ e: Evaluation) -> Combination {
        let h = e.lands.logsnr - e.at.logsnr
        let st = e.lands.s, a = e.at.s - st          // s_t(e^h − 1) = s_s − s_t
        let p1 = run.evaluation(k - 1).at
        let r0 = (e.at.logsnr - p1.logsnr) / h
        let e0 = eps(k, k, run), e1 = eps(k - 1, k, run)
        var c = Combination([(1, .y(k))])
        if e.order == 2 {
            c.add(e0, scale: -a * (1 + 0.5 / r0))
            c.add(e1, scale: a * 0.5 / r0)
            return c
        }
        let p2 = run.evaluation(k - 2).at
        let r1 = (p1.logsnr - p2.logsnr) / h
        let e2 = eps(k - 2, k, run)
        let d10 = (1 / r0) * (e0 - e1), d11 = (1 / r1) * (e1 - e2)
        let diff = d10 - d11
        let D1 = d10 + (r0 / (r0 + r1)) * diff, D2 = (1 / (r0 + r1)) * diff
        let ehm1 = Foundation.expm1(h)
        c.add(e0, scale: -a)
        c.add(D1, scale: -st * (ehm1 / h - 1))
        c.add(D2, scale: -st * ((ehm1 - h) / (h * h) - 0.5))
        return c
    }

    func singleStep(_ k: Int, _ run: SolverRun, _ e: Evaluation) -> Combination {
        let first = k - e.stage
        let s = run.evaluation(first).at, t = run.evaluation(first + e.order - 1).lands
        let h = t.logsnr - s.logsnr
        if e.stage == 0 { return .firstOrderStep(k, from: e.at, to: e.lands) }
        let es = eps(first, k, run), ecur = eps(k, k, run)
        var c = Combination([(1, .y(first))])
        if e.order == 2 {
            // y_t = y_s − s_t(e^h − 1)·ε_s − s_t/(2r₁)·(e^h − 1)·(ε₁ − ε_s), r₁ = ½
            let a = s.s - t.s
            c.add(es, scale: -a)
            c.add(ecur - es, scale: -a)
            return c
        }
        let r1 = 1.0 / 3, r2 = 2.0 / 3
        if e.stage == 1 {
            // y_{s2} = y_s − s_{s2}(e^{r2 h} − 1)·ε_s
            //          − s_{s2}(r2/r1)((e^{r2 h} − 1)/(r2 h) − 1)·(ε₁ − ε_s)
            let s2 = e.lands.s, em = Foundation.expm1(r2 * h)
            c.add(es, scale: -s2 * em)
            c.add(ecur - es, scale: -s2 * (r2 / r1) * (em / (r2 * h) - 1))
            return c
        }
        // y_t = y_s − s_t(e^h − 1)·ε_s − (s_t/r2)((e^h − 1)/h − 1)·(ε₂ − ε_s)
        let em1 = Foundation.expm1(h)
        c.add(es, scale: -(s.s - t.s))
        c.add(ecur - es, scale: -(t.s / r2) * (em1 / h - 1))
        return c
    }
}
