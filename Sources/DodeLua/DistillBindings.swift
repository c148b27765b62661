import CLua
import DodeCore
import Foundation

/// A fit and the solver it was made for.
final class FitBox {
    let fit: DODEFit
    let base: Solver?
    init(_ fit: DODEFit, base: Solver?) { self.fit = fit; self.base = base }
}

/// `dode.distill.*` and fit methods.
extension LuaVM {
    func installDistillBindings() {
        doc("dode.distill", "dode.distill", """
            D-ODE distillation: dode.distill.fit (one coefficient per network evaluation, closed form, \
            against a K-times finer teacher at exactly the student's landing points), dode.distill.targets, \
            dode.distill.load.
            """)
        let fitKeys = ["solver", "denoiser", "x", "grid", "k", "teacher", "targets", "seed", "space", "first",
                       "directions", "ridge", "cond", "world", "progress"]
        def("dode.distill.fit", "dode.distill.fit{solver =, denoiser =, x = xT | {x1, x2, ...}, grid =, k = 10, "
                + "teacher =, targets =, seed =, space = 'data' | 'eps', first = 'zero' | 'noise', "
                + "directions = {'previous'}, ridge = 0, cond =, world = dode.mpi | false, progress = false}", """
            Fits D-ODE coefficients. The teacher (default DDIM; iPNDM and DEIS teach themselves) runs on \
            grid:refine(k) with the solver's stage points inserted, from the same start states, and only its \
            states at the student's landing points are kept. At each evaluation λ = <Δ, T − b>/<Δ, Δ> over \
            every coordinate of every sample (normal equations for several directions, with an optional \
            ridge on the mean squared residual); the student continues from its corrected state. x may be a \
            list of batches (fitted in rounds; equals a fit on their union). Under mpirun every rank passes \
            its own rows as x and the sums are added over the ranks once per evaluation (world = dode.mpi, \
            the default when there is more than one rank; world = false fits this rank alone); the sums are \
            exact, so λ is bit-for-bit that of one process fitting the union. directions: 'previous' (D_k − \
            D_{k−1}, the paper's), 'previous2', 'same_stage', 'noise', 'effective_eps' (iPNDM/DEIS, the \
            reference code's variant). Returns a dode.Fit.
            """) { a in
            let o = try a.options(1, allowed: fitKeys + ["exchange"])
            if o.has("exchange") {
                throw a.error("the file exchange between processes is gone: run the script under mpirun, " +
                              "where every rank passes its rows as x (world = dode.mpi)")
            }
            guard let den = try o.denoiser("denoiser") else { throw o.fail("denoiser", "a dode.Denoiser") }
            guard let grid = try o.grid("grid") else { throw o.fail("grid", "a dode.Grid") }
            guard let solver = try o.solver("solver") else { throw o.fail("solver", "a dode.Solver") }
            let xs: [Tensor] = try o.with("x") { i in
                if let t = LuaArgs.tensorAt(a.L, i) { return [t] }
                guard lua_type(a.L, i) == LUA_TTABLE else {
                    throw o.fail("x", "a tensor or a list of tensors (batches)")
                }
                return try a.vm.tensorList(i, args: a)
            }
            var q = Distiller.Request(solver: solver, denoiser: den, batches: xs, grid: grid)
            q.k = try o.int("k", in: 2...10_000, "an integer k ≥ 2") ?? 10
            q.teacher = try o.solver("teacher")
            q.config.space = FitSpace(rawValue: try o.choice("space", ["data", "eps"]) ?? "data") ?? .data
            q.config.first = FirstEvaluation(rawValue: try o.choice("first", ["zero", "noise"]) ?? "zero") ?? .zero
            q.config.ridge = try o.number("ridge") ?? 0
            guard q.config.ridge >= 0, q.config.ridge.isFinite else { throw o.fail("ridge", "a non-negative number") }
            if o.has("directions") {
                let names = try o.stringList("directions", choices: Direction.allCases.map(\.rawValue))
                guard !names.isEmpty else { throw o.fail("directions", "a non-empty list") }
                q.config.directions = names.compactMap(Direction.init(rawValue:))
            }
            if o.has("targets") {
                q.targets = try o.with("targets") { i in
                    guard lua_type(a.L, i) == LUA_TTABLE else {
                        throw o.fail("targets", "a list of tensors (one per evaluation)")
                    }
                    return try a.vm.tensorList(i, args: a)
                }
            }
            q.cond = try o.labels("cond")
            q.seed = try o.int("seed")
            q.world = try a.vm.worldOption(o)
            if try o.bool("progress") ?? false {
                // A terminal gets a line every 10%; a notebook one display updated in place.
                let line = ProgressLine(vm: a.vm)
                q.progress = { event in
                    guard case let .teacher(batch, batches, done, total) = event else { return }
                    line.report("teacher pass, batch \(batch + 1)/\(batches): \(done)/\(total) steps",
                                major: done == total || done % Swift.max(1, total / 10) == 0)
                }
            }
            a.vm.pushObject(FitBox(try Distiller.fit(q), base: solver), type: "dode.Fit")
            return 1
        }
        def("dode.distill.targets",
            "dode.distill.targets{solver =, denoiser =, x =, grid =, k = 10, teacher =, cond =}", """
            The teacher states at every landing point of the solver's plan on grid (a list of tensors, one \
            per evaluation), computed on grid:refine(k) with stage points inserted.
            """) { a in
            let o = try a.options(1, allowed: ["solver", "denoiser", "x", "grid", "k", "teacher", "cond"])
            guard let den = try o.denoiser("denoiser") else { throw o.fail("denoiser", "a dode.Denoiser") }
            guard let grid = try o.grid("grid") else { throw o.fail("grid", "a dode.Grid") }
            guard let x = try o.tensor("x") else { throw o.fail("x", "a tensor") }
            guard let solver = try o.solver("solver") else { throw o.fail("solver", "a dode.Solver") }
            let teacher = try o.solver("teacher")
            let ts = try Teacher.targets(teacher ?? Teacher.default(for: solver), den: den, x: x, grid: grid,
                                           student: try solver.plan(grid),
                                           k: try o.int("k", in: 2...10_000, "an integer k ≥ 2") ?? 10,
                                           cond: try o.labels("cond"))
            lua_createtable(a.L, Int32(ts.count), 0)
            for (i, t) in ts.enumerated() { a.vm.push(t); lua_rawseti(a.L, -2, lua_Integer(i + 1)) }
            return 1
        }
        def("dode.distill.teacher_grid", "dode.distill.teacher_grid(solver, grid, k)", """
            The grid a teacher runs on: grid:refine(k) with the solver's stage points inserted.
            """) { a in
            let s = try a.solverObject(1), g = try a.grid(2), k = try a.int(3, in: 2...10_000, "an integer k ≥ 2")
            return a.push(try Teacher.grid(student: try s.plan(g), grid: g, k: k))
        }
        def("dode.distill.load", "dode.distill.load(path [, {solver =}])", """
            Reads a fit saved by fit:save. Built-in solvers are rebuilt from the file; for a solver written \
            in Lua pass it as `solver`.
            """) { a in
            let path = try a.string(1)
            let o = try a.options(2, allowed: ["solver"])
            let fit = try DODEFit.load(path: path)
            let base: Solver? = try o.with("solver") { i in
                if lua_type(a.L, i) <= LUA_TNIL {
                    return try? SolverCatalog.make(fit.solverName, text: fit.solverOptions)
                }
                guard let s = LuaVM.object(a.L, i, "dode.Solver", as: AnyObject.self) as? Solver else {
                    throw o.fail("solver", "a dode.Solver")
                }
                return s
            }
            a.vm.pushObject(FitBox(fit, base: base), type: "dode.Fit")
            return 1
        }

        def("Fit:solver", "fit:solver([base])", """
            The D-variant: a dode.Solver with the same interface (sample, plan, start). Using it on another \
            grid or schedule is an error that says what differs.
            """) { a in
            let f = try a.fitBox(1)
            let base: Solver
            if a.isNil(2) {
                guard let b = f.base else {
                    throw a.error("this fit's solver '\(f.fit.solverName)' is not built in; " +
                                  "pass it: fit:solver(my_solver)")
                }
                base = b
            } else { base = try a.solverObject(2) }
            a.vm.pushObject(try f.fit.solver(base: base), type: "dode.Solver")
            return 1
        }
        def("Fit:save", "fit:save(path)", """
            Writes the fit as JSON (atomically): λ's, residuals, solver and options, grid, schedule, \
            teacher, k, batch size, seed, dode version.
            """) { a in
            try a.fitBox(1).fit.save(path: try a.string(2), version: dodeVersion); return 0
        }
        def("Fit:table", "fit:table()", "The coefficients and residuals as readable text.") { a in
            a.push(try a.fitBox(1).fit.table())
        }
        def("Fit:__tostring", "tostring(fit)", "") { a in a.push(try a.fitBox(1).fit.table()) }
        def("Fit:__get", "fit.field", "") { a in
            let f = try a.fitBox(1).fit
            guard a.isString(2) else { return a.pushNil() }
            switch try a.string(2) {
            case "lambdas":
                if f.directions.count == 1 { return a.push(numbers: f.lambdas.map { $0[0] }) }
                lua_createtable(a.L, Int32(f.lambdas.count), 0)
                for (i, l) in f.lambdas.enumerated() {
                    _ = a.push(numbers: l)
                    lua_rawseti(a.L, -2, lua_Integer(i + 1))
                }
                return 1
            case "residual_before": return a.push(numbers: f.residualBefore)
            case "residual_after": return a.push(numbers: f.residualAfter)
            case "nfe": return a.push(f.lambdas.count)
            case "space": return a.push(f.space.rawValue)
            case "first": return a.push(f.first.rawValue)
            case "directions":
                lua_createtable(a.L, Int32(f.directions.count), 0)
                for (i, d) in f.directions.enumerated() {
                    lua_pushstring(a.L, d.rawValue)
                    lua_rawseti(a.L, -2, lua_Integer(i + 1))
                }
                return 1
            case "warnings":
                lua_createtable(a.L, Int32(f.warnings.count), 0)
                for (i, w) in f.warnings.enumerated() {
                    lua_pushstring(a.L, w)
                    lua_rawseti(a.L, -2, lua_Integer(i + 1))
                }
                return 1
            case "solver_name": return a.push(f.solverName)
            case "metadata":
                let data = (try? JSONSerialization.data(withJSONObject: f.metadata.mapValues { "\($0)" }))
                    ?? Data("{}".utf8)
                try a.vm.decodeJSON(data, source: "metadata")
                return 1
            default: return a.pushNil()
            }
        }
    }
}

extension LuaArgs {
    func fitBox(_ i: Int32) throws -> FitBox {
        guard let f = LuaVM.object(L, i, "dode.Fit", as: FitBox.self) else { throw fail(i, "a dode.Fit") }
        return f
    }
}
