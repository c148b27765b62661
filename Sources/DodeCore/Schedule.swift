import Foundation
import Synchronization

/// A noise schedule: α(t), σ(t), the noise level s = σ/α, the half log-SNR ℓ = −log s, their
/// inverses, and the map between the solver's points and the network's time labels. All
/// arithmetic is in Double (docs/method.md §2).
///
/// Kinds:
/// - discrete VP (DDPM): labels 0…N−1 with ᾱ_i = Π_{j≤i}(1 − β_j). Between integer labels the
///   default convention is DPM-Solver's — log α piecewise linear in the label (equivalently in
///   t = (i+1)/N) — and `interpolation = .sigma` gives diffusers' (s linear in the label). Labels
///   in [−1, 0) interpolate s linearly from 0 (the clean point counts as label −1).
/// - continuous VP: linear (β_min, β_max) or cosine (s = 0.008), t ∈ (0, 1].
/// - EDM / VE: α = 1, s = σ = t.
public final class Schedule: @unchecked Sendable {
    public enum Kind: Sendable {
        case discreteVP(alphasCumprod: [Double], betas: String)
        case continuousLinear(betaMin: Double, betaMax: Double)
        case continuousCosine(s: Double)
        case edm(sigmaMin: Double, sigmaMax: Double, sigmaData: Double, name: String)
    }

    public enum Interpolation: String, Sendable { case logAlpha = "log_alpha", sigma }

    public let kind: Kind
    public let interpolation: Interpolation
    public let id: Int
    /// A description used in printing and in saved fits.
    public let name: String
    /// Everything that defines the schedule, for saving and for comparing saved fits.
    public let config: [String: String]

    // Discrete tables (empty otherwise).
    let logAlpha: [Double]
    let sTable: [Double]

    private static let nextID = Atomic<Int>(1)

    public init(kind: Kind, interpolation: Interpolation = .logAlpha, name: String, config: [String: String]) throws {
        self.kind = kind
        self.interpolation = interpolation
        self.name = name
        self.config = config
        self.id = Schedule.nextID.add(1, ordering: .relaxed).oldValue
        if case let .discreteVP(ac, _) = kind {
            guard ac.count >= 2 else { throw CoreError("a discrete schedule needs at least 2 steps (got \(ac.count))") }
            for (i, a) in ac.enumerated() {
                guard a.isFinite, a > 0, a < 1 else {
                    throw CoreError("alphas_cumprod must lie in (0, 1) (entry \(i + 1) is \(a))")
                }
                if i > 0 && !(a < ac[i - 1]) {
                    throw CoreError("alphas_cumprod must decrease strictly " +
                                    "(entries \(i) and \(i + 1): \(ac[i - 1]), \(a))")
                }
            }
            logAlpha = ac.map { 0.5 * Foundation.log($0) }
            sTable = ac.map { ((1 - $0) / $0).squareRoot() }
        } else {
            logAlpha = []
            sTable = []
        }
    }

    /// True for VP schedules (discrete or continuous), where the state is x = α·y.
    public var isVP: Bool {
        if case .edm = kind { return false }
        return true
    }

    public var isDiscrete: Bool {
        if case .discreteVP = kind { return true }
        return false
    }

    /// Number of training steps of a discrete schedule (0 otherwise).
    public var steps: Int { sTable.count }

    /// The largest and smallest time labels a grid may use.
    public var tMax: Double {
        switch kind {
        case .discreteVP(let ac, _): return Double(ac.count - 1)
        case .continuousLinear: return 1
        case .continuousCosine: return 0.9946
        case .edm(_, let hi, _, _): return hi
        }
    }

    public var tMin: Double {
        switch kind {
        case .discreteVP: return 0
        case .continuousLinear, .continuousCosine: return 1e-3
        case .edm(let lo, _, _, _): return lo
        }
    }

    /// σ_data of an EDM schedule (0.5 by default); nil for VP.
    public var sigmaData: Double? {
        if case .edm(_, _, let sd, _) = kind { return sd }
        return nil
    }

    // MARK: forward maps

    /// The point at time label t. Throws outside [tMin, tMax] (discrete: [−1, N−1]).
    public func point(t: Double) throws -> Point {
        guard t.isFinite else { throw CoreError("time label must be finite (got \(t))") }
        switch kind {
        case .discreteVP(let ac, _):
            guard t >= -1, t <= Double(ac.count - 1) else {
                throw CoreError("time label \(t) is outside the schedule's range -1..\(ac.count - 1)")
            }
            if t == t.rounded() && t >= 0 {
                let a = ac[Int(t)]
                return Point(t: t, alpha: a.squareRoot(), sigma: (1 - a).squareRoot(), s: sTable[Int(t)],
                             scheduleID: id)
            }
            if t < 0 {
                if t == -1 { return cleanPoint }
                return vpPoint(t: t, s: (t + 1) * sTable[0])
            }
            let i = Int(t.rounded(.down)), u = t - Double(i)
            switch interpolation {
            case .logAlpha:
                let la = (1 - u) * logAlpha[i] + u * logAlpha[i + 1]
                let a2 = Foundation.exp(2 * la)
                return Point(t: t, alpha: Foundation.exp(la), sigma: (1 - a2).squareRoot(),
                             s: Foundation.sqrt(-Foundation.expm1(2 * la)) / Foundation.exp(la), scheduleID: id)
            case .sigma:
                return vpPoint(t: t, s: (1 - u) * sTable[i] + u * sTable[i + 1])
            }
        case .continuousLinear(let b0, let b1):
            guard t > 0 || t == 0, t <= 1 else { throw CoreError("time \(t) is outside (0, 1]") }
            if t == 0 { return cleanPoint }
            let la = -0.25 * t * t * (b1 - b0) - 0.5 * t * b0
            return vpPointFromLogAlpha(t: t, la)
        case .continuousCosine(let s0):
            guard t >= 0, t <= tMax else { throw CoreError("time \(t) is outside (0, \(tMax)]") }
            if t == 0 { return cleanPoint }
            let la = Foundation.log(Foundation.cos((t + s0) / (1 + s0) * .pi / 2))
                - Foundation.log(Foundation.cos(s0 / (1 + s0) * .pi / 2))
            return vpPointFromLogAlpha(t: t, la)
        case .edm:
            guard t >= 0 else { throw CoreError("noise level \(t) must be non-negative") }
            if t == 0 { return cleanPoint }
            return Point(t: t, alpha: 1, sigma: t, s: t, scheduleID: id)
        }
    }

