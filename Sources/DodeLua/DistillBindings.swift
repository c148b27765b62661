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
        doc("dode.distill", "dode.distill", "D-ODE distillation: dode.distill.fit (one coefficient per network evaluation, closed form, against a K-times finer teacher at exactly the student's landing points), dode.distill.targets, dode.distill.load.")
        let fitKeys = ["solver", "denoiser", "x", "grid", "k", "teacher", "targets", "seed", "space", "first", "directions",
                       "ridge", "cond", "exchange", "progress"]
        def("dode.distill.fit", "dode.distill.fit{solver =, denoiser =, x = xT | {x1, x2, ...}, grid =, k = 10, teacher =, targets =, seed =, space = 'data' | 'eps', first = 'zero' | 'noise', directions = {'previous'}, ridge = 0, cond =, exchange = {dir =, rank =, world =}, progress = false}",
            "Fits D-ODE coefficients. The teacher (default DDIM; iPNDM and DEIS teach themselves) runs on grid:refine(k) with the solver's stage points inserted, from the same start states, and only its states at the student's landing points are kept. At each evaluation λ = <Δ, T − b>/<Δ, Δ> over every coordinate of every sample (normal equations for several directions, with an optional ridge on the mean squared residual); the student continues from its corrected state. x may be a list of batches (fitted in rounds; equals a fit on their union); exchange adds other processes' sums once per round through files in a shared folder. directions: 'previous' (D_k − D_{k−1}, the paper's), 'previous2', 'same_stage', 'noise', 'effective_eps' (iPNDM/DEIS, the reference code's variant). Returns a dode.Fit.") { a in
            let o = try a.options(1, allowed: fitKeys)
            guard let den = try o.denoiser("denoiser") else { throw o.fail("denoiser", "a dode.Denoiser") }
            guard let grid = try o.grid("grid") else { throw o.fail("grid", "a dode.Grid") }
            guard let solver = try o.solver("solver") else { throw o.fail("solver", "a dode.Solver") }
            let teacher = try o.solver("teacher")
            let xs: [Tensor] = try o.with("x") { i in
                if let t = LuaArgs.tensorAt(a.L, i) { return [t] }
                guard lua_type(a.L, i) == LUA_TTABLE else { throw o.fail("x", "a tensor or a list of tensors (batches)") }
                return try a.vm.tensorList(i, args: a)
            }
            let k = try o.int("k", in: 2...10_000, "an integer k ≥ 2") ?? 10
            var cfg = Distiller.Config()
            cfg.space = FitSpace(rawValue: try o.choice("space", ["data", "eps"]) ?? "data") ?? .data
            cfg.first = FirstEvaluation(rawValue: try o.choice("first", ["zero", "noise"]) ?? "zero") ?? .zero
            cfg.ridge = try o.number("ridge") ?? 0
            guard cfg.ridge >= 0, cfg.ridge.isFinite else { throw o.fail("ridge", "a non-negative number") }
            if o.has("directions") {
                cfg.directions = try o.with("directions") { i in
                    guard lua_type(a.L, i) == LUA_TTABLE else { throw o.fail("directions", "a list of direction names") }
                    let n = Int(lua_rawlen(a.L, i))
                    return try (0..<n).map { j in
                        lua_rawgeti(a.L, i, lua_Integer(j + 1))
                        defer { dode_pop(a.L, 1) }
                        guard lua_type(a.L, -1) == LUA_TSTRING, let d = Direction(rawValue: String(cString: dode_tostring(a.L, -1))) else {
                            throw o.fail("directions", "a list of: " + Direction.allCases.map(\.rawValue).joined(separator: ", "))
                        }
                        return d
                    }
                }
                guard !cfg.directions.isEmpty else { throw o.fail("directions", "a non-empty list") }
            }
            let cond = try o.labels("cond")
            let seed = try o.int("seed")
            let showProgress = try o.bool("progress") ?? false
            let distiller = try Distiller(solver: solver, config: cfg)
            let plan = try solver.plan(grid)
            let teach = teacher ?? Distiller.defaultTeacher(for: solver)
            // Targets: given, or from the teacher.
            var batches: [Distiller.Batch] = []
            if o.has("targets") {
                guard xs.count == 1 else { throw a.error("'targets' goes with a single batch x") }
                let ts: [Tensor] = try o.with("targets") { i in
                    guard lua_type(a.L, i) == LUA_TTABLE else { throw o.fail("targets", "a list of tensors (one per evaluation)") }
                    return try a.vm.tensorList(i, args: a)
                }
                batches.append(try distiller.batch(den: den, x: xs[0], grid: grid, targets: ts, cond: cond))
            } else {
                let line = ProgressLine(vm: a.vm)   // stderr lines; one updated display in a notebook
                for (bi, x) in xs.enumerated() {
                    let ts = try Distiller.targets(teacher: teach, den: den, x: x, grid: grid, student: plan, k: k, cond: cond) { done, total in
                        if showProgress {   // a terminal gets a line every 10%; a notebook a live display
                            line.report("teacher pass, batch \(bi + 1)/\(xs.count): \(done)/\(total) steps",
                                        major: done == total || done % Swift.max(1, total / 10) == 0)
                        }
                    }
                    batches.append(try distiller.batch(den: den, x: x, grid: grid, targets: ts, cond: cond))
                }
            }
            let exchange = try a.vm.fileExchange(o)
            try distiller.fit(batches, exchange: exchange)
            var meta: [String: Any] = ["solver": solver.summary, "teacher": o.has("targets") ? "given targets" : teach.summary,
                                       "k": k, "batch": xs.reduce(0) { $0 + ($1.shape.first ?? 0) }, "batches": xs.count,
                                       "grid": grid.origin, "dode_version": dodeVersion]
            if let seed { meta["seed"] = seed }
            a.vm.pushObject(FitBox(distiller.result(grid: grid, plan: plan, metadata: meta), base: solver), type: "dode.Fit")
            return 1
        }
        def("dode.distill.targets", "dode.distill.targets{solver =, denoiser =, x =, grid =, k = 10, teacher =, cond =}",
            "The teacher states at every landing point of the solver's plan on grid (a list of tensors, one per evaluation), computed on grid:refine(k) with stage points inserted.") { a in
            let o = try a.options(1, allowed: ["solver", "denoiser", "x", "grid", "k", "teacher", "cond"])
            guard let den = try o.denoiser("denoiser") else { throw o.fail("denoiser", "a dode.Denoiser") }
            guard let grid = try o.grid("grid") else { throw o.fail("grid", "a dode.Grid") }
            guard let x = try o.tensor("x") else { throw o.fail("x", "a tensor") }
            guard let solver = try o.solver("solver") else { throw o.fail("solver", "a dode.Solver") }
            let teacher = try o.solver("teacher")
            let ts = try Distiller.targets(teacher: teacher ?? Distiller.defaultTeacher(for: solver), den: den, x: x, grid: grid,
                                           student: try solver.plan(grid), k: try o.int("k", in: 2...10_000, "an integer k ≥ 2") ?? 10,
                                           cond: try o.labels("cond"))
            lua_createtable(a.L, Int32(ts.count), 0)
            for (i, t) in ts.enumerated() { a.vm.push(t); lua_rawseti(a.L, -2, lua_Integer(i + 1)) }
            return 1
        }
        def("dode.distill.teacher_grid", "dode.distill.teacher_grid(solver, grid, k)",
            "The grid a teacher runs on: grid:refine(k) with the solver's stage points inserted.") { a in
            let s = try a.solverObject(1), g = try a.grid(2), k = try a.int(3, in: 2...10_000, "an integer k ≥ 2")
            return a.push(try Distiller.teacherGrid(student: try s.plan(g), grid: g, k: k))
        }
        def("dode.distill.load", "dode.distill.load(path [, {solver =}])",
            "Reads a fit saved by fit:save. Built-in solvers are rebuilt from the file; for a solver written in Lua pass it as `solver`.") { a in
            let path = try a.string(1)
            let o = try a.options(2, allowed: ["solver"])
            let fit = try DODEFit.load(path: path)
            let base: Solver? = try o.with("solver") { i in
                if lua_type(a.L, i) <= LUA_TNIL { return try? SolverFactory.make(fit.solverName, fit.solverOptions) }
                guard let s = LuaVM.object(a.L, i, "dode.Solver", as: AnyObject.self) as? Solver else { throw o.fail("solver", "a dode.Solver") }
                return s
            }
            a.vm.pushObject(FitBox(fit, base: base), type: "dode.Fit")
            return 1
        }

        def("Fit:solver", "fit:solver([base])", "The D-variant: a dode.Solver with the same interface (sample, plan, start). Using it on another grid or schedule is an error that says what differs.") { a in
            let f = try a.fitBox(1)
            let base: Solver
            if a.isNil(2) {
                guard let b = f.base else { throw a.error("this fit's solver '\(f.fit.solverName)' is not built in; pass it: fit:solver(my_solver)") }
                base = b
            } else { base = try a.solverObject(2) }
            a.vm.pushObject(try f.fit.solver(base: base), type: "dode.Solver")
            return 1
        }
        def("Fit:save", "fit:save(path)", "Writes the fit as JSON (atomically): λ's, residuals, solver and options, grid, schedule, teacher, k, batch size, seed, dode version.") { a in
            try a.fitBox(1).fit.save(path: try a.string(2), version: dodeVersion); return 0
        }
        def("Fit:table", "fit:table()", "The coefficients and residuals as readable text.") { a in a.push(try a.fitBox(1).fit.table()) }
        def("Fit:__tostring", "tostring(fit)", "") { a in a.push(try a.fitBox(1).fit.table()) }
        def("Fit:__get", "fit.field", "") { a in
            let f = try a.fitBox(1).fit
            guard a.isString(2) else { return a.pushNil() }
            switch try a.string(2) {
            case "lambdas":
                if f.directions.count == 1 { return a.push(numbers: f.lambdas.map { $0[0] }) }
                lua_createtable(a.L, Int32(f.lambdas.count), 0)
                for (i, l) in f.lambdas.enumerated() { _ = a.push(numbers: l); lua_rawseti(a.L, -2, lua_Integer(i + 1)) }
                return 1
            case "residual_before": return a.push(numbers: f.residualBefore)
            case "residual_after": return a.push(numbers: f.residualAfter)
            case "nfe": return a.push(f.lambdas.count)
            case "space": return a.push(f.space.rawValue)
            case "first": return a.push(f.first.rawValue)
            case "directions":
                lua_createtable(a.L, Int32(f.directions.count), 0)
                for (i, d) in f.directions.enumerated() { lua_pushstring(a.L, d.rawValue); lua_rawseti(a.L, -2, lua_Integer(i + 1)) }
                return 1
            case "warnings":
                lua_createtable(a.L, Int32(f.warnings.count), 0)
                for (i, w) in f.warnings.enumerated() { lua_pushstring(a.L, w); lua_rawseti(a.L, -2, lua_Integer(i + 1)) }
                return 1
            case "solver_name": return a.push(f.solverName)
            case "metadata":
                let data = (try? JSONSerialization.data(withJSONObject: f.metadata.mapValues { "\($0)" })) ?? Data("{}".utf8)
                try a.vm.decodeJSON(data, source: "metadata")
                return 1
            default: return a.pushNil()
            }
        }
    }

    /// The file-based exchange of per-round sums between processes: each rank writes
    /// `<dir>/round-<k>-rank-<r>.json` atomically, waits for every rank's file, and adds them in
    /// rank order (so every process gets the same totals, bit for bit).
    func fileExchange(_ o: LuaOptions) throws -> ((Int, [[Double]], [Double], Double, Int) throws -> ([[Double]], [Double], Double, Int))? {
        guard o.has("exchange") else { return nil }
        let (dir, rank, world, timeout, tag): (String, Int, Int, Double, String) = try o.with("exchange") { i in
            guard lua_type(L, i) == LUA_TTABLE else { throw o.fail("exchange", "a table {dir =, rank =, world =}") }
            func field(_ k: String) -> Int32 { lua_getfield(L, i, k) }
            _ = field("dir"); let dir = lua_type(L, -1) == LUA_TSTRING ? String(cString: dode_tostring(L, -1)) : nil; dode_pop(L, 1)
            _ = field("rank"); let rank = LuaArgs.exactInt(L, -1) ?? -1; dode_pop(L, 1)
            _ = field("world"); let world = LuaArgs.exactInt(L, -1) ?? -1; dode_pop(L, 1)
            _ = field("timeout"); let to = lua_type(L, -1) == LUA_TNUMBER ? dode_tonumber(L, -1) : 600; dode_pop(L, 1)
            _ = field("tag"); let tag = lua_type(L, -1) == LUA_TSTRING ? String(cString: dode_tostring(L, -1)) : "fit"; dode_pop(L, 1)
            guard let dir, world >= 1, world <= 4096, rank >= 0, rank < world, to.isFinite, to > 0 else {
                throw o.fail("exchange", "{dir = folder, rank = 0..world-1, world = number of processes (1..4096), timeout = seconds > 0}")
            }
            guard tag.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) else {
                throw o.fail("exchange", "a tag of letters, digits, '_' and '-'")
            }
            return (dir, rank, world, to, tag)
        }
        return { k, G, r, rss, n in
            let mine: [String: Any] = ["G": G, "r": r, "rss": rss, "n": n]
            let data = Data(try JSONText.encode(mine, indent: false).utf8)
            try AtomicFile.write(data, to: "\(dir)/\(tag)-round-\(k)-rank-\(rank).json")
            var tot = (G.map { $0.map { _ in 0.0 } }, r.map { _ in 0.0 }, 0.0, 0)
            let start = Date()
            for q in 0..<world {
                let path = "\(dir)/\(tag)-round-\(k)-rank-\(q).json"
                var obj: [String: Any]? = nil
                while obj == nil {
                    if let d = FileManager.default.contents(atPath: path), let j = try? JSONSerialization.jsonObject(with: d) as? [String: Any] { obj = j; break }
                    if Date().timeIntervalSince(start) > timeout { throw CoreError("exchange: rank \(q) did not write round \(k + 1) within \(timeout) s (\(path))") }
                    usleep(5000)
                }
                guard let obj, let g = obj["G"] as? [[NSNumber]], let rr = obj["r"] as? [NSNumber],
                      let s = obj["rss"] as? NSNumber, let nn = obj["n"] as? NSNumber, g.count == G.count, rr.count == r.count else {
                    throw CoreError("exchange: '\(path)' is malformed")
                }
                for i in 0..<r.count { tot.1[i] += JSONText.double(rr[i]) ?? .nan; for j in 0..<r.count { tot.0[i][j] += JSONText.double(g[i][j]) ?? .nan } }
                tot.2 += JSONText.double(s) ?? .nan
                tot.3 += nn.intValue
            }
            return tot
        }
    }
}

extension LuaArgs {
    func fitBox(_ i: Int32) throws -> FitBox {
        guard let f = LuaVM.object(L, i, "dode.Fit", as: FitBox.self) else { throw fail(i, "a dode.Fit") }
        return f
    }
}
