import CLua
import DodeTensor
import Foundation

/// Typed, validated access to a binding's arguments. Every reader throws a `LuaError` of the form
/// `dode.randn: argument 2 must be a positive integer (got -3)`.
public struct LuaArgs {
    public let L: OpaquePointer
    public let vm: LuaVM
    public let name: String
    public let isMethod: Bool

    public var count: Int32 { lua_gettop(L) }

    /// How an argument is named in messages (methods number their arguments after `self`).
    public func label(_ i: Int32) -> String {
        isMethod ? (i == 1 ? "self" : "argument \(i - 1)") : "argument \(i)"
    }

    public func error(_ text: String) -> LuaError { LuaError("\(name): \(text)") }

    public func fail(_ i: Int32, _ expected: String) -> LuaError {
        LuaError("\(name): \(label(i)) must be \(expected) (got \(describe(i)))")
    }

    /// A short description of the value at `i` for error messages.
    public func describe(_ i: Int32) -> String { LuaArgs.describe(L, i) }

    static func describe(_ L: OpaquePointer, _ i: Int32) -> String {
        switch lua_type(L, i) {
        case LUA_TNONE, LUA_TNIL: return "nil"
        case LUA_TBOOLEAN: return lua_toboolean(L, i) != 0 ? "true" : "false"
        case LUA_TNUMBER:
            if dode_isinteger(L, i) != 0 { return String(dode_tointeger(L, i)) }
            return formatNumber(dode_tonumber(L, i))
        case LUA_TSTRING:
            var len = 0
            let s = lua_tolstring(L, i, &len).map { String(cString: $0) } ?? ""
            return "'" + (s.count > 40 ? String(s.prefix(37)) + "..." : s) + "'"
        case LUA_TTABLE: return "a table"
        case LUA_TFUNCTION: return "a function"
        case LUA_TUSERDATA:
            if let t = LuaArgs.tensorAt(L, i) { return "a \(t.dtype.rawValue) tensor of shape \(formatShape(t.shape))" }
            var len = 0
            if dode_getmetafield(L, i, "__name") != LUA_TNIL {
                let n = lua_tolstring(L, -1, &len).map { String(cString: $0) } ?? "userdata"
                dode_pop(L, 1)
                return "a " + n
            }
            return "a userdata"
        default: return "a " + String(cString: dode_typename(L, i))
        }
    }

    /// v as an Int when it is integral and in range (NaN, ±inf, fractions and huge values give nil).
    static func exactInt(_ v: Double) -> Int? {
        guard v.isFinite, v == v.rounded(), abs(v) < 9e15 else { return nil }
        return Int(v)
    }

    /// The Lua value at i as an exact Int, or nil.
    static func exactInt(_ L: OpaquePointer, _ i: Int32) -> Int? {
        guard lua_type(L, i) == LUA_TNUMBER else { return nil }
        if dode_isinteger(L, i) != 0 { return Int(dode_tointeger(L, i)) }
        return exactInt(dode_tonumber(L, i))
    }

    static func formatNumber(_ v: Double) -> String {
        if v.isNaN { return "nan" }
        if v.isInfinite { return v > 0 ? "inf" : "-inf" }
        if v == v.rounded() && abs(v) < 1e15 { return String(Int(v)) }
        return String(v)
    }

    // MARK: presence

    public func isNil(_ i: Int32) -> Bool { dode_isnoneornil(L, i) != 0 }
    public func type(_ i: Int32) -> Int32 { lua_type(L, i) }
    public func isTable(_ i: Int32) -> Bool { lua_type(L, i) == LUA_TTABLE }
    public func isNumber(_ i: Int32) -> Bool { lua_type(L, i) == LUA_TNUMBER }
    public func isString(_ i: Int32) -> Bool { lua_type(L, i) == LUA_TSTRING }
    public func isTensor(_ i: Int32) -> Bool { LuaArgs.tensorAt(L, i) != nil }

