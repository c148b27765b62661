import CKernels

/// Elementwise arithmetic with numpy broadcasting and dtype promotion.
extension Tensor {
    /// Runs `op` on out = a ∘ b with operands already converted to out's dtype.
    static func runBinary(_ op: BinaryOp, out: Tensor, _ a: Tensor, _ b: Tensor) {
        struct Task: BinaryKernelTask {
            let out: Tensor, a: Tensor, b: Tensor
            func run<Kn: BinaryKernel>(_ k: Kn.Type) {
                switch out.dtype {
                case .float64: Kernels.binary(k, Double.self, out: out, a, b)
                case .float32: Kernels.binary(k, Float.self, out: out, a, b)
                }
            }
        }
        op.withKernel(Task(out: out, a: a, b: b))
    }

    /// Runs `op` on out = a ∘ v (or v ∘ a when `scalarFirst`), v converted to out's dtype.
    static func runBinaryScalar(_ op: BinaryOp, out: Tensor, _ a: Tensor, _ v: Double, scalarFirst: Bool) {
        struct Task: BinaryKernelTask {
            let out: Tensor, a: Tensor, v: Double, scalarFirst: Bool
            func run<Kn: BinaryKernel>(_ k: Kn.Type) {
                switch out.dtype {
                case .float64: Kernels.binaryScalar(k, Double.self, out: out, a, v, scalarFirst: scalarFirst)
                case .float32: Kernels.binaryScalar(k, Float.self, out: out, a, Float(v), scalarFirst: scalarFirst)
                }
            }
        }
        op.withKernel(Task(out: out, a: a, v: v, scalarFirst: scalarFirst))
    }

    static func runUnary(_ op: UnaryOp, out: Tensor, _ a: Tensor) {
        // SiLU on Float32 (the activation of networks) has a vectorised C kernel.
        if op == .silu && out.dtype == .float32 && a.dtype == .float32 && out.isContiguous && a.isContiguous
            && a.count == out.count {
            let (o, x) = (UnsafeSendable(out.pointer(Float.self)), UnsafeSendable(a.pointer(Float.self)))
            Parallel.forRanges(count: out.count, grain: 1 << 15) { r in
                dode_silu_f32(x.value + r.lowerBound, o.value + r.lowerBound, r.count)
            }
            return
        }
        func run<Kn: UnaryKernel>(_ k: Kn.Type) {
            switch out.dtype {
            case .float64: Kernels.unary(k, Double.self, out: out, a)
            case .float32: Kernels.unary(k, Float.self, out: out, a)
            }
        }
        switch op {
        case .neg: run(K.Neg.self)
        case .abs: run(K.Abs.self)
        case .exp: run(K.Exp.self)
        case .log: run(K.Log.self)
        case .sqrt: run(K.Sqrt.self)
        case .square: run(K.Square.self)
        case .tanh: run(K.Tanh.self)
        case .sigmoid: run(K.Sigmoid.self)
        case .silu: run(K.Silu.self)
        case .relu: run(K.Relu.self)
        case .gelu: run(K.Gelu.self)
        case .sin: run(K.Sin.self)
        case .cos: run(K.Cos.self)
        case .floor: run(K.Floor.self)
        case .ceil: run(K.Ceil.self)
        case .round: run(K.Round.self)
        case .sign: run(K.Sign.self)
        case .reciprocal: run(K.Reciprocal.self)
        }
    }

    /// a ∘ b as a new tensor (broadcast shape, promoted dtype).
    public static func binary(_ op: BinaryOp, _ a: Tensor, _ b: Tensor) throws -> Tensor {
        let shape = try Broadcast.shape(a.shape, b.shape)
        let dt = DType.promote(a.dtype, b.dtype)
        let out = try Tensor.empty(shape, dtype: dt)
        runBinary(op, out: out, a.to(dt), b.to(dt))
        return out
    }

    /// a ∘ v (or v ∘ a when `scalarFirst`) as a new tensor.
    public static func binary(_ op: BinaryOp, _ a: Tensor, scalar v: Double, scalarFirst: Bool = false) -> Tensor {
        let out = Tensor(storage: Storage(count: a.count, dtype: a.dtype, zeroed: false), offset: 0,
                         shape: a.shape, strides: contiguousStrides(a.shape))
        runBinaryScalar(op, out: out, a, v, scalarFirst: scalarFirst)
        return out
    }

    /// self = self ∘ b in place; b must broadcast to self's shape.
    public func apply(_ op: BinaryOp, _ b: Tensor) throws {
        let shape = try Broadcast.shape(self.shape, b.shape)
        guard shape == self.shape else {
            throw TensorError("shape \(formatShape(b.shape)) cannot be broadcast to \(formatShape(self.shape)) " +
                              "in place")
        }
        Tensor.runBinary(op, out: self, self, b.to(dtype))
    }

    /// self = self ∘ v in place.
    public func apply(_ op: BinaryOp, scalar v: Double) {
        Tensor.runBinaryScalar(op, out: self, self, v, scalarFirst: false)
    }

