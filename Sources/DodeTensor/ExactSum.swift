import CKernels

/// An exact sum of doubles: every term is added without rounding (a fixed-point accumulator
/// wide enough for the whole Double range, `Sources/CKernels/exact_sum.c`), and `value` rounds
/// the total once. The result is therefore independent of the order of the terms and of how
/// they are split over batches, threads or processes: merging partial sums (`add(_:)`, or an
/// integer sum of `words` across processes) gives bit-for-bit the sum of the union. This is what
/// makes a D-ODE fit spread over MPI ranks give the λ of a single process.
public struct ExactSum: Sendable, Equatable {
    /// The accumulator's words (limbs of the fixed-point value, then NaN/±inf counts).
    public private(set) var words: [Int64]
    /// Number of words, for communicators.
    public static let wordCount = Int(DODE_EXACT_WORDS)

    public init() { words = [Int64](repeating: 0, count: ExactSum.wordCount) }

    /// From words received from another process (normalised on the way in).
    public init(words w: [Int64]) throws {
        guard w.count == ExactSum.wordCount else {
            throw TensorError("an exact sum has \(ExactSum.wordCount) words (got \(w.count))")
        }
        words = w
        words.withUnsafeMutableBufferPointer { dode_exact_normalize($0.baseAddress!) }
    }

    public mutating func add(_ v: Double) {
        var x = v
        words.withUnsafeMutableBufferPointer { dode_exact_add($0.baseAddress!, &x, 1) }
    }

    public mutating func add(_ values: UnsafeBufferPointer<Double>) {
        guard let base = values.baseAddress, values.count > 0 else { return }
        words.withUnsafeMutableBufferPointer { dode_exact_add($0.baseAddress!, base, values.count) }
    }

    public mutating func add(_ values: [Double]) { values.withUnsafeBufferPointer { add($0) } }

    /// Adds another exact sum (exactly).
    public mutating func add(_ other: ExactSum) {
        other.words.withUnsafeBufferPointer { o in
            words.withUnsafeMutableBufferPointer { dode_exact_merge($0.baseAddress!, o.baseAddress!) }
        }
    }

    /// The canonical words (carries propagated): equal sums have equal words.
    public var normalizedWords: [Int64] {
        var w = words
        w.withUnsafeMutableBufferPointer { dode_exact_normalize($0.baseAddress!) }
        return w
    }

    /// The sum rounded to the nearest Double (correctly rounded outside the subnormal range);
    /// NaN when a NaN, or both +inf and −inf, were added; ±inf when only that infinity was.
    public var value: Double { words.withUnsafeBufferPointer { dode_exact_value($0.baseAddress!) } }

    public static func == (a: ExactSum, b: ExactSum) -> Bool { a.normalizedWords == b.normalizedWords }
}

extension Tensor {
    /// Σ_j a[i, j]·b[i, j] for every row i (the first dimension; a row is one sample), each row
    /// summed in an order fixed by the row length, so a row's value does not depend on the batch
    /// it belongs to. Rows run in parallel.
    public func rowDots(_ other: Tensor) throws -> [Double] {
        guard shape == other.shape else {
            throw TensorError("shapes \(formatShape(shape)) and \(formatShape(other.shape)) differ")
        }
        let rows = rank == 0 ? 1 : shape[0]
        let cols = rows == 0 ? 0 : count / rows
        var out = [Double](repeating: 0, count: rows)
        if rows == 0 { return out }
        let a = contiguous().to(.float64), b = other.contiguous().to(.float64)
        let pa = UnsafeSendable(a.pointer(Double.self)), pb = UnsafeSendable(b.pointer(Double.self))
        // Rows are independent: any split gives the same values; chunks of ~32k elements.
        let grain = Swift.max(1, (1 << 15) / Swift.max(cols, 1))
        out.withUnsafeMutableBufferPointer { buf in
            let o = UnsafeSendable(buf.baseAddress!)
            Parallel.forRanges(count: rows, grain: grain) { r in
                dode_row_dots_f64(pa.value + r.lowerBound * cols, pb.value + r.lowerBound * cols,
                                  r.count, cols, o.value + r.lowerBound)
            }
        }
        return out
    }

    /// Σ a·b over all elements as an exact sum of the per-row dots (see `rowDots`).
    public func exactDot(_ other: Tensor) throws -> ExactSum {
        var s = ExactSum()
        s.add(try rowDots(other))
        return s
    }
}
