import Foundation

/// An elementwise binary function, as a type so loops specialise and vectorise.
public protocol BinaryKernel { static func f<T: TensorScalar>(_ a: T, _ b: T) -> T }
/// An elementwise unary function.
public protocol UnaryKernel { static func f<T: TensorScalar>(_ x: T) -> T }

/// Elementwise binary operations with numpy broadcasting.
public enum BinaryOp: String, CaseIterable, Sendable {
    case add, sub, mul, div, pow, maximum, minimum, lt, le, gt, ge, eq, ne

    /// Runs `task` with this operation's kernel type: the one switch from operations to kernels,
    /// so callers write their loop once, generic over the kernel (and specialised per kernel).
    func withKernel<Task: BinaryKernelTask>(_ task: Task) {
        switch self {
        case .add: task.run(K.Add.self)
        case .sub: task.run(K.Sub.self)
        case .mul: task.run(K.Mul.self)
        case .div: task.run(K.Div.self)
        case .pow: task.run(K.Pow.self)
        case .maximum: task.run(K.Max.self)
        case .minimum: task.run(K.Min.self)
        case .lt: task.run(K.Lt.self)
        case .le: task.run(K.Le.self)
        case .gt: task.run(K.Gt.self)
        case .ge: task.run(K.Ge.self)
        case .eq: task.run(K.Eq.self)
        case .ne: task.run(K.Ne.self)
        }
    }
}

/// Work generic over a binary kernel type (see `BinaryOp.withKernel`).
protocol BinaryKernelTask { func run<Kn: BinaryKernel>(_ kernel: Kn.Type) }

/// Elementwise unary functions.
public enum UnaryOp: String, CaseIterable, Sendable {
    case neg, abs, exp, log, sqrt, square, tanh, sigmoid, silu, relu, gelu, sin, cos, floor, ceil,
         round, sign, reciprocal

}

/// The kernel types behind `BinaryOp` and `UnaryOp`.
public enum K {
    public enum Add: BinaryKernel { @inlinable public static func f<T: TensorScalar>(_ a: T, _ b: T) -> T { a + b } }
    public enum Sub: BinaryKernel { @inlinable public static func f<T: TensorScalar>(_ a: T, _ b: T) -> T { a - b } }
    public enum Mul: BinaryKernel { @inlinable public static func f<T: TensorScalar>(_ a: T, _ b: T) -> T { a * b } }
    public enum Div: BinaryKernel { @inlinable public static func f<T: TensorScalar>(_ a: T, _ b: T) -> T { a / b } }
    public enum Pow: BinaryKernel {
        @inlinable public static func f<T: TensorScalar>(_ a: T, _ b: T) -> T { T.pow(a, b) }
    }
    public enum Max: BinaryKernel {
        @inlinable public static func f<T: TensorScalar>(_ a: T, _ b: T) -> T {
            a.isNaN || b.isNaN ? .nan : Swift.max(a, b)
        }
    }
    public enum Min: BinaryKernel {
        @inlinable public static func f<T: TensorScalar>(_ a: T, _ b: T) -> T {
            a.isNaN || b.isNaN ? .nan : Swift.min(a, b)
        }
    }
    public enum Lt: BinaryKernel {
        @inlinable public static func f<T: TensorScalar>(_ a: T, _ b: T) -> T { a < b ? 1 : 0 }
    }
    public enum Le: BinaryKernel {
        @inlinable public static func f<T: TensorScalar>(_ a: T, _ b: T) -> T { a <= b ? 1 : 0 }
    }
    public enum Gt: BinaryKernel {
        @inlinable public static func f<T: TensorScalar>(_ a: T, _ b: T) -> T { a > b ? 1 : 0 }
    }
    public enum Ge: BinaryKernel {
        @inlinable public static func f<T: TensorScalar>(_ a: T, _ b: T) -> T { a >= b ? 1 : 0 }
    }
    public enum Eq: BinaryKernel {
        @inlinable public static func f<T: TensorScalar>(_ a: T, _ b: T) -> T { a == b ? 1 : 0 }
    }
    public enum Ne: BinaryKernel {
        @inlinable public static func f<T: TensorScalar>(_ a: T, _ b: T) -> T { a != b ? 1 : 0 }
    }

