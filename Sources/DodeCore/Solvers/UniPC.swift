import Foundation

/// UniPC (Zhao et al. 2023) as diffusers' `UniPCMultistepScheduler` (data prediction, variant
/// bh1 or bh2, orders 1–3): at every evaluation after the first, the corrector UniC refines the
/// state it was made at using the new prediction (no extra evaluation), then the predictor UniP
/// steps from the corrected state. The history keeps the prediction made at the uncorrected
/// point; the last step is not corrected. Orders: min(order, steps left) at the end
/// (lower_order_final, any N) and min(·, i + 1) during warm-up; the corrector uses the previous
/// step's order.
public final class UniPCSolver: Solver {
    public let name = "unipc"
    public let order: Int
    public let variant: String
    public let lowerOrderFinal: Bool
    public var options: [String: String] {
        ["order": String(order), "variant": variant, "lower_order_final": String(lowerOrderFinal)]
    }
    public var historyDepth: Int { order + 1 }

    public static let entry = SolverEntry(name: "unipc",
        help: "UniPC (data prediction): predictor UniP plus corrector UniC reusing the next evaluation " +
              "(no extra NFE); the last step is not corrected.",
        options: [.integer("order", 1...3, default: 2, "the predictor's order"),
                  .choice("variant", ["bh1", "bh2"], default: "bh2", "B(h) = e^h − 1 (bh2) or h (bh1)"),
                  .lowerOrderFinal]) {
        try UniPCSolver(order: $0.int("order"), variant: $0.string("variant"),
                        lowerOrderFinal: $0.bool("lower_order_final"))
    }

    public init(order: Int = 2, variant: String = "bh2", lowerOrderFinal: Bool = true) throws {
        self.order = try SolverOption.checkOrder(order, in: 1...3, solver: "unipc")
        guard variant == "bh1" || variant == "bh2" else {
            throw CoreError("unipc: variant must be 'bh1' or 'bh2' (got '\(variant)')")
        }
        self.variant = variant
        self.lowerOrderFinal = lowerOrderFinal
    }

    public func plan(_ grid: Grid) throws -> Plan {
        let n = grid.steps
        let orders = (0..<n).map { i -> Int in
            var o = lowerOrderFinal ? Swift.min(order, n - i) : order
            o = Swift.min(o, i + 1)
            return grid[i + 1].isClean ? 1 : o
        }
        return .onePerStep(grid, orders: orders)
    }

    /// diffusers' R (rows rks^p) and b for order p with logSNR step h.
    func system(_ rks: [Double], h: Double, order p: Int) -> (R: [[Double]], b: [Double], Bh: Double, hphi1: Double) {
        let hh = -h
        let hphi1 = Foundation.expm1(hh)
        var hphik = hphi1 / hh - 1
        var fact = 1.0
        let Bh = variant == "bh1" ? hh : Foundation.expm1(hh)
        var R: [[Double]] = [], b: [Double] = []
        for i in 1...p {
            R.append(rks.map { Foundation.pow($0, Double(i - 1)) })
            b.append(hphik * fact / Bh)
            fact *= Double(i + 1)
            hphik = hphik / hh - 1 / fact
        }
        return (R, b, Bh, hphi1)
    }

    public func update(_ k: Int, _ run: SolverRun) throws -> Update {
        let e = run.evaluation(k)
        var base = Combination([(1, .y(k))])
        // Corrector (UniC) on the state this evaluation was made at.
        if k > 0 {
            let prev = run.evaluation(k - 1)
            let c = prev.order
            let h = e.at.logsnr - prev.at.logsnr
            var rks: [Double] = [], d1s: [Combination] = []
            for i in 1..<Swift.max(c, 1) {
                let rk = (run.evaluation(k - 1 - i).at.logsnr - prev.at.logsnr) / h
                rks.append(rk)
                d1s.append(Combination([(1 / rk, .d(k - 1 - i)), (-1 / rk, .d(k - 1))]))
            }
            rks.append(1)
            let sys = system(rks, h: h, order: c)
            let rhos = c == 1 ? [0.5] : try LinearSystem.solve(sys.R, sys.b)
            // y^c = (s_t/s_0)·y_last − hφ₁·m₀ − B_h·(Σ ρ_q·D1_q + ρ_last·(D̃ − m₀))
            var corr = Combination([(e.at.s / prev.at.s, .aux("unipc.last")), (-sys.hphi1, .d(k - 1))])
            for (q, d) in d1s.enumerated() { corr.add(d, scale: -sys.Bh * rhos[q]) }
            corr.add(Combination([(1, .consumed), (-1, .d(k - 1))]), scale: -sys.Bh * rhos[c - 1])
            base = corr
        }
        // Predictor (UniP) from the (corrected) state with m₀ = D̃.
        let landing: Combination
        if e.lands.isClean {
            landing = Combination([(1, .consumed)])
        } else {
            let p = e.order
            let h = e.lands.logsnr - e.at.logsnr
            var rks: [Double] = [], d1s: [Combination] = []
            for i in 1..<Swift.max(p, 1) {
                let rk = (run.evaluation(k - i).at.logsnr - e.at.logsnr) / h
                rks.append(rk)
                d1s.append(Combination([(1 / rk, .d(k - i)), (-1 / rk, .consumed)]))
            }
            rks.append(1)
            let sys = system(rks, h: h, order: p)
            var l = base.scaled(e.lands.s / e.at.s)
            l.add(-sys.hphi1, .consumed)
            if p >= 2 {
                let rhos = p == 2 ? [0.5]
                    : try LinearSystem.solve(Array(sys.R.prefix(p - 1).map { Array($0.prefix(p - 1)) }),
                                             Array(sys.b.prefix(p - 1)))
                for (q, d) in d1s.enumerated() { l.add(d, scale: -sys.Bh * rhos[q]) }
            }
            landing = l
        }
        return .linear(landing: landing, aux: [("unipc.last", base)])
    }
}
