import XCTest
@testable import DodeCore

/// The Dormand–Prince reference solve: self-consistency across tolerances (rtol 1e-9 and 1e-12
/// agree to 1e-7 relative, docs/method.md §6) and exactness on a single Gaussian, where the PF-ODE has
/// the closed form y(s) = μ + (y₀ − μ)·√((σ² + s²)/(σ² + s₀²)).
final class ReferenceSolverTests: XCTestCase {
    func testSingleGaussianClosedForm() throws {
        let vp = try Schedule.vp()
        let m = try MixtureDenoiser(weights: [1], means: [[0.5, -1]], stds: [[0.3, 0.05]], schedule: vp)
        let grid = try Grid.discrete(vp, 10, spacing: "trailing")
        let x = try Generator(seed: 1).randn([6, 2])
        let (out, st) = try ReferenceSolver.solve(m, x, from: grid[0], to: grid[grid.count - 1], rtol: 1e-10)
        let s0 = grid[0].s, y0 = Tensor.binary(.mul, x, scalar: 1 / grid[0].alpha).toArray()
        let mu = [0.5, -1.0], sd = [0.3, 0.05]
        let want = (0..<12).map { i in
            mu[i % 2] + (y0[i] - mu[i % 2]) * (sd[i % 2] * sd[i % 2] / (sd[i % 2] * sd[i % 2] + s0 * s0)).squareRoot()
        }
        XCTAssertLessThan(Support.relError(out, try Tensor(want, shape: [6, 2])), 1e-8)
        XCTAssertGreaterThan(st.steps, 5)
    }

    func testToleranceSelfConsistency() throws {
        let vp = try Schedule.vp()
        for file in Support.mixtureFiles() {
            let m = try MixtureDenoiser.load(path: file, schedule: vp)
            let grid = try Grid.discrete(vp, 10, spacing: "trailing")
            let x = try Generator(seed: 2).randn([16, m.d])
            let (a, _) = try ReferenceSolver.solve(m, x, from: grid[0], to: grid[grid.count - 1], rtol: 1e-9)
            let (b, _) = try ReferenceSolver.solve(m, x, from: grid[0], to: grid[grid.count - 1], rtol: 1e-12)
            let err = Support.relError(a, b)
            XCTAssertLessThan(err, 1e-7, "\(file): rtol 1e-9 vs 1e-12 differ by \(err)")
        }
    }
}
