import Foundation

/// Saved fits: JSON with the coefficients and everything needed to reuse them safely.
extension DODEFit {
    public func json(version: String) -> [String: Any] {
        var meta: [String: Any] = [:]
        for (k, v) in metadata { meta[k] = v }
        return [
            "format": "dode.fit", "format_version": 1, "dode_version": version,
            "solver": ["name": solverName, "options": solverOptions],
            "directions": directions.map(\.rawValue), "space": space.rawValue, "first": first.rawValue, "ridge": ridge,
            "lambdas": lambdas, "residual_before": residualBefore, "residual_after": residualAfter,
            "warnings": warnings,
            "grid": ["points": gridPoints.map { p -> [String: Any] in
                var d: [String: Any] = ["s": p.s]
                if let t = p.t { d["t"] = t }
                return d
            }],
            "evaluations": landings.map { l -> [String: Any] in
                var d: [String: Any] = ["step": l.step + 1, "stage": l.stage + 1, "s": l.s]
                if let t = l.t { d["t"] = t }
                return d
            },
            "schedule": scheduleConfig,
            "metadata": meta,
        ]
    }

    public func save(path: String, version: String) throws {
        try AtomicFile.write(Data((try JSONText.encode(json(version: version)) + "\n").utf8), to: path)
    }

    public static func load(path: String) throws -> DODEFit {
        try decode(try AtomicFile.read(path), name: path)
    }

    /// Parses the JSON of a saved fit; `name` labels errors.
    public static func decode(_ data: Data, name path: String) throws -> DODEFit {
        func fail(_ m: String) -> CoreError { CoreError("'\(path)' is not a valid dode fit: \(m)") }
        guard let obj = try? JSONSerialization.jsonObject(with: data), let d = obj as? [String: Any] else {
            throw fail("not a JSON object")
        }
        guard d["format"] as? String == "dode.fit" else { throw fail("'format' is not \"dode.fit\"") }
        func nums(_ v: Any?, _ key: String) throws -> [Double] {
            guard let a = v as? [Any] else { throw fail("'\(key)' must be a list of numbers") }
            return try a.map {
                guard let v = JSONText.double($0), v.isFinite else { throw fail("'\(key)' holds a non-number") }
                return v
            }
        }
        guard let sv = d["solver"] as? [String: Any], let sname = sv["name"] as? String else {
            throw fail("missing solver name")
        }
        let sopts = (sv["options"] as? [String: Any] ?? [:]).mapValues { "\($0)" }
        guard let dirsRaw = d["directions"] as? [String], !dirsRaw.isEmpty else { throw fail("missing directions") }
        let dirs = try dirsRaw.map {
            guard let x = Direction(rawValue: $0) else { throw fail("unknown direction '\($0)'") }
            return x
        }
        guard let space = FitSpace(rawValue: d["space"] as? String ?? ""),
              let first = FirstEvaluation(rawValue: d["first"] as? String ?? "") else {
            throw fail("invalid 'space' or 'first'")
        }
        guard let lamRaw = d["lambdas"] as? [Any] else { throw fail("missing lambdas") }
        let lambdas = try lamRaw.enumerated().map { i, row -> [Double] in
            let r = try nums(row, "lambdas[\(i + 1)]")
            guard r.count == dirs.count else {
                throw fail("lambdas[\(i + 1)] has \(r.count) entries, expected \(dirs.count)")
            }
            return r
        }
        let rb = try nums(d["residual_before"], "residual_before"), ra = try nums(d["residual_after"], "residual_after")
        guard rb.count == lambdas.count, ra.count == lambdas.count else {
            throw fail("residual lists do not match the number of evaluations")
        }
        guard let g = d["grid"] as? [String: Any], let pts = g["points"] as? [[String: Any]], pts.count >= 2 else {
            throw fail("missing grid points")
        }
        let gridPoints = try pts.map { p -> (t: Double?, s: Double) in
            guard let s = JSONText.double(p["s"]), s >= 0, s.isFinite else {
                throw fail("a grid point lacks a valid s")
            }
            return (JSONText.double(p["t"]), s)
        }
        guard let evs = d["evaluations"] as? [[String: Any]], evs.count == lambdas.count else {
            throw fail("evaluations do not match lambdas")
        }
        let landings = try evs.map { e -> (step: Int, stage: Int, t: Double?, s: Double) in
            guard let st = (e["step"] as? NSNumber)?.intValue, let sg = (e["stage"] as? NSNumber)?.intValue,
                  let s = JSONText.double(e["s"]) else { throw fail("an evaluation lacks step, stage or s") }
            guard (1...(1 << 30)).contains(st), (1...64).contains(sg) else {
                throw fail("an evaluation's step \(st) or stage \(sg) is out of range (steps and stages count from 1)")
            }
            return (st - 1, sg - 1, JSONText.double(e["t"]), s)
        }
        guard let sched = d["schedule"] as? [String: Any] else { throw fail("missing schedule") }
        let ridge = JSONText.double(d["ridge"]) ?? 0
        return DODEFit(lambdas: lambdas, residualBefore: rb, residualAfter: ra,
                       warnings: d["warnings"] as? [String] ?? [],
                       directions: dirs, space: space, first: first, ridge: ridge,
                       metadata: d["metadata"] as? [String: Any] ?? [:],
                       gridPoints: gridPoints, scheduleConfig: sched.mapValues { "\($0)" },
                       solverName: sname, solverOptions: sopts,
                       landings: landings)
    }
}
