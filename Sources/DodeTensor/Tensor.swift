/// A strided view of a `Storage`: the central type of dode.
///
/// Shapes are row-major; `strides` are in elements. Views (`reshape`, `narrow`, `select`,
/// `transpose`) share storage with their base; `clone()` copies. Indices in this Swift API are
/// 0-based; the Lua API is 1-based and converts at the boundary.
public final class Tensor: @unchecked Sendable {
    public private(set) var storage: Storage
    public let offset: Int
    public let shape: [Int]
    public let strides: [Int]

    @inlinable public var dtype: DType { storage.dtype }
    @inlinable public var rank: Int { shape.count }
    public let count: Int

    public init(storage: Storage, offset: Int, shape: [Int], strides: [Int]) {
        self.storage = storage
        self.offset = offset
        self.shape = shape
        self.strides = strides
        self.count = shape.reduce(1, *)
    }

    /// A new zero-filled tensor. Throws when the shape is invalid or above the size cap.
    public convenience init(zeros shape: [Int], dtype: DType = .float64) throws {
        let n = try TensorLimits.checkedCount(shape, dtype: dtype)
        self.init(storage: Storage(count: n, dtype: dtype), offset: 0, shape: shape,
                  strides: Tensor.contiguousStrides(shape))
    }

    /// A new tensor whose contents are not initialised (every element is then written).
    public static func empty(_ shape: [Int], dtype: DType = .float64) throws -> Tensor {
        let n = try TensorLimits.checkedCount(shape, dtype: dtype)
        return Tensor(storage: Storage(count: n, dtype: dtype, zeroed: false), offset: 0,
                      shape: shape, strides: contiguousStrides(shape))
    }

    /// A tensor holding `values` with the given shape.
    public convenience init(_ values: [Double], shape: [Int], dtype: DType = .float64) throws {
        try self.init(zeros: shape, dtype: dtype)
        guard values.count == count else {
            throw TensorError("\(values.count) values do not fill shape \(formatShape(shape))")
        }
        switch dtype {
        case .float64:
            values.withUnsafeBufferPointer { src in
                if let base = src.baseAddress, count > 0 { pointer(Double.self).update(from: base, count: count) }
            }
        case .float32:
            let p = pointer(Float.self)
            for i in 0..<count { p[i] = Float(values[i]) }
        }
    }

    /// A 0-dimensional tensor.
    public static func scalar(_ v: Double, dtype: DType = .float64) -> Tensor {
        // A one-element allocation never exceeds a non-zero cap; fall back to a direct storage.
        let s = Storage(count: 1, dtype: dtype)
        let t = Tensor(storage: s, offset: 0, shape: [], strides: [])
        t.setScalar(v)
        return t
    }

