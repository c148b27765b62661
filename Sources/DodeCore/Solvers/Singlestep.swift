import Foundation

/// Plans of singlestep DPM-Solver(++) (Lu et al. 2022, the paper's algorithm): every grid step
/// is one step of order p with p − 1 extra evaluations at logSNR fractions of the step (1/2 for
/// order 2; 1/3 and 2/3 for order 3), so NFE = p × steps; a step into s = 0 is first order.
enum Singlestep {
    static func fractions(_ p: Int) -> [Double] { p == 2 ? [0.5] : (p == 3 ? [1.0 / 3, 2.0 / 3] : []) }

    static func plan(_ grid: Grid, order: Int) throws -> Plan {
        var evs: [Evaluation] = [], orders: [Int] = []
        for i in 0..<grid.steps {
            let a = grid[i], b = grid[i + 1]
            let p = b.isClean ? 1 : order
            orders.append(p)
            var stops = [a]
            for f in fractions(p) { stops.append(try grid.schedule.point(logsnr: a.logsnr + f * (b.logsnr - a.logsnr))) }
            stops.append(b)
            for j in 0..<p {
                evs.append(Evaluation(step: i, stage: j, at: stops[j], lands: stops[j + 1], order: p, final: j == p - 1))
            }
        }
        return Plan(evaluations: evs, stepOrders: orders)
    }
}
