import XCTest
@testable import DodeTensor

/// Tensor core checks against naive reference computations. Exact equality where the operation
/// is exact; tolerances are stated where floating-point order differs.
final class TensorCoreTests: XCTestCase {
    func randomTensor(_ shape: [Int], seed: UInt64, dtype: DType = .float64) throws -> Tensor {
        try Generator(seed: seed).randn(shape, dtype: dtype)
    }

    /// Broadcasting over every pair of shapes in a small family equals an index-by-index loop.
    func testBroadcastMatchesNaive() throws {
        let shapes: [[Int]] = [[3], [1], [2, 3], [2, 1], [1, 3], [4, 2, 3], [4, 1, 1], []]
        var checked = 0
        for (i, sa) in shapes.enumerated() {
            for (j, sb) in shapes.enumerated() {
                guard let out = try? Broadcast.shape(sa, sb) else { continue }
                let a = try randomTensor(sa, seed: UInt64(i)), b = try randomTensor(sb, seed: UInt64(100 + j))
                for op in [BinaryOp.add, .sub, .mul, .div, .maximum] {
                    let c = try Tensor.binary(op, a, b)
                    XCTAssertEqual(c.shape, out)
                    for flat in 0..<c.count {
                        var idx = [Int](repeating: 0, count: out.count), rem = flat
                        for d in stride(from: out.count - 1, through: 0, by: -1) {
                            idx[d] = rem % out[d]; rem /= out[d]
                        }
                        func pick(_ t: Tensor) -> Double {
                            let k = t.rank
                            let sub = (0..<k).map { d in t.shape[d] == 1 ? 0 : idx[out.count - k + d] }
                            return t.toArray()[sub.enumerated().reduce(0) {
                                $0 + $1.element * Tensor.contiguousStrides(t.shape)[$1.offset]
                            }]
                        }
                        let x = pick(a), y = pick(b)
                        let want: Double
                        switch op {
                        case .add: want = x + y
                        case .sub: want = x - y
                        case .mul: want = x * y
                        case .div: want = x / y
                        default: want = Swift.max(x, y)
                        }
                        XCTAssertEqual(c.element(flat: flat), want, "\(op) \(sa) \(sb) at \(flat)")
                    }
                    checked += 1
                }
            }
        }
        XCTAssertGreaterThan(checked, 100)
        XCTAssertThrowsError(try Broadcast.shape([2, 3], [4])) { e in
            XCTAssertTrue("\(e)".contains("shapes 2x3 and 4 cannot be broadcast"))
        }
    }

    /// Strided views (transpose, narrow) give the same results as their contiguous copies.
    func testStridedViewsMatchContiguous() throws {
        let x = try randomTensor([5, 7], seed: 1)
        let t = try x.transpose(0, 1)
        XCTAssertFalse(t.isContiguous)
        let c = t.clone()
        XCTAssertEqual(t.map(.exp).toArray(), c.map(.exp).toArray())
        XCTAssertEqual(try Tensor.binary(.add, t, c).toArray(), try Tensor.binary(.add, c, c).toArray())
        let n = try x.narrow(1, 2, 3)
        XCTAssertEqual(n.sum(), n.clone().sum())
        try n.axpby(2, n.clone(), 0.5)
        XCTAssertEqual(try x.narrow(1, 2, 3).toArray(), n.clone().toArray())
    }

