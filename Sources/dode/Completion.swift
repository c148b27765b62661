import CLua
import DodeLua

/// Completion for the notebook kernel: the REPL's dotted names (`dode.sch` → `dode.schedule`)
/// plus the methods of an object after a colon (`x:no` → `x:norm`), found through its own
/// function fields and its metatable's `__index` chain (dode's userdata types name their methods
/// table, `dode.Tensor`, in `__name`). Only raw table access: nothing user-defined runs.
enum Completion {
    static func matches(for text: String, vm: LuaVM) -> [String] {
        guard let colon = text.lastIndex(of: ":") else { return REPL.completions(for: text, vm: vm) }
        let path = String(text[..<colon]), prefix = String(text[text.index(after: colon)...])
        guard !path.isEmpty, !path.contains(":") else { return [] }
        return methods(of: path, vm: vm).filter { $0.hasPrefix(prefix) }.map { path + ":" + $0 }
    }

    /// Names of the functions callable as `value:name()` for the value at a dotted global path.
    static func methods(of path: String, vm: LuaVM) -> [String] {
        let L = vm.L
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        dode_pushglobaltable(L)
        for p in path.split(separator: ".", omittingEmptySubsequences: false) {
            guard lua_type(L, -1) == LUA_TTABLE else { return [] }
            lua_pushstring(L, String(p))
            lua_rawget(L, -2)
        }
        var names = Set<String>()
        func addFunctions(_ idx: Int32) {
            let t = lua_absindex(L, idx)
            lua_pushnil(L)
            while lua_next(L, t) != 0 {
                if lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TFUNCTION {
                    let k = String(cString: dode_tostring(L, -2))
                    if !k.hasPrefix("_") { names.insert(k) }
                }
                dode_pop(L, 1)
            }
        }
        var cur = lua_gettop(L)
        if lua_type(L, cur) == LUA_TTABLE { addFunctions(cur) }
        for _ in 0..<8 {
            guard lua_getmetatable(L, cur) != 0 else { break }
            let mt = lua_gettop(L)
            lua_pushstring(L, "__index")
            lua_rawget(L, mt)
            if lua_type(L, -1) == LUA_TTABLE {
                addFunctions(-1)
                cur = lua_gettop(L)
                continue
            }
            lua_pushstring(L, "__name")
            lua_rawget(L, mt)
            if lua_type(L, -1) == LUA_TSTRING {
                let name = String(cString: dode_tostring(L, -1))
                if name.hasPrefix("dode.") {
                    dode_pushglobaltable(L)
                    lua_pushstring(L, "dode"); lua_rawget(L, -2)
                    if lua_type(L, -1) == LUA_TTABLE {
                        lua_pushstring(L, String(name.dropFirst(5))); lua_rawget(L, -2)
                        if lua_type(L, -1) == LUA_TTABLE { addFunctions(-1) }
                    }
                }
            }
            break
        }
        return names.sorted()
    }
}
