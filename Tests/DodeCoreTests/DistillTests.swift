import XCTest
@testable import DodeCore

/// D-ODE: the closed form against a brute-force minimisation of the same residual, batches vs
/// their union, teacher alignment, the DPM-Solver++(2M)/DDIM equivalence, and bad input.
final class DistillTests: XCTestCase {
    let vp = try! Schedule.vp()

    func problem() throws -> (MixtureDenoiser, Grid, Tensor) {
        let m = try MixtureDenoiser.load(path: Support.path("Data/mixtures/blobs32d.json"), schedule: vp)
        return (m, try Grid.discrete(vp, 6, spacing: "trailing"), try Generator(seed: 3).randn([96, m.d]))
    }

    /// The fit through the same call `dode.distill.fit` makes, and the teacher's targets.
    func fit(_ s: Solver, _ m: Denoiser, _ g: Grid, _ x: Tensor, config: Distiller.Config = .init(),
             teacher: Solver? = nil) throws -> (DODEFit, [Tensor]) {
        var q = Distiller.Request(solver: s, denoiser: m, batches: [x], grid: g)
        q.config = config
        q.teacher = teacher
        let ts = try Teacher.targets(teacher ?? Teacher.default(for: s), den: m, x: x, grid: g,
                                     student: try s.plan(g), k: 10)
        return (try Distiller.fit(q), ts)
    }

    /// The landing state after evaluation k when λ_k = lam (earlier λ as fitted).
    func landing(_ s: Solver, _ fit: DODEFit, _ k: Int, _ lam: Double, _ m: Denoiser, _ g: Grid,
                 _ x: Tensor) throws -> Tensor {
        var ls = fit.lambdas
        ls[k][0] = lam
        let ds = try fit.with(lambdas: ls).solver(base: s)
        let run = try SolverRun(solver: ds, grid: g, x: x)
        for _ in 0...k { try run.step(try m.denoise(run.state, at: run.next!.at)) }
        return run.state
    }

    /// Brute force: the residual ‖T − x(λ)‖² of the actual D-variant run is a parabola in λ;
    /// its vertex from three runs must equal the closed-form λ to 1e-8 relative (the
    /// three runs' rounding is ~1e-12 of the residual; 1e-8 leaves room for the parabola fit).
    func testClosedFormEqualsBruteForce() throws {
        let (m, g, x) = try problem()
        for s in [try DPMSolverPlusPlus(order: 2) as Solver, HeunSolver(), try UniPCSolver(order: 3),
                  try DEISSolver(order: 3)] {
            let (f, ts) = try fit(s, m, g, x)
            var checked = 0
            for k in 1..<f.lambdas.count {
                let l0 = f.lambdas[k][0], w = Swift.max(1, abs(l0))
                let pts = [l0 - w, l0 + 0.37 * w, l0 + w]
                let r = try pts.map { lam -> Double in
                    try Tensor.binary(.sub, try landing(s, f, k, lam, m, g, x), ts[k]).sumSquares()
                }
                // Vertex of the parabola through (pts[i], r[i]).
                let (a, b, c) = (pts[0], pts[1], pts[2])
                let num = (b - a) * (b - a) * (r[1] - r[2]) - (b - c) * (b - c) * (r[1] - r[0])
                let den = (b - a) * (r[1] - r[2]) - (b - c) * (r[1] - r[0])
                guard den != 0 else { continue }
                let vertex = b - 0.5 * num / den
                XCTAssertEqual(vertex, l0, accuracy: 1e-8 * Swift.max(1, abs(l0)), "\(s.name) evaluation \(k + 1)")
                checked += 1
            }
            XCTAssertGreaterThan(checked, 3, s.name)
        }
    }

    /// Exact sums make a fit over batches equal, bit for bit, the fit on their union, however
    /// the union is split (the property that makes λ independent of the number of MPI ranks):
    /// batches of 24 × 4, and of uneven sizes 1, 40, 55.
    func testBatchesEqualUnionBitForBit() throws {
        let (m, g, x) = try problem()
        for s in [try DPMSolverPlusPlus(order: 2) as Solver, HeunSolver()] {
            let (union, _) = try fit(s, m, g, x)
            for sizes in [[24, 24, 24, 24], [1, 40, 55]] {
                var at = 0
                let parts = try sizes.map { n -> Tensor in defer { at += n }; return try x.narrow(0, at, n).clone() }
                let f = try Distiller.fit(Distiller.Request(solver: s, denoiser: m, batches: parts, grid: g))
                XCTAssertEqual(f.lambdas, union.lambdas, "\(s.name), batches \(sizes)")
                XCTAssertEqual(f.residualAfter, union.residualAfter, "\(s.name), batches \(sizes)")
                XCTAssertEqual(f.metadata["batch"] as? Int, 96)
            }
        }
    }

    /// Every teacher target lies at exactly the student's landing time (s and t), including
    /// stage points between grid points (DPM-2, singlestep DPM-Solver++).
    func testTeacherAlignment() throws {
        let (_, g, _) = try problem()
        for s in [DDIMSolver() as Solver, HeunSolver(), DPM2Solver(),
                  try DPMSolverPlusPlus(order: 3, singlestep: true)] {
            let plan = try s.plan(g)
            let tg = try Teacher.grid(student: plan, grid: g, k: 10)
            for e in plan.evaluations {
                guard let i = tg.index(ofS: e.lands.s) else {
                    XCTFail("\(s.name): no teacher point at s = \(e.lands.s)"); continue
                }
                XCTAssertEqual(tg[i], e.lands, "\(s.name): teacher point differs from the landing point")
            }
            for p in g.points { XCTAssertNotNil(tg.index(ofS: p.s)) }
        }
    }