    public enum Neg: UnaryKernel { @inlinable public static func f<T: TensorScalar>(_ x: T) -> T { -x } }
    public enum Abs: UnaryKernel { @inlinable public static func f<T: TensorScalar>(_ x: T) -> T { Swift.abs(x) } }
    public enum Exp: UnaryKernel { @inlinable public static func f<T: TensorScalar>(_ x: T) -> T { T.exp(x) } }
    public enum Log: UnaryKernel { @inlinable public static func f<T: TensorScalar>(_ x: T) -> T { T.log(x) } }
    public enum Sqrt: UnaryKernel { @inlinable public static func f<T: TensorScalar>(_ x: T) -> T { x.squareRoot() } }
    public enum Square: UnaryKernel { @inlinable public static func f<T: TensorScalar>(_ x: T) -> T { x * x } }
    public enum Tanh: UnaryKernel { @inlinable public static func f<T: TensorScalar>(_ x: T) -> T { T.tanh(x) } }
    public enum Sigmoid: UnaryKernel {
        @inlinable public static func f<T: TensorScalar>(_ x: T) -> T { 1 / (1 + T.exp(-x)) }
    }
    public enum Silu: UnaryKernel {
        @inlinable public static func f<T: TensorScalar>(_ x: T) -> T { x / (1 + T.exp(-x)) }
    }
    public enum Relu: UnaryKernel {
        @inlinable public static func f<T: TensorScalar>(_ x: T) -> T { x > 0 ? x : (x.isNaN ? x : 0) }
    }
    /// GELU with the tanh approximation? No: the exact erf form, as PyTorch's default `gelu`.
    public enum Gelu: UnaryKernel {
        @inlinable public static func f<T: TensorScalar>(_ x: T) -> T {
            T(0.5 * x.double * (1 + Foundation.erf(x.double / 2.0.squareRoot())))
        }
    }
    public enum Sin: UnaryKernel { @inlinable public static func f<T: TensorScalar>(_ x: T) -> T { T.sin(x) } }
    public enum Cos: UnaryKernel { @inlinable public static func f<T: TensorScalar>(_ x: T) -> T { T.cos(x) } }
    public enum Floor: UnaryKernel {
        @inlinable public static func f<T: TensorScalar>(_ x: T) -> T { x.rounded(.down) }
    }
    public enum Ceil: UnaryKernel { @inlinable public static func f<T: TensorScalar>(_ x: T) -> T { x.rounded(.up) } }
    public enum Round: UnaryKernel {
        @inlinable public static func f<T: TensorScalar>(_ x: T) -> T { x.rounded(.toNearestOrEven) }
    }
    public enum Sign: UnaryKernel {
        @inlinable public static func f<T: TensorScalar>(_ x: T) -> T { x > 0 ? 1 : (x < 0 ? -1 : x) }
    }
    public enum Reciprocal: UnaryKernel { @inlinable public static func f<T: TensorScalar>(_ x: T) -> T { 1 / x } }
}

/// Contiguous runs at least this long are split over threads.
@usableFromInline let parallelGrain = 1 << 16

