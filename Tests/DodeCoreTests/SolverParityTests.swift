import XCTest
@testable import DodeCore

/// Every solver against the real libraries (Tests/Fixtures/solvers, made by
/// Scripts/make_solver_fixtures.py with diffusers and k-diffusion on the mixture problems).
/// Tolerances: k-diffusion ≤ 1e-9 absolute (both Float64); diffusers ≤ 1e-4 absolute
/// (its schedule is Float32), ≤ 1e-3 for DEIS (its coefficients are Float32 too); and, tighter,
/// ≤ 1e-9 against the same diffusers loops run with a Float64 schedule (`output_float64`).
/// NFE counts and per-step orders must equal the references'.
final class SolverParityTests: XCTestCase {
    struct Outcome { var cases = 0, worstRef = 0.0, worst64 = 0.0 }

    /// The solver a fixture names, built through the catalogue from the fixture's options.
    func makeSolver(_ spec: [String: Any]) throws -> Solver {
        let o = spec["options"] as? [String: Any] ?? [:]
        var values: [String: SolverOptionValue] = [:]
        for (k, v) in o {
            if let s = v as? String { values[k] = .string(s) }
            else if let n = v as? NSNumber { values[k] = .int(n.intValue) }
        }
        return try SolverCatalog.make(spec["solver"] as! String, values)
    }

    func matrix(_ v: Any?) -> [Double] { (v as! [[NSNumber]]).flatMap { $0.map(\.doubleValue) } }

    func testAgainstDiffusersAndKDiffusion() throws {
        let dir = Support.path("Tests/Fixtures/solvers")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".json") }.sorted()
        XCTAssertGreaterThanOrEqual(files.count, 2)
        var report: [String: Outcome] = [:]
        for f in files {
            let fx = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/" + f)))
                as! [String: Any]
            let md = fx["mixture_data"] as! [String: Any]
            let d = (fx["dim"] as! NSNumber).intValue, B = (fx["batch"] as! NSNumber).intValue
            let eps = matrix(fx["eps"])
            for case_ in fx["cases"] as! [[String: Any]] {
                let id = case_["id"] as! String
                let lib = case_["library"] as! String
                let spec = case_["dode"] as! [String: Any]
                let name = spec["solver"] as! String
                let g = case_["grid"] as! [String: Any]
                let schedule: Schedule
                let grid: Grid
                if g["kind"] as! String == "karras" {
                    schedule = try Schedule.edm()
                    grid = try Grid.karras(schedule, (g["n"] as! NSNumber).intValue, sigmaMin: 0.002, sigmaMax: 80,
                                           rho: 7)
                } else {
                    schedule = try Schedule.vp(interpolation: (name == "euler" || name == "heun") ? .sigma : .logAlpha)
                    let fin = Grid.Final(rawValue: g["final"] as! String)!
                    grid = try Grid.timesteps(schedule, (g["labels"] as! [NSNumber]).map(\.doubleValue), final: fin)
                }
                let mix = try MixtureDenoiser.fromDictionary(md, schedule: schedule)
                let solver = try makeSolver(spec)
                let plan = try solver.plan(grid)
                let wantNFE = (case_["dode_nfe"] as? NSNumber)?.intValue ?? (case_["nfe"] as! NSNumber).intValue
                XCTAssertEqual(plan.nfe, wantNFE, "\(id): NFE")
                if let so = case_["step_orders"] as? [NSNumber] {
                    XCTAssertEqual(plan.stepOrders, so.map(\.intValue), "\(id): step orders")
                }
                let scale = ((case_["start"] as! [String: Any])["x_T_scale"] as! NSNumber).doubleValue
                let x = try Tensor(eps.map { $0 * scale }, shape: [B, d])
                let (out, _) = try Sampler.sample(solver, mix, x, grid)
                let got = out.toArray()
                func maxAbs(_ ref: [Double]) -> Double { zip(got, ref).map { abs($0 - $1) }.max()! }
                let errRef = maxAbs(matrix(case_["output"]))
                var o = report[lib + "/" + name] ?? Outcome()
                o.cases += 1
                o.worstRef = max(o.worstRef, errRef)
                if lib == "k-diffusion" {
                    XCTAssertLessThanOrEqual(errRef, 1e-9, "\(id): vs k-diffusion")
                } else {
                    XCTAssertLessThanOrEqual(errRef, name == "deis" ? 1e-3 : 1e-4, "\(id): vs diffusers")
                    if let o64 = case_["output_float64"] {
                        let e64 = maxAbs(matrix(o64))
                        o.worst64 = max(o.worst64, e64)
                        XCTAssertLessThanOrEqual(e64, 1e-9, "\(id): vs diffusers with a Float64 schedule")
                    }
                }
                report[lib + "/" + name] = o
            }
        }
        for k in report.keys.sorted() {
            let o = report[k]!
            print(String(format: "parity %-24@ %3d cases  max|Δ| vs library %.2e  vs Float64 diffusers %.2e",
                         k, o.cases, o.worstRef, o.worst64))
        }
    }
}
