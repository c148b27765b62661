/// The fixed-step Adams–Bashforth weights PNDM/PLMS and iPNDM apply to ε (newest first).
enum AdamsBashforth {
    static func weights(_ order: Int) -> [Double] {
        switch order {
        case 1: return [1]
        case 2: return [3.0 / 2, -1.0 / 2]
        case 3: return [23.0 / 12, -16.0 / 12, 5.0 / 12]
        default: return [55.0 / 24, -59.0 / 24, 37.0 / 24, -9.0 / 24]
        }
    }

    /// Σ_m w_m·ε_{evals[m]} for evaluations listed newest first; the newest is the consumed one.
    static func combine(_ evals: [Int], current k: Int, _ run: SolverRun) -> Combination {
        let w = weights(evals.count)
        var c = Combination()
        for (m, j) in evals.enumerated() {
            c.add(.eps(j, pred: j == k ? .consumed : .d(j), s: run.evaluation(j).at.s), scale: w[m])
        }
        return c
    }
}
