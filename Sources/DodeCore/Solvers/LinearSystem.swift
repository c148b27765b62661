/// Small dense linear systems (UniPC's coefficients, the D-ODE normal equations).
public enum LinearSystem {
    /// Solves A·x = b by Gaussian elimination with partial pivoting; a pivot below 1e-300 in
    /// magnitude is an error (the system is singular).
    public static func solve(_ a: [[Double]], _ b: [Double]) throws -> [Double] {
        var m = a, v = b
        let n = v.count
        guard m.count == n, m.allSatisfy({ $0.count == n }) else {
            throw CoreError("internal: a \(m.count)-row system with \(n) right-hand sides")
        }
        for c in 0..<n {
            var p = c
            for r in (c + 1)..<Swift.max(n, c + 1) where abs(m[r][c]) > abs(m[p][c]) { p = r }
            guard abs(m[p][c]) > 1e-300 else { throw CoreError("singular system in solver coefficients") }
            m.swapAt(c, p); v.swapAt(c, p)
            for r in (c + 1)..<Swift.max(n, c + 1) {
                let f = m[r][c] / m[c][c]
                for q in c..<n { m[r][q] -= f * m[c][q] }
                v[r] -= f * v[c]
            }
        }
        var x = [Double](repeating: 0, count: n)
        for r in stride(from: n - 1, through: 0, by: -1) {
            var s = v[r]
            for q in (r + 1)..<Swift.max(n, r + 1) { s -= m[r][q] * x[q] }
            x[r] = s / m[r][r]
        }
        return x
    }
}
