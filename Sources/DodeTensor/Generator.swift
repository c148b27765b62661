import Foundation

/// A counter-based random generator (Philox-4x32-10, Salmon et al. 2011).
///
/// The row rule (docs/design.md §2.3): a draw of shape (n, ...) fills row i from
/// (seed, draw counter, i) alone, then advances the counter by one. So the same rows come out
/// whatever n is, successive draws differ, `offset` draws a later chunk of the same rows, and
/// nothing depends on the thread count. Within a row, element j uses Philox block j/2 (each block
/// gives two 53-bit uniforms, hence two normals by Box–Muller).
public final class Generator: @unchecked Sendable {
    public let seed: UInt64
    /// Number of draws made so far.
    public var counter: UInt64

    public init(seed: UInt64, counter: UInt64 = 0) {
        self.seed = seed
        self.counter = counter
    }

    public enum Distribution: Sendable { case normal, uniform }

    /// Philox-4x32 with 10 rounds.
    @inlinable
    static func philox(_ c: (UInt32, UInt32, UInt32, UInt32),
                       key: (UInt32, UInt32)) -> (UInt32, UInt32, UInt32, UInt32) {
        var (c0, c1, c2, c3) = c
        var (k0, k1) = key
        for _ in 0..<10 {
            let p0 = UInt64(0xD251_1F53) &* UInt64(c0)
            let p1 = UInt64(0xCD9E_8D57) &* UInt64(c2)
            let n0 = UInt32(truncatingIfNeeded: p1 >> 32) ^ c1 ^ k0
            let n2 = UInt32(truncatingIfNeeded: p0 >> 32) ^ c3 ^ k1
            c1 = UInt32(truncatingIfNeeded: p1)
            c3 = UInt32(truncatingIfNeeded: p0)
            c0 = n0
            c2 = n2
            k0 = k0 &+ 0x9E37_79B9
            k1 = k1 &+ 0xBB67_AE85
        }
        return (c0, c1, c2, c3)
    }

    /// Two uniforms in (0, 1) for (row, block) of draw `draw`.
    @inlinable
    static func uniforms(seed: UInt64, draw: UInt64, row: UInt64, block: UInt64) -> (Double, Double) {
        let r = philox((UInt32(truncatingIfNeeded: block), UInt32(truncatingIfNeeded: row),
                        UInt32(truncatingIfNeeded: draw),
                        UInt32(truncatingIfNeeded: draw >> 32) ^ UInt32(truncatingIfNeeded: row >> 32) &* 0x9E37_79B9
                            ^ UInt32(truncatingIfNeeded: block >> 32) &* 0x85EB_CA6B),
                       key: (UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32)))
        let a = (UInt64(r.0) << 21) ^ UInt64(r.1 >> 11)   // 53 bits
        let b = (UInt64(r.2) << 21) ^ UInt64(r.3 >> 11)
        let scale = 1.0 / 9007199254740992.0
        return ((Double(a) + 0.5) * scale, (Double(b) + 0.5) * scale)
    }

    /// Fills a new tensor of `shape` with the distribution, rows starting at `offset` (0-based),
    /// then advances the draw counter.
    public func draw(_ dist: Distribution, shape: [Int], dtype: DType = .float64, offset: Int = 0) throws -> Tensor {
        guard offset >= 0 else { throw TensorError("offset must be non-negative (got \(offset))") }
        let out = try Tensor.empty(shape, dtype: dtype)
        let rows = shape.isEmpty ? 1 : shape[0]
        let rowLen = shape.isEmpty ? 1 : shape.dropFirst().reduce(1, *)
        let draw = counter, seed = self.seed
        counter &+= 1
        // Nothing to fill (e.g. 2^31 rows of zero width: the row loop alone took 10 s).
        if out.count == 0 { return out }
        let fill: (Int, (Int, Double) -> Void) -> Void = { r, put in
            let row = UInt64(r + offset)
            var j = 0
            while j < rowLen {
                let (u1, u2) = Generator.uniforms(seed: seed, draw: draw, row: row, block: UInt64(j / 2))
                switch dist {
                case .uniform:
                    put(j, u1)
                    if j + 1 < rowLen { put(j + 1, u2) }
                case .normal:
                    let rad = (-2.0 * Foundation.log(u1)).squareRoot(), th = 2.0 * Double.pi * u2
                    put(j, rad * Foundation.cos(th))
                    if j + 1 < rowLen { put(j + 1, rad * Foundation.sin(th)) }
                }
                j += 2
            }
        }
        let grain = Swift.max(1, 4096 / Swift.max(rowLen, 1))
        switch dtype {
        case .float64:
            let p = UnsafeSendable(out.pointer(Double.self))
            Parallel.forRanges(count: rows, grain: grain) { range in
                for r in range { let base = p.value + r * rowLen; fill(r) { base[$0] = $1 } }
            }
        case .float32:
            let p = UnsafeSendable(out.pointer(Float.self))
            Parallel.forRanges(count: rows, grain: grain) { range in
                for r in range { let base = p.value + r * rowLen; fill(r) { base[$0] = Float($1) } }
            }
        }
        return out
    }

    /// Standard normal samples.
    public func randn(_ shape: [Int], dtype: DType = .float64, offset: Int = 0) throws -> Tensor {
        try draw(.normal, shape: shape, dtype: dtype, offset: offset)
    }

    /// Uniform samples in (0, 1).
    public func rand(_ shape: [Int], dtype: DType = .float64, offset: Int = 0) throws -> Tensor {
        try draw(.uniform, shape: shape, dtype: dtype, offset: offset)
    }
}
