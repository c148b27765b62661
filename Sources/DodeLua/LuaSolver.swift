import CLua
import DodeCore
import Foundation

/// A solver written in Lua (`dode.solver.define{...}`), usable wherever a built-in one is:
/// `plan(grid)` returns per-step orders (one evaluation per step) or a list of evaluations, and
/// `update(ctx)` returns the landing state for the prediction `ctx.D`. `update` must be affine
/// in ctx.D and free of side effects: the D-ODE fit calls it twice per evaluation.
final class LuaSolver: Solver {
    weak var vm: LuaVM?
    let name: String
    let planRef: Int32
    let updateRef: Int32
    let depth: Int
    let opts: [String: String]
    var options: [String: String] { opts }
    var historyDepth: Int { depth }

    init(vm: LuaVM, name: String, planRef: Int32, updateRef: Int32, depth: Int, options: [String: String]) {
        self.vm = vm
        self.name = name
        self.planRef = planRef
        self.updateRef = updateRef
        self.depth = depth
        self.opts = options
    }

    deinit {
        if let vm, !vm.closing { dode_unref(vm.L, planRef); dode_unref(vm.L, updateRef) }
    }

    func state() throws -> (LuaVM, OpaquePointer) {
        guard let vm else { throw CoreError("the Lua state of solver '\(name)' is gone") }
        return (vm, vm.L)
    }

    func plan(_ grid: Grid) throws -> Plan {
        let (vm, L) = try state()
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        _ = dode_rawgeti_registry(L, lua_Integer(planRef))
        vm.push(grid)
        if vm.callback(1, 1) != LUA_OK {
            throw vm.callbackError("solver '\(name)': plan")
        }
        guard lua_type(L, -1) == LUA_TTABLE else {
            throw CoreError("solver '\(name)': plan must return a table of orders or of evaluations " +
                            "(got \(LuaArgs.describe(L, -1)))")
        }
        let t = lua_gettop(L)
        let n = Int(lua_rawlen(L, t))
        lua_rawgeti(L, t, 1)
        let numbers = lua_type(L, -1) == LUA_TNUMBER
        dode_pop(L, 1)
        if numbers || n == 0 {
            guard let raw = LuaArgs.numberList(L, t), raw.count == grid.steps else {
                throw CoreError("solver '\(name)': plan must give one order per grid step (\(grid.steps))")
            }
            let orders = try raw.enumerated().map { i, v -> Int in
                guard let o = LuaArgs.exactInt(v), o >= 1, o <= 64 else {
                    throw CoreError("solver '\(name)': plan entry \(i + 1) must be an order in 1..64 " +
                                    "(got \(LuaArgs.formatNumber(v)))")
                }
                return o
            }
            return Plan(evaluations: (0..<grid.steps).map {
                Evaluation(step: $0, stage: 0, at: grid[$0], lands: grid[$0 + 1], order: orders[$0], final: true)
            }, stepOrders: orders)
        }
        var evs: [Evaluation] = []
        for i in 1...n {
            lua_rawgeti(L, t, lua_Integer(i))
            defer { dode_pop(L, 1) }
            guard lua_type(L, -1) == LUA_TTABLE else {
                throw CoreError("solver '\(name)': plan entry \(i) is not a table")
            }
            let e = lua_gettop(L)
            func field<T>(_ key: String, _ read: (Int32) -> T?) throws -> T {
                lua_getfield(L, e, key)
                defer { dode_pop(L, 1) }
                guard let v = read(lua_gettop(L)) else {
                    throw CoreError("solver '\(name)': plan entry \(i) lacks a valid '\(key)'")
                }
                return v
            }
            /// An optional integer field: absent gives `default`, present must be an exact integer.
            func optionalInt(_ key: String, _ default: Int) throws -> Int {
                lua_getfield(L, e, key)
                defer { dode_pop(L, 1) }
                if lua_type(L, -1) <= LUA_TNIL { return `default` }
                guard let v = LuaArgs.exactInt(L, lua_gettop(L)) else {
                    throw CoreError("solver '\(name)': plan entry \(i) has an invalid '\(key)' " +
                                    "(\(LuaArgs.describe(L, -1)))")
                }
                return v
            }
            let step = try field("step") { LuaArgs.exactInt(L, $0) }
            let stage = try optionalInt("stage", 1)
            let at = try field("at") { LuaVM.object(L, $0, "dode.Point", as: PointBox.self)?.p }
            let lands = try field("lands") { LuaVM.object(L, $0, "dode.Point", as: PointBox.self)?.p }
            let order = try optionalInt("order", 1)
            guard stage >= 1, stage <= 64, order >= 1, order <= 64 else {
                throw CoreError("solver '\(name)': plan entry \(i) needs stage and order in 1..64 " +
                                "(got stage \(stage), order \(order))")
            }
            lua_getfield(L, e, "final")
            let finalType = lua_type(L, -1), final = finalType == LUA_TBOOLEAN ? lua_toboolean(L, -1) != 0 : true
            dode_pop(L, 1)
            guard finalType <= LUA_TNIL || finalType == LUA_TBOOLEAN else {
                throw CoreError("solver '\(name)': plan entry \(i) has a non-boolean 'final'")
            }
            guard step >= 1 && step <= grid.steps else {
                throw CoreError("solver '\(name)': plan entry \(i) has step \(step), outside 1..\(grid.steps)")
            }
            evs.append(Evaluation(step: step - 1, stage: stage - 1, at: at, lands: lands, order: order, final: final))
        }
        let orders = (0..<grid.steps).map { s in evs.last { $0.step == s }?.order ?? 1 }
        return Plan(evaluations: evs, stepOrders: orders)
    }

