import Foundation

/// DPM-Solver++ (Lu et al. 2022b), data-prediction form, orders 1–3, multistep (diffusers'
/// `DPMSolverMultistepScheduler` with algorithm_type 'dpmsolver++' and solver_type 'midpoint';
/// k-diffusion's `sample_dpmpp_2m` is the same 2M step) or singlestep (2S, 3S). With h the
/// logSNR step and r = e^{−h} = s'/s, in scaled states:
///   1:  y' = r·y + (1 − r)·D_0
///   2M: y' = r·y + (1 − r)·[(1 + 1/(2r₀))·D_0 − D_{−1}/(2r₀)],  r₀ = h_{−1}/h
///   3M: y' = r·y − (r − 1)·D_0 + ((r − 1)/h + 1)·D1 − ((r − 1 + h)/h² − ½)·D2  (diffusers' D1, D2)
public final class DPMSolverPlusPlus: ExponentialSolver {
    public init(order: Int = 2, singlestep: Bool = false, lowerOrderFinal: Bool = true) throws {
        try super.init(name: "dpmpp", order: order, singlestep: singlestep, lowerOrderFinal: lowerOrderFinal)
    }

    public static let entry = SolverEntry(name: "dpmpp",
        help: "DPM-Solver++ (data-prediction form; 2M = k-diffusion's sample_dpmpp_2m), orders 1–3. " +
              "Multistep warms up with lower orders; singlestep takes order − 1 extra evaluations per step " +
              "at logSNR fractions (½; ⅓ and ⅔).",
        options: catalogueOptions) {
        try DPMSolverPlusPlus(order: $0.int("order"), singlestep: $0.string("method") == "singlestep",
                              lowerOrderFinal: $0.bool("lower_order_final"))
    }

    override public func update(_ k: Int, _ run: SolverRun) throws -> Update {
        let e = run.evaluation(k)
        if e.order == 1 || e.lands.isClean {
            return .linear(landing: .firstOrderStep(k, from: e.at, to: e.lands), aux: [])
        }
        return .linear(landing: singlestep ? try singleStep(k, run, e) : try multiStep(k, run, e), aux: [])
    }

    func multiStep(_ k: Int, _ run: SolverRun, _ e: Evaluation) throws -> Combination {
        let h = e.lands.logsnr - e.at.logsnr
        let em1 = Foundation.expm1(-h), r = em1 + 1       // r − 1 = expm1(−h)
        let p1 = run.evaluation(k - 1).at
        let r0 = (e.at.logsnr - p1.logsnr) / h
        var c = Combination([(r, .y(k))])
        if e.order == 2 {
            c.add(-em1 * (1 + 1 / (2 * r0)), .consumed)
            c.add(em1 / (2 * r0), .d(k - 1))
            return c
        }
        let p2 = run.evaluation(k - 2).at
        let r1 = (p1.logsnr - p2.logsnr) / h
        // D1_0 = (D0 − D1)/r0, D1_1 = (D1 − D2)/r1, D1 = D1_0 + r0/(r0 + r1)·(D1_0 − D1_1),
        // D2 = (D1_0 − D1_1)/(r0 + r1)
        let d10 = Combination([(1 / r0, .consumed), (-1 / r0, .d(k - 1))])
        let d11 = Combination([(1 / r1, .d(k - 1)), (-1 / r1, .d(k - 2))])
        let diff = d10 - d11
        let D1 = d10 + (r0 / (r0 + r1)) * diff
        let D2 = (1 / (r0 + r1)) * diff
        c.add(-em1, .consumed)
        c.add(D1, scale: em1 / h + 1)
        c.add(D2, scale: -((em1 + h) / (h * h) - 0.5))
        return c
    }

    func singleStep(_ k: Int, _ run: SolverRun, _ e: Evaluation) throws -> Combination {
        let first = k - e.stage
        let s = run.evaluation(first).at, t = run.evaluation(first + e.order - 1).lands
        let h = t.logsnr - s.logsnr
        if e.stage == 0 { return .firstOrderStep(k, from: e.at, to: e.lands) }
        if e.order == 2 {
            // y_t = r·y_s + (1 − r)·D_s + (1 − r)/(2r₁)·(D₁ − D_s), r₁ = ½: the midpoint rule.
            let r1 = 0.5, em1 = Foundation.expm1(-h)
            var c = Combination([(em1 + 1, .y(first)), (-em1, .d(first))])
            c.add(-em1 / (2 * r1), .consumed)
            c.add(em1 / (2 * r1), .d(first))
            return c
        }
        let r1 = 1.0 / 3, r2 = 2.0 / 3
        if e.stage == 1 {
            // y_{s2} = (s2/s)·y − (e^{−r2 h} − 1)·D_s
            //          + (r2/r1)·((e^{−r2 h} − 1)/(r2 h) + 1)·(D₁ − D_s)
            let em = Foundation.expm1(-r2 * h), coef = (r2 / r1) * (em / (r2 * h) + 1)
            var c = Combination([(em + 1, .y(first)), (-em, .d(first))])
            c.add(coef, .consumed)
            c.add(-coef, .d(first))
            return c
        }
        // y_t = r·y − (r − 1)·D_s + (1/r2)·((r − 1)/h + 1)·(D₂ − D_s)
        let em1 = Foundation.expm1(-h), coef = (1 / r2) * (em1 / h + 1)
        var c = Combination([(em1 + 1, .y(first)), (-em1, .d(first))])
        c.add(coef, .consumed)
        c.add(-coef, .d(first))
        return c
    }
}
