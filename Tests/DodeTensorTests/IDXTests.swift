import XCTest
@testable import DodeTensor

/// The IDX reader (MNIST-style files) on hand-made files, plain and gzip, and malformed ones.
final class IDXTests: XCTestCase {
    func tmp(_ name: String) -> String {
        FileManager.default.temporaryDirectory
            .appendingPathComponent("dode-idx-\(UInt32.random(in: 0...UInt32.max))-\(name)").path
    }

    func testReadsPlainAndGzip() throws {
        // 2×3 unsigned bytes.
        let bytes: [UInt8] = [0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 250, 0, 7]
        let plain = tmp("a.idx")
        try Data(bytes).write(to: URL(fileURLWithPath: plain))
        defer { try? FileManager.default.removeItem(atPath: plain) }
        let t = try IDX.read(path: plain)
        XCTAssertEqual(t.shape, [2, 3])
        XCTAssertEqual(t.toArray(), [1, 2, 3, 250, 0, 7])
        // The same file through gzip (the system's gzip tool writes it).
        let gz = plain + ".gz"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/gzip")
        p.arguments = ["-k", plain]
        try p.run()
        p.waitUntilExit()
        defer { try? FileManager.default.removeItem(atPath: gz) }
        XCTAssertEqual(try IDX.read(path: gz).toArray(), [1, 2, 3, 250, 0, 7])
        // Signed bytes.
        let signed = tmp("s.idx")
        try Data([0, 0, 0x09, 1, 0, 0, 0, 2, 0xFF, 0x02]).write(to: URL(fileURLWithPath: signed))
        defer { try? FileManager.default.removeItem(atPath: signed) }
        XCTAssertEqual(try IDX.read(path: signed).toArray(), [-1, 2])
    }

    func testMalformedFilesAreErrors() throws {
        let cases: [(String, [UInt8], String)] = [
            ("short", [0, 0], "too short"),
            ("magic", [1, 0, 0x08, 1, 0, 0, 0, 1, 5], "not an IDX file"),
            ("type", [0, 0, 0x0D, 1, 0, 0, 0, 1, 0, 0, 0, 0], "value type"),
            ("count", [0, 0, 0x08, 1, 0, 0, 0, 5, 1, 2], "announces"),
            ("header", [0, 0, 0x08, 3, 0, 0], "does not fit"),
        ]
        for (name, bytes, needle) in cases {
            let path = tmp(name)
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            defer { try? FileManager.default.removeItem(atPath: path) }
            XCTAssertThrowsError(try IDX.read(path: path), name) {
                XCTAssertTrue("\($0)".contains(needle), "\(name): \($0)")
            }
        }
        let junk = tmp("junk.gz")
        try Data([1, 2, 3, 4, 5]).write(to: URL(fileURLWithPath: junk))
        defer { try? FileManager.default.removeItem(atPath: junk) }
        XCTAssertThrowsError(try IDX.read(path: junk))
        XCTAssertThrowsError(try IDX.read(path: "/nonexistent/x.idx.gz")) {
            XCTAssertTrue("\($0)".contains("no file"), "\($0)")
        }
    }
}
