import XCTest
import CLua
@testable import DodeLua
import DodeTensor

/// Inputs that broke the Lua-argument fuzz target (FuzzTesting/Regressions/FuzzLuaCalls/) run
/// again through the same program (FuzzTesting/lua_calls.lua): every call must return or raise
/// a string error, in a fresh VM, as in the fuzzer; and a few random programs run too.
final class LuaFuzzRegressionTests: XCTestCase {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    func run(_ input: [UInt8]) -> String? {
        let limit = TensorLimits.maxBytes
        TensorLimits.maxBytes = 1 << 20
        defer { TensorLimits.maxBytes = limit }
        let cwd = FileManager.default.currentDirectoryPath
        let scratch = NSTemporaryDirectory() + "dode-lua-fuzz-\(getpid())"
        try? FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        FileManager.default.changeCurrentDirectoryPath(scratch)
        defer {
            FileManager.default.changeCurrentDirectoryPath(cwd)
            try? FileManager.default.removeItem(atPath: scratch)
        }
        let vm = LuaVM()
        guard let program = FileManager.default.contents(
            atPath: root.appendingPathComponent("FuzzTesting/lua_calls.lua").path) else {
            return "cannot read FuzzTesting/lua_calls.lua"
        }
        if let err = vm.run(String(decoding: program, as: UTF8.self), chunkName: "@lua_calls.lua") { return err }
        let bytes = input.map { CChar(bitPattern: $0) } + [0]
        bytes.withUnsafeBufferPointer { lua_pushlstring(vm.mainL, $0.baseAddress, input.count) }
        dode_setglobal(vm.mainL, "FUZZ_INPUT")
        return vm.run("fuzz_one(FUZZ_INPUT)", chunkName: "=input")
    }

    func testRegressionInputsAndRandomPrograms() {
        let dir = root.appendingPathComponent("FuzzTesting/Regressions/FuzzLuaCalls").path
        for f in ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted() {
            guard let d = FileManager.default.contents(atPath: dir + "/" + f) else { continue }
            XCTAssertNil(run([UInt8](d)), f)
        }
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<20 {
            let program = (0..<96).map { _ in UInt8.random(in: 0...255, using: &rng) }
            XCTAssertNil(run(program), "program \(program)")
        }
    }
}
