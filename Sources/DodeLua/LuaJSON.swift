import CLua
import DodeTensor
import Foundation

/// JSON ⇄ Lua values. Objects become tables, arrays sequences, `null` the sentinel
/// `dode.json.null` (a light userdata). Encoding sorts object keys, writes integers exactly and
/// floats with 17 significant digits, turns tensors into nested arrays, and rejects NaN/inf,
/// cycles and mixed tables.
extension LuaVM {
    /// Pushes the Lua value for a Foundation JSON object.
    func pushJSON(_ v: Any) throws {
        // Each nesting level holds a table and a value on the Lua stack: make room first.
        guard lua_checkstack(L, 4) != 0 else { throw TensorError("JSON nested too deeply for the Lua stack") }
        switch v {
        case let s as String: lua_pushstring(L, s)
        case let n as NSNumber:
            switch String(cString: n.objCType) {
            case "c", "B": lua_pushboolean(L, n.boolValue ? 1 : 0)
            case "d", "f": lua_pushnumber(L, JSONText.double(n) ?? n.doubleValue)
            default: lua_pushinteger(L, lua_Integer(n.int64Value))
            }
        case let arr as [Any]:
            lua_createtable(L, Int32(arr.count), 0)
            for (i, x) in arr.enumerated() { try pushJSON(x); lua_rawseti(L, -2, lua_Integer(i + 1)) }
        case let obj as [String: Any]:
            lua_createtable(L, 0, Int32(obj.count))
            for (k, x) in obj { try pushJSON(x); lua_setfield(L, -2, k) }
        default: lua_pushlightuserdata(L, nil)
        }
    }

    /// Decodes JSON text and pushes the value; errors name `source`.
    func decodeJSON(_ data: Data, source: String) throws {
        let obj: Any
        do { obj = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) }
        catch {
            let why = (error as NSError).userInfo["NSDebugDescription"] ?? error.localizedDescription
            throw TensorError("invalid JSON in \(source): \(why)")
        }
        try pushJSON(obj)
    }

    /// Encodes the Lua value at `idx` as JSON text.
    func encodeJSON(_ idx: Int32, indent: Bool) throws -> String {
        var out = ""
        var seen = Set<UnsafeRawPointer>()
        try encodeValue(lua_absindex(L, idx), indent: indent, level: 0, seen: &seen, out: &out)
        return out
    }

    private func encodeValue(_ i: Int32, indent: Bool, level: Int, seen: inout Set<UnsafeRawPointer>,
                             out: inout String) throws {
        switch lua_type(L, i) {
        case LUA_TNIL: out += "null"
        case LUA_TLIGHTUSERDATA where lua_touserdata(L, i) == nil: out += "null"
        case LUA_TBOOLEAN: out += lua_toboolean(L, i) != 0 ? "true" : "false"
        case LUA_TNUMBER:
            if dode_isinteger(L, i) != 0 { out += String(dode_tointeger(L, i)) }
            else {
                let v = dode_tonumber(L, i)
                guard v.isFinite else { throw TensorError("cannot encode \(LuaArgs.formatNumber(v)) in JSON") }
                out += try JSONText.encode(v)
            }
        case LUA_TSTRING:
            var len = 0
            let p = lua_tolstring(L, i, &len)!
            out += JSONText.jsonString(String(decoding: UnsafeRawBufferPointer(start: p, count: len), as: UTF8.self))
        case LUA_TUSERDATA:
            guard let t = LuaArgs.tensorAt(L, i) else {
                throw TensorError("cannot encode \(LuaArgs.describe(L, i)) in JSON")
            }
            pushNested(t)
            defer { dode_pop(L, 1) }
            try encodeValue(lua_gettop(L), indent: indent, level: level, seen: &seen, out: &out)
        case LUA_TTABLE:
            guard level < 200 else { throw TensorError("cannot encode tables nested deeper than 200 levels in JSON") }
            guard lua_checkstack(L, 4) != 0 else { throw TensorError("JSON nested too deeply for the Lua stack") }
            let ptr = lua_topointer(L, i)!
            guard !seen.contains(ptr) else { throw TensorError("cannot encode a table that contains itself in JSON") }
            seen.insert(ptr)
            defer { seen.remove(ptr) }
            let n = Int(lua_rawlen(L, i))
            var keys: [String] = []
            var count = 0
            var nonString = false
            lua_pushnil(L)
            while lua_next(L, i) != 0 {
                count += 1
                if lua_type(L, -2) == LUA_TSTRING { keys.append(String(cString: dode_tostring(L, -2))) }
                else { nonString = true }
                dode_pop(L, 1)
            }
            let pad = indent ? "\n" + String(repeating: "  ", count: level + 1) : ""
            let close = indent ? "\n" + String(repeating: "  ", count: level) : ""
            if count == 0 { out += "{}"; return }
            if n == count && keys.isEmpty {
                out += "["
                for k in 1...n {
                    if k > 1 { out += "," }
                    out += pad
                    lua_rawgeti(L, i, lua_Integer(k))
                    defer { dode_pop(L, 1) }
                    try encodeValue(lua_gettop(L), indent: indent, level: level + 1, seen: &seen, out: &out)
                }
                out += close + "]"
                return
            }
            guard !nonString else {
                throw TensorError("cannot encode a table with both array and non-string keys in JSON")
            }
            out += "{"
            for (k, key) in keys.sorted().enumerated() {
                if k > 0 { out += "," }
                out += pad + JSONText.jsonString(key) + (indent ? ": " : ":")
                lua_getfield(L, i, key)
                defer { dode_pop(L, 1) }
                try encodeValue(lua_gettop(L), indent: indent, level: level + 1, seen: &seen, out: &out)
            }
            out += close + "}"
        default:
            throw TensorError("cannot encode \(LuaArgs.describe(L, i)) in JSON")
        }
    }
}
