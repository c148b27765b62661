import CLua
import DodeCore
import Foundation

/// A solver run driven from Lua, evaluation by evaluation.
final class StepperBox {
    let run: SolverRun
    init(_ run: SolverRun) { self.run = run }
}

/// `dode.solver.*`, solver methods and the stepper.
extension LuaVM {
    func installSolverBindings() {
        doc("dode.solver", "dode.solver", "ODE solvers: "
            + SolverCatalog.entries.map(\.name).joined(separator: ", ")
            + ", make(name, opts), list(), and define (a solver written in Lua). "
            + "Each has :sample(den, x, grid, opts), :plan(grid), :start(grid, x).")
        for entry in SolverCatalog.entries {
            def("dode.solver.\(entry.name)", entry.signature, LuaVM.solverHelp(entry)) { a in
                let o = try a.options(1, allowed: entry.options.map(\.name))
                a.vm.pushObject(try entry.make(try a.solverOptions(o, entry)), type: "dode.Solver")
                return 1
            }
        }
        def("dode.solver.make", "dode.solver.make(name [, opts])", """
            The built-in solver `name` with options `opts` (as its constructor takes them): \
            dode.solver.make('dpmpp', {order = 3}) is dode.solver.dpmpp{order = 3}.
            """) { a in
            let name = try a.string(1)
            guard let entry = SolverCatalog.entry(name) else {
                throw a.fail(1, "the name of a built-in solver (" +
                                SolverCatalog.entries.map(\.name).joined(separator: ", ") + ")")
            }
            let o = try a.options(2, allowed: entry.options.map(\.name))
            a.vm.pushObject(try entry.make(try a.solverOptions(o, entry)), type: "dode.Solver")
            return 1
        }
        def("dode.solver.list", "dode.solver.list()", """
            The built-in solvers, in catalogue order: a list of {name =, help =, teaches_itself =, options = \
            {{name =, default =, accepts =, help =}, ...}}.
            """) { a in
            let L = a.L
            lua_createtable(L, Int32(SolverCatalog.entries.count), 0)
            for (i, e) in SolverCatalog.entries.enumerated() {
                lua_createtable(L, 0, 4)
                lua_pushstring(L, e.name); lua_setfield(L, -2, "name")
                lua_pushstring(L, e.help); lua_setfield(L, -2, "help")
                lua_pushboolean(L, e.teachesItself ? 1 : 0); lua_setfield(L, -2, "teaches_itself")
                lua_createtable(L, Int32(e.options.count), 0)
                for (j, opt) in e.options.enumerated() {
                    lua_createtable(L, 0, 4)
                    lua_pushstring(L, opt.name); lua_setfield(L, -2, "name")
                    a.vm.push(optionValue: opt.defaultValue); lua_setfield(L, -2, "default")
                    lua_pushstring(L, opt.expected); lua_setfield(L, -2, "accepts")
                    lua_pushstring(L, opt.help); lua_setfield(L, -2, "help")
                    lua_rawseti(L, -2, lua_Integer(j + 1))
                }
                lua_setfield(L, -2, "options")
                lua_rawseti(L, -2, lua_Integer(i + 1))
            }
            return 1
        }
        def("dode.solver.define",
            "dode.solver.define{name =, plan = function(grid) ... end, update = function(ctx) ... end, " +
            "history = 4, options = {}}", """
            A solver written in Lua. plan(grid) returns one order per step (one evaluation each) or a list \
            of evaluations {step =, stage =, at = point, lands = point, order =, final =} (1-based). \
            update(ctx) returns the landing state, given ctx = {k, step, stage, order, final, at, lands, x, \
            D, grid, prev = {{x =, D =, at =}, ...}} (prev[1] is the previous evaluation). update must be \
            affine in ctx.D and have no side effects (D-ODE calls it twice).
            """) { a in
            let o = try a.options(1, allowed: ["name", "plan", "update", "history", "options"])
            guard let name = try o.string("name") else { throw o.fail("name", "a string") }
            let planRef: Int32 = try o.with("plan") { i in
                guard lua_type(a.L, i) == LUA_TFUNCTION else { throw o.fail("plan", "a function(grid)") }
                lua_pushvalue(a.L, i); return dode_ref(a.L)
            }
            let updateRef: Int32 = try o.with("update") { i in
                guard lua_type(a.L, i) == LUA_TFUNCTION else {
                    dode_unref(a.L, planRef)
                    throw o.fail("update", "a function(ctx)")
                }
                lua_pushvalue(a.L, i); return dode_ref(a.L)
            }
            var opts: [String: String] = [:]
            try o.with("options") { i in
                if lua_type(a.L, i) == LUA_TTABLE {
                    lua_pushnil(a.L)
                    while lua_next(a.L, i) != 0 {
                        if lua_type(a.L, -2) == LUA_TSTRING {
                            var len = 0
                            opts[String(cString: dode_tostring(a.L, -2))] =
                                dode_tolstring_meta(a.L, -1, &len).map { String(cString: $0) } ?? "?"
                            dode_pop(a.L, 1)
                        }
                        dode_pop(a.L, 1)
                    }
                } else if lua_type(a.L, i) != LUA_TNIL { throw o.fail("options", "a table") }
            }
            a.vm.pushObject(LuaSolver(vm: a.vm, name: name, planRef: planRef, updateRef: updateRef,
                                      depth: try o.int("history", in: 1...64, "an integer in 1..64") ?? 4,
                                      options: opts), type: "dode.Solver")
            return 1
        }

        def("Solver:sample", "solver:sample(den, x, grid [, {callback =, keep =, cond =}])", """
            Runs the solver from x (the schedule's space) along grid and returns the final state (a new \
            tensor; x is untouched). callback(step) receives {i, nfe, t, s, x, denoised, order} after every \
            grid step (i 1-based). keep = true or a list of 1-based grid indices returns, as a second \
            result, a table of the states at those points.
            """) { a in
            let s = try a.solverObject(1), den = try a.denoiser(2), x = try a.tensor(3), g = try a.grid(4)
            let o = try a.options(5, allowed: ["callback", "keep", "cond"])
            let keep = try a.vm.keepSet(o, grid: g)
            let cond = try o.with("cond") { i -> Tensor? in
                if lua_type(a.L, i) <= LUA_TNIL { return nil }
                if lua_type(a.L, i) == LUA_TNUMBER { return Tensor.scalar(dode_tonumber(a.L, i)) }
                guard let t = LuaArgs.tensorAt(a.L, i) else {
                    throw o.fail("cond", "class labels (a number or a tensor)")
                }
                return t
            }
            let cb = try a.vm.callbackRef(o, "callback")
            defer { if let cb { dode_unref(a.L, cb) } }
            let (out, kept) = try Sampler.sample(s, den, x, g, cond: cond, keep: keep, callback: cb.map { ref in
                { info in try a.vm.callStepCallback(ref, info) }
            })
            _ = a.push(out)
            if keep.isEmpty { return 1 }
            lua_createtable(a.L, 0, Int32(kept.count))
            for (i, t) in kept { a.vm.push(t); lua_rawseti(a.L, -2, lua_Integer(i + 1)) }
            return 2
        }
        def("Solver:plan", "solver:plan(grid)", """
            The per-step orders and evaluations on grid: {orders = {...}, nfe = n, evaluations = {{step, \
            stage, t, s, lands_t, lands_s, order, final}, ...}} (1-based).
            """) { a in
            let s = try a.solverObject(1), g = try a.grid(2)
            a.vm.pushPlan(try s.plan(g), solver: s)
            return 1
        }
        def("Solver:start", "solver:start(grid, x)", """
            A stepper for driving the solver from a Lua loop, evaluation by evaluation: while not st:done() \
            do st:step(den(st:x(), st:point())) end. Gives bit-identical results to solver:sample.
            """) { a in
            let s = try a.solverObject(1), g = try a.grid(2), x = try a.tensor(3)
            a.vm.pushObject(StepperBox(try SolverRun(solver: s, grid: g, x: x)), type: "dode.Stepper")
            return 1
        }
        def("Solver:name", "solver:name()", "The solver's name.") { a in a.push(try a.solverObject(1).name) }
        def("Solver:options", "solver:options()", "The options that define the solver (strings).") { a in
            let s = try a.solverObject(1)
            lua_createtable(a.L, 0, Int32(s.options.count))
            for (k, v) in s.options { lua_pushstring(a.L, v); lua_setfield(a.L, -2, k) }
            return 1
        }
        def("Solver:__tostring", "tostring(solver)", "") { a in
            a.push("dode.Solver " + (try a.solverObject(1)).summary)
        }

        // Stepper
        def("Stepper:done", "st:done()", "True when every evaluation of the plan has been consumed.") { a in
            a.push(try a.stepper(1).run.done)
        }
        def("Stepper:point", "st:point()", "The point of the next evaluation.") { a in
            let r = try a.stepper(1).run
            guard let e = r.next else { throw a.error("the run is finished") }
            return a.push(e.at)
        }
        def("Stepper:x", "st:x()",
            "The current state (where the next evaluation happens; the result once done).") { a in
            a.push(try a.stepper(1).run.state)
        }
        def("Stepper:k", "st:k()", "Number of evaluations consumed so far.") { a in a.push(try a.stepper(1).run.k) }
        def("Stepper:evaluation", "st:evaluation()", """
            The next evaluation: {step, stage, order, final, at, lands} (1-based).
            """) { a in
            let r = try a.stepper(1).run
            guard let e = r.next else { throw a.error("the run is finished") }
            a.vm.pushEvaluation(e); return 1
        }
        def("Stepper:buffer", "st:buffer()", """
            A state-shaped buffer the run lends for the next prediction: st:step(den:into(st:buffer(), \
            st:x(), st:point())) allocates nothing and copies nothing. Any other D given to st:step is \
            copied, since the loop may overwrite it while the run still needs it.
            """) { a in
            let r = try a.stepper(1).run
            guard !r.done else { throw a.error("the run is finished") }
            return a.push(try r.predictionBuffer())
        }
        def("Stepper:step", "st:step(D)", """
            Consumes the prediction D for the next evaluation (den(st:x(), st:point()), or any x0 prediction \
            you computed) and advances. Returns the new state. The run keeps a copy of D unless D is the \
            buffer st:buffer() lent for this evaluation; writing into a buffer lent for an earlier \
            evaluation is an error.
            """) { a in
            let r = try a.stepper(1).run, d = try a.tensor(2)
            // The Lua side may reuse D's buffer for the next evaluation (den:into).
            return a.push(try r.step(d, borrowed: true))
        }
    }

