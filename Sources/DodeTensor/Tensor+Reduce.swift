/// Reductions. Sums are accumulated in Double over fixed chunks, then the chunk sums are added in
/// order, so results are bit-identical whatever the thread count.
extension Tensor {
    @usableFromInline static let reduceChunk = 1 << 15

    @inlinable
    static func chunkedSum<T: TensorScalar>(_ p: UnsafeMutablePointer<T>, _ n: Int,
                                           _ f: (UnsafeMutablePointer<T>, Int) -> Double) -> Double {
        let chunks = (n + reduceChunk - 1) / reduceChunk
        if chunks <= 1 { return n > 0 ? f(p, n) : 0 }
        var partial = [Double](repeating: 0, count: chunks)
        partial.withUnsafeMutableBufferPointer { buf in
            let out = UnsafeSendable(buf.baseAddress!), src = UnsafeSendable(p)
            Parallel.forEach(chunks: chunks) { c in
                let lo = c * reduceChunk
                out.value[c] = f(src.value + lo, Swift.min(reduceChunk, n - lo))
            }
        }
        var s = 0.0
        for v in partial { s += v }
        return s
    }

    @inlinable
    static func sumRun<T: TensorScalar>(_ p: UnsafeMutablePointer<T>, _ n: Int) -> Double {
        var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
        var i = 0
        while i + 4 <= n {
            s0 += p[i].double; s1 += p[i + 1].double; s2 += p[i + 2].double; s3 += p[i + 3].double
            i += 4
        }
        while i < n { s0 += p[i].double; i += 1 }
        return (s0 + s1) + (s2 + s3)
    }

    @inlinable
    static func sumSquaresRun<T: TensorScalar>(_ p: UnsafeMutablePointer<T>, _ n: Int) -> Double {
        var s0 = 0.0, s1 = 0.0
        var i = 0
        while i + 2 <= n {
            let a = p[i].double, b = p[i + 1].double
            s0 += a * a; s1 += b * b
            i += 2
        }
        if i < n { let a = p[i].double; s0 += a * a }
        return s0 + s1
    }

    /// Sum of all elements (Double accumulation).
    public func sum() -> Double {
        let t = contiguous()
        switch dtype {
        case .float64: return Tensor.chunkedSum(t.pointer(Double.self), count) { Tensor.sumRun($0, $1) }
        case .float32: return Tensor.chunkedSum(t.pointer(Float.self), count) { Tensor.sumRun($0, $1) }
        }
    }

    /// Mean of all elements (NaN for an empty tensor).
    public func mean() -> Double { count == 0 ? .nan : sum() / Double(count) }

    /// Sum of squares of all elements.
    public func sumSquares() -> Double {
        let t = contiguous()
        switch dtype {
        case .float64: return Tensor.chunkedSum(t.pointer(Double.self), count) { Tensor.sumSquaresRun($0, $1) }
        case .float32: return Tensor.chunkedSum(t.pointer(Float.self), count) { Tensor.sumSquaresRun($0, $1) }
        }
    }

    /// Euclidean norm of all elements.
    public func norm() -> Double { sumSquares().squareRoot() }

    /// Σ a·b over all elements of two tensors of the same shape (Double accumulation).
    public func dot(_ other: Tensor) throws -> Double {
        guard shape == other.shape else {
            throw TensorError("shapes \(formatShape(shape)) and \(formatShape(other.shape)) differ")
        }
        let a = contiguous().to(.float64), b = other.contiguous().to(.float64)
        let pa = a.pointer(Double.self), pb = UnsafeSendable(b.pointer(Double.self))
        return Tensor.chunkedSum(pa, count) { p, n in
            let q = pb.value + (p - pa)
            var s0 = 0.0, s1 = 0.0
            var i = 0
            while i + 2 <= n { s0 += p[i] * q[i]; s1 += p[i + 1] * q[i + 1]; i += 2 }
            if i < n { s0 += p[i] * q[i] }
            return s0 + s1
        }
    }

    /// Largest element (NaN if any element is NaN; -inf for an empty tensor).
    public func max() -> Double {
        var m = -Double.infinity
        for v in contiguous().toArray() { if v.isNaN { return .nan }; if v > m { m = v } }
        return m
    }

    /// Smallest element (NaN if any element is NaN; +inf for an empty tensor).
    public func min() -> Double {
        var m = Double.infinity
        for v in contiguous().toArray() { if v.isNaN { return .nan }; if v < m { m = v } }
        return m
    }

    /// The kinds of reduction along one dimension.
    public enum Reduction: String, Sendable { case sum, mean, max, min, argmax, argmin, norm }

    /// Reduces along `dim` (0-based); `keepdim` keeps it with size 1. `argmax`/`argmin` return
    /// 0-based indices as floats (the Lua layer adds 1).
    public func reduce(_ kind: Reduction, dim: Int, keepdim: Bool = false) throws -> Tensor {
        guard dim >= 0 && dim < rank else {
            throw TensorError("dimension \(dim + 1) out of range for a \(rank)-D tensor")
        }
        let n = shape[dim]
        if n == 0 && kind != .sum && kind != .norm {
            throw TensorError("cannot take \(kind.rawValue) over an empty dimension")
        }
        let outer = shape[..<dim].reduce(1, *), inner = shape[(dim + 1)...].reduce(1, *)
        var outShape = shape
        if keepdim { outShape[dim] = 1 } else { outShape.remove(at: dim) }
        let out = try Tensor(zeros: outShape, dtype: kind == .argmax || kind == .argmin ? .float64 : dtype)
        let src = contiguous().to(.float64)
        let p = src.pointer(Double.self)
        var acc = [Double](repeating: 0, count: inner), idx = [Int](repeating: 0, count: inner)
        var result = [Double](repeating: 0, count: outer * inner)
        for o in 0..<outer {
            let base = p + o * n * inner
            switch kind {
            case .sum, .mean, .norm:
                for i in 0..<inner { acc[i] = 0 }
                for k in 0..<n {
                    let row = base + k * inner
                    if kind == .norm { for i in 0..<inner { acc[i] += row[i] * row[i] } }
                    else { for i in 0..<inner { acc[i] += row[i] } }
                }
                for i in 0..<inner {
                    result[o * inner + i] = kind == .mean ? acc[i] / Double(n)
                        : (kind == .norm ? acc[i].squareRoot() : acc[i])
                }
            case .max, .min, .argmax, .argmin:
                let isMax = kind == .max || kind == .argmax
                for i in 0..<inner { acc[i] = base[i]; idx[i] = 0 }
                for k in 1..<Swift.max(n, 1) {
                    let row = base + k * inner
                    for i in 0..<inner {
                        let v = row[i]
                        if acc[i].isNaN { continue }
                        if v.isNaN || (isMax ? v > acc[i] : v < acc[i]) { acc[i] = v; idx[i] = k }
                    }
                }
                for i in 0..<inner {
                    result[o * inner + i] = (kind == .max || kind == .min) ? acc[i] : Double(idx[i])
                }
            }
        }
        try out.copy(from: Tensor(result, shape: outShape))
        return out
    }
}
