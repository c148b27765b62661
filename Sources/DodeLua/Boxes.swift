import CLua
import DodeCore

/// Reference wrappers that let value types live in Lua userdata.
final class PointBox { let p: Point; init(_ p: Point) { self.p = p } }
final class GridBox { let g: Grid; init(_ g: Grid) { self.g = g } }

extension LuaVM {
    func push(_ p: Point) { pushObject(PointBox(p), type: "dode.Point") }
    func push(_ g: Grid) { pushObject(GridBox(g), type: "dode.Grid") }
    func push(_ s: Schedule) { pushObject(s, type: "dode.Schedule") }
    func push(denoiser d: Denoiser) { pushObject(d, type: "dode.Denoiser") }
}

extension LuaArgs {
    public func schedule(_ i: Int32) throws -> Schedule {
        guard let s = LuaVM.object(L, i, "dode.Schedule", as: Schedule.self) else { throw fail(i, "a dode.Schedule") }
        return s
    }
    public func point(_ i: Int32) throws -> Point {
        guard let b = LuaVM.object(L, i, "dode.Point", as: PointBox.self) else { throw fail(i, "a dode.Point") }
        return b.p
    }
    public func grid(_ i: Int32) throws -> Grid {
        guard let b = LuaVM.object(L, i, "dode.Grid", as: GridBox.self) else { throw fail(i, "a dode.Grid") }
        return b.g
    }
    public func denoiser(_ i: Int32) throws -> Denoiser {
        guard let d = LuaVM.object(L, i, "dode.Denoiser", as: AnyObject.self) as? Denoiser else {
            throw fail(i, "a dode.Denoiser")
        }
        return d
    }
    public func push(_ p: Point) -> Int32 { vm.push(p); return 1 }
    public func push(_ g: Grid) -> Int32 { vm.push(g); return 1 }
}

extension LuaOptions {
    public func schedule(_ key: String) throws -> Schedule? {
        try with(key) { i in
            if lua_type(L, i) <= LUA_TNIL { return nil }
            guard let s = LuaVM.object(L, i, "dode.Schedule", as: Schedule.self) else {
                throw fail(key, "a dode.Schedule")
            }
            return s
        }
    }
    public func denoiser(_ key: String) throws -> Denoiser? {
        try with(key) { i in
            if lua_type(L, i) <= LUA_TNIL { return nil }
            guard let d = LuaVM.object(L, i, "dode.Denoiser", as: AnyObject.self) as? Denoiser else {
                throw fail(key, "a dode.Denoiser")
            }
            return d
        }
    }
    public func grid(_ key: String) throws -> Grid? {
        try with(key) { i in
            if lua_type(L, i) <= LUA_TNIL { return nil }
            guard let g = LuaVM.object(L, i, "dode.Grid", as: GridBox.self) else { throw fail(key, "a dode.Grid") }
            return g.g
        }
    }
    public func point(_ key: String) throws -> Point? {
        try with(key) { i in
            if lua_type(L, i) <= LUA_TNIL { return nil }
            guard let g = LuaVM.object(L, i, "dode.Point", as: PointBox.self) else { throw fail(key, "a dode.Point") }
            return g.p
        }
    }
    /// A solver option (nil when absent).
    public func solver(_ key: String) throws -> Solver? {
        try with(key) { i in
            if lua_type(L, i) <= LUA_TNIL { return nil }
            guard let s = LuaVM.object(L, i, "dode.Solver", as: AnyObject.self) as? Solver else {
                throw fail(key, "a dode.Solver")
            }
            return s
        }
    }

    /// Class labels: a number (one label for all samples) or a tensor of labels.
    public func labels(_ key: String) throws -> Tensor? {
        try with(key) { i in
            if lua_type(L, i) <= LUA_TNIL { return nil }
            if lua_type(L, i) == LUA_TNUMBER { return Tensor.scalar(dode_tonumber(L, i)) }
            guard let t = LuaArgs.tensorAt(L, i) else {
                throw fail(key, "a class label (a number) or a tensor of labels")
            }
            return t
        }
    }

    /// A list of numbers (a Lua sequence or a 1-D tensor).
    public func numbers(_ key: String) throws -> [Double]? {
        try with(key) { i in
            if lua_type(L, i) <= LUA_TNIL { return nil }
            if let t = LuaArgs.tensorAt(L, i) { return t.toArray() }
            guard lua_type(L, i) == LUA_TTABLE else { throw fail(key, "a table of numbers or a tensor") }
            return try LuaArgs.numberList(L, i) ?? { throw fail(key, "a table of numbers or a tensor") }()
        }
    }
}

extension LuaArgs {
    /// The numbers of a Lua sequence, or nil when an entry is not a number.
    static func numberList(_ L: OpaquePointer, _ i: Int32) -> [Double]? {
        let n = Int(lua_rawlen(L, i))
        var out: [Double] = []
        out.reserveCapacity(n)
        for k in 0..<n {
            lua_rawgeti(L, i, lua_Integer(k + 1))
            let ok = lua_type(L, -1) == LUA_TNUMBER
            let v = ok ? dode_tonumber(L, -1) : 0
            dode_pop(L, 1)
            if !ok { return nil }
            out.append(v)
        }
        return out
    }

    /// A list of numbers at argument i (a sequence or a tensor).
    public func numbers(_ i: Int32) throws -> [Double] {
        if let t = LuaArgs.tensorAt(L, i) { return t.toArray() }
        guard isTable(i), let v = LuaArgs.numberList(L, i) else { throw fail(i, "a table of numbers or a tensor") }
        return v
    }
}