    /// docs/method.md §5.8: a DPM-Solver++(2M) step is a DDIM step with D extrapolated along D_k − D_{k−1},
    /// so with the same teacher and first-evaluation rule the fitted D-variants give the same
    /// samples (to rounding: 1e-9 relative).
    func testDPMpp2MEqualsDDIMAfterFitting() throws {
        let (m, g, x) = try problem()
        let (fd, _) = try fit(DDIMSolver(), m, g, x)
        let (fp, _) = try fit(try DPMSolverPlusPlus(order: 2), m, g, x)
        let xe = try Generator(seed: 77).randn([64, m.d])
        let (a, _) = try Sampler.sample(try fd.solver(base: DDIMSolver()), m, xe, g)
        let (b, _) = try Sampler.sample(try fp.solver(base: try DPMSolverPlusPlus(order: 2)), m, xe, g)
        XCTAssertLessThan(Support.relError(b, a), 1e-9)
        // And the coefficients relate by λ_DDIM = c + λ(1 + c), c = h_k/(2h_{k−1}).
        for k in 1..<(fd.lambdas.count - 1) {
            let c = (g[k + 1].logsnr - g[k].logsnr) / (2 * (g[k].logsnr - g[k - 1].logsnr))
            XCTAssertEqual(fd.lambdas[k][0], c + fp.lambdas[k][0] * (1 + c),
                           accuracy: 1e-8 * Swift.max(1, abs(fd.lambdas[k][0])))
        }
    }

    func testGeneralisedBasisAndRidge() throws {
        let (m, g, x) = try problem()
        var cfg = Distiller.Config()
        cfg.directions = [.previous, .previous2, .noise]
        let (f, ts) = try fit(DDIMSolver(), m, g, x, config: cfg)
        let (f1, _) = try fit(DDIMSolver(), m, g, x)
        // More directions never fit the first step worse (greedy, same state at k = 1).
        XCTAssertLessThanOrEqual(f.residualAfter[1], f1.residualAfter[1] * (1 + 1e-12))
        XCTAssertEqual(ts.count, f.lambdas.count)
        cfg.directions = [.previous]
        cfg.ridge = 1e6
        let (fr, _) = try fit(DDIMSolver(), m, g, x, config: cfg)
        XCTAssertTrue(fr.lambdas.allSatisfy { abs($0[0]) < abs(f1.lambdas.map { abs($0[0]) }.max()!) * 1e-3 + 1e-12 },
                      "a huge ridge shrinks λ to ~0")
    }

    func testSaveLoadAndMismatches() throws {
        let (m, g, x) = try problem()
        let (f, _) = try fit(try DPMSolverPlusPlus(order: 2), m, g, x)
        let dir = NSTemporaryDirectory() + "dode-fit-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try f.save(path: dir + "/f.json", version: "test")
        let g2 = try DODEFit.load(path: dir + "/f.json")
        XCTAssertEqual(g2.lambdas, f.lambdas)
        XCTAssertThrowsError(try g2.solver(base: DDIMSolver())) {
            XCTAssertTrue("\($0)".contains("made for solver 'dpmpp'"))
        }
        XCTAssertThrowsError(try g2.solver(base: try DPMSolverPlusPlus(order: 3))) {
            XCTAssertTrue("\($0)".contains("order: fit 2, solver 3"))
        }
        let ds = try g2.solver(base: try DPMSolverPlusPlus(order: 2))
        XCTAssertThrowsError(try ds.plan(try Grid.discrete(vp, 6, spacing: "leading"))) {
            XCTAssertTrue("\($0)".contains("point 1 is t = 999"))
        }
        XCTAssertThrowsError(try ds.plan(try Grid.discrete(try Schedule.vp(betas: "cosine"), 6, spacing: "trailing"))) {
            XCTAssertTrue("\($0)".contains("another schedule"))
        }
        try Data("{\"format\": \"dode.fit\", \"lambdas\": [[1]]".utf8)
            .write(to: URL(fileURLWithPath: dir + "/bad.json"))
        XCTAssertThrowsError(try DODEFit.load(path: dir + "/bad.json")) { XCTAssertTrue("\($0)".contains("bad.json")) }
    }

    func testBadInput() throws {
        let (m, g, x) = try problem()
        let d = try Distiller(solver: DDIMSolver(), config: .init())
        let plan = try DDIMSolver().plan(g)
        let ts = try Teacher.targets(DDIMSolver(), den: m, x: x, grid: g, student: plan, k: 10)
        XCTAssertThrowsError(try d.batch(den: m, x: try x.narrow(0, 0, 10).clone(), grid: g, targets: ts)) {
            XCTAssertTrue("\($0)".contains("target 1 has shape 96x32"))
        }
        XCTAssertThrowsError(try Teacher.grid(student: plan, grid: g, k: 1)) {
            XCTAssertTrue("\($0)".contains("k must be"))
        }
        XCTAssertThrowsError(try Grid.timesteps(vp, [500], final: .none))
        var cfg = Distiller.Config(); cfg.first = .noise
        XCTAssertThrowsError(try Distiller(solver: DDIMSolver(), config: cfg)) {
            XCTAssertTrue("\($0)".contains("space = 'eps'"))
        }
        // A degenerate direction: a denoiser that returns the same prediction everywhere.
        let flat = try MixtureDenoiser(weights: [1], means: [[Double](repeating: 0.3, count: m.d)],
                                       stds: [[Double](repeating: 1e-9, count: m.d)], schedule: vp)
        let (f, _) = try fit(DDIMSolver(), flat, g, x)
        XCTAssertTrue(f.lambdas.allSatisfy { $0[0] == 0 })
        XCTAssertTrue(f.warnings.contains { $0.contains("degenerate") }, "\(f.warnings)")
    }
}
