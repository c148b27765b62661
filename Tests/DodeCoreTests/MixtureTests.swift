import XCTest
@testable import DodeCore

/// The exact mixture denoiser against an independent per-component Float64 evaluation, and the
/// Tweedie identity D = y + s²∇log p_s(y).
final class MixtureTests: XCTestCase {
    let vp = try! Schedule.vp()
    let edm = try! Schedule.edm()

    /// A random mixture: K components in d dimensions, stds log-uniform in [0.03, 0.5].
    func randomMixture(seed: UInt64, K: Int, d: Int, schedule: Schedule) throws -> MixtureDenoiser {
        let g = Generator(seed: seed)
        let u = try g.rand([K]).toArray(), mu = try g.randn([K, d]).toArray(), sd = try g.rand([K, d]).toArray()
        return try MixtureDenoiser(weights: u.map { $0 + 0.1 },
                                   means: (0..<K).map { k in (0..<d).map { mu[k * d + $0] * 1.5 } },
                                   stds: (0..<K).map { k in (0..<d).map { 0.03 * pow(0.5 / 0.03, sd[k * d + $0]) } },
                                   schedule: schedule)
    }

    /// Direct evaluation: per component the Gaussian log-density (with 2π), a log-sum-exp, and
    /// the per-component posterior means — written independently of the fused kernel.
    func direct(_ m: MixtureDenoiser, _ y: [Double], s: Double) -> [Double] {
        let d = m.d
        var logp = [Double](), means = [[Double]]()
        for k in 0..<m.K {
            var lp = log(m.weights[k])
            var mk = [Double](repeating: 0, count: d)
            for j in 0..<d {
                let mu = m.means[k * d + j], sd = m.stds[k * d + j], v = sd * sd + s * s
                lp += -0.5 * (y[j] - mu) * (y[j] - mu) / v - 0.5 * log(2 * Double.pi * v)
                mk[j] = mu + sd * sd / v * (y[j] - mu)
            }
            logp.append(lp); means.append(mk)
        }
        let mx = logp.max()!
        let w = logp.map { exp($0 - mx) }, z = w.reduce(0, +)
        return (0..<d).map { j in (0..<m.K).reduce(0.0) { $0 + w[$1] / z * means[$1][j] } }
    }

    func mixtures() throws -> [MixtureDenoiser] {
        var ms = try Support.mixtureFiles().map { try MixtureDenoiser.load(path: $0, schedule: vp) }
        XCTAssertGreaterThanOrEqual(ms.count, 2, "the built-in mixtures are found")
        ms.append(try randomMixture(seed: 1, K: 10, d: 64, schedule: vp))
        ms.append(try randomMixture(seed: 2, K: 3, d: 5, schedule: vp))
        ms.append(try randomMixture(seed: 3, K: 1, d: 7, schedule: vp))
        return ms
    }

    /// Tolerance 1e-10 relative: both sides are Float64 with the square formed directly,
    /// so only rounding in sums of ~d terms separates them.
    func testMatchesDirectEvaluation() throws {
        for m in try mixtures() {
            for s in [1e-4, 0.01, 0.1, 0.5, 1, 3, 20, 150] {
                let p = try vp.point(s: s)
                let (x0, _) = try m.sample(Generator(seed: 9), 64)
                let noise = try Generator(seed: 10).randn([64, m.d])
                let y = try Tensor.binary(.add, x0, Tensor.binary(.mul, noise, scalar: s))
                let x = Tensor.binary(.mul, y, scalar: p.alpha)
                let got = try m.denoise(x, at: p)
                let yv = y.toArray()
                let want = try Tensor((0..<64).flatMap { r in
                    self.direct(m, Array(yv[(r * m.d)..<((r + 1) * m.d)]), s: s)
                }, shape: [64, m.d])
                let err = Support.relError(got, want)
                XCTAssertLessThan(err, 1e-10, "\(m.name) s=\(s): relative error \(err)")
                // Float32 input gives the Float64 result rounded.
                let got32 = try m.denoise(x.to(.float32), at: p)
                XCTAssertEqual(got32.dtype, .float32)
                XCTAssertLessThan(Support.relError(got32.to(.float64), want), 1e-6)
            }
        }
    }

