import CBLAS
import Foundation

/// The exact optimal denoiser of a finite data set {x_n}: the posterior mean under a uniform
/// prior on the data points, D(y, s) = Σ_n softmax_n(−|y − x_n|²/(2s²)) x_n.
///
/// Batched as matrix products (OpenBLAS dgemm, Float64): logits = (y·Xᵀ − ½|x_n|²)/s² (the
/// |y|² term is constant per row and cancels in the softmax), a row-wise log-sum-exp softmax,
/// then D = W·X. Rows are processed in chunks so the B×N weight matrix stays bounded.
public final class EmpiricalDenoiser: Denoiser {
    public let schedule: Schedule
    public let data: Tensor            // N×d Float64, contiguous
    let halfNorms: [Double]
    public var featureSize: Int? { data.shape[1] }
    public var isConditional: Bool { false }
    public var summary: String { "empirical: \(data.shape[0]) points in \(data.shape[1])-D" }

    public init(data: Tensor, schedule: Schedule) throws {
        guard data.rank == 2, data.shape[0] >= 1, data.shape[1] >= 1 else {
            throw CoreError("data must be an N×d tensor with N, d ≥ 1 (got \(formatShape(data.shape)))")
        }
        guard !data.hasNonFinite() else { throw CoreError("data contains NaN or infinite values") }
        self.data = data.contiguous().to(.float64).clone()
        self.schedule = schedule
        let n = data.shape[0], d = data.shape[1], p = self.data.pointer(Double.self)
        halfNorms = (0..<n).map { i in
            var s = 0.0
            for j in 0..<d { s += p[i * d + j] * p[i * d + j] }
            return 0.5 * s
        }
    }

    public func denoise(_ x: Tensor, at p: Point, cond: Tensor?, into out: Tensor) throws {
        try check(x, p, out)
        _ = try labels(cond, batch: x.shape[0])
        let B = x.shape[0], N = data.shape[0], d = data.shape[1]
        let y = try x.contiguous().to(.float64).reshape([B, d]).clone()
        y.apply(.mul, scalar: 1 / p.alpha)
        let chunk = Swift.max(1, Swift.min(B, (1 << 22) / N))
        let w = try Tensor.empty([chunk, N])
        let res = try Tensor.empty([B, d])
        let inv = 1 / (p.s * p.s)
        var start = 0
        while start < B {
            let m = Swift.min(chunk, B - start)
            let yb = y.pointer(Double.self) + start * d, wb = w.pointer(Double.self)
            Parallel.releaseCores()
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(N), Int32(d), inv, yb, Int32(d),
                        data.pointer(Double.self), Int32(d), 0, wb, Int32(N))
            let (wp, hn) = (UnsafeSendable(wb), halfNorms)
            Parallel.forRanges(count: m, grain: 16) { r in
                for i in r {
                    let row = wp.value + i * N
                    var mx = -Double.infinity
                    for n in 0..<N { row[n] -= hn[n] * inv; if row[n] > mx { mx = row[n] } }
                    var z = 0.0
                    for n in 0..<N { row[n] = Foundation.exp(row[n] - mx); z += row[n] }
                    let iz = 1 / z
                    for n in 0..<N { row[n] *= iz }
                }
            }
            Parallel.releaseCores()
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(d), Int32(N), 1, wb, Int32(N),
                        data.pointer(Double.self), Int32(d), 0, res.pointer(Double.self) + start * d, Int32(d))
            start += m
        }
        try out.copy(from: res.reshape(x.shape))
    }
}
