/// Constructors beyond zeros.
extension Tensor {
    public static func full(_ shape: [Int], _ v: Double, dtype: DType = .float64) throws -> Tensor {
        let t = try Tensor.empty(shape, dtype: dtype)
        t.fill(v)
        return t
    }

    /// `n` evenly spaced values from a to b inclusive.
    public static func linspace(_ a: Double, _ b: Double, _ n: Int, dtype: DType = .float64) throws -> Tensor {
        guard n >= 0 else { throw TensorError("count must be non-negative (got \(n))") }
        let t = try Tensor.empty([n], dtype: dtype)
        for i in 0..<n {
            let v = n == 1 ? a : a + (b - a) * Double(i) / Double(n - 1)
            t.setFlat(i, i == n - 1 && n > 1 ? b : v)
        }
        return t
    }

    /// Values a, a+step, ... strictly before b (numpy's arange).
    public static func arange(_ a: Double, _ b: Double, _ step: Double = 1, dtype: DType = .float64) throws -> Tensor {
        guard step != 0, step.isFinite, a.isFinite, b.isFinite else {
            throw TensorError("arange needs finite bounds and a non-zero finite step")
        }
        let len = ((b - a) / step).rounded(.up)
        guard len.isFinite, len < Double(Int.max / 16) else {
            throw TensorError("arange from \(a) to \(b) by \(step) has too many elements")
        }
        let n = len > 0 ? Int(len) : 0
        let t = try Tensor.empty([n], dtype: dtype)
        for i in 0..<n { t.setFlat(i, a + Double(i) * step) }
        return t
    }

    /// The n×n identity.
    public static func eye(_ n: Int, dtype: DType = .float64) throws -> Tensor {
        let t = try Tensor(zeros: [n, n], dtype: dtype)
        for i in 0..<n { t.setFlat(i * n + i, 1) }
        return t
    }

    /// Concatenation along `dim` (0-based). Shapes must agree elsewhere.
    public static func cat(_ ts: [Tensor], dim: Int) throws -> Tensor {
        guard let first = ts.first else { throw TensorError("cat needs at least one tensor") }
        guard dim >= 0 && dim < first.rank else {
            throw TensorError("dimension \(dim + 1) out of range for a \(first.rank)-D tensor")
        }
        var total = 0
        var dt = first.dtype
        for t in ts {
            var a = t.shape, b = first.shape
            guard a.count == b.count else {
                throw TensorError("cannot concatenate shapes \(formatShape(first.shape)) and \(formatShape(t.shape))")
            }
            a[dim] = 0; b[dim] = 0
            guard a == b else {
                throw TensorError("cannot concatenate shapes \(formatShape(first.shape)) " +
                                  "and \(formatShape(t.shape)) along dimension \(dim + 1)")
            }
            total += t.shape[dim]
            dt = DType.promote(dt, t.dtype)
        }
        var shape = first.shape
        shape[dim] = total
        let out = try Tensor.empty(shape, dtype: dt)
        var at = 0
        for t in ts {
            try out.narrow(dim, at, t.shape[dim]).copy(from: t)
            at += t.shape[dim]
        }
        return out
    }

    /// Stacks equal-shaped tensors along a new leading dimension.
    public static func stack(_ ts: [Tensor]) throws -> Tensor {
        guard let first = ts.first else { throw TensorError("stack needs at least one tensor") }
        for t in ts where t.shape != first.shape {
            throw TensorError("cannot stack shapes \(formatShape(first.shape)) and \(formatShape(t.shape))")
        }
        return try cat(ts.map { try $0.reshape([1] + $0.shape) }, dim: 0)
    }

    /// Sets element `flat` (row-major within the view).
    public func setFlat(_ flat: Int, _ v: Double) {
        let o = storageIndex(flat: flat)
        switch dtype {
        case .float64: storage.raw.assumingMemoryBound(to: Double.self)[o] = v
        case .float32: storage.raw.assumingMemoryBound(to: Float.self)[o] = Float(v)
        }
    }

    /// Rows of `self` (along dim 0) at the given 0-based indices, as a new tensor.
    public func indexSelect(_ indices: [Int]) throws -> Tensor {
        guard rank >= 1 else { throw TensorError("cannot index a 0-D tensor") }
        for i in indices where i < 0 || i >= shape[0] {
            throw TensorError("index \(i + 1) out of bounds for dimension 1 of size \(shape[0])")
        }
        var s = shape
        s[0] = indices.count
        let out = try Tensor.empty(s, dtype: dtype)
        for (k, i) in indices.enumerated() { try out.select(0, k).copy(from: select(0, i)) }
        return out
    }
}