/// Low-level loops. Operands are already in the output's dtype and broadcast-compatible.
public enum Kernels {
    /// out = a ∘ b (elementwise, broadcasting a and b to out.shape).
    @inlinable
    public static func binary<Kn: BinaryKernel, T: TensorScalar>(
        _: Kn.Type, _: T.Type, out: Tensor, _ a: Tensor, _ b: Tensor
    ) {
        let po = out.pointer(T.self), pa = a.pointer(T.self), pb = b.pointer(T.self)
        let n = out.count
        if out.isContiguous && a.isContiguous && b.isContiguous && a.count == n && b.count == n {
            let (o, x, y) = (UnsafeSendable(po), UnsafeSendable(pa), UnsafeSendable(pb))
            Parallel.forRanges(count: n, grain: parallelGrain) { r in
                for i in r { o.value[i] = Kn.f(x.value[i], y.value[i]) }
            }
            return
        }
        if out.isContiguous && a.isContiguous && a.count == n && b.count == 1 {
            let bv = pb[0]
            let (o, x) = (UnsafeSendable(po), UnsafeSendable(pa))
            Parallel.forRanges(count: n, grain: parallelGrain) { r in
                for i in r { o.value[i] = Kn.f(x.value[i], bv) }
            }
            return
        }
        if out.isContiguous && b.isContiguous && b.count == n && a.count == 1 {
            let av = pa[0]
            let (o, y) = (UnsafeSendable(po), UnsafeSendable(pb))
            Parallel.forRanges(count: n, grain: parallelGrain) { r in
                for i in r { o.value[i] = Kn.f(av, y.value[i]) }
            }
            return
        }
        let sa = Broadcast.strides(of: a, to: out.shape), sb = Broadcast.strides(of: b, to: out.shape)
        let so = out.strides
        let r = out.rank
        let io = r > 0 ? so[r - 1] : 0, ia = r > 0 ? sa[r - 1] : 0, ib = r > 0 ? sb[r - 1] : 0
        stridedWalk(shape: out.shape, so, sa, sb) { o0, o1, o2, m in
            var (p, q, s) = (po + o0, pa + o1, pb + o2)
            if io == 1 && ia == 1 && ib == 1 {
                for i in 0..<m { p[i] = Kn.f(q[i], s[i]) }
            } else if io == 1 && ia == 1 && ib == 0 {
                let v = s[0]
                for i in 0..<m { p[i] = Kn.f(q[i], v) }
            } else {
                for _ in 0..<m { p.pointee = Kn.f(q.pointee, s.pointee); p += io; q += ia; s += ib }
            }
            _ = (p, q, s)
        }
    }

    /// out = a ∘ v or v ∘ a for a scalar v.
    @inlinable
    public static func binaryScalar<Kn: BinaryKernel, T: TensorScalar>(
        _: Kn.Type, _: T.Type, out: Tensor, _ a: Tensor, _ v: T, scalarFirst: Bool
    ) {
        let po = out.pointer(T.self), pa = a.pointer(T.self)
        if out.isContiguous && a.isContiguous {
            let (o, x) = (UnsafeSendable(po), UnsafeSendable(pa))
            Parallel.forRanges(count: out.count, grain: parallelGrain) { r in
                if scalarFirst { for i in r { o.value[i] = Kn.f(v, x.value[i]) } }
                else { for i in r { o.value[i] = Kn.f(x.value[i], v) } }
            }
            return
        }
        let sa = Broadcast.strides(of: a, to: out.shape), so = out.strides
        let r = out.rank
        let io = r > 0 ? so[r - 1] : 0, ia = r > 0 ? sa[r - 1] : 0
        stridedWalk(shape: out.shape, so, sa, so) { o0, o1, _, m in
            var (p, q) = (po + o0, pa + o1)
            for _ in 0..<m {
                p.pointee = scalarFirst ? Kn.f(v, q.pointee) : Kn.f(q.pointee, v)
                p += io; q += ia
            }
        }
    }

    /// out = f(a).
    @inlinable
    public static func unary<Kn: UnaryKernel, T: TensorScalar>(_: Kn.Type, _: T.Type, out: Tensor, _ a: Tensor) {
        let po = out.pointer(T.self), pa = a.pointer(T.self)
        if out.isContiguous && a.isContiguous {
            let (o, x) = (UnsafeSendable(po), UnsafeSendable(pa))
            Parallel.forRanges(count: out.count, grain: parallelGrain / 4) { r in
                for i in r { o.value[i] = Kn.f(x.value[i]) }
            }
            return
        }
        let so = out.strides, sa = Broadcast.strides(of: a, to: out.shape)
        let r = out.rank
        let io = r > 0 ? so[r - 1] : 0, ia = r > 0 ? sa[r - 1] : 0
        stridedWalk(shape: out.shape, so, sa, so) { o0, o1, _, m in
            var (p, q) = (po + o0, pa + o1)
            for _ in 0..<m { p.pointee = Kn.f(q.pointee); p += io; q += ia }
        }
    }

