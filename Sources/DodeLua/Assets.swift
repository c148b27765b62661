import Foundation

/// Where dode finds its built-in models and data: `DODE_HOME` when set, else the source tree the
/// binary was built from (located at build time), so examples run from any current folder.
enum Assets {
    static var root: String {
        if let h = ProcessInfo.processInfo.environment["DODE_HOME"], !h.isEmpty { return h }
        // This file is Sources/DodeLua/Assets.swift.
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
    }

    static func path(_ rel: String) -> String { root + "/" + rel }
}