    /// Tweedie: D = y + s²∇log p_s(y), gradient by central differences with step h = 1e-4·√v_min
    /// (truncation error O(h²·|∂³ log p|) ≈ 1e-8 relative; rounding ≈ 1e-16·|log p|/h). Tolerance
    /// 1e-6 relative (a hundred times the truncation error above).
    func testTweedieIdentity() throws {
        for m in try mixtures() where m.d <= 32 {
            for s in [0.05, 0.3, 1, 4] {
                let p = try vp.point(s: s)
                let (x0, _) = try m.sample(Generator(seed: 3), 8)
                let y = try Tensor.binary(.add, x0,
                                          Tensor.binary(.mul, try Generator(seed: 4).randn([8, m.d]), scalar: s))
                let D = try m.denoise(Tensor.binary(.mul, y, scalar: p.alpha), at: p)
                let h = 1e-4 * (m.stds.min()! * m.stds.min()! + s * s).squareRoot()
                var tw = [Double](repeating: 0, count: 8 * m.d)
                let yv = y.toArray()
                for j in 0..<m.d {
                    var yp = yv, ym = yv
                    for r in 0..<8 { yp[r * m.d + j] += h; ym[r * m.d + j] -= h }
                    let lp = try m.logDensity(try Tensor(yp, shape: [8, m.d]), s: s)
                    let lm = try m.logDensity(try Tensor(ym, shape: [8, m.d]), s: s)
                    for r in 0..<8 { tw[r * m.d + j] = yv[r * m.d + j] + s * s * (lp[r] - lm[r]) / (2 * h) }
                }
                let err = Support.relError(D, try Tensor(tw, shape: [8, m.d]))
                XCTAssertLessThan(err, 1e-6, "\(m.name) s=\(s): Tweedie relative error \(err)")
            }
        }
    }

    /// Results do not depend on the thread count or on the batch size.
    func testDeterministicAcrossThreadsAndBatches() throws {
        let m = try randomMixture(seed: 5, K: 10, d: 64, schedule: vp)
        let x = try Generator(seed: 1).randn([3000, 64])
        let p = try vp.point(t: 500)
        let saved = Parallel.threads
        defer { Parallel.threads = saved }
        Parallel.threads = 1
        let a = try m.denoise(x, at: p).toArray()
        Parallel.threads = 2
        let b = try m.denoise(x, at: p).toArray()
        XCTAssertEqual(a, b)
        let c = try m.denoise(try x.narrow(0, 0, 7).clone(), at: p).toArray()
        XCTAssertEqual(Array(a.prefix(7 * 64)), c)
    }

    /// A batch large enough for streamed (non-temporal) stores gives, row for row, the bits that
    /// small cached batches give; an odd width (streaming not possible) and a class mask too.
    func testLargeBatchesMatchSmallOnes() throws {
        for (d, labelled) in [(64, false), (61, false), (64, true)] {
            let K = 5
            let g = Generator(seed: 21)
            let mu = try g.randn([K, d]).toArray(), sd = try g.rand([K, d]).toArray()
            let m = try MixtureDenoiser(weights: [1, 2, 1, 3, 1],
                                        means: (0..<K).map { k in (0..<d).map { mu[k * d + $0] } },
                                        stds: (0..<K).map { k in (0..<d).map { 0.05 + 0.4 * sd[k * d + $0] } },
                                        labels: labelled ? [0, 1, 0, 1, 1] : nil, schedule: edm)
            let B = MixtureDenoiser.streamBytes / (8 * d) + 37
            let x = try Generator(seed: 22).randn([B, d])
            let cond = labelled ? try Tensor((0..<B).map { Double($0 % 2) }, shape: [B]) : nil
            let p = try edm.point(s: 0.7)
            let all = try m.denoise(x, at: p, cond: cond).toArray()
            var r0 = 0, n = 1
            while r0 < B {
                let len = Swift.min(n, B - r0)
                let part = try m.denoise(try x.narrow(0, r0, len).clone(), at: p,
                                         cond: cond == nil ? nil : try cond!.narrow(0, r0, len).clone()).toArray()
                XCTAssertEqual(part, Array(all[(r0 * d)..<((r0 + len) * d)]), "d=\(d) rows \(r0)..<\(r0 + len)")
                r0 += len
                n = n * 3 + 1
            }
        }
    }

