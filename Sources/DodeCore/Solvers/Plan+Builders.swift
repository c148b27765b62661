/// The plan shapes the built-in solvers share, and the order rules of the references.
extension Plan {
    /// One evaluation per grid step, with the given orders.
    static func onePerStep(_ grid: Grid, orders: [Int]) -> Plan {
        let evs = (0..<grid.steps).map { i in
            Evaluation(step: i, stage: 0, at: grid[i], lands: grid[i + 1], order: orders[i], final: true)
        }
        return Plan(evaluations: evs, stepOrders: orders)
    }

    /// Two evaluations per step (a predictor landing at `stage(a, b)`, then the step's second
    /// evaluation there landing on b), with a single Euler evaluation into s = 0 (Heun, DPM-2:
    /// 2N − 1 evaluations).
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

    /// Orders rising as min(i + 1, order) from the first step (LMS, iPNDM).
    static func warmUpOrders(_ grid: Grid, order: Int) -> [Int] {
        (0..<grid.steps).map { Swift.min($0 + 1, order) }
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

    /// Singlestep DPM-Solver(++) (the paper's algorithm): every grid step is one step of order p
    /// with p − 1 extra evaluations at logSNR fractions of the step (½ for order 2; ⅓ and ⅔ for
    /// order 3), so NFE = p × steps; a step into s = 0 is first order.
    static func singlestep(_ grid: Grid, order: Int) throws -> Plan {
        var evs: [Evaluation] = [], orders: [Int] = []
        for i in 0..<grid.steps {
            let a = grid[i], b = grid[i + 1]
            let p = b.isClean ? 1 : order
            orders.append(p)
            var stops = [a]
            let fractions = p == 2 ? [0.5] : (p == 3 ? [1.0 / 3, 2.0 / 3] : [])
            for f in fractions { stops.append(try grid.schedule.point(logsnr: a.logsnr + f * (b.logsnr - a.logsnr))) }
            stops.append(b)
            for j in 0..<p {
                evs.append(Evaluation(step: i, stage: j, at: stops[j], lands: stops[j + 1], order: p,
                                      final: j == p - 1))
            }
        }
        return Plan(evaluations: evs, stepOrders: orders)
    }
}