    func keepSet(_ o: LuaOptions, grid g: Grid) throws -> Set<Int> {
        try o.with("keep") { i -> Set<Int> in
            switch lua_type(L, i) {
            case LUA_TNIL, LUA_TNONE: return []
            case LUA_TBOOLEAN: return lua_toboolean(L, i) != 0 ? Set(0..<g.count) : []
            case LUA_TTABLE:
                guard let v = LuaArgs.numberList(L, i) else { throw o.fail("keep", "true or a list of grid indices") }
                return Set(try v.map { x in
                    guard x == x.rounded(), x >= 1, x <= Double(g.count) else {
                        throw o.fail("keep", "grid indices in 1..\(g.count)")
                    }
                    return Int(x) - 1
                })
            default: throw o.fail("keep", "true or a list of grid indices")
            }
        }
    }

    func callbackRef(_ o: LuaOptions, _ key: String) throws -> Int32? {
        try o.with(key) { i -> Int32? in
            if lua_type(L, i) <= LUA_TNIL { return nil }
            guard lua_type(L, i) == LUA_TFUNCTION else { throw o.fail(key, "a function") }
            lua_pushvalue(L, i)
            return dode_ref(L)
        }
    }

    /// Calls a step callback with {i, nfe, t, s, x, denoised, order}.
    func callStepCallback(_ ref: Int32, _ info: Sampler.StepInfo) throws {
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        _ = dode_rawgeti_registry(L, lua_Integer(ref))
        lua_createtable(L, 0, 8)
        lua_pushinteger(L, lua_Integer(info.step + 1)); lua_setfield(L, -2, "i")
        lua_pushinteger(L, lua_Integer(info.nfe)); lua_setfield(L, -2, "nfe")
        if let t = info.point.t { lua_pushnumber(L, t); lua_setfield(L, -2, "t") }
        lua_pushnumber(L, info.point.s); lua_setfield(L, -2, "s")
        push(info.point); lua_setfield(L, -2, "point")
        push(info.x); lua_setfield(L, -2, "x")
        push(info.denoised); lua_setfield(L, -2, "denoised")
        lua_pushinteger(L, lua_Integer(info.order)); lua_setfield(L, -2, "order")
        if callback(1, 0) != LUA_OK {
            throw callbackError("the callback")
        }
    }

