import CBLAS

/// Matrix products through OpenBLAS.
extension Tensor {
    /// BLAS description of a 2-D view: (transposed?, leading dimension), or nil when the view
    /// needs a copy.
    func blasLayout() -> (trans: Bool, ld: Int)? {
        guard rank == 2 else { return nil }
        if strides[1] == 1 && strides[0] >= Swift.max(shape[1], 1) { return (false, strides[0]) }
        if strides[0] == 1 && strides[1] >= Swift.max(shape[0], 1) { return (true, strides[1]) }
        return nil
    }

    /// The matrix product a·b of two 2-D tensors (dtype promoted).
    public static func matmul(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        guard a.rank == 2, b.rank == 2 else {
            throw TensorError("expected 2-D tensors, got \(formatShape(a.shape)) and \(formatShape(b.shape))")
        }
        guard a.shape[1] == b.shape[0] else {
            throw TensorError("shapes \(formatShape(a.shape)) and \(formatShape(b.shape)) cannot be multiplied " +
                              "(inner sizes \(a.shape[1]) and \(b.shape[0]))")
        }
        let dt = DType.promote(a.dtype, b.dtype)
        let out = try Tensor(zeros: [a.shape[0], b.shape[1]], dtype: dt)
        try gemm(a.to(dt), b.to(dt), into: out, alpha: 1, beta: 0)
        return out
    }

    /// out = alpha·a·b + beta·out, all of out's dtype; out must be contiguous.
    public static func gemm(_ a: Tensor, _ b: Tensor, into out: Tensor, alpha: Double, beta: Double) throws {
        let m = a.shape[0], k = a.shape[1], n = b.shape[1]
        guard out.shape == [m, n], out.isContiguous, a.dtype == out.dtype, b.dtype == out.dtype else {
            throw TensorError("gemm: output must be a contiguous \(m)x\(n) \(a.dtype.rawValue) tensor")
        }
        if m > Int(Int32.max) || n > Int(Int32.max) || k > Int(Int32.max) {
            throw TensorError("matrix dimensions above 2^31-1 are not supported by BLAS")
        }
        if m == 0 || n == 0 { return }
        if k == 0 { out.apply(.mul, scalar: beta); return }
        let av = a.blasLayout() == nil ? a.clone() : a
        let bv = b.blasLayout() == nil ? b.clone() : b
        guard let la = av.blasLayout(), let lb = bv.blasLayout() else {
            throw TensorError("internal: no BLAS layout for shapes \(formatShape(a.shape)) and \(formatShape(b.shape))")
        }
        let ta = la.trans ? CblasTrans : CblasNoTrans, tb = lb.trans ? CblasTrans : CblasNoTrans
        switch out.dtype {
        case .float64:
            Parallel.releaseCores()
            cblas_dgemm(CblasRowMajor, ta, tb, Int32(m), Int32(n), Int32(k), alpha,
                        av.pointer(Double.self), Int32(la.ld), bv.pointer(Double.self), Int32(lb.ld),
                        beta, out.pointer(Double.self), Int32(n))
        case .float32:
            Parallel.releaseCores()
            cblas_sgemm(CblasRowMajor, ta, tb, Int32(m), Int32(n), Int32(k), Float(alpha),
                        av.pointer(Float.self), Int32(la.ld), bv.pointer(Float.self), Int32(lb.ld),
                        Float(beta), out.pointer(Float.self), Int32(n))
        }
    }
}

/// BLAS thread control.
public enum BLAS {
    /// Sets OpenBLAS's thread count.
    public static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(n)) }
}

extension BLAS {
    /// Rows per sgemm call of `linearRows`, and the fewest rows any call gets (a shorter last
    /// block is padded). OpenBLAS takes other code paths for a handful of rows (measured: 1–18
    /// rows round differently from 19 and more) and when its own threads split a product, so a
    /// sample's output would depend on the batch it sits in.
    static let rowBlock = 256, minRows = 64

    /// out[r] = W·x[r] + bias for `rows` rows of `fin` Float32 values (W is fout×fin, row-major):
    /// a linear layer over a batch. Batch-invariant bit for bit: rows go through single-threaded
    /// sgemm calls of `rowBlock` rows (a last block of fewer than `minRows` is padded), spread over
    /// the worker pool, so a row's result depends on its values alone — not on the batch size,
    /// its place in the batch or the thread count (sharded MPI runs rely on this).
    public static func linearRows(_ x: UnsafePointer<Float>, rows: Int, fin: Int,
                                  weight w: UnsafePointer<Float>, fout: Int,
                                  bias: UnsafePointer<Float>?, into out: UnsafeMutablePointer<Float>) throws {
        guard rows > 0, fout > 0 else { return }
        guard fin <= Int(Int32.max), fout <= Int(Int32.max) else {
            throw TensorError("matrix dimensions above 2^31-1 are not supported by BLAS")
        }
        let blocks = (rows + rowBlock - 1) / rowBlock
        let blasThreads = openblas_get_num_threads()
        openblas_set_num_threads(1)
        defer { openblas_set_num_threads(blasThreads) }
        let xs = UnsafeSendable(x), ws = UnsafeSendable(w), bs = UnsafeSendable(bias), os = UnsafeSendable(out)
        Parallel.forEach(chunks: blocks) { c in
            let r0 = c * rowBlock, n = Swift.min(rowBlock, rows - r0)
            let m = Swift.max(n, minRows)
            // A short block runs on a zero-padded copy of its rows.
            var padIn: UnsafeMutablePointer<Float>? = nil, padOut: UnsafeMutablePointer<Float>? = nil
            if m > n {
                padIn = .allocate(capacity: m * fin); padOut = .allocate(capacity: m * fout)
                padIn!.update(from: xs.value + r0 * fin, count: n * fin)
                (padIn! + n * fin).update(repeating: 0, count: (m - n) * fin)
            }
            defer { padIn?.deallocate(); padOut?.deallocate() }
            let src = padIn.map { UnsafePointer($0) } ?? xs.value + r0 * fin
            let dst = padOut ?? os.value + r0 * fout
            if let b = bs.value { for r in 0..<m { (dst + r * fout).update(from: b, count: fout) } }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(fout), Int32(fin), 1,
                        src, Int32(fin), ws.value, Int32(fin), bs.value == nil ? 0 : 1, dst, Int32(fout))
            if let padOut { (os.value + r0 * fout).update(from: padOut, count: n * fout) }
        }
    }
}