    /// f(self) as a new tensor.
    public func map(_ op: UnaryOp) -> Tensor {
        let out = Tensor(storage: Storage(count: count, dtype: dtype, zeroed: false), offset: 0,
                         shape: shape, strides: Tensor.contiguousStrides(shape))
        Tensor.runUnary(op, out: out, self)
        return out
    }

    /// self = f(self) in place.
    public func mapInPlace(_ op: UnaryOp) { Tensor.runUnary(op, out: self, self) }

    /// self += alpha · y (y broadcast to self's shape).
    public func add(_ y: Tensor, alpha: Double = 1) throws {
        try axpby(alpha, y, 1)
    }

    /// self = a·x + b·self in place (x broadcast to self's shape); one fused pass.
    public func axpby(_ a: Double, _ x: Tensor, _ b: Double) throws {
        let shape = try Broadcast.shape(self.shape, x.shape)
        guard shape == self.shape else {
            throw TensorError("shape \(formatShape(x.shape)) cannot be broadcast to \(formatShape(self.shape)) " +
                              "in place")
        }
        let xv = x.to(dtype)
        switch dtype {
        case .float64: Kernels.axpby(Double.self, a, xv, b, self)
        case .float32: Kernels.axpby(Float.self, Float(a), xv, Float(b), self)
        }
    }

    /// Copies y (broadcast, any dtype) into self.
    public func copy(from y: Tensor) throws {
        let shape = try Broadcast.shape(self.shape, y.shape)
        guard shape == self.shape else {
            throw TensorError("shape \(formatShape(y.shape)) cannot be broadcast to \(formatShape(self.shape)) in copy")
        }
        Kernels.copy(from: y, to: self)
    }

    /// Sets every element to v.
    public func fill(_ v: Double) { Kernels.fill(self, v) }

    /// Clamps into [lo, hi] (either bound optional) as a new tensor.
    public func clamped(min lo: Double?, max hi: Double?) -> Tensor {
        let out = clone()
        if let lo { out.apply(.maximum, scalar: lo) }
        if let hi { out.apply(.minimum, scalar: hi) }
        return out
    }

    /// True when any element is NaN or ±Inf. One vectorisable pass on both cores: v − v is 0 for
    /// finite v and NaN otherwise, so a sum of those is NaN exactly when one element is not finite.
    public func hasNonFinite() -> Bool {
        let t = contiguous()
        let n = count
        let chunks = Swift.max(1, Swift.min(64, (n + (1 << 16) - 1) >> 16))
        let size = (n + chunks - 1) / chunks
        var flags = [UInt8](repeating: 0, count: chunks)
        flags.withUnsafeMutableBufferPointer { fb in
            let f = UnsafeSendable(fb.baseAddress!)
            switch dtype {
            case .float64:
                let p = UnsafeSendable(t.pointer(Double.self))
                Parallel.forEach(chunks: chunks) { c in
                    let lo = c * size, hi = Swift.min(n, lo + size)
                    if Tensor.nonFinite(p.value + lo, Swift.max(0, hi - lo)) { f.value[c] = 1 }
                }
            case .float32:
                let p = UnsafeSendable(t.pointer(Float.self))
                Parallel.forEach(chunks: chunks) { c in
                    let lo = c * size, hi = Swift.min(n, lo + size)
                    if Tensor.nonFinite(p.value + lo, Swift.max(0, hi - lo)) { f.value[c] = 1 }
                }
            }
        }
        return flags.contains(1)
    }

    /// Whether any of the n values at p is NaN or ±Inf: v − v is 0 for finite v and NaN
    /// otherwise, summed in four independent 8-lane accumulators (a single scalar sum would wait
    /// on the add latency for every element).
    @inlinable
    static func nonFinite<T: TensorScalar & BinaryFloatingPoint & SIMDScalar>(_ p: UnsafeMutablePointer<T>,
                                                                              _ n: Int) -> Bool {
        var a0 = SIMD8<T>(), a1 = a0, a2 = a0, a3 = a0
        var i = 0
        let raw = UnsafeRawPointer(p), w = MemoryLayout<T>.stride
        while i + 32 <= n {
            let v0 = raw.loadUnaligned(fromByteOffset: i * w, as: SIMD8<T>.self)
            let v1 = raw.loadUnaligned(fromByteOffset: (i + 8) * w, as: SIMD8<T>.self)
            let v2 = raw.loadUnaligned(fromByteOffset: (i + 16) * w, as: SIMD8<T>.self)
            let v3 = raw.loadUnaligned(fromByteOffset: (i + 24) * w, as: SIMD8<T>.self)
            a0 += v0 - v0; a1 += v1 - v1; a2 += v2 - v2; a3 += v3 - v3
            i += 32
        }
        var acc = ((a0 + a1) + (a2 + a3)).sum()
        while i < n { let v = p[i]; acc += v - v; i += 1 }
        return acc.isNaN
    }
}