    // MARK: numbers

    public func number(_ i: Int32) throws -> Double {
        guard lua_type(L, i) == LUA_TNUMBER else { throw fail(i, "a number") }
        return dode_tonumber(L, i)
    }

    public func finite(_ i: Int32) throws -> Double {
        guard lua_type(L, i) == LUA_TNUMBER, dode_tonumber(L, i).isFinite else { throw fail(i, "a finite number") }
        return dode_tonumber(L, i)
    }

    public func optNumber(_ i: Int32) throws -> Double? { isNil(i) ? nil : try number(i) }

    /// An integer (an integral float such as 3.0 is accepted).
    public func int(_ i: Int32, _ expected: String = "an integer") throws -> Int {
        guard lua_type(L, i) == LUA_TNUMBER else { throw fail(i, expected) }
        if dode_isinteger(L, i) != 0 { return Int(dode_tointeger(L, i)) }
        let v = dode_tonumber(L, i)
        guard v == v.rounded(), abs(v) < 9.0e15 else { throw fail(i, expected) }
        return Int(v)
    }

    public func int(_ i: Int32, in range: ClosedRange<Int>, _ expected: String) throws -> Int {
        let v = try int(i, expected)
        guard range.contains(v) else { throw fail(i, expected) }
        return v
    }

    public func positiveInt(_ i: Int32) throws -> Int {
        try int(i, in: 1...Int.max, "a positive integer")
    }

    public func nonNegativeInt(_ i: Int32) throws -> Int {
        try int(i, in: 0...Int.max, "a non-negative integer")
    }


    /// A 1-based index into 1...n, returned 0-based.
    public func index(_ i: Int32, size n: Int, what: String = "an index") throws -> Int {
        let v = try int(i, "\(what) in 1..\(n)")
        guard v >= 1 && v <= n else { throw fail(i, "\(what) in 1..\(n)") }
        return v - 1
    }

    // MARK: other types

    public func string(_ i: Int32) throws -> String {
        guard lua_type(L, i) == LUA_TSTRING else { throw fail(i, "a string") }
        var len = 0
        guard let p = lua_tolstring(L, i, &len) else { throw fail(i, "a string") }
        return String(decoding: UnsafeRawBufferPointer(start: p, count: len), as: UTF8.self)
    }

    public func optString(_ i: Int32) throws -> String? { isNil(i) ? nil : try string(i) }

    public func bool(_ i: Int32) throws -> Bool {
        guard lua_type(L, i) == LUA_TBOOLEAN else { throw fail(i, "a boolean") }
        return lua_toboolean(L, i) != 0
    }

    public func table(_ i: Int32, _ expected: String = "a table") throws {
        guard lua_type(L, i) == LUA_TTABLE else { throw fail(i, expected) }
    }

    public func function(_ i: Int32) throws {
        guard lua_type(L, i) == LUA_TFUNCTION else { throw fail(i, "a function") }
    }

    // MARK: tensors

    static func tensorAt(_ L: OpaquePointer, _ i: Int32) -> Tensor? {
        guard let p = dode_testudata(L, i, LuaTypes.tensor) else { return nil }
        guard let raw = p.load(as: UnsafeRawPointer?.self) else { return nil }
        return Unmanaged<Tensor>.fromOpaque(raw).takeUnretainedValue()
    }

    public func tensor(_ i: Int32) throws -> Tensor {
        guard let t = LuaArgs.tensorAt(L, i) else { throw fail(i, "a tensor") }
        return t
    }


    /// A tensor, or a number promoted to a 0-D Float64 tensor.
    public func tensorOrNumber(_ i: Int32) throws -> Tensor {
        if let t = LuaArgs.tensorAt(L, i) { return t }
        guard lua_type(L, i) == LUA_TNUMBER else { throw fail(i, "a tensor or a number") }
        return Tensor.scalar(dode_tonumber(L, i))
    }