    func pushEvaluation(_ e: Evaluation) {
        lua_createtable(L, 0, 9)
        lua_pushinteger(L, lua_Integer(e.step + 1)); lua_setfield(L, -2, "step")
        lua_pushinteger(L, lua_Integer(e.stage + 1)); lua_setfield(L, -2, "stage")
        lua_pushinteger(L, lua_Integer(e.order)); lua_setfield(L, -2, "order")
        lua_pushboolean(L, e.final ? 1 : 0); lua_setfield(L, -2, "final")
        push(e.at); lua_setfield(L, -2, "at")
        push(e.lands); lua_setfield(L, -2, "lands")
        if let t = e.at.t { lua_pushnumber(L, t); lua_setfield(L, -2, "t") }
        lua_pushnumber(L, e.at.s); lua_setfield(L, -2, "s")
        lua_pushnumber(L, e.lands.s); lua_setfield(L, -2, "lands_s")
    }

    /// A plan as a Lua table with a readable __tostring.
    func pushPlan(_ p: Plan, solver: Solver) {
        lua_createtable(L, 0, 4)
        lua_createtable(L, Int32(p.stepOrders.count), 0)
        for (i, o) in p.stepOrders.enumerated() {
            lua_pushinteger(L, lua_Integer(o))
            lua_rawseti(L, -2, lua_Integer(i + 1))
        }
        lua_setfield(L, -2, "orders")
        lua_pushinteger(L, lua_Integer(p.nfe)); lua_setfield(L, -2, "nfe")
        lua_createtable(L, Int32(p.nfe), 0)
        for (i, e) in p.evaluations.enumerated() { pushEvaluation(e); lua_rawseti(L, -2, lua_Integer(i + 1)) }
        lua_setfield(L, -2, "evaluations")
        let text = "plan of \(solver.summary): \(p.stepOrders.count) steps, NFE \(p.nfe), orders " +
            p.stepOrders.map(String.init).joined(separator: " ")
        lua_pushstring(L, text); lua_setfield(L, -2, "summary")
        if dode_newmetatable(L, "dode.PlanTable") != 0 {
            let code = "return function(t) return t.summary end"
            _ = code.withCString { dode_loadbuffer(L, $0, strlen($0), "=dode.plan") }
            _ = dode_pcall(L, 0, 1, 0)
            lua_setfield(L, -2, "__tostring")
        }
        lua_setmetatable(L, -2)
    }
}

