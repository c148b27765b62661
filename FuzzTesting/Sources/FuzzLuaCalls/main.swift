import CLua
import DodeLua
import DodeTensor
import Foundation
import FuzzSupport

/// The Lua-facing argument layer: FuzzTesting/lua_calls.lua reads the input as a program of
/// binding calls (see there) and runs each under pcall; a call must return or raise a string.
let program: String = {
    let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../lua_calls.lua").path
    guard let data = FileManager.default.contents(atPath: path) else { fatalError("cannot read \(path)") }
    return String(decoding: data, as: UTF8.self)
}()

/// A fresh VM per input, closed at the end (every finalizer runs), so that memory still held
/// afterwards is a real leak for LeakSanitizer rather than garbage awaiting collection.
func fuzzLuaCalls(_ input: UnsafeRawBufferPointer) {
    TensorLimits.maxBytes = 1 << 20
    let v = LuaVM()
    if let err = v.run(program, chunkName: "=fuzz") { fatalError("the fuzz program does not run: \(err)") }
    let L = v.mainL
    if let base = input.baseAddress {
        lua_pushlstring(L, base.assumingMemoryBound(to: CChar.self), input.count)
    } else {
        lua_pushstring(L, "")
    }
    dode_setglobal(L, "FUZZ_INPUT")
    if let err = v.run("fuzz_one(FUZZ_INPUT)", chunkName: "=input") {
        fatalError("a call escaped pcall or broke the rules: \(err)")
    }
}

runFuzzer { fuzzLuaCalls(bytes($0, $1)); return 0 }
