import Foundation

extension Schedule {
    /// The schedule a model config records (`{"schedule": {"kind": "vp", "betas": ...}}`, or
    /// `"edm"`/`"ve"` with sigma_min, sigma_max, sigma_data); `source` names the file in errors.
    public static func fromModelConfig(_ cfg: [String: Any], source: String) throws -> Schedule {
        guard let s = cfg["schedule"] as? [String: Any] else {
            throw CoreError("'\(source)' records no schedule; pass schedule = ...")
        }
        switch s["kind"] as? String {
        case "vp":
            return try Schedule.vp(betas: s["betas"] as? String ?? "linear",
                                   betaStart: JSONText.double(s["beta_start"]),
                                   betaEnd: JSONText.double(s["beta_end"]),
                                   steps: (s["steps"] as? NSNumber)?.intValue ?? 1000)
        case "edm", "ve":
            return try Schedule.edm(sigmaMin: JSONText.double(s["sigma_min"]) ?? 0.002,
                                    sigmaMax: JSONText.double(s["sigma_max"]) ?? 80,
                                    sigmaData: JSONText.double(s["sigma_data"]) ?? 0.5,
                                    name: s["kind"] as? String ?? "edm")
        default:
            throw CoreError("'\(source)': unsupported schedule kind \(s["kind"] ?? "nil")")
        }
    }
}