    func testConditionalComponents() throws {
        let m = try MixtureDenoiser(weights: [1, 1], means: [[-2], [2]], stds: [[0.1], [0.1]], labels: [0, 1],
                                    schedule: edm)
        let p = try edm.point(s: 5)
        let x = try Tensor([0, 0], shape: [2, 1])
        let d0 = try m.denoise(x, at: p, cond: Tensor.scalar(0)).toArray()
        XCTAssertTrue(d0.allSatisfy { abs($0 + 2) < 0.01 }, "label 0 selects the component at -2: \(d0)")
        let mixed = try m.denoise(x, at: p, cond: try Tensor([0, 1], shape: [2])).toArray()
        XCTAssertLessThan(mixed[0], -1.9); XCTAssertGreaterThan(mixed[1], 1.9)
        XCTAssertThrowsError(try m.denoise(x, at: p, cond: Tensor.scalar(7))) {
            XCTAssertTrue("\($0)".contains("label 7"))
        }
        let g = try GuidanceDenoiser(base: m, scale: 3, cond: Tensor.scalar(1), uncond: nil)
        let u = try m.denoise(x, at: p).toArray(), c = try m.denoise(x, at: p, cond: Tensor.scalar(1)).toArray()
        let gv = try g.denoise(x, at: p).toArray()
        XCTAssertEqual(gv[0], u[0] + 3 * (c[0] - u[0]), accuracy: 1e-12)
    }

    func testBadInputIsAnError() throws {
        func expect(_ fragment: String, _ f: () throws -> Any) {
            XCTAssertThrowsError(try f()) { e in XCTAssertTrue("\(e)".contains(fragment), "\(e) lacks '\(fragment)'") }
        }
        expect("must be positive") {
            try MixtureDenoiser(weights: [1], means: [[0, 0]], stds: [[0.1, -0.2]], schedule: self.vp)
        }
        expect("sum to a positive") {
            try MixtureDenoiser(weights: [0, 0], means: [[0], [1]], stds: [[1], [1]], schedule: self.vp)
        }
        expect("dimensions disagree") {
            try MixtureDenoiser(weights: [1, 1], means: [[0, 0], [1]], stds: [[1, 1], [1]], schedule: self.vp)
        }
        expect("non-negative") {
            try MixtureDenoiser(weights: [1, -1], means: [[0], [1]], stds: [[1], [1]], schedule: self.vp)
        }
        let m = try randomMixture(seed: 1, K: 2, d: 3, schedule: vp)
        expect("features per sample") { try m.denoise(try Tensor(zeros: [4, 5]), at: try self.vp.point(t: 3)) }
        expect("another schedule") { try m.denoise(try Tensor(zeros: [4, 3]), at: try self.edm.point(s: 1)) }
        expect("clean point") { try m.denoise(try Tensor(zeros: [4, 3]), at: self.vp.cleanPoint) }
        // A state no component gives any density: named by row and column, not a label error.
        expect("x[3][2] is inf") {
            try m.denoise(try Tensor([0, 0, 0, 0, 0, 0, 0, .infinity, 0, 0, 0, 0], shape: [4, 3]),
                          at: try self.vp.point(t: 500))
        }
        expect("row 2 of x holds") {
            try m.denoise(try Tensor([0, 0, 0, -1e300, 0, 0], shape: [2, 3]), at: try self.vp.point(t: 500))
        }
        let dir = NSTemporaryDirectory() + "dode-mix-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data("{\"weights\": [1], \"means\": [[0]]".utf8).write(to: URL(fileURLWithPath: dir + "/bad.json"))
        expect("bad.json") { try MixtureDenoiser.load(path: dir + "/bad.json", schedule: self.vp) }
        try Data("{\"weights\": [1], \"means\": [[0]], \"stds\": [[0]]}".utf8)
            .write(to: URL(fileURLWithPath: dir + "/zero.json"))
        expect("zero.json") { try MixtureDenoiser.load(path: dir + "/zero.json", schedule: self.vp) }
    }
}
