import Foundation

/// The schedules dode ships. Betas and ᾱ are computed in Double (diffusers uses float32; the
/// difference is ≤ 1e-6 relative in ᾱ and is why parity tests with diffusers use 1e-4).
extension Schedule {
    /// Discrete VP (DDPM family). `betas`: 'linear' (linspace(β_start, β_end, N)),
    /// 'scaled_linear' (linspace(√β_start, √β_end, N)²), 'cosine' (improved DDPM, s = 0.008,
    /// β clipped at 0.999).
    public static func vp(betas: String = "linear", betaStart: Double? = nil, betaEnd: Double? = nil,
                          steps: Int = 1000, interpolation: Interpolation = .logAlpha) throws -> Schedule {
        guard steps >= 2 && steps <= 1_000_000 else { throw CoreError("steps must be in 2..1000000 (got \(steps))") }
        var b: [Double]
        var config = ["kind": "vp", "betas": betas, "steps": String(steps), "interpolation": interpolation.rawValue]
        switch betas {
        case "linear", "scaled_linear":
            let b0 = betaStart ?? (betas == "linear" ? 1e-4 : 0.00085)
            let b1 = betaEnd ?? (betas == "linear" ? 0.02 : 0.012)
            guard b0 > 0, b1 > 0, b0 < 1, b1 < 1 else { throw CoreError("beta_start and beta_end must lie in (0, 1)") }
            config["beta_start"] = String(b0)
            config["beta_end"] = String(b1)
            if betas == "linear" {
                b = (0..<steps).map { b0 + (b1 - b0) * Double($0) / Double(steps - 1) }
            } else {
                let r0 = b0.squareRoot(), r1 = b1.squareRoot()
                b = (0..<steps).map { let r = r0 + (r1 - r0) * Double($0) / Double(steps - 1); return r * r }
            }
        case "cosine":
            let s = 0.008
            func f(_ t: Double) -> Double {
                let c = Foundation.cos((t / Double(steps) + s) / (1 + s) * .pi / 2)
                return c * c
            }
            b = (0..<steps).map { Swift.min(1 - f(Double($0 + 1)) / f(Double($0)), 0.999) }
        default:
            throw CoreError("unknown betas '\(betas)' (valid: 'linear', 'scaled_linear', 'cosine', or a tensor)")
        }
        return try vp(betasArray: b, name: betas, config: config, interpolation: interpolation)
    }

    /// Discrete VP from explicit betas.
    public static func vp(betasArray b: [Double], name: String = "custom", config: [String: String]? = nil,
                          interpolation: Interpolation = .logAlpha) throws -> Schedule {
        var ac: [Double] = []
        var prod = 1.0
        for (i, beta) in b.enumerated() {
            guard beta.isFinite, beta > 0, beta < 1 else {
                throw CoreError("betas must lie in (0, 1) (entry \(i + 1) is \(beta))")
            }
            prod *= 1 - beta
            ac.append(prod)
        }
        var cfg = config ?? ["kind": "vp", "betas": "explicit", "steps": String(b.count),
                             "interpolation": interpolation.rawValue,
                             "betas_digest": digest(b)]
        cfg["interpolation"] = interpolation.rawValue
        return try Schedule(kind: .discreteVP(alphasCumprod: ac, betas: name), interpolation: interpolation,
                            name: "vp(\(name), \(b.count) steps)", config: cfg)
    }

    /// Discrete VP from explicit alphas_cumprod.
    public static func vp(alphasCumprod ac: [Double], interpolation: Interpolation = .logAlpha) throws -> Schedule {
        try Schedule(kind: .discreteVP(alphasCumprod: ac, betas: "explicit"), interpolation: interpolation,
                     name: "vp(explicit alphas_cumprod, \(ac.count) steps)",
                     config: ["kind": "vp", "alphas_cumprod_digest": digest(ac), "steps": String(ac.count),
                              "interpolation": interpolation.rawValue])
    }

    /// Continuous VP: 'linear' (β_min 0.1, β_max 20) or 'cosine'.
    public static func vpContinuous(schedule: String = "linear", betaMin: Double = 0.1,
                                    betaMax: Double = 20) throws -> Schedule {
        switch schedule {
        case "linear":
            guard betaMin > 0, betaMax > betaMin, betaMax.isFinite else {
                throw CoreError("need 0 < beta_min < beta_max")
            }
            return try Schedule(kind: .continuousLinear(betaMin: betaMin, betaMax: betaMax),
                                name: "vp_continuous(linear)",
                                config: ["kind": "vp_continuous", "schedule": "linear",
                                         "beta_min": String(betaMin), "beta_max": String(betaMax)])
        case "cosine":
            return try Schedule(kind: .continuousCosine(s: 0.008), name: "vp_continuous(cosine)",
                                config: ["kind": "vp_continuous", "schedule": "cosine"])
        default:
            throw CoreError("unknown continuous schedule '\(schedule)' (valid: 'linear', 'cosine')")
        }
    }

    /// EDM (Karras et al.) or VE: α = 1, s = σ = t.
    public static func edm(sigmaMin: Double = 0.002, sigmaMax: Double = 80, sigmaData: Double = 0.5,
                           name: String = "edm") throws -> Schedule {
        guard sigmaMin > 0, sigmaMax > sigmaMin, sigmaMax.isFinite, sigmaData > 0, sigmaData.isFinite else {
            throw CoreError("need 0 < sigma_min < sigma_max and sigma_data > 0")
        }
        return try Schedule(kind: .edm(sigmaMin: sigmaMin, sigmaMax: sigmaMax, sigmaData: sigmaData, name: name),
                            name: "\(name)(\(sigmaMin), \(sigmaMax))",
                            config: ["kind": name, "sigma_min": String(sigmaMin), "sigma_max": String(sigmaMax),
                                     "sigma_data": String(sigmaData)])
    }

    /// A short order-sensitive fingerprint of a table (for configs of explicit schedules).
    static func digest(_ v: [Double]) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for x in v { h = (h ^ x.bitPattern) &* 0x0000_0100_0000_01B3 }
        return String(h, radix: 16)
    }
}
