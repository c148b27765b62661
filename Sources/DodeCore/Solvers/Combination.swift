/// A reference to a tensor of a solver run, for updates written as linear combinations.
public enum Ref: Hashable, Sendable {
    /// The prediction the current update consumes: D_k for the base solver, D-ODE's
    /// D̃_k = D_k + λ·(direction) for its D-variant.
    case consumed
    /// The raw prediction of evaluation j (0-based, absolute).
    case d(Int)
    /// The scaled state y_j = x_j/α_j at which evaluation j was made.
    case y(Int)
    /// A solver's stored state (e.g. UniPC's corrected sample), as a scaled state y.
    case aux(String)
}

/// A linear combination Σ c·ref in scaled-state units (y = x/α), the form every solver step
/// takes: y' = a·y + Σ b_j·D_j (ε terms expand to (y_j − D_j)/s_j). Because a step is linear in
/// the prediction it consumes, D-ODE's direction follows from the coefficient of `.consumed`
/// alone (docs/method.md §5.2).
public struct Combination: Sendable, CustomStringConvertible {
    public private(set) var terms: [(Double, Ref)] = []

    public init() {}
    public init(_ terms: [(Double, Ref)]) { for (c, r) in terms { add(c, r) } }

    /// Adds c·ref, merging equal references.
    public mutating func add(_ c: Double, _ r: Ref) {
        if c == 0 { return }
        if let i = terms.firstIndex(where: { $0.1 == r }) { terms[i].0 += c } else { terms.append((c, r)) }
    }

    public mutating func add(_ other: Combination, scale: Double = 1) {
        for (c, r) in other.terms { add(scale * c, r) }
    }

    /// Adds c·ε_j where ε_j = (y_j − D_j)/s_j (D_j given by `pred`).
    public mutating func addEps(_ c: Double, y j: Int, d pred: Ref, s: Double) {
        add(c / s, .y(j))
        add(-c / s, pred)
    }

    /// The coefficient of the consumed prediction.
    public var consumedCoefficient: Double { terms.first { $0.1 == .consumed }?.0 ?? 0 }

    /// The combination with `.consumed` replaced by `replacement` (a combination itself).
    public func substituting(consumed replacement: Combination) -> Combination {
        var out = Combination()
        for (c, r) in terms {
            if r == .consumed { out.add(replacement, scale: c) } else { out.add(c, r) }
        }
        return out
    }

    public static func + (a: Combination, b: Combination) -> Combination { var o = a; o.add(b); return o }
    public static func - (a: Combination, b: Combination) -> Combination { var o = a; o.add(b, scale: -1); return o }
    public static prefix func - (a: Combination) -> Combination { -1 * a }
    public static func * (c: Double, a: Combination) -> Combination {
        var o = Combination()
        o.add(a, scale: c)
        return o
    }

    /// The combination times c.
    public func scaled(_ c: Double) -> Combination { c * self }

    // MARK: the terms every solver is written in

    /// ε_j = (y_j − D_j)/s_j, with D_j the raw prediction `.d(j)` or the consumed one.
    public static func eps(_ j: Int, pred: Ref, s: Double) -> Combination {
        var c = Combination()
        c.addEps(1, y: j, d: pred, s: s)
        return c
    }

    /// The first-order step after evaluation k, y' = r·y_k + (1 − r)·D̃ with r = s'/s: DDIM
    /// (η = 0), Euler in s and DPM-Solver(++) of order 1 (docs/method.md §3.3).
    public static func firstOrderStep(_ k: Int, from: Point, to: Point) -> Combination {
        let r = to.s / from.s
        return Combination([(r, .y(k)), (1 - r, .consumed)])
    }

    public var description: String {
        terms.map { c, r in
            let name: String
            switch r {
            case .consumed: name = "D~"
            case .d(let j): name = "D\(j)"
            case .y(let j): name = "y\(j)"
            case .aux(let s): name = s
            }
            return String(format: "%+.6g·%@", c, name)
        }.joined(separator: " ")
    }
}
