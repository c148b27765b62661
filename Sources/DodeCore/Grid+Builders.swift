import Foundation

/// Grid builders (docs/method.md §2.5): uniform / quadratic / logSNR / Karras spacings, diffusers'
/// DDIM spacings, and explicit lists of labels or noise levels.
extension Grid {
    /// n levels uniform in t from the schedule's largest time to its smallest.
    public static func uniform(_ s: Schedule, _ n: Int, final: Final = .zero) throws -> Grid {
        try checkCount(n)
        let a = s.tMax, b = s.tMin
        let levels = try (0..<n).map { i in try s.point(t: n == 1 ? a : a + (b - a) * Double(i) / Double(n - 1)) }
        return try make(s, levels: levels, final: final, variable: .t, origin: "uniform(\(n))")
    }

    /// n levels uniform in √t (DPM-Solver's time_quadratic).
    public static func quadratic(_ s: Schedule, _ n: Int, final: Final = .zero) throws -> Grid {
        try checkCount(n)
        guard s.tMin >= 0 else { throw CoreError("quadratic grids need non-negative times") }
        let a = s.tMax.squareRoot(), b = s.tMin.squareRoot()
        let levels = try (0..<n).map { i -> Point in
            let r = n == 1 ? a : a + (b - a) * Double(i) / Double(n - 1)
            return try s.point(t: r * r)
        }
        return try make(s, levels: levels, final: final, variable: .t, origin: "quadratic(\(n))")
    }

    /// n levels uniform in logSNR between the schedule's extreme times.
    public static func logsnr(_ s: Schedule, _ n: Int, final: Final = .zero) throws -> Grid {
        try checkCount(n)
        let a = s.maxPoint().logsnr, b = s.minPoint().logsnr
        let levels = try (0..<n).map { i in try s.point(logsnr: n == 1 ? a : a + (b - a) * Double(i) / Double(n - 1)) }
        return try make(s, levels: levels, final: final, variable: .logsnr, origin: "logsnr(\(n))")
    }

    /// k-diffusion's get_sigmas_karras(n): n noise levels from σ_max to σ_min, uniform in σ^(1/ρ).
    public static func karras(_ s: Schedule, _ n: Int, sigmaMin: Double? = nil, sigmaMax: Double? = nil,
                              rho: Double = 7, final: Final = .zero) throws -> Grid {
        try checkCount(n)
        let lo = sigmaMin ?? s.minPoint().s, hi = sigmaMax ?? s.maxPoint().s
        guard lo > 0, hi > lo, hi.isFinite else { throw CoreError("need 0 < sigma_min < sigma_max (got \(lo), \(hi))") }
        guard rho > 0, rho.isFinite else { throw CoreError("rho must be positive (got \(rho))") }
        let a = Foundation.pow(hi, 1 / rho), b = Foundation.pow(lo, 1 / rho)
        let levels = try (0..<n).map { i -> Point in
            let r = n == 1 ? a : a + Double(i) / Double(n - 1) * (b - a)
            return try s.point(s: Foundation.pow(r, rho))
        }
        return try make(s, levels: levels, final: final, variable: .karras(rho: rho),
                        origin: "karras(\(n), rho \(rho))")
    }

    /// The integer timesteps of diffusers' DDIMScheduler for `spacing` (leading: k·(N//n) +
    /// offset, largest first; trailing: round(arange(N, 0, −N/n)) − 1; linspace:
    /// round(linspace(0, N−1, n)) reversed), computed with numpy's own arithmetic.
    public static func discreteTimesteps(steps N: Int, n: Int, spacing: String,
                                         stepsOffset: Int = 0) throws -> [Double] {
        guard n >= 1, n <= N else { throw CoreError("number of steps must be in 1..\(N) (got \(n))") }
        switch spacing {
        case "leading":
            let ratio = N / n
            return (0..<n).reversed().map { Double($0 * ratio + stepsOffset) }
        case "trailing":
            let step = -Double(N) / Double(n)
            let len = Int(((0 - Double(N)) / step).rounded(.up))
            return (0..<len).map { (Double(N) + Double($0) * step).rounded(.toNearestOrEven) - 1 }
        case "linspace":
            let step = Double(N - 1) / Double(Swift.max(n - 1, 1))
            return (0..<n).map { i in
                i == n - 1 && n > 1 ? Double(N - 1) : (Double(i) * step).rounded(.toNearestOrEven)
            }.reversed()
        default:
            throw CoreError("unknown spacing '\(spacing)' (valid: 'leading', 'trailing', 'linspace')")
        }
    }

    /// diffusers' DDIM timesteps as a grid (discrete VP schedules only).
    public static func discrete(_ s: Schedule, _ n: Int, spacing: String = "leading", stepsOffset: Int = 0,
                                final: Final = .zero) throws -> Grid {
        guard s.isDiscrete else { throw CoreError("discrete grids need a discrete VP schedule (got \(s.name))") }
        let ts = try discreteTimesteps(steps: s.steps, n: n, spacing: spacing, stepsOffset: stepsOffset)
        for t in ts where t < 0 || t > s.tMax {
            throw CoreError("spacing '\(spacing)' with steps_offset \(stepsOffset) gives label \(Int(t)), " +
                            "outside 0..\(Int(s.tMax))")
        }
        return try make(s, levels: ts.map { try s.point(t: $0) }, final: final, variable: .t,
                        origin: "discrete(\(spacing), \(n))")
    }

    /// Exactly the listed time labels, then the final point.
    public static func timesteps(_ s: Schedule, _ labels: [Double], final: Final = .zero) throws -> Grid {
        guard !labels.isEmpty else { throw CoreError("the list of timesteps is empty") }
        return try make(s, levels: labels.map { try s.point(t: $0) }, final: final, variable: .t,
                        origin: "timesteps(\(labels.count))")
    }

    /// Exactly the listed noise levels s, then the final point.
    public static func sigmas(_ s: Schedule, _ levels: [Double], final: Final = .zero) throws -> Grid {
        guard !levels.isEmpty else { throw CoreError("the list of noise levels is empty") }
        for v in levels where !(v > 0) || !v.isFinite {
            throw CoreError("noise levels must be positive and finite (got \(v))")
        }
        return try make(s, levels: levels.map { try s.point(s: $0) }, final: final, variable: .s,
                        origin: "sigmas(\(levels.count))")
    }

    /// A grid from explicit points (for editing an existing grid); refined in `variable`.
    public static func points(_ s: Schedule, _ pts: [Point], variable: Variable = .t) throws -> Grid {
        let final: Final = pts.last?.isClean == true ? .zero : .none
        return try Grid(schedule: s, points: pts, variable: variable, final: final, origin: "points(\(pts.count))")
    }

    static func checkCount(_ n: Int) throws {
        guard n >= 1 && n <= 1_000_000 else { throw CoreError("number of steps must be in 1..1000000 (got \(n))") }
    }
}