    @inlinable
    public static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[i] = acc
            acc *= Swift.max(shape[i], 1)
        }
        return strides
    }

    /// True when the elements are laid out densely in row-major order.
    public var isContiguous: Bool {
        var expected = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            if shape[i] != 1 && strides[i] != expected { return false }
            expected *= shape[i]
        }
        return true
    }

    /// Typed pointer to the first element of the view. The caller must match `T` to `dtype`.
    @inlinable
    public func pointer<T: TensorScalar>(_: T.Type) -> UnsafeMutablePointer<T> {
        storage.raw.assumingMemoryBound(to: T.self) + offset
    }

    /// Size of dimension `d` (0-based).
    public func size(_ d: Int) -> Int { shape[d] }

    // MARK: element access (slow path, for small work and tests)

    /// Storage index of element `flat` in row-major order of the view.
    func storageIndex(flat: Int) -> Int {
        var rem = flat, o = offset
        for d in stride(from: rank - 1, through: 0, by: -1) {
            let n = shape[d]
            o += (rem % n) * strides[d]
            rem /= n
        }
        return o
    }

    /// The element at `flat` in row-major order of the view.
    public func element(flat: Int) -> Double {
        let o = storageIndex(flat: flat)
        switch dtype {
        case .float64: return storage.raw.assumingMemoryBound(to: Double.self)[o]
        case .float32: return Double(storage.raw.assumingMemoryBound(to: Float.self)[o])
        }
    }

    /// The only element of a one-element tensor.
    public var item: Double { element(flat: 0) }

    func setScalar(_ v: Double) {
        switch dtype {
        case .float64: storage.raw.assumingMemoryBound(to: Double.self)[offset] = v
        case .float32: storage.raw.assumingMemoryBound(to: Float.self)[offset] = Float(v)
        }
    }

    /// All elements in row-major order, as Double.
    public func toArray() -> [Double] {
        if isContiguous {
            switch dtype {
            case .float64: return Array(UnsafeBufferPointer(start: pointer(Double.self), count: count))
            case .float32:
                let p = pointer(Float.self)
                return (0..<count).map { Double(p[$0]) }
            }
        }
        return (0..<count).map { element(flat: $0) }
    }

    // MARK: views

    /// Same storage, new shape. One dimension may be -1 (inferred). A non-contiguous tensor is
    /// copied first, as torch's `reshape` does.
    public func reshape(_ newShape: [Int]) throws -> Tensor {
        var shape = newShape
        let unknown = shape.indices.filter { shape[$0] == -1 }
        if unknown.count > 1 { throw TensorError("only one dimension can be -1 in reshape") }
        if shape.contains(where: { $0 < -1 }) {
            throw TensorError("invalid shape \(newShape.map(String.init).joined(separator: "x"))")
        }
        if let u = unknown.first {
            var known = 1
            for (i, d) in shape.enumerated() where i != u {
                let (m, o) = known.multipliedReportingOverflow(by: d)
                if o { throw TensorError("shape too large in reshape") }
                known = m
            }
            if known == 0 || count % known != 0 {
                throw TensorError("cannot reshape \(formatShape(self.shape)) (\(count) elements) " +
                                  "into \(newShape.map(String.init).joined(separator: "x"))")
            }
            shape[u] = count / known
        }
        var n = 1
        for d in shape {
            let (m, o) = n.multipliedReportingOverflow(by: d)
            if o { throw TensorError("shape too large in reshape") }
            n = m
        }
        if n != count {
            throw TensorError("cannot reshape \(formatShape(self.shape)) (\(count) elements) " +
                              "into \(formatShape(shape)) (\(n) elements)")
        }
        let base = isContiguous ? self : clone()
        return Tensor(storage: base.storage, offset: base.offset, shape: shape,
                      strides: Tensor.contiguousStrides(shape))
    }

    /// Elements `start ..< start+length` along dimension `dim` (0-based), sharing storage.
    public func narrow(_ dim: Int, _ start: Int, _ length: Int) throws -> Tensor {
        guard dim >= 0 && dim < rank else {
            throw TensorError("dimension \(dim + 1) out of range for a \(rank)-D tensor")
        }
        guard start >= 0, length >= 0, start + length <= shape[dim] else {
            throw TensorError("range \(start + 1)..\(start + length) out of bounds for dimension \(dim + 1) " +
                              "of size \(shape[dim])")
        }
        var s = shape
        s[dim] = length
        return Tensor(storage: storage, offset: offset + start * strides[dim], shape: s, strides: strides)
    }

    /// The slice at `index` along `dim` (0-based); the dimension is removed.
    public func select(_ dim: Int, _ index: Int) throws -> Tensor {
        guard dim >= 0 && dim < rank else {
            throw TensorError("dimension \(dim + 1) out of range for a \(rank)-D tensor")
        }
        guard index >= 0 && index < shape[dim] else {
            throw TensorError("index \(index + 1) out of bounds for dimension \(dim + 1) of size \(shape[dim])")
        }
        var s = shape, st = strides
        s.remove(at: dim)
        st.remove(at: dim)
        return Tensor(storage: storage, offset: offset + index * strides[dim], shape: s, strides: st)
    }

    /// Swaps two dimensions (0-based) without copying.
    public func transpose(_ a: Int, _ b: Int) throws -> Tensor {
        guard a >= 0 && a < rank && b >= 0 && b < rank else {
            throw TensorError("dimensions \(a + 1) and \(b + 1) out of range for a \(rank)-D tensor")
        }
        var s = shape, st = strides
        s.swapAt(a, b)
        st.swapAt(a, b)
        return Tensor(storage: storage, offset: offset, shape: s, strides: st)
    }

    /// A contiguous tensor with the same values (self when already contiguous).
    public func contiguous() -> Tensor { isContiguous ? self : clone() }

    /// A contiguous copy (optionally converted to `dtype`).
    public func clone(dtype: DType? = nil) -> Tensor {
        let dt = dtype ?? self.dtype
        // Same element count as an existing tensor of at most the same element size: within cap
        // unless converting Float32 to Float64, which is checked.
        let out: Tensor
        if dt.size > self.dtype.size, let t = try? Tensor.empty(shape, dtype: dt) {
            out = t
        } else {
            out = Tensor(storage: Storage(count: count, dtype: dt, zeroed: false), offset: 0,
                         shape: shape, strides: Tensor.contiguousStrides(shape))
        }
        Kernels.copy(from: self, to: out)
        return out
    }

    /// Converts to `dtype`, copying; returns self when it already has that dtype.
    public func to(_ dt: DType) -> Tensor { dt == dtype ? self : clone(dtype: dt) }
}

extension Tensor {
    /// True when no other tensor or view shares this tensor's storage (so it may be reused).
    public func storageIsUniquelyReferenced() -> Bool { isKnownUniquelyReferenced(&storage) }

    /// `select(0, i)` for an index the caller has already validated.
    func selectUnchecked(_ dim: Int, _ index: Int) -> Tensor {
        var s = shape, st = strides
        s.remove(at: dim)
        st.remove(at: dim)
        return Tensor(storage: storage, offset: offset + index * strides[dim], shape: s, strides: st)
    }
}
