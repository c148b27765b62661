import Foundation

/// The exact probability-flow reference: integrates dy/ds = (y − D(y, s))/s from one point to
/// another with the adaptive Dormand–Prince 5(4) pair (scipy's RK45 step control: error norm
/// RMS(err / (atol + rtol·max(|y|, |y_new|))) over the whole state, safety 0.9, factors in
/// [0.2, 10], scipy's initial step). The slope is taken as 0 at s = 0, where y − D ≈ −s²∇log p
/// vanishes (docs/method.md §6). States cross the API in the schedule's space.
public enum ReferenceSolver {
    public struct Stats: Sendable { public var steps = 0, rejected = 0, evaluations = 0 }

    static let c: [Double] = [0, 1.0 / 5, 3.0 / 10, 4.0 / 5, 8.0 / 9, 1, 1]
    static let a: [[Double]] = [
        [],
        [1.0 / 5],
        [3.0 / 40, 9.0 / 40],
        [44.0 / 45, -56.0 / 15, 32.0 / 9],
        [19372.0 / 6561, -25360.0 / 2187, 64448.0 / 6561, -212.0 / 729],
        [9017.0 / 3168, -355.0 / 33, 46732.0 / 5247, 49.0 / 176, -5103.0 / 18656],
        [35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84],
    ]
    static let b: [Double] = [35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84, 0]
    static let e: [Double] = [-71.0 / 57600, 0, 71.0 / 16695, -71.0 / 1920, 17253.0 / 339200, -22.0 / 525, 1.0 / 40]

    /// Solves from `from` to `to` (to.s < from.s). `progress` receives the current s.
    public static func solve(_ den: Denoiser, _ x: Tensor, from: Point, to: Point, rtol: Double = 1e-9,
                             atol: Double? = nil, cond: Tensor? = nil, maxSteps: Int = 1_000_000,
                             progress: ((Double) -> Void)? = nil) throws -> (Tensor, Stats) {
        let sched = den.schedule
        guard from.scheduleID == sched.id, to.scheduleID == sched.id else {
            throw CoreError("the points come from another schedule than the denoiser's")
        }
        guard rtol > 0, rtol.isFinite else { throw CoreError("rtol must be positive (got \(rtol))") }
        let at = atol ?? rtol
        guard at > 0, at.isFinite else { throw CoreError("atol must be positive (got \(at))") }
        guard !from.isClean else { throw CoreError("cannot start a solve at the clean point") }
        guard to.s < from.s else {
            throw CoreError("the solve must go to a lower noise level (from s = \(from.s) to s = \(to.s))")
        }
        guard x.rank >= 1 else { throw CoreError("x must have a batch dimension") }
        var stats = Stats()
        let y = x.to(.float64).clone()
        y.apply(.mul, scalar: 1 / from.alpha)
        let n = Double(y.count)
        let dn = try Tensor.empty(y.shape)
        let xin = try Tensor.empty(y.shape)

        /// f(s, y) = (y − D(α·y, s))/s, written into `out`.
        func slope(_ s: Double, _ yv: Tensor, _ out: Tensor) throws {
            if s <= 0 { out.fill(0); return }
            let p = try sched.point(s: s)
            try xin.copy(from: yv)
            xin.apply(.mul, scalar: p.alpha)
            try den.denoise(xin, at: p, cond: cond, into: dn)
            stats.evaluations += 1
            try out.copy(from: yv)
            try out.axpby(-1 / s, dn, 1 / s)
            if out.hasNonFinite() {
                throw CoreError("NaN or Inf in the denoiser output at s = \(s) " +
                                "(t = \(p.t.map { String($0) } ?? "nil"))")
            }
        }
        func rmsNorm(_ v: Tensor, _ scale: Tensor) throws -> Double {
            let q = try Tensor.binary(.div, v, scale)
            return (q.sumSquares() / n).squareRoot()
        }
        var s = from.s
        let end = to.s
        var k = try (0..<7).map { _ in try Tensor.empty(y.shape) }
        try slope(s, y, k[0])
        // scipy's initial step.
        var scale = y.map(.abs); scale.apply(.mul, scalar: rtol); scale.apply(.add, scalar: at)
        let d0 = try rmsNorm(y, scale), d1 = try rmsNorm(k[0], scale)
        let h0 = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1
        let y1 = y.clone(); try y1.add(k[0], alpha: -h0)
        let f1 = try Tensor.empty(y.shape)
        try slope(Swift.max(s - h0, end), y1, f1)
        let d2 = try rmsNorm(try Tensor.binary(.sub, f1, k[0]), scale) / h0
        let h1 = (d1 <= 1e-15 && d2 <= 1e-15) ? Swift.max(1e-6, h0 * 1e-3)
                                               : Foundation.pow(0.01 / Swift.max(d1, d2), 0.2)
        var h = Swift.min(100 * h0, h1, s - end)
        var rejectedLast = false
        let ynew = try Tensor.empty(y.shape), err = try Tensor.empty(y.shape), stage = try Tensor.empty(y.shape)
        while s > end {
            try Interrupt.check()
            guard stats.steps + stats.rejected < maxSteps else {
                throw CoreError("reference solve did not finish in \(maxSteps) steps (at s = \(s)); loosen rtol")
            }
            if s - h < end || (s - h - end) < 1e-12 * s { h = s - end }
            guard h > 0, h > 1e-14 * s else { throw CoreError("reference solve step size underflow at s = \(s)") }
            // Stages 2..6, then the 5th-order solution and the FSAL stage 7.
            for i in 1...6 {
                try stage.copy(from: y)
                for j in 0..<i where a[i][j] != 0 { try stage.add(k[j], alpha: -h * a[i][j]) }
                let si = i == 6 ? s - h : s - c[i] * h
                if i == 6 { try ynew.copy(from: stage) }
                try slope(i == 6 && s - h <= end ? end : si, i == 6 ? ynew : stage, k[i])
            }
            err.fill(0)
            for j in 0..<7 where e[j] != 0 { try err.add(k[j], alpha: -h * e[j]) }
            scale = try Tensor.binary(.maximum, y.map(.abs), ynew.map(.abs))
            scale.apply(.mul, scalar: rtol); scale.apply(.add, scalar: at)
            let en = try rmsNorm(err, scale)
            guard en.isFinite else { throw CoreError("NaN or Inf in the reference solve at s = \(s)") }
            if en < 1 {
                var factor = en == 0 ? 10 : Swift.min(10, 0.9 * Foundation.pow(en, -0.2))
                if rejectedLast { factor = Swift.min(1, factor) }
                s = Swift.max(s - h, end)
                try y.copy(from: ynew)
                let f = k[0]; k[0] = k[6]; k[6] = f       // FSAL: first stage of the next step
                h *= factor
                rejectedLast = false
                stats.steps += 1
                progress?(s)
            } else {
                h *= Swift.max(0.2, 0.9 * Foundation.pow(en, -0.2))
                rejectedLast = true
                stats.rejected += 1
            }
        }
        y.apply(.mul, scalar: to.alpha)
        return (x.dtype == .float64 ? y : y.to(x.dtype), stats)
    }
}
