import Foundation

/// A grid: the decreasing list of points a sampler visits, ending with its final point.
/// A grid is data (k-diffusion's lesson): solvers take any grid, builders only make them.
///
/// `n` counts steps: every builder lists n levels and then appends the final point chosen by
/// `final` — `.zero` (s = 0, the default), `.sigmaMin` (the schedule's smallest level) or
/// `.none` — so a grid has n + 1 points (n with `.none`). `variable` is the quantity in which
/// `refine` spaces new points (docs/method.md §2.6).
public struct Grid: Sendable, CustomStringConvertible {
    public enum Final: String, Sendable { case zero, sigmaMin = "sigma_min", none }

    /// The variable a grid was built in, which `refine` interpolates uniformly.
    public enum Variable: Sendable, Equatable {
        case t
        case logsnr
        case karras(rho: Double)
        case s
    }

    public let schedule: Schedule
    public let points: [Point]
    public let variable: Variable
    public let final: Final
    /// How the grid was made (for printing and saved fits), e.g. "discrete(trailing, 10)".
    public let origin: String

    public init(schedule: Schedule, points: [Point], variable: Variable, final: Final, origin: String) throws {
        guard points.count >= 2 else { throw CoreError("a grid needs at least 2 points (got \(points.count))") }
        for (i, p) in points.enumerated() {
            guard p.scheduleID == schedule.id else { throw CoreError("point \(i + 1) belongs to another schedule") }
            if i > 0 {
                let prev = points[i - 1]
                guard p.s < prev.s else {
                    if p.s == prev.s {
                        throw CoreError("points \(i) and \(i + 1) have the same noise level s = \(p.s) " +
                                        "(a zero-length step)")
                    }
                    throw CoreError("noise levels must decrease along a grid " +
                                    "(point \(i): s = \(prev.s), point \(i + 1): s = \(p.s))")
                }
            }
            if p.isClean && i != points.count - 1 {
                throw CoreError("only the last point of a grid may be the clean point")
            }
        }
        self.schedule = schedule
        self.points = points
        self.variable = variable
        self.final = final
        self.origin = origin
    }

    public var count: Int { points.count }
    public subscript(i: Int) -> Point { points[i] }
    /// Number of steps (intervals).
    public var steps: Int { points.count - 1 }

    /// Appends the final point to `levels` (which must be decreasing and non-clean).
    static func make(_ schedule: Schedule, levels: [Point], final: Final, variable: Variable,
                     origin: String) throws -> Grid {
        guard !levels.isEmpty else { throw CoreError("a grid needs at least one level") }
        var pts = levels
        switch final {
        case .zero: pts.append(schedule.cleanPoint)
        case .sigmaMin:
            let m = schedule.minPoint()
            if let last = levels.last, last.s == m.s {
                throw CoreError("the final point 'sigma_min' equals the last listed level " +
                                "(a zero-length final step); use final = 'none'")
            }
            pts.append(m)
        case .none:
            guard levels.count >= 2 else { throw CoreError("a grid with final = 'none' needs at least 2 levels") }
        }
        if final == .zero, let last = levels.last, last.isClean {
            throw CoreError("the last listed level is already the clean point (a zero-length final step)")
        }
        return try Grid(schedule: schedule, points: pts, variable: variable, final: final, origin: origin)
    }

    // MARK: refinement

    /// The grid with k − 1 points inserted uniformly (in `variable`) in every interval; every
    /// original point is kept exactly. The last interval into s = 0 is refined in t for VP
    /// schedules (the clean point counting as label −1 for discrete schedules, with s linear
    /// between integer labels; t = 0 for continuous ones) and in s^(1/7) otherwise.
    public func refine(_ k: Int) throws -> Grid {
        guard k >= 1 else { throw CoreError("refinement factor must be a positive integer (got \(k))") }
        guard k <= 100_000, (points.count - 1).multipliedReportingOverflow(by: k).partialValue < 10_000_000 else {
            throw CoreError("refinement to more than 10,000,000 points is not supported")
        }
        if k == 1 { return self }
        var out: [Point] = []
        for i in 0..<(points.count - 1) {
            let a = points[i], b = points[i + 1]
            out.append(a)
            for j in 1..<k {
                let u = Double(j) / Double(k)
                out.append(try interpolate(a, b, u))
            }
        }
        out.append(points[points.count - 1])
        return try Grid(schedule: schedule, points: out, variable: variable, final: final,
                        origin: "\(origin).refine(\(k))")
    }

    /// The point a fraction u of the way from a to b in this grid's variable.
    func interpolate(_ a: Point, _ b: Point, _ u: Double) throws -> Point {
        if b.isClean {
            if schedule.isVP {
                let ta = a.t ?? 0, tb = schedule.isDiscrete ? -1.0 : 0.0
                let t = ta + u * (tb - ta)
                return schedule.isDiscrete ? try schedule.pointLinearS(t: t) : try schedule.point(t: t)
            }
            let ra = Foundation.pow(a.s, 1.0 / 7)
            return try schedule.point(s: Foundation.pow(ra * (1 - u), 7))
        }
        switch variable {
        case .t:
            let ta = a.t ?? 0, tb = b.t ?? 0
            return try schedule.point(t: ta + u * (tb - ta))
        case .logsnr:
            return try schedule.point(logsnr: a.logsnr + u * (b.logsnr - a.logsnr))
        case .karras(let rho):
            let ra = Foundation.pow(a.s, 1 / rho), rb = Foundation.pow(b.s, 1 / rho)
            return try schedule.point(s: Foundation.pow(ra + u * (rb - ra), rho))
        case .s:
            return try schedule.point(s: a.s + u * (b.s - a.s))
        }
    }

    /// A new grid with extra points inserted (e.g. a solver's stage times for a teacher);
    /// points already present (same s) are not duplicated.
    public func inserting(_ extra: [Point]) throws -> Grid {
        var all = points
        for p in extra where !all.contains(where: { $0.s == p.s }) { all.append(p) }
        all.sort { $0.s > $1.s }
        return try Grid(schedule: schedule, points: all, variable: variable, final: final,
                        origin: "\(origin)+\(extra.count) stage points")
    }

    /// The index of the point with noise level s, if present.
    public func index(ofS s: Double) -> Int? { points.firstIndex { $0.s == s } }

    public var description: String {
        var lines = ["dode.Grid \(origin): \(points.count) points, \(steps) steps, schedule \(schedule.name), " +
                     "final '\(final.rawValue)'"]
        func pad(_ s: String, _ w: Int) -> String { String(repeating: " ", count: Swift.max(0, w - s.count)) + s }
        lines.append("  " + pad("i", 4) + pad("t", 12) + pad("s", 14) + pad("alpha", 14) + pad("logsnr", 12))
        let show = points.count <= 24 ? Array(points.indices)
                                      : Array(0..<10) + [-1] + Array((points.count - 10)..<points.count)
        for i in show {
            if i < 0 { lines.append("  ..."); continue }
            let p = points[i]
            lines.append("  " + pad(String(i + 1), 4) + pad(p.t.map { String(format: "%.6g", $0) } ?? "nil", 12)
                         + pad(String(format: "%.6g", p.s), 14) + pad(String(format: "%.6g", p.alpha), 14)
                         + pad(String(format: "%.6g", p.logsnr), 12))
        }
        return lines.joined(separator: "\n")
    }
}
