import CLua
import DodeTensor

/// Userdata types: a Swift object retained by a full userdata that holds its pointer.
/// The metatable is protected (`__metatable`), and `__gc` releases the object exactly once.
enum LuaTypes {
    static let tensor = "dode.Tensor"
    static let generator = "dode.Generator"
    /// Every userdata type: the short name used in binding names (`Grid:refine`) and the
    /// metatable name (`dode.Grid`, also its `__name`).
    static let all: [(short: String, meta: String)] = [
        ("Tensor", "dode.Tensor"), ("Generator", "dode.Generator"), ("Schedule", "dode.Schedule"),
        ("Grid", "dode.Grid"), ("Point", "dode.Point"), ("Denoiser", "dode.Denoiser"),
        ("Solver", "dode.Solver"), ("Fit", "dode.Fit"), ("Stepper", "dode.Stepper"),
    ]
}

/// Releases the Swift object of a userdata (the `__gc` metamethod of every dode type).
private let releaseUserdata: lua_CFunction = { L in
    guard let L, let p = lua_touserdata(L, 1) else { return 0 }
    if let raw = p.load(as: UnsafeRawPointer?.self) {
        Unmanaged<AnyObject>.fromOpaque(raw).release()
        p.storeBytes(of: nil, as: UnsafeRawPointer?.self)
    }
    return 0
}

extension LuaVM {
    /// Pushes a Swift object as a new userdata with the named metatable.
    func pushObject(_ object: AnyObject, type: String) {
        let p = dode_newuserdata(L, MemoryLayout<UnsafeRawPointer?>.size)!
        p.storeBytes(of: UnsafeRawPointer(Unmanaged.passRetained(object).toOpaque()), as: UnsafeRawPointer?.self)
        dode_setmetatable(L, type)
    }

    /// Pushes a tensor, telling the collector about its storage's bytes the first time that
    /// storage reaches Lua, so loops that allocate many tensors do not grow the heap without
    /// bound (docs/design.md §4.4). A storage pushed again (a stepper's state at every evaluation) is not
    /// counted again: that made every evaluation run a collection step of several MB.
    public func push(_ t: Tensor) {
        pushObject(t, type: LuaTypes.tensor)
        if t.storage.reportedToCollector {
            gcDebt += 64
        } else {
            t.storage.reportedToCollector = true
            gcDebt += t.storage.count * t.dtype.size + 64
        }
        if gcDebt >= 256 * 1024 {
            _ = dode_gc_step(L, Int32(min(gcDebt / 1024, Int(Int32.max))))
            gcDebt = 0
        }
    }

    func push(_ g: Generator) { pushObject(g, type: LuaTypes.generator) }

    /// The Swift object behind a userdata of metatable `type`, if it is one.
    static func object<T>(_ L: OpaquePointer, _ i: Int32, _ type: String, as _: T.Type) -> T? {
        guard let p = dode_testudata(L, i, type), let raw = p.load(as: UnsafeRawPointer?.self) else { return nil }
        return Unmanaged<AnyObject>.fromOpaque(raw).takeUnretainedValue() as? T
    }

    /// Creates the metatables of the userdata types (methods are added by `installModule`).
    func installTypes() {
        for (_, name) in LuaTypes.all {
            _ = dode_newmetatable(L, name)
            lua_pushcclosure(L, releaseUserdata, 0)
            lua_setfield(L, -2, "__gc")
            lua_pushstring(L, name)
            lua_setfield(L, -2, "__metatable")
            dode_pop(L, 1)
        }
    }
}

extension LuaArgs {
    public func push(_ t: Tensor) -> Int32 { vm.push(t); return 1 }
    public func push(_ v: Double) -> Int32 { lua_pushnumber(L, v); return 1 }
    public func push(_ v: Int) -> Int32 { lua_pushinteger(L, lua_Integer(v)); return 1 }
    public func push(_ v: Bool) -> Int32 { lua_pushboolean(L, v ? 1 : 0); return 1 }
    public func push(_ s: String) -> Int32 { lua_pushstring(L, s); return 1 }
    public func pushNil() -> Int32 { lua_pushnil(L); return 1 }

    /// Pushes an array of integers as a Lua sequence.
    public func push(ints: [Int]) -> Int32 {
        lua_createtable(L, Int32(ints.count), 0)
        for (i, v) in ints.enumerated() { lua_pushinteger(L, lua_Integer(v)); lua_rawseti(L, -2, lua_Integer(i + 1)) }
        return 1
    }

    /// Pushes an array of numbers as a Lua sequence.
    public func push(numbers: [Double]) -> Int32 {
        lua_createtable(L, Int32(numbers.count), 0)
        for (i, v) in numbers.enumerated() { lua_pushnumber(L, v); lua_rawseti(L, -2, lua_Integer(i + 1)) }
        return 1
    }
}
