import Foundation

/// How a network's raw output relates to the denoiser (docs/method.md §1.3). The network sees input
/// `x_in` and label `t` and returns F:
/// - `.eps`: F = ε, D = y − s·ε (x_in = x, the schedule's state);
/// - `.x0`: D = F;
/// - `.v`: D = α·x_in − σ·F (VP; x_in = x);
/// - `.edm`: D = c_skip·y + c_out·F(c_in·y, c_noise), c_noise = ¼·ln s (σ_data from the schedule).
public enum Prediction: String, Sendable, CaseIterable {
    case eps, x0, v, edm

    /// The network input for state x at p.
    public func networkInput(_ x: Tensor, _ p: Point, sigmaData: Double) -> (scale: Double, label: Double) {
        switch self {
        case .edm:
            let y = 1 / p.alpha
            let cin = 1 / (p.s * p.s + sigmaData * sigmaData).squareRoot()
            return (y * cin, 0.25 * Foundation.log(p.s))
        default:
            return (1, p.t ?? 0)
        }
    }

    /// Converts the network output F (in place in `out`) into D, given the state x.
    public func toDenoised(_ x: Tensor, _ p: Point, output out: Tensor, sigmaData: Double) throws {
        switch self {
        case .x0: return
        case .eps:
            // D = (x − σ·ε)/α
            try out.axpby(1 / p.alpha, x, -p.sigma / p.alpha)
        case .v:
            // D = α·x − σ·v  (x = α·y is the network input)
            try out.axpby(p.alpha, x, -p.sigma)
        case .edm:
            let s2 = p.s * p.s, sd2 = sigmaData * sigmaData
            let cskip = sd2 / (s2 + sd2), cout = p.s * sigmaData / (s2 + sd2).squareRoot()
            try out.axpby(cskip / p.alpha, x, cout)
        }
    }
}