    public func generator(_ i: Int32) throws -> Generator {
        guard let p = dode_testudata(L, i, LuaTypes.generator),
              let raw = p.load(as: UnsafeRawPointer?.self) else { throw fail(i, "a dode.Generator") }
        return Unmanaged<Generator>.fromOpaque(raw).takeUnretainedValue()
    }

    /// Largest rank a shape argument may have.
    public static let maxRank = 16

    /// A shape given either as integers from `i` on, or as one table `{d1, d2, ...}` at `i`.
    /// Returns the shape and the index of the first argument after it.
    public func shape(from i: Int32, allowEmpty: Bool = false) throws -> ([Int], Int32) {
        if isTable(i) {
            let n = Int(lua_rawlen(L, i))
            guard n <= LuaArgs.maxRank else { throw fail(i, "a shape of at most \(LuaArgs.maxRank) dimensions") }
            var shape: [Int] = []
            for k in 1...max(n, 1) where k <= n {
                lua_rawgeti(L, i, lua_Integer(k))
                defer { dode_pop(L, 1) }
                guard lua_type(L, -1) == LUA_TNUMBER else { throw fail(i, "a shape table of non-negative integers") }
                let v = dode_tonumber(L, -1)
                guard v >= 0, v == v.rounded(), v < 9e15 else {
                    throw fail(i, "a shape table of non-negative integers")
                }
                shape.append(Int(v))
            }
            if shape.isEmpty && !allowEmpty { throw fail(i, "a non-empty shape") }
            return (shape, i + 1)
        }
        var shape: [Int] = []
        var k = i
        while isNumber(k) {
            guard shape.count < LuaArgs.maxRank else { throw fail(k, "at most \(LuaArgs.maxRank) dimensions") }
            shape.append(try int(k, in: 0...Int.max, "a non-negative integer size"))
            k += 1
        }
        if shape.isEmpty && !allowEmpty { throw fail(i, "a size (integers or a table of integers)") }
        return (shape, k)
    }

    // MARK: options

    /// The options table at `i` (absent is fine), with every key checked against `allowed`.
    public func options(_ i: Int32, allowed: [String]) throws -> LuaOptions {
        if isNil(i) { return LuaOptions(args: self, index: nil) }
        guard isTable(i) else { throw fail(i, "an options table") }
        let abs = lua_absindex(L, i)
        var problem: String? = nil
        lua_pushnil(L)
        while lua_next(L, abs) != 0 {
            if lua_type(L, -2) != LUA_TSTRING {
                problem = "\(label(i)) must be an options table with string keys (got key \(LuaArgs.describe(L, -2)))"
            } else {
                let key = String(cString: dode_tostring(L, -2))
                if !allowed.contains(key) {
                    problem = "unknown option '\(key)' (valid options: \(allowed.sorted().joined(separator: ", ")))"
                }
            }
            if problem != nil { dode_pop(L, 2); break }
            dode_pop(L, 1)
        }
        if let problem { throw error(problem) }
        return LuaOptions(args: self, index: abs)
    }
}

/// Typed access to an options table; messages read `dode.x: option 'key' must be ... (got ...)`.
public struct LuaOptions {
    let args: LuaArgs
    let index: Int32?
    var L: OpaquePointer { args.L }

    /// Pushes the value of `key` (nil when absent), runs `body` with its stack index, pops it.
    func with<R>(_ key: String, _ body: (Int32) throws -> R) rethrows -> R {
        guard let index else { lua_pushnil(L); defer { dode_pop(L, 1) }; return try body(lua_gettop(L)) }
        lua_getfield(L, index, key)
        defer { dode_pop(L, 1) }
        return try body(lua_gettop(L))
    }

    public func has(_ key: String) -> Bool { with(key) { lua_type(L, $0) > LUA_TNIL } }

