/// One network evaluation of a solver's plan: where the denoiser is evaluated, and where the
/// update that consumes it lands. Heun's predictor lands on the next grid point; DPM-2's and the
/// singlestep solvers' first stages land between grid points (method.md §3).
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

/// What a solver computes after evaluation k.
public enum Update {
    /// The landing state (and any solver memory to keep) as combinations in scaled-state units.
    case linear(landing: Combination, aux: [(String, Combination)])
    /// The landing state (in the schedule's space) as a function of the consumed prediction;
    /// used by solvers written in Lua. The function must be affine in its argument and free of
    /// side effects (the D-ODE fit calls it twice).
    case function((Tensor) throws -> Tensor)
}

/// A diffusion ODE solver: a plan over a grid and an update after each evaluation. Solvers are
/// stateless; everything a run needs lives in `SolverRun` (so one solver object serves many
/// runs, threads and D-variants).
public protocol Solver: AnyObject {
    /// The solver's name (`dpmpp`, `heun`, ...).
    var name: String { get }
    /// Options that define it, for printing and for saved fits.
    var options: [String: String] { get }
    /// How many past evaluations updates may reference (`.d(j)`, `.y(j)` with j ≥ k − depth).
    var historyDepth: Int { get }
    func plan(_ grid: Grid) throws -> Plan
    func update(_ k: Int, _ run: SolverRun) throws -> Update
    /// The solver's effective ε after evaluation k as a combination, for solvers whose update is
    /// a DDIM step with a combined ε (iPNDM, DEIS): the reference code's D-ODE variant
    /// differences it. nil for others.
    func effectiveEps(_ k: Int, _ run: SolverRun) throws -> Combination?
}

extension Solver {
    public func effectiveEps(_ k: Int, _ run: SolverRun) throws -> Combination? { nil }

    /// A one-line description: `dpmpp(order=2, method=multistep)`.
    public var summary: String {
        name + "(" + options.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ") + ")"
    }
}
