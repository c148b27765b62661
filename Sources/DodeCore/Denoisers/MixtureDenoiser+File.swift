import Foundation

/// Mixture files (docs/design.md §3.10): {"dim": d, "weights": [K], "means": [[d]...], "stds": [[d]...]}
/// with optional "name", "description", "seed" and "labels" (one integer class per component).
extension MixtureDenoiser {
    public static func load(path: String, schedule: Schedule) throws -> MixtureDenoiser {
        try decode(try AtomicFile.read(path), name: path, schedule: schedule)
    }

    /// Parses the JSON of a mixture file; `name` labels errors.
    public static func decode(_ data: Data, name path: String, schedule: Schedule) throws -> MixtureDenoiser {
        let obj: Any
        do { obj = try JSONSerialization.jsonObject(with: data) }
        catch {
            let why = (error as NSError).userInfo["NSDebugDescription"] ?? error.localizedDescription
            throw CoreError("'\(path)' is not valid JSON: \(why)")
        }
        guard let dict = obj as? [String: Any] else { throw CoreError("'\(path)' must hold a JSON object") }
        do { return try fromDictionary(dict, schedule: schedule, defaultName: (path as NSString).lastPathComponent) }
        catch let e as TensorError { throw CoreError("mixture file '\(path)': \(e.message)") }
    }

    public static func fromDictionary(_ dict: [String: Any], schedule: Schedule,
                                      defaultName: String = "mixture") throws -> MixtureDenoiser {
        func numbers(_ v: Any?, _ key: String) throws -> [Double] {
            guard let arr = v as? [Any] else { throw CoreError("'\(key)' must be an array of numbers") }
            return try arr.enumerated().map { i, x in
                guard let v = JSONText.double(x) else { throw CoreError("'\(key)' entry \(i + 1) is not a number") }
                return v
            }
        }
        func matrix(_ key: String) throws -> [[Double]] {
            guard let rows = dict[key] as? [Any] else {
                throw CoreError("missing or invalid '\(key)' (an array of rows)")
            }
            return try rows.enumerated().map { i, r in try numbers(r, "\(key)[\(i + 1)]") }
        }
        guard dict["weights"] != nil else { throw CoreError("missing 'weights'") }
        let w = try numbers(dict["weights"], "weights")
        let means = try matrix("means"), stds = try matrix("stds")
        if let dim = dict["dim"] {
            guard let dn = dim as? NSNumber, let di = Int(exactly: dn.doubleValue) else {
                throw CoreError("'dim' must be an integer")
            }
            for (i, m) in means.enumerated() where m.count != di {
                throw CoreError("'dim' is \(di) but means row \(i + 1) has \(m.count) entries (dimensions disagree)")
            }
        }
        var labels: [Int]? = nil
        if let l = dict["labels"], !(l is NSNull) {
            labels = try numbers(l, "labels").enumerated().map { i, v in
                guard v == v.rounded(), abs(v) < 1e9 else {
                    throw CoreError("labels entry \(i + 1) must be an integer (got \(v))")
                }
                return Int(v)
            }
        }
        let name = dict["name"] as? String ?? defaultName
        return try MixtureDenoiser(weights: w, means: means, stds: stds, labels: labels, schedule: schedule, name: name)
    }
}