    public func fail(_ key: String, _ expected: String) -> LuaError {
        with(key) { LuaError("\(args.name): option '\(key)' must be \(expected) (got \(LuaArgs.describe(L, $0)))") }
    }

    public func number(_ key: String) throws -> Double? {
        try with(key) { i in
            if lua_type(L, i) <= LUA_TNIL { return nil }
            guard lua_type(L, i) == LUA_TNUMBER else { throw fail(key, "a number") }
            return dode_tonumber(L, i)
        }
    }

    public func finite(_ key: String) throws -> Double? {
        guard let v = try number(key) else { return nil }
        guard v.isFinite else { throw fail(key, "a finite number") }
        return v
    }

    public func positive(_ key: String) throws -> Double? {
        guard let v = try number(key) else { return nil }
        guard v.isFinite, v > 0 else { throw fail(key, "a positive finite number") }
        return v
    }

    public func int(_ key: String, in range: ClosedRange<Int> = Int.min...Int.max,
                    _ expected: String = "an integer") throws -> Int? {
        try with(key) { i in
            if lua_type(L, i) <= LUA_TNIL { return nil }
            guard lua_type(L, i) == LUA_TNUMBER else { throw fail(key, expected) }
            let v = dode_tonumber(L, i)
            guard v == v.rounded(), abs(v) < 9e15, range.contains(Int(v)) else { throw fail(key, expected) }
            return dode_isinteger(L, i) != 0 ? Int(dode_tointeger(L, i)) : Int(v)
        }
    }

    public func string(_ key: String) throws -> String? {
        try with(key) { i in
            if lua_type(L, i) <= LUA_TNIL { return nil }
            guard lua_type(L, i) == LUA_TSTRING else { throw fail(key, "a string") }
            return String(cString: dode_tostring(L, i))
        }
    }

    /// One of `choices` (the message lists them).
    public func choice(_ key: String, _ choices: [String]) throws -> String? {
        guard let s = with(key, { i -> String? in
            if lua_type(L, i) <= LUA_TNIL { return nil }
            guard lua_type(L, i) == LUA_TSTRING else { return "\u{0}" }
            return String(cString: dode_tostring(L, i))
        }) else { return nil }
        guard choices.contains(s) else {
            throw fail(key, "one of " + choices.map { "'\($0)'" }.joined(separator: ", "))
        }
        return s
    }

    public func bool(_ key: String) throws -> Bool? {
        try with(key) { i in
            if lua_type(L, i) <= LUA_TNIL { return nil }
            guard lua_type(L, i) == LUA_TBOOLEAN else { throw fail(key, "a boolean") }
            return lua_toboolean(L, i) != 0
        }
    }

    public func tensor(_ key: String) throws -> Tensor? {
        try with(key) { i in
            if lua_type(L, i) <= LUA_TNIL { return nil }
            guard let t = LuaArgs.tensorAt(L, i) else { throw fail(key, "a tensor") }
            return t
        }
    }

    /// A list of strings, each one of `choices` (the message lists them).
    public func stringList(_ key: String, choices: [String]) throws -> [String] {
        let expected = "a list of: " + choices.joined(separator: ", ")
        return try with(key) { i in
            if lua_type(L, i) <= LUA_TNIL { return [] }
            guard lua_type(L, i) == LUA_TTABLE else { throw fail(key, expected) }
            return try (0..<Int(lua_rawlen(L, i))).map { j in
                lua_rawgeti(L, i, lua_Integer(j + 1))
                defer { dode_pop(L, 1) }
                guard lua_type(L, -1) == LUA_TSTRING else { throw fail(key, expected) }
                let s = String(cString: dode_tostring(L, -1))
                guard choices.contains(s) else { throw fail(key, expected) }
                return s
            }
        }
    }

    public func dtype(_ key: String = "dtype") throws -> DType? {
        guard let s = try choice(key, ["float64", "float32", "double", "float"]) else { return nil }
        return DType(name: s)
    }
}
