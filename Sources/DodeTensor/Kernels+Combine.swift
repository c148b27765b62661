/// out = Σ_m c_m · T_m in one pass over memory: the update of every solver step.
extension Kernels {
    /// All tensors contiguous with out's element count; any dtype (converted on the fly).
    /// Terms are summed in the order given, so results do not depend on threading.
    public static func combine(into out: Tensor, _ terms: [(Double, Tensor)]) throws {
        for (_, t) in terms where t.count != out.count {
            throw TensorError("cannot combine tensors of \(t.count) and \(out.count) elements")
        }
        let ts = terms.map { ($0.0, $0.1.contiguous().to(out.dtype)) }
        let dst = out.isContiguous ? out : try Tensor.empty(out.shape, dtype: out.dtype)
        switch out.dtype {
        case .float64: combineTyped(Double.self, dst, ts)
        case .float32: combineTyped(Float.self, dst, ts)
        }
        if dst !== out { try out.copy(from: dst) }
    }

    @inlinable
    static func combineTyped<T: TensorScalar>(_: T.Type, _ out: Tensor, _ terms: [(Double, Tensor)]) {
        let o = UnsafeSendable(out.pointer(T.self))
        let ps = UnsafeSendable(terms.map { $0.1.pointer(T.self) })
        let cs = terms.map { T($0.0) }
        let n = out.count
        if terms.isEmpty { out.fill(0); return }
        Parallel.forRanges(count: n, grain: 1 << 15) { r in
            let p = ps.value, dst = o.value
            switch p.count {
            case 1:
                let (a, c0) = (p[0], cs[0])
                for i in r { dst[i] = c0 * a[i] }
            case 2:
                let (a, b, c0, c1) = (p[0], p[1], cs[0], cs[1])
                for i in r { dst[i] = c0 * a[i] + c1 * b[i] }
            case 3:
                let (a, b, c, c0, c1, c2) = (p[0], p[1], p[2], cs[0], cs[1], cs[2])
                for i in r { dst[i] = c0 * a[i] + c1 * b[i] + c2 * c[i] }
            case 4:
                let (a, b, c, d) = (p[0], p[1], p[2], p[3])
                let (c0, c1, c2, c3) = (cs[0], cs[1], cs[2], cs[3])
                for i in r { dst[i] = c0 * a[i] + c1 * b[i] + c2 * c[i] + c3 * d[i] }
            default:
                // Blocks of 4 terms accumulate into the output (still one pass per 4 terms).
                let (a, b, c, d) = (p[0], p[1], p[2], p[3])
                let (c0, c1, c2, c3) = (cs[0], cs[1], cs[2], cs[3])
                for i in r { dst[i] = c0 * a[i] + c1 * b[i] + c2 * c[i] + c3 * d[i] }
                var m = 4
                while m < p.count {
                    let q = p[m], cm = cs[m]
                    for i in r { dst[i] += cm * q[i] }
                    m += 1
                }
            }
        }
    }
}
