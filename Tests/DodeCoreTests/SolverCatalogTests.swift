import XCTest
@testable import DodeCore

/// The solver catalogue is the one description of the built-in solvers: every entry builds a
/// solver whose name and reported options match the schema, defaults are what the schema
/// says, and bad options are errors naming the option and what it accepts.
final class SolverCatalogTests: XCTestCase {
    func testEntriesMatchTheSolversTheyBuild() throws {
        XCTAssertEqual(SolverCatalog.entries.map(\.name),
                       ["ddim", "euler", "heun", "dpm2", "lms", "pndm", "ipndm", "deis", "dpm", "dpmpp", "unipc"])
        for e in SolverCatalog.entries {
            let s = try e.make()
            XCTAssertEqual(s.name, e.name)
            XCTAssertEqual(Set(s.options.keys), Set(e.options.map(\.name)), e.name)
            for opt in e.options {
                XCTAssertEqual(s.options[opt.name], opt.defaultValue.description, "\(e.name).\(opt.name)")
            }
            XCTAssertEqual(s.teachesItself, e.teachesItself, e.name)
            // Round trip through the text form saved fits use.
            let again = try SolverCatalog.make(e.name, text: s.options)
            XCTAssertEqual(again.options, s.options)
        }
        XCTAssertEqual(Set(SolverCatalog.entries.filter(\.teachesItself).map(\.name)), ["ipndm", "deis"])
        XCTAssertTrue(Teacher.default(for: try SolverCatalog.make("deis")) is DEISSolver)
        XCTAssertTrue(Teacher.default(for: try SolverCatalog.make("unipc")) is DDIMSolver)
    }

    func testOptionsAndErrors() throws {
        let s = try SolverCatalog.make("dpmpp", ["order": .int(3), "method": .string("singlestep")])
        XCTAssertEqual(s.options, ["order": "3", "method": "singlestep", "lower_order_final": "true"])
        XCTAssertThrowsError(try SolverCatalog.make("dpmpp", ["order": .int(4)])) {
            XCTAssertEqual("\($0)", "dpmpp: option 'order' must be 1, 2 or 3 (got 4)")
        }
        XCTAssertThrowsError(try SolverCatalog.make("unipc", ["variant": .string("bh3")])) {
            XCTAssertEqual("\($0)", "unipc: option 'variant' must be one of 'bh1', 'bh2' (got bh3)")
        }
        XCTAssertThrowsError(try SolverCatalog.make("ddim", ["order": .int(1)])) {
            XCTAssertTrue("\($0)".contains("unknown option 'order' (it takes no options)"))
        }
        XCTAssertThrowsError(try SolverCatalog.make("lms", ["order": .string("2")])) {
            XCTAssertTrue("\($0)".contains("must be 1, 2, 3 or 4"))
        }
        XCTAssertThrowsError(try SolverCatalog.make("rk4")) { XCTAssertTrue("\($0)".contains("not a built-in solver")) }
        XCTAssertThrowsError(try SolverCatalog.make("deis", text: ["lower_order_final": "maybe"]))
        XCTAssertEqual(SolverCatalog.entry("dpmpp")?.signature,
                       "dode.solver.dpmpp{order = 2, method = 'multistep' | 'singlestep', lower_order_final = true}")
        XCTAssertEqual(SolverCatalog.entry("heun")?.signature, "dode.solver.heun([{}])")
    }
}
