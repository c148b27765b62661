import Foundation
@testable import DodeCore

/// Paths and helpers shared by the diffusion-core tests.
enum Support {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static func path(_ rel: String) -> String { repo.appendingPathComponent(rel).path }

    /// Mixture files: the built-in ones, plus those in the project's shared data folder (next to
    /// the repository) or in $DODE_MIXTURES when present, so checks also run on new problems.
    static func mixtureFiles() -> [String] {
        var dirs = [path("Data/mixtures"),
                    repo.deletingLastPathComponent().appendingPathComponent("shared/data/mixtures").path]
        if let extra = ProcessInfo.processInfo.environment["DODE_MIXTURES"] { dirs.append(extra) }
        var seen = Set<String>(), out: [String] = []
        for d in dirs {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: d)) ?? []
            for f in files.sorted() where f.hasSuffix(".json") {
                let full = d + "/" + f
                guard let data = FileManager.default.contents(atPath: full) else { continue }
                if seen.insert(String(data.hashValue)).inserted { out.append(full) }
            }
        }
        return out
    }

    static func json(_ rel: String) throws -> [String: Any] {
        let d = try Data(contentsOf: URL(fileURLWithPath: path(rel)))
        return try JSONSerialization.jsonObject(with: d) as! [String: Any]
    }

    /// max|a − b| / max|b|
    static func relError(_ a: Tensor, _ b: Tensor) -> Double {
        let x = a.toArray(), y = b.toArray()
        var num = 0.0, den = 0.0
        for i in 0..<x.count { num = max(num, abs(x[i] - y[i])); den = max(den, abs(y[i])) }
        return den > 0 ? num / den : num
    }
}