    /// The point at noise level s (s = 0 is the clean point).
    public func point(s: Double) throws -> Point {
        guard s.isFinite, s >= 0 else { throw CoreError("noise level s must be finite and non-negative (got \(s))") }
        if s == 0 { return cleanPoint }
        return try point(t: t(fromS: s), s: s)
    }

    /// The point at half log-SNR ℓ = −log s.
    public func point(logsnr l: Double) throws -> Point {
        guard !l.isNaN else { throw CoreError("logsnr must not be NaN") }
        if l == .infinity { return cleanPoint }
        return try point(s: Foundation.exp(-l))
    }

    /// A point with label t whose noise level is exactly s (used where s is the primary variable).
    func point(t: Double, s: Double) throws -> Point {
        if isVP { return vpPoint(t: t, s: s) }
        return Point(t: t, alpha: 1, sigma: s, s: s, scheduleID: id)
    }

    /// The clean point: s = 0, α = 1, no label.
    public var cleanPoint: Point { Point(t: nil, alpha: 1, sigma: 0, s: 0, scheduleID: id) }

    /// The schedule's smallest noise level (t = 0 of a discrete schedule, σ_min of EDM, t = 1e-3
    /// of continuous VP).
    public func minPoint() -> Point { (try? point(t: tMin)) ?? cleanPoint }

    public func maxPoint() -> Point { (try? point(t: tMax)) ?? cleanPoint }

    func vpPoint(t: Double?, s: Double) -> Point {
        let alpha = 1 / (1 + s * s).squareRoot()
        return Point(t: t, alpha: alpha, sigma: s * alpha, s: s, scheduleID: id)
    }

    func vpPointFromLogAlpha(t: Double, _ la: Double) -> Point {
        let alpha = Foundation.exp(la)
        let sigma = Foundation.sqrt(-Foundation.expm1(2 * la))
        return Point(t: t, alpha: alpha, sigma: sigma, s: sigma / alpha, scheduleID: id)
    }

    /// Point for a discrete label with s interpolated linearly between integer labels
    /// (diffusers' convention; used for refined points in the final interval, docs/method.md §2.6).
    func pointLinearS(t: Double) throws -> Point {
        guard isDiscrete, t >= -1, t <= tMax else { return try point(t: t) }
        if t == -1 { return cleanPoint }
        if t < 0 { return vpPoint(t: t, s: (t + 1) * sTable[0]) }
        let i = Swift.min(Int(t.rounded(.down)), sTable.count - 2), u = t - Double(i)
        if u == 0 { return try point(t: t) }
        return vpPoint(t: t, s: (1 - u) * sTable[i] + u * sTable[i + 1])
    }

    // MARK: inverse maps

    /// The time label whose noise level is s (> 0).
    public func t(fromS s: Double) throws -> Double {
        guard s.isFinite, s > 0 else { throw CoreError("noise level must be positive and finite (got \(s))") }
        switch kind {
        case .discreteVP:
            let n = sTable.count
            guard s <= sTable[n - 1] * (1 + 1e-12) else {
                throw CoreError("noise level \(s) is above the schedule's largest (\(sTable[n - 1]))")
            }
            if s >= sTable[n - 1] { return Double(n - 1) }
            if s < sTable[0] { return s / sTable[0] - 1 }
            // Largest i with s_i <= s.
            var lo = 0, hi = n - 1
            while hi - lo > 1 {
                let mid = (lo + hi) / 2
                if sTable[mid] <= s { lo = mid } else { hi = mid }
            }
            if sTable[lo] == s { return Double(lo) }
            switch interpolation {
            case .logAlpha:
                let la = -0.5 * Foundation.log1p(s * s)
                return Double(lo) + (la - logAlpha[lo]) / (logAlpha[lo + 1] - logAlpha[lo])
            case .sigma:
                return Double(lo) + (s - sTable[lo]) / (sTable[lo + 1] - sTable[lo])
            }
        case .continuousLinear(let b0, let b1):
            // Solves (β1−β0)t²/2 + β0·t = log(1 + s²) (= −2·log α), in the stable form.
            let delta = b0 * b0 + 2 * (b1 - b0) * Foundation.log1p(s * s)
            return 2 * Foundation.log1p(s * s) / (delta.squareRoot() + b0)
        case .continuousCosine(let s0):
            let la = -0.5 * Foundation.log1p(s * s)
            let c = Foundation.exp(la + Foundation.log(Foundation.cos(s0 / (1 + s0) * .pi / 2)))
            return 2 * (1 + s0) / .pi * Foundation.acos(c) - s0
        case .edm:
            return s
        }
    }
}
