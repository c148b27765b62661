import Foundation

/// A point of a noise schedule: an immutable record of the network time label and the noise
/// quantities there (docs/design.md §3.3).
///
/// `t` is the network's own time label (0-based training index 0…999 for a discrete VP
/// schedule, t ∈ (0, 1] for continuous VP, t = σ for EDM); it is nil at the clean point, where
/// s = 0, α = 1 and no denoiser is ever evaluated. `s = σ/α` is the noise level of the scaled
/// state y = x/α, and `logsnr = log(α/σ) = −log s` (+∞ at the clean point).
public struct Point: Equatable, Sendable, CustomStringConvertible {
    public let t: Double?
    public let alpha: Double
    public let sigma: Double
    public let s: Double
    public let logsnr: Double
    /// Identity of the schedule that made the point (mixing schedules is an error).
    public let scheduleID: Int

    public init(t: Double?, alpha: Double, sigma: Double, s: Double, scheduleID: Int) {
        self.t = t
        self.alpha = alpha
        self.sigma = sigma
        self.s = s
        self.logsnr = s == 0 ? .infinity : -Foundation.log(s)
        self.scheduleID = scheduleID
    }

    /// True at the clean point (s = 0).
    public var isClean: Bool { s == 0 }

    public var description: String {
        let tt = t.map { String(format: "%.6g", $0) } ?? "nil"
        return String(format: "{t=%@, alpha=%.6g, sigma=%.6g, s=%.6g, logsnr=%.6g}", tt, alpha, sigma, s, logsnr)
    }
}