extension LuaVM {
    /// A constructor's help: the entry's text, then one line per option.
    static func solverHelp(_ e: SolverEntry) -> String {
        e.help + e.options.map { " \($0.name) (\($0.expected), default \($0.defaultValue)): \($0.help)." }.joined()
    }

    func push(optionValue v: SolverOptionValue) {
        switch v {
        case .int(let i): lua_pushinteger(L, lua_Integer(i))
        case .string(let s): lua_pushstring(L, s)
        case .bool(let b): lua_pushboolean(L, b ? 1 : 0)
        }
    }
}

extension LuaArgs {
    /// The options of a built-in solver's constructor, read by its catalogue schema.
    func solverOptions(_ o: LuaOptions, _ entry: SolverEntry) throws -> [String: SolverOptionValue] {
        var out: [String: SolverOptionValue] = [:]
        for opt in entry.options where o.has(opt.name) {
            switch opt.kind {
            case .integer(let r): out[opt.name] = .int(try o.int(opt.name, in: r, opt.expected) ?? 0)
            case .choice(let c): out[opt.name] = .string(try o.choice(opt.name, c) ?? "")
            case .boolean: out[opt.name] = .bool(try o.bool(opt.name) ?? false)
            }
        }
        return out
    }

    func solverObject(_ i: Int32) throws -> Solver {
        guard let s = LuaVM.object(L, i, "dode.Solver", as: AnyObject.self) as? Solver else {
            throw fail(i, "a dode.Solver")
        }
        return s
    }
    func stepper(_ i: Int32) throws -> StepperBox {
        guard let s = LuaVM.object(L, i, "dode.Stepper", as: StepperBox.self) else { throw fail(i, "a dode.Stepper") }
        return s
    }
}
