import Foundation

/// Pieces every solver shares: plans of one evaluation per step, the order rules of the
/// references, the first-order (DDIM = Euler in s) step, Gauss–Legendre quadrature and small
/// linear solves. All arithmetic is Double.
enum StepMath {
    /// A plan with one evaluation per grid step and the given orders.
    static func onePerStep(_ grid: Grid, orders: [Int]) -> Plan {
        let evs = (0..<grid.steps).map { i in
            Evaluation(step: i, stage: 0, at: grid[i], lands: grid[i + 1], order: orders[i], final: true)
        }
        return Plan(evaluations: evs, stepOrders: orders)
    }

    /// A plan of two evaluations per step (a predictor landing at `stage(a, b)`, then the step's
    /// second evaluation there landing on b), with a single Euler evaluation into s = 0
    /// (Heun, DPM-2: 2N − 1 evaluations).
    static func twoStage(_ grid: Grid, stage: (Point, Point) throws -> Point) throws -> Plan {
        var evs: [Evaluation] = [], orders: [Int] = []
        for i in 0..<grid.steps {
            if grid[i + 1].isClean {
                evs.append(Evaluation(step: i, stage: 0, at: grid[i], lands: grid[i + 1], order: 1, final: true))
                orders.append(1)
            } else {
                let mid = try stage(grid[i], grid[i + 1])
                evs.append(Evaluation(step: i, stage: 0, at: grid[i], lands: mid, order: 2, final: false))
                evs.append(Evaluation(step: i, stage: 1, at: mid, lands: grid[i + 1], order: 2, final: true))
                orders.append(2)
            }
        }
        return Plan(evaluations: evs, stepOrders: orders)
    }

    /// Plans of DPM-Solver and DPM-Solver++: singlestep, or multistep with the diffusers rules.
    static func exponentialPlan(_ grid: Grid, order: Int, singlestep: Bool, lowerOrderFinal: Bool) throws -> Plan {
        if singlestep { return try Singlestep.plan(grid, order: order) }
        return onePerStep(grid, orders: multistepOrders(order: order, grid: grid, lowerOrderFinal: lowerOrderFinal))
    }

    /// Orders of a multistep solver (diffusers' DPM-Solver(++) and DEIS rules): warm-up with
    /// min(order, i + 1); with `lowerOrderFinal` and fewer than 15 steps the last step is first
    /// order and the one before at most second; a step into s = 0 is always first order.
    static func multistepOrders(order: Int, grid: Grid, lowerOrderFinal: Bool) -> [Int] {
        let n = grid.steps
        return (0..<n).map { i in
            var o = Swift.min(order, i + 1)
            if i == n - 1 && ((lowerOrderFinal && n < 15) || grid[i + 1].isClean) { o = 1 }
            if i == n - 2 && lowerOrderFinal && n < 15 { o = Swift.min(o, 2) }
            return o
        }
    }

    /// y' = r·y_k + (1 − r)·D̃ with r = s'/s: DDIM (η = 0), Euler in s, DPM-Solver(++) order 1.
    static func firstOrder(_ k: Int, from: Point, to: Point) -> Combination {
        let r = to.s / from.s
        return Combination([(r, .y(k)), (1 - r, .consumed)])
    }

    /// ε_j = (y_j − D_j)/s_j as a combination (D_j raw, or the consumed prediction).
    static func eps(_ j: Int, pred: Ref, s: Double) -> Combination {
        var c = Combination()
        c.addEps(1, y: j, d: pred, s: s)
        return c
    }

    // MARK: quadrature

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
                for k in 2...n { let p2 = ((2 * Double(k) - 1) * x * p1 - (Double(k) - 1) * p0) / Double(k); p0 = p1; p1 = p2 }
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

    /// Solves the small dense system A·x = b (Gaussian elimination with partial pivoting).
    static func solve(_ a: [[Double]], _ b: [Double]) throws -> [Double] {
        var m = a, v = b
        let n = v.count
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

/// What DPM-Solver and DPM-Solver++ share: order 1–3, multistep (diffusers' order rules) or
/// singlestep (the paper's logSNR fractions), and `lower_order_final`. Subclasses give the update.
public class ExponentialSolver: Solver {
    public let name: String
    public let order: Int
    public let singlestep: Bool
    public let lowerOrderFinal: Bool
    public var options: [String: String] {
        ["order": String(order), "method": singlestep ? "singlestep" : "multistep", "lower_order_final": String(lowerOrderFinal)]
    }
    public var historyDepth: Int { order }

    init(name: String, order: Int, singlestep: Bool, lowerOrderFinal: Bool) throws {
        self.name = name
        self.order = try SolverOptions.order(order, in: 1...3, solver: name)
        self.singlestep = singlestep
        self.lowerOrderFinal = lowerOrderFinal
    }

    public func plan(_ grid: Grid) throws -> Plan {
        try StepMath.exponentialPlan(grid, order: order, singlestep: singlestep, lowerOrderFinal: lowerOrderFinal)
    }

    public func update(_ k: Int, _ run: SolverRun) throws -> Update {
        throw CoreError("internal: \(name) does not implement update")
    }
}

/// Validation shared by solver initialisers.
enum SolverOptions {
    static func order(_ o: Int, in range: ClosedRange<Int>, solver: String) throws -> Int {
        guard range.contains(o) else {
            throw CoreError("\(solver): order must be \(range.lowerBound == range.upperBound ? String(range.lowerBound) : "\(range.lowerBound)..\(range.upperBound)") (got \(o))")
        }
        return o
    }
}
