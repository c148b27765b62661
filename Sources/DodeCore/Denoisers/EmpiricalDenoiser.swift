import CBLAS
import Foundation

/// The exact optimal denoiser of a finite data set {x_n}: the posterior mean under a uniform
/// prior on the data points, D(y, s) = Σ_n softmax_n(−|y − x_n|²/(2s²)) x_n.
///
/// Batched as matrix products (OpenBLAS dgemm, Float64): logits = (y·Xᵀ − ½|x_n|²)/s² (the
/// |y|² term is constant per row and cancels in the softmax), a row-wise log-sum-exp softmax,
/// then D = W·X, in fixed blocks of rows spread over the worker pool (see `rowBlock`).
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

    /// Rows per block. Every block has exactly this many rows (a short last block is padded with
    /// zeros) and runs single-threaded dgemm, so a sample's prediction does not depend on the
    /// batch it is in, on its place there, or on the thread count (sharded MPI fits rely on it).
    static let rowBlock = 64

    public func denoise(_ x: Tensor, at p: Point, cond: Tensor?, into out: Tensor) throws {
        try check(x, p, out)
        _ = try labels(cond, batch: x.shape[0])
        let B = x.shape[0], N = data.shape[0], d = data.shape[1], R = EmpiricalDenoiser.rowBlock
        if B == 0 { return }
        // One worker's scratch: an R×N weight block and two R×d blocks.
        let (scratch, o) = (R * (N + 2 * d)).multipliedReportingOverflow(by: 8 * Swift.max(Parallel.threads, 1))
        guard !o, scratch <= TensorLimits.maxBytes else {
            throw CoreError("the empirical denoiser of \(N) points needs \(scratch) bytes of workspace, " +
                            "above the size cap of \(TensorLimits.maxBytes) bytes")
        }
        let y = x.contiguous().to(.float64)
        let res = try Tensor.empty([B, d])
        let scale = 1 / p.alpha, inv = 1 / (p.s * p.s)
        let yp = UnsafeSendable(y.pointer(Double.self)), rp = UnsafeSendable(res.pointer(Double.self))
        let xp = UnsafeSendable(data.pointer(Double.self)), hn = halfNorms
        let blasThreads = openblas_get_num_threads()
        openblas_set_num_threads(1)
        defer { openblas_set_num_threads(blasThreads) }
        Parallel.forEach(chunks: (B + R - 1) / R) { c in
            let r0 = c * R, n = Swift.min(R, B - r0)
            let w = UnsafeMutablePointer<Double>.allocate(capacity: R * N)
            let yb = UnsafeMutablePointer<Double>.allocate(capacity: R * d)
            let ob = UnsafeMutablePointer<Double>.allocate(capacity: R * d)
            defer { w.deallocate(); yb.deallocate(); ob.deallocate() }
            // The block's scaled states y = x/α, padded with zero rows.
            for i in 0..<(n * d) { yb[i] = yp.value[r0 * d + i] * scale }
            (yb + n * d).update(repeating: 0, count: (R - n) * d)
            // logits = (y·Xᵀ − ½|x_n|²)/s², then a row-wise log-sum-exp softmax.
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(R), Int32(N), Int32(d), inv, yb, Int32(d),
                        xp.value, Int32(d), 0, w, Int32(N))
            for i in 0..<R {
                let row = w + i * N
                var mx = -Double.infinity
                for k in 0..<N { row[k] -= hn[k] * inv; if row[k] > mx { mx = row[k] } }
                var z = 0.0
                for k in 0..<N { row[k] = Foundation.exp(row[k] - mx); z += row[k] }
                let iz = 1 / z
                for k in 0..<N { row[k] *= iz }
            }
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(R), Int32(d), Int32(N), 1, w, Int32(N),
                        xp.value, Int32(d), 0, ob, Int32(d))
            (rp.value + r0 * d).update(from: ob, count: n * d)
        }
        try out.copy(from: res.reshape(x.shape))
    }
}
