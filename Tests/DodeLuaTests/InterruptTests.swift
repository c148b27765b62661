import XCTest
import CLua
@testable import DodeLua
import DodeTensor

/// Ctrl-C (SIGINT) while a chunk runs stops it with the Lua error "interrupted" and leaves the
/// VM usable: inside a long Swift loop (a sampler), inside pure Lua code, and inside a Lua
/// denoiser called from Swift.
final class InterruptTests: XCTestCase {
    /// Sends SIGINT to this process `delay` seconds from now, from another thread.
    private func interrupt(after delay: Double) {
        DispatchQueue.global().asyncAfter(deadline: .now() + delay) { kill(getpid(), SIGINT) }
    }

    /// Runs `setup`, then `code` with a SIGINT sent 0.3 s after it starts.
    private func runInterrupted(_ code: String, setup: String = "", file: StaticString = #filePath,
                                line: UInt = #line) -> (String?, Double) {
        let vm = LuaVM()
        XCTAssertNil(vm.run(setup, chunkName: "@setup.lua"), file: file, line: line)
        interrupt(after: 0.3)
        let t0 = Date()
        let err = vm.run(code, chunkName: "@interrupt.lua")
        let dt = Date().timeIntervalSince(t0)
        // The VM still works after the interrupt, and the request does not leak into the next chunk.
        XCTAssertNil(vm.run("assert(dode.zeros(2):sum() == 0)", chunkName: "=after"), file: file, line: line)
        return (err, dt)
    }

    func testSwiftLoopStopsWithinAStep() {
        // ~30 s uninterrupted: 999 steps of DPM++(2M) on 200k × 32 mixture samples.
        let (err, dt) = runInterrupted("dode.solver.dpmpp{order = 2}:sample(den, x, grid)", setup: """
            local vp = dode.schedule.vp{}
            den = dode.data.mixture('blobs32d', vp)
            grid = dode.grid.discrete(vp, 999, {spacing = 'trailing'})
            x = dode.randn(dode.Generator(1), 200000, 32)
            """)
        XCTAssertNotNil(err)
        XCTAssertTrue(err?.contains("interrupt.lua:1: Solver:sample: interrupted") ?? false, err ?? "")
        XCTAssertLessThan(dt, 5, "the sampler should stop within a step of the interrupt")
    }

    func testPureLuaLoopStops() throws {
        if ProcessInfo.processInfo.environment["DODE_SANITIZER"] == "thread" {
            // ThreadSanitizer holds a signal until the thread calls a function it intercepts,
            // which a pure Lua loop never does: the handler would never run.
            throw XCTSkip("signals are deferred under ThreadSanitizer")
        }
        let (err, dt) = runInterrupted("local i = 0\nwhile true do i = i + 1 end")
        XCTAssertTrue(err?.contains("interrupted") ?? false, err ?? "")
        XCTAssertLessThan(dt, 5)
    }

    func testLuaDenoiserStops() {
        let (err, _) = runInterrupted("""
            local vp = dode.schedule.vp{}
            local den = dode.denoiser.fn(function(x, p) local s = 0; for i = 1, 2e5 do s = s + i end; return x * 0 end,
                                         {predicts = 'x0', schedule = vp})
            local grid = dode.grid.discrete(vp, 999, {spacing = 'trailing'})
            dode.solver.ddim():sample(den, dode.randn(dode.Generator(1), 4, 2), grid)
            """)
        XCTAssertTrue(err?.contains("interrupted") ?? false, err ?? "")
    }

    func testPendingRequestFromBeforeIsDropped() {
        let vm = LuaVM()
        Interrupt.request()
        XCTAssertNil(vm.run("local s = 0; for i = 1, 1e6 do s = s + i end", chunkName: "=clean"))
    }
}
