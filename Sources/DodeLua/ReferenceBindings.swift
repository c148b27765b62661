import CLua
import DodeCore
import Foundation

/// `dode.reference.solve`: the exact probability-flow reference (docs/method.md §6).
extension LuaVM {
    func installReferenceBindings() {
        doc("dode.reference", "dode.reference", "The exact probability-flow reference: dode.reference.solve.")
        def("dode.reference.solve",
            "dode.reference.solve(den, x, from, to [, {rtol = 1e-9, atol = rtol, cond =, max_steps =, " +
            "progress = false}])", """
            Integrates dy/ds = (y − D(y, s))/s from point `from` to point `to` with adaptive Dormand–Prince \
            5(4) (scipy's error control over the whole state; slope 0 at s = 0). x and the result are in the \
            schedule's space. Returns the state and {steps=, rejected=, evaluations=}.
            """) { a in
            let d = try a.denoiser(1), x = try a.tensor(2), from = try a.point(3), to = try a.point(4)
            let o = try a.options(5, allowed: ["rtol", "atol", "cond", "max_steps", "progress"])
            // progress = true prints the noise level reached to stderr, at most once a second.
            var last = Date()
            let start = from.s
            let line = ProgressLine(vm: a.vm)   // stderr lines; one updated display in a notebook
            let report: ((Double) -> Void)? = (try o.bool("progress") ?? false) ? { s in
                if Date().timeIntervalSince(last) >= 1 {
                    last = Date()
                    line.report(String(format: "reference solve: s = %.4g of %.4g", s, start))
                }
            } : nil
            let (y, st) = try ReferenceSolver.solve(d, x, from: from, to: to, rtol: try o.positive("rtol") ?? 1e-9,
                                                    atol: try o.positive("atol"), cond: try o.labels("cond"),
                                                    maxSteps: try o.int("max_steps", in: 1...100_000_000,
                                                                        "a positive integer") ?? 1_000_000,
                                                    progress: report)
            _ = a.push(y)
            lua_createtable(a.L, 0, 3)
            lua_pushinteger(a.L, lua_Integer(st.steps)); lua_setfield(a.L, -2, "steps")
            lua_pushinteger(a.L, lua_Integer(st.rejected)); lua_setfield(a.L, -2, "rejected")
            lua_pushinteger(a.L, lua_Integer(st.evaluations)); lua_setfield(a.L, -2, "evaluations")
            return 2
        }
    }
}