    /// Matrix products through BLAS equal a naive triple loop to 1e-13 relative (summation order
    /// differs; 7-term sums of O(1) values).
    func testMatmulMatchesNaive() throws {
        for dt in [DType.float64, .float32] {
            let a = try randomTensor([6, 7], seed: 2, dtype: dt), b = try randomTensor([7, 5], seed: 3, dtype: dt)
            for (aa, bb) in [(a, b), (try a.transpose(0, 1).clone().transpose(0, 1),
                                      try b.transpose(0, 1).clone().transpose(0, 1))] {
                let c = try Tensor.matmul(aa, bb)
                var maxErr = 0.0
                for i in 0..<6 { for j in 0..<5 {
                    var s = 0.0
                    for k in 0..<7 { s += a.element(flat: i * 7 + k) * b.element(flat: k * 5 + j) }
                    maxErr = Swift.max(maxErr, abs(c.element(flat: i * 5 + j) - s))
                } }
                XCTAssertLessThan(maxErr, dt == .float64 ? 1e-13 : 1e-5, "\(dt)")
            }
        }
        XCTAssertThrowsError(try Tensor.matmul(try Tensor(zeros: [2, 3]), try Tensor(zeros: [2, 3])))
    }

    /// Reductions and random draws are bit-identical whatever the thread count.
    func testThreadCountIndependence() throws {
        let saved = Parallel.threads
        defer { Parallel.threads = saved }
        var sums: [Double] = [], draws: [[Double]] = []
        for th in [1, 2, 3, 8] {
            Parallel.threads = th
            let x = try Generator(seed: 11).randn([300, 1000])
            sums.append(x.sum() + x.sumSquares())
            draws.append(Array(x.toArray().prefix(5000)))
        }
        XCTAssertEqual(Set(sums).count, 1, "sums differ across thread counts: \(sums)")
        XCTAssertTrue(draws.allSatisfy { $0 == draws[0] })
    }

    /// hasNonFinite finds one NaN or ±Inf anywhere (vector body, tail, chunk edges) in Float64
    /// and Float32, and nothing in finite data with extreme values.
    func testHasNonFinite() throws {
        for dtype in [DType.float64, .float32] {
            for n in [1, 31, 32, 33, 100, 65536 + 40, 200_000] {
                let big: Double = dtype == .float64 ? 1e308 : 3e38
                var base = [Double](repeating: 0, count: n)
                for i in 0..<n {
                    let scale: Double = i % 5 == 0 ? big : 1
                    base[i] = Double(i % 7 - 3) / 3 * scale
                }
                XCTAssertFalse(try Tensor(base, shape: [n]).to(dtype).hasNonFinite(), "finite, n = \(n)")
                for pos in Set([0, n / 2, n - 1, min(n - 1, 65536), max(0, n - 33)]) {
                    for bad in [Double.nan, .infinity, -.infinity] {
                        let keep = base[pos]
                        base[pos] = bad
                        XCTAssertTrue(try Tensor(base, shape: [n]).to(dtype).hasNonFinite(),
                                      "\(bad) at \(pos) of \(n), \(dtype)")
                        base[pos] = keep
                    }
                }
            }
        }
    }

    /// Row rule: row i depends only on (seed, counter, i).
    func testGeneratorRowRule() throws {
        let big = try Generator(seed: 5).randn([6, 3]), small = try Generator(seed: 5).randn([2, 3])
        XCTAssertEqual(try big.narrow(0, 0, 2).clone().toArray(), small.toArray())
        let later = try Generator(seed: 5).randn([2, 3], offset: 4)
        XCTAssertEqual(try big.narrow(0, 4, 2).clone().toArray(), later.toArray())
        let g = Generator(seed: 5)
        let a = try g.randn([4]), b = try g.randn([4])
        XCTAssertNotEqual(a.toArray(), b.toArray())
        XCTAssertEqual(g.counter, 2)
    }

    /// Sizes above the cap are errors before allocation.
    func testSizeCap() throws {
        let saved = TensorLimits.maxBytes
        defer { TensorLimits.maxBytes = saved }
        TensorLimits.maxBytes = 1000
        XCTAssertThrowsError(try Tensor(zeros: [200])) { XCTAssertTrue("\($0)".contains("above the size cap")) }
        XCTAssertThrowsError(try Tensor(zeros: [Int.max, 2])) { XCTAssertTrue("\($0)".contains("too large")) }
        XCTAssertNoThrow(try Tensor(zeros: [100]))
    }
}
