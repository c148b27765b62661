import XCTest
import CLua
@testable import DodeLua
import DodeTensor

/// The VM from Swift: errors never escape as longjmps across Swift frames, values round-trip,
/// and Stdlib modules load from the embedded copy.
final class LuaVMTests: XCTestCase {
    func testErrorsAreLuaErrorsWithLocation() {
        let vm = LuaVM()
        let err = vm.run("local x = dode.zeros(2, 3)\nreturn x:mm(x)", chunkName: "@check.lua")
        XCTAssertNotNil(err)
        XCTAssertTrue(err!.contains("check.lua:2: Tensor:mm: shapes 2x3 and 2x3 cannot be multiplied"), err!)
        XCTAssertTrue(err!.contains("stack traceback"), err!)
    }

    func testManyErrorsLeaveTheVMUsable() {
        let vm = LuaVM()
        let err = vm.run("""
            local n = 0
            for i = 1, 100000 do
              local ok = pcall(dode.randn, i)
              if not ok then n = n + 1 end
            end
            assert(n == 100000)
            assert(dode.zeros(3):sum() == 0)
            """, chunkName: "=loop")
        XCTAssertNil(err)
    }

    func testStdlibIsEmbedded() {
        let vm = LuaVM()
        XCTAssertNil(vm.run("local T = require('dode.tester'); assert(type(T.new) == 'function'); " +
                            "assert(require('dode') == dode)", chunkName: "=req"))
    }

    func testReferenceCoversEveryBinding() {
        let vm = LuaVM()
        let md = vm.referenceMarkdown()
        for b in vm.bindings where !b.name.contains(":__") && !b.name.hasPrefix("dode._") {
            let d = vm.docs[b.name]
            XCTAssertNotNil(d, b.name)
            XCTAssertFalse(d?.text.isEmpty ?? true, "\(b.name) has no help text")
            XCTAssertTrue(md.contains(d?.signature ?? "?"), b.name)
        }
    }
}
