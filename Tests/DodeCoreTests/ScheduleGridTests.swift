import XCTest
@testable import DodeCore

/// Schedules and grids against diffusers' golden values (Tests/Fixtures/diffusers_schedules.json,
/// made by Scripts/make_schedule_fixtures.py) and the conventions of docs/method.md §2.
final class ScheduleGridTests: XCTestCase {
    let vp = try! Schedule.vp()

    func testDDPMValues() throws {
        // docs/method.md §2.1: s_999 = 157.4073, s_0 = 0.0100005.
        XCTAssertEqual(try vp.point(t: 999).s, 157.4073, accuracy: 5e-5)
        XCTAssertEqual(try vp.point(t: 0).s, 0.0100005, accuracy: 5e-8)
    }

    /// Our Float64 ᾱ against diffusers' (computed in float32 there: agreement to 1e-6 relative).
    func testAlphasCumprodMatchDiffusers() throws {
        let fx = try Support.json("Tests/Fixtures/diffusers_schedules.json")
        let ac = fx["alphas_cumprod"] as! [String: Any]
        for (name, ours) in [("linear", try Schedule.vp(betas: "linear")),
                             ("scaled_linear", try Schedule.vp(betas: "scaled_linear")),
                             ("squaredcos_cap_v2", try Schedule.vp(betas: "cosine"))] {
            let entry = ac[name] as! [String: Any]
            let values = (entry["values"] ?? entry["alphas_cumprod"]) as? [Double]
                ?? (entry.values.first { $0 is [Double] } as! [Double])
            XCTAssertEqual(values.count, 1000)
            for i in stride(from: 0, to: 1000, by: 37) {
                let a = try ours.point(t: Double(i)).alpha
                XCTAssertEqual(a * a, values[i], accuracy: 2e-6 * values[i] + 1e-9, "\(name) at \(i)")
            }
        }
    }

    func testDiscreteSpacingsMatchDiffusersDDIM() throws {
        let fx = try Support.json("Tests/Fixtures/diffusers_schedules.json")
        let ddim = fx["ddim"] as! [String: [String: [Int]]]
        var checked = 0
        for spacing in ["leading", "trailing", "linspace"] {
            for n in [5, 10, 20, 50] {
                let want = ddim[spacing]![String(n)]!.map(Double.init)
                let g = try Grid.discrete(vp, n, spacing: spacing)
                XCTAssertEqual(g.points.dropLast().map { $0.t! }, want, "\(spacing) N=\(n)")
                XCTAssertEqual(g.count, n + 1)
                XCTAssertTrue(g.points.last!.isClean)
                checked += 1
            }
        }
        let off = try Grid.discrete(vp, 10, spacing: "leading", stepsOffset: 1)
        XCTAssertEqual(off.points.dropLast().map { $0.t! }, ddim["leading_steps_offset_1"]!["10"]!.map(Double.init))
        XCTAssertEqual(checked, 12)
    }

    func testFinalPointsAndCounts() throws {
        XCTAssertEqual(try Grid.discrete(vp, 10, spacing: "trailing", final: .none).count, 10)
        let sm = try Grid.discrete(vp, 10, spacing: "trailing", final: .sigmaMin)
        XCTAssertEqual(sm.points.last!.t, 0)
        XCTAssertThrowsError(try Grid.discrete(vp, 10, spacing: "leading", final: .sigmaMin)) {
            XCTAssertTrue("\($0)".contains("zero-length"))
        }
        let edm = try Schedule.edm()
        let k = try Grid.karras(edm, 10, sigmaMin: 0.002, sigmaMax: 80, rho: 7)
        XCTAssertEqual(k.count, 11)
        XCTAssertEqual(k[0].s, 80, accuracy: 1e-12)
        XCTAssertEqual(k[9].s, 0.002, accuracy: 1e-15)
        XCTAssertEqual(k[10].s, 0)
        for b in [try Grid.uniform(vp, 7), try Grid.quadratic(vp, 7), try Grid.logsnr(vp, 7),
                  try Grid.uniform(try Schedule.vpContinuous(), 7), try Grid.logsnr(edm, 7)] {
            XCTAssertEqual(b.count, 8)
        }
    }

    /// refine(k) keeps every original point exactly and inserts k − 1 per interval.
    func testRefineKeepsPoints() throws {
        let grids = [try Grid.discrete(vp, 3, spacing: "trailing"), try Grid.karras(try Schedule.edm(), 5),
                     try Grid.logsnr(vp, 4), try Grid.sigmas(vp, [100, 10, 1], final: .sigmaMin),
                     try Grid.uniform(try Schedule.vpContinuous(schedule: "cosine"), 6)]
        for g in grids {
            for k in [2, 3, 10] {
                let r = try g.refine(k)
                XCTAssertEqual(r.count, (g.count - 1) * k + 1)
                for (i, p) in g.points.enumerated() { XCTAssertEqual(r[i * k], p, "\(g.origin) k=\(k) point \(i)") }
            }
        }
        // The final interval of a discrete grid into s = 0 counts the clean point as t = −1.
        let r = try Grid.discrete(vp, 10, spacing: "trailing").refine(10)
        XCTAssertEqual(r[r.count - 2].t, 9)
        XCTAssertEqual(r[r.count - 2].s, try vp.point(t: 9).s)
    }

    /// Inverse maps: t from s and from logSNR invert the forward maps.
    func testInverseMaps() throws {
        for sch in [vp, try Schedule.vp(interpolation: .sigma), try Schedule.vpContinuous(),
                    try Schedule.vpContinuous(schedule: "cosine"), try Schedule.edm()] {
            for t in [sch.tMin, sch.tMin * 0.5 + sch.tMax * 0.5, sch.tMax * 0.37 + sch.tMin, sch.tMax] where t > 0 {
                let p = try sch.point(t: t)
                XCTAssertEqual(try sch.t(fromS: p.s), t, accuracy: 1e-9 * max(1, t), "\(sch.name) t=\(t)")
                XCTAssertEqual(try sch.point(logsnr: p.logsnr).s, p.s, accuracy: 1e-12 * p.s)
            }
        }
    }

    func testBadGrids() throws {
        XCTAssertThrowsError(try Grid.timesteps(vp, [500, 600])) { XCTAssertTrue("\($0)".contains("decrease")) }
        XCTAssertThrowsError(try Grid.timesteps(vp, [500, 500])) { XCTAssertTrue("\($0)".contains("zero-length")) }
        XCTAssertThrowsError(try Grid.timesteps(vp, [1200])) { XCTAssertTrue("\($0)".contains("outside")) }
        XCTAssertThrowsError(try Grid.discrete(vp, 10, spacing: "middle")) {
            XCTAssertTrue("\($0)".contains("unknown spacing"))
        }
        XCTAssertThrowsError(try Grid.timesteps(vp, [0], final: .none))
        XCTAssertThrowsError(try Grid.discrete(vp, 10).refine(0))
    }
}
