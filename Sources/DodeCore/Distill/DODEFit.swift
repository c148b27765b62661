import Foundation

/// The result of a D-ODE fit: one coefficient per network evaluation (or one per direction of a
/// generalised basis), with everything needed to reuse it safely.
public final class DODEFit {
    /// λ[k][m]: evaluation k (0-based), direction m.
    public internal(set) var lambdas: [[Double]]
    /// RMS of (teacher − student) at each evaluation's landing point before and after the correction.
    public internal(set) var residualBefore: [Double]
    public internal(set) var residualAfter: [Double]
    /// Conditions met while fitting (degenerate directions, ...).
    public internal(set) var warnings: [String]
    public let directions: [Direction]
    public let space: FitSpace
    public let first: FirstEvaluation
    public let ridge: Double
    /// What the fit was made with (solver, options, grid, schedule, teacher, k, batch, seed, version).
    public var metadata: [String: Any]
    /// The grid points (t, s) the fit belongs to, and its schedule's config.
    public let gridPoints: [(t: Double?, s: Double)]
    public let scheduleConfig: [String: String]
    public let solverName: String
    public let solverOptions: [String: String]
    /// Where each evaluation's update lands: (step, stage, t, s), 0-based step and stage.
    public let landings: [(step: Int, stage: Int, t: Double?, s: Double)]

    convenience init(lambdas: [[Double]], residualBefore: [Double], residualAfter: [Double], warnings: [String],
                     directions: [Direction], space: FitSpace, first: FirstEvaluation, ridge: Double,
                     metadata: [String: Any], grid: Grid, solver: Solver, plan: Plan) {
        self.init(lambdas: lambdas, residualBefore: residualBefore, residualAfter: residualAfter, warnings: warnings,
                  directions: directions, space: space, first: first, ridge: ridge, metadata: metadata,
                  gridPoints: grid.points.map { ($0.t, $0.s) }, scheduleConfig: grid.schedule.config,
                  solverName: solver.name, solverOptions: solver.options,
                  landings: plan.evaluations.map { ($0.step, $0.stage, $0.lands.t, $0.lands.s) })
    }

    /// Rebuilt from a saved file.
    init(lambdas: [[Double]], residualBefore: [Double], residualAfter: [Double], warnings: [String],
         directions: [Direction], space: FitSpace, first: FirstEvaluation, ridge: Double, metadata: [String: Any],
         gridPoints: [(t: Double?, s: Double)],
         scheduleConfig: [String: String], solverName: String, solverOptions: [String: String],
         landings: [(step: Int, stage: Int, t: Double?, s: Double)]) {
        self.lambdas = lambdas
        self.residualBefore = residualBefore
        self.residualAfter = residualAfter
        self.warnings = warnings
        self.directions = directions
        self.space = space
        self.first = first
        self.ridge = ridge
        self.metadata = metadata
        self.gridPoints = gridPoints
        self.scheduleConfig = scheduleConfig
        self.solverName = solverName
        self.solverOptions = solverOptions
        self.landings = landings
    }

    /// A copy with other coefficients (ablations, hand-edited fits, brute-force checks).
    public func with(lambdas new: [[Double]]) throws -> DODEFit {
        guard new.count == lambdas.count, new.allSatisfy({ $0.count == directions.count }) else {
            throw CoreError("expected \(lambdas.count) rows of \(directions.count) coefficients")
        }
        return DODEFit(lambdas: new, residualBefore: residualBefore, residualAfter: residualAfter, warnings: warnings,
                       directions: directions, space: space, first: first, ridge: ridge, metadata: metadata,
                       gridPoints: gridPoints, scheduleConfig: scheduleConfig, solverName: solverName,
                       solverOptions: solverOptions, landings: landings)
    }

    /// The D-variant of `base` (which must be the solver the fit was made for).
    public func solver(base: Solver) throws -> DSolver {
        guard base.name == solverName else {
            throw CoreError("the fit was made for solver '\(solverName)', not '\(base.name)'")
        }
        guard base.options == solverOptions else {
            let diff = Set(base.options.keys).union(solverOptions.keys).sorted()
                .filter { base.options[$0] != solverOptions[$0] }
                .map { "\($0): fit \(solverOptions[$0] ?? "unset"), solver \(base.options[$0] ?? "unset")" }
            throw CoreError("the fit was made for \(solverName) with other options (\(diff.joined(separator: "; ")))")
        }
        return DSolver(base: base, fit: self)
    }

    /// Errors when `grid` differs from the fit's grid or schedule, saying what differs.
    public func checkGrid(_ grid: Grid) throws {
        if grid.schedule.config != scheduleConfig {
            let keys = Set(grid.schedule.config.keys).union(scheduleConfig.keys).sorted()
            let diff = keys.filter { grid.schedule.config[$0] != scheduleConfig[$0] }
                .map { "\($0): fit \(scheduleConfig[$0] ?? "unset"), grid \(grid.schedule.config[$0] ?? "unset")" }
            throw CoreError("the fit was made on another schedule (\(diff.joined(separator: "; ")))")
        }
        guard grid.count == gridPoints.count else {
            throw CoreError("the fit was made on a grid of \(gridPoints.count) points, this grid has \(grid.count)")
        }
        for (i, p) in grid.points.enumerated() {
            let q = gridPoints[i]
            let same = p.t == q.t && (p.s == q.s || abs(p.s - q.s) <= 1e-12 * q.s)
            if !same {
                throw CoreError("the fit was made on another grid: point \(i + 1) is " +
                                "t = \(q.t.map { String($0) } ?? "nil"), s = \(q.s) in the fit and " +
                                "t = \(p.t.map { String($0) } ?? "nil"), s = \(p.s) here")
            }
        }
    }

    /// A readable table of the coefficients and residuals.
    public func table() -> String {
        func pad(_ s: String, _ w: Int) -> String { String(repeating: " ", count: Swift.max(0, w - s.count)) + s }
        var lines = ["D-ODE fit of \(solverName) (\(directions.map(\.rawValue).joined(separator: " + ")), " +
                     "\(space.rawValue) space, \(lambdas.count) evaluations, " +
                     "teacher \(metadata["teacher"] ?? "?"), k = \(metadata["k"] ?? "?"))"]
        lines.append(pad("eval", 5) + pad("step", 6) + pad("stage", 6) + pad("lands t", 10) + pad("lands s", 12)
                     + directions.map { pad("λ " + $0.rawValue, 14) }.joined()
                     + pad("resid before", 14) + pad("after", 12))
        for k in 0..<lambdas.count {
            let l = landings[k]
            lines.append(pad(String(k + 1), 5) + pad(String(l.step + 1), 6) + pad(String(l.stage + 1), 6)
                         + pad(l.t.map { String(format: "%.2f", $0) } ?? "nil", 10)
                         + pad(String(format: "%.5g", l.s), 12)
                         + lambdas[k].map { pad(String(format: "%.5g", $0), 14) }.joined()
                         + pad(String(format: "%.5g", residualBefore[k]), 14)
                         + pad(String(format: "%.5g", residualAfter[k]), 12))
        }
        for w in warnings { lines.append("warning: " + w) }
        return lines.joined(separator: "\n")
    }
}