    /// y = a·x + b·y, in place on y (x broadcast to y's shape).
    @inlinable
    public static func axpby<T: TensorScalar>(_: T.Type, _ a: T, _ x: Tensor, _ b: T, _ y: Tensor) {
        let py = y.pointer(T.self), px = x.pointer(T.self)
        if y.isContiguous && x.isContiguous && x.count == y.count {
            let (o, q) = (UnsafeSendable(py), UnsafeSendable(px))
            Parallel.forRanges(count: y.count, grain: parallelGrain) { r in
                if b == 1 { for i in r { o.value[i] += a * q.value[i] } }
                else { for i in r { o.value[i] = a * q.value[i] + b * o.value[i] } }
            }
            return
        }
        let sx = Broadcast.strides(of: x, to: y.shape), sy = y.strides
        let r = y.rank
        let iy = r > 0 ? sy[r - 1] : 0, ix = r > 0 ? sx[r - 1] : 0
        stridedWalk(shape: y.shape, sy, sx, sy) { o0, o1, _, m in
            var (p, q) = (py + o0, px + o1)
            for _ in 0..<m { p.pointee = a * q.pointee + b * p.pointee; p += iy; q += ix }
        }
    }

    /// Fills every element of `t` with `v`.
    public static func fill(_ t: Tensor, _ v: Double) {
        switch t.dtype {
        case .float64: fillTyped(t, v)
        case .float32: fillTyped(t, Float(v))
        }
    }

    @inlinable
    static func fillTyped<T: TensorScalar>(_ t: Tensor, _ v: T) {
        let p = t.pointer(T.self)
        if t.isContiguous { p.update(repeating: v, count: t.count); return }
        let s = t.strides, inner = t.rank > 0 ? s[t.rank - 1] : 0
        stridedWalk(shape: t.shape, s, s, s) { o, _, _, m in
            var q = p + o
            for _ in 0..<m { q.pointee = v; q += inner }
        }
    }

    /// Copies `src` (broadcast to dst's shape, any dtype) into `dst`.
    public static func copy(from src: Tensor, to dst: Tensor) {
        switch (src.dtype, dst.dtype) {
        case (.float64, .float64): copyTyped(src, dst, Double.self, Double.self)
        case (.float32, .float32): copyTyped(src, dst, Float.self, Float.self)
        case (.float64, .float32): copyTyped(src, dst, Double.self, Float.self)
        case (.float32, .float64): copyTyped(src, dst, Float.self, Double.self)
        }
    }

    @inlinable
    static func copyTyped<S: TensorScalar, D: TensorScalar>(_ src: Tensor, _ dst: Tensor, _: S.Type, _: D.Type) {
        let ps = src.pointer(S.self), pd = dst.pointer(D.self)
        if src.isContiguous && dst.isContiguous && src.count == dst.count {
            if S.self == D.self {
                UnsafeMutableRawPointer(pd).copyMemory(from: ps, byteCount: dst.count * MemoryLayout<D>.stride)
            } else {
                let (o, x) = (UnsafeSendable(pd), UnsafeSendable(ps))
                Parallel.forRanges(count: dst.count, grain: parallelGrain) { r in
                    for i in r { o.value[i] = D(x.value[i].double) }
                }
            }
            return
        }
        // A contiguous row broadcast over the rows of a contiguous tensor (biases): row copies.
        if S.self == D.self && src.isContiguous && dst.isContiguous && dst.rank >= 1, let last = dst.shape.last,
           src.count == last, last > 0, dst.count % last == 0 {
            let rows = dst.count / last, bytes = last * MemoryLayout<D>.stride
            for i in 0..<rows { UnsafeMutableRawPointer(pd + i * last).copyMemory(from: ps, byteCount: bytes) }
            return
        }
        let ss = Broadcast.strides(of: src, to: dst.shape), sd = dst.strides
        let r = dst.rank
        let id = r > 0 ? sd[r - 1] : 0, isrc = r > 0 ? ss[r - 1] : 0
        stridedWalk(shape: dst.shape, sd, ss, sd) { o0, o1, _, m in
            var (p, q) = (pd + o0, ps + o1)
            for _ in 0..<m {
                p.pointee = S.self == D.self ? unsafeBitCast(q.pointee, to: D.self) : D(q.pointee.double)
                p += id; q += isrc
            }
        }
    }
}
