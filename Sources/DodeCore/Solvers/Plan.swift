/// One network evaluation of a solver's plan: where the denoiser is evaluated, and where the
/// update that consumes it lands. Heun's predictor lands on the next grid point; DPM-2's and the
/// singlestep solvers' first stages land between grid points (docs/method.md §3.1, §5.3).
public struct Evaluation: Sendable {
    /// Grid step (0-based: from point `step` to `step + 1`).
    public let step: Int
    /// Stage within the step (0 = the step's first evaluation).
    public let stage: Int
    /// The point the denoiser is evaluated at.
    public let at: Point
    /// The point the following update lands on.
    public let lands: Point
    /// Order of the step this evaluation belongs to.
    public let order: Int
    /// True for the step's last evaluation: its landing state is the state at grid point step+1.
    public let final: Bool

    public init(step: Int, stage: Int, at: Point, lands: Point, order: Int, final: Bool) {
        self.step = step; self.stage = stage; self.at = at; self.lands = lands; self.order = order; self.final = final
    }
}

/// A solver's plan on a grid: every evaluation in order, and the order of every step.
public struct Plan: Sendable {
    public let evaluations: [Evaluation]
    public let stepOrders: [Int]
    public var nfe: Int { evaluations.count }

    public init(evaluations: [Evaluation], stepOrders: [Int]) {
        self.evaluations = evaluations
        self.stepOrders = stepOrders
    }

    /// Points where a stage lands between grid points (they must be inserted into a teacher's grid).
    public func stagePoints(of grid: Grid) -> [Point] {
        evaluations.map(\.lands).filter { p in !grid.points.contains { $0.s == p.s } }
    }
}