    func update(_ k: Int, _ run: SolverRun) throws -> Update {
        .function { [unowned self] consumed in try self.callUpdate(k, run, consumed) }
    }

    /// Calls update(ctx) with ctx = {k, step, stage, order, at, lands, x, D, grid, prev(n)}.
    func callUpdate(_ k: Int, _ run: SolverRun, _ consumed: Tensor) throws -> Tensor {
        let (vm, L) = try state()
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        let e = run.evaluation(k)
        _ = dode_rawgeti_registry(L, lua_Integer(updateRef))
        lua_createtable(L, 0, 12)
        func setInt(_ key: String, _ v: Int) { lua_pushinteger(L, lua_Integer(v)); lua_setfield(L, -2, key) }
        setInt("k", k + 1); setInt("step", e.step + 1); setInt("stage", e.stage + 1); setInt("order", e.order)
        lua_pushboolean(L, e.final ? 1 : 0); lua_setfield(L, -2, "final")
        vm.push(e.at); lua_setfield(L, -2, "at")
        vm.push(e.lands); lua_setfield(L, -2, "lands")
        vm.push(try run.x(k)); lua_setfield(L, -2, "x")
        vm.push(consumed); lua_setfield(L, -2, "D")
        vm.push(run.grid); lua_setfield(L, -2, "grid")
        // prev: a table of earlier evaluations {x=, D=, at=} indexed 1 = previous, 2 = the one before, ...
        lua_createtable(L, Int32(depth), 0)
        var n = 1
        while n <= depth && k - n >= 0 {
            guard let x = try? run.x(k - n), let d = try? run.d(k - n) else { break }
            lua_createtable(L, 0, 3)
            vm.push(x); lua_setfield(L, -2, "x")
            vm.push(d); lua_setfield(L, -2, "D")
            vm.push(run.evaluation(k - n).at); lua_setfield(L, -2, "at")
            lua_rawseti(L, -2, lua_Integer(n))
            n += 1
        }
        lua_setfield(L, -2, "prev")
        if vm.callback(1, 1) != LUA_OK {
            throw vm.callbackError("solver '\(name)': update")
        }
        guard let t = LuaArgs.tensorAt(L, -1) else {
            throw CoreError("solver '\(name)': update must return a tensor (got \(LuaArgs.describe(L, -1)))")
        }
        return t
    }
}
