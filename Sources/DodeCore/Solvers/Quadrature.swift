import Foundation

/// Small numerical tools of the solvers' coefficients, in Double: 16-point Gauss–Legendre
/// quadrature and Lagrange basis polynomials (LMS and DEIS integrate the interpolating
/// polynomials over each step with them).
enum Quadrature {
    /// Gauss–Legendre nodes and weights on [−1, 1] (n = 16): exact for polynomials of degree
    /// ≤ 31 and to rounding for the smooth integrands used here.
    static let gauss: (x: [Double], w: [Double]) = {
        let n = 16
        var xs = [Double](), ws = [Double]()
        for i in 1...n {
            var x = Foundation.cos(Double.pi * (Double(i) - 0.25) / (Double(n) + 0.5))
            var dp = 0.0
            for _ in 0..<100 {
                var p0 = 1.0, p1 = x
                for k in 2...n {
                    let p2 = ((2 * Double(k) - 1) * x * p1 - (Double(k) - 1) * p0) / Double(k)
                    p0 = p1; p1 = p2
                }
                dp = Double(n) * (x * p1 - p0) / (x * x - 1)
                let dx = p1 / dp
                x -= dx
                if abs(dx) < 1e-16 { break }
            }
            xs.append(x)
            ws.append(2 / ((1 - x * x) * dp * dp))
        }
        return (xs, ws)
    }()

    /// ∫_a^b f(u) du by 16-point Gauss–Legendre.
    static func integrate(_ a: Double, _ b: Double, _ f: (Double) -> Double) -> Double {
        let m = (a + b) / 2, h = (b - a) / 2
        var s = 0.0
        for (x, w) in zip(gauss.x, gauss.w) { s += w * f(m + h * x) }
        return s * h
    }

    /// The Lagrange basis polynomial j over `nodes`, at u.
    static func lagrange(_ j: Int, _ nodes: [Double], _ u: Double) -> Double {
        var p = 1.0
        for (m, v) in nodes.enumerated() where m != j { p *= (u - v) / (nodes[j] - v) }
        return p
    }
}
