import XCTest
@testable import DodeTensor

/// ExactSum against Shewchuk's exact summation (the algorithm of Python's math.fsum: a list of
/// non-overlapping partials, exact at every step, rounded once), and its order independence.
final class ExactSumTests: XCTestCase {
    /// Shewchuk's msum with a correctly rounded final step (a reference written independently
    /// of the fixed-point accumulator under test).
    func fsum(_ xs: [Double]) -> Double {
        var partials: [Double] = []
        for var x in xs {
            var i = 0
            for var y in partials {
                if abs(x) < abs(y) { swap(&x, &y) }
                let hi = x + y, lo = y - (hi - x)
                if lo != 0 { partials[i] = lo; i += 1 }
                x = hi
            }
            partials.removeSubrange(i...)
            partials.append(x)
        }
        guard var hi = partials.popLast() else { return 0 }
        var lo = 0.0
        while let y = partials.popLast() {
            let x = hi
            hi = x + y
            lo = y - (hi - x)
            if lo != 0 { break }
        }
        // Round half-way cases correctly, as fsum does.
        if let next = partials.last, (lo < 0 && next < 0) || (lo > 0 && next > 0) {
            let y = lo * 2, x = hi + y
            if y == x - hi { hi = x }
        }
        return hi
    }

    func exact(_ xs: [Double]) -> Double { var s = ExactSum(); s.add(xs); return s.value }

    func testKnownSums() {
        XCTAssertEqual(exact([1e100, 1, -1e100]), 1)
        XCTAssertEqual(exact([0.1, 0.2, 0.3, -0.6]), fsum([0.1, 0.2, 0.3, -0.6]))
        XCTAssertEqual(exact([]), 0)
        XCTAssertEqual(exact([Double.greatestFiniteMagnitude, Double.greatestFiniteMagnitude,
                              -Double.greatestFiniteMagnitude]),
                       Double.greatestFiniteMagnitude)
        XCTAssertEqual(exact([Double.leastNonzeroMagnitude, Double.leastNonzeroMagnitude]),
                       2 * Double.leastNonzeroMagnitude)
        XCTAssertEqual(exact([-3, 1]), -2)
        XCTAssertTrue(exact([1, .nan]).isNaN)
        XCTAssertEqual(exact([1, .infinity]), .infinity)
        XCTAssertEqual(exact([1, -.infinity]), -.infinity)
        XCTAssertTrue(exact([.infinity, -.infinity]).isNaN)
        // Ties round to even: 2^53 + 1 is half-way between 2^53 and 2^53 + 2.
        XCTAssertEqual(exact([9007199254740992, 1]), 9007199254740992)
        XCTAssertEqual(exact([9007199254740992, 1, 1e-30]), 9007199254740994)
    }

    /// Random terms over 600 orders of magnitude, with cancellation: equal to fsum, and the
    /// same bits in any order and any split into partial sums.
    func testRandomAgainstFsumAndOrderIndependence() {
        var rng = SystemRandomNumberGenerator()
        for trial in 0..<200 {
            let n = Int.random(in: 1...400, using: &rng)
            var xs = (0..<n).map { _ in
                Double.random(in: -1...1, using: &rng) * Foundation.pow(10, Double.random(in: -300...300, using: &rng))
            }
            if trial % 3 == 0 { xs += xs.map { -$0 * Double.random(in: 0.999...1.001, using: &rng) } }
            let want = fsum(xs)
            XCTAssertEqual(exact(xs), want, "trial \(trial)")
            let shuffled = xs.shuffled(using: &rng)
            XCTAssertEqual(exact(shuffled), want)
            // Split into parts and merged, as batches and ranks are.
            let cut = Int.random(in: 0...n, using: &rng)
            var a = ExactSum(), b = ExactSum()
            a.add(Array(shuffled[..<cut])); b.add(Array(shuffled[cut...]))
            var words = a.normalizedWords
            for (i, w) in b.normalizedWords.enumerated() { words[i] += w }   // what an MPI integer allreduce does
            XCTAssertEqual(try ExactSum(words: words).value, want)
            a.add(b)
            XCTAssertEqual(a.value, want)
        }
    }

    /// Many terms (beyond the carry interval of 2^30 additions per limb would need 10^9; here the
    /// carry pass runs through merges) and large magnitudes near the overflow threshold.
    func testManyTermsAndHugeMagnitudes() {
        let xs = [Double](repeating: 1e308, count: 1000) + [Double](repeating: -1e308, count: 999)
        XCTAssertEqual(exact(xs), 1e308)
        let tiny = [Double](repeating: 1e-320, count: 100_000)
        XCTAssertEqual(exact(tiny), fsum(tiny))
    }

    func testRowDotsDoNotDependOnTheBatch() throws {
        let g = Generator(seed: 9)
        let a = try g.randn([37, 129]), b = try g.randn([37, 129])
        let all = try a.rowDots(b)
        for r in [0, 5, 36] {
            let one = try a.narrow(0, r, 1).rowDots(try b.narrow(0, r, 1))
            XCTAssertEqual(one[0], all[r])
        }
        Parallel.threads = 1
        defer { Parallel.threads = 2 }
        XCTAssertEqual(try a.rowDots(b), all)
        XCTAssertThrowsError(try a.rowDots(try g.randn([37, 128])))
    }
}
