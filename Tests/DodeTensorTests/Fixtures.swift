import Foundation

/// Paths of committed test fixtures, found from this source file's location.
enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func path(_ rel: String) -> String { root.appendingPathComponent(rel).path }

    static func tempDir() -> String {
        let d = NSTemporaryDirectory() + "dode-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }
}
