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
    /// True when D-ODE's default teacher is the solver itself (the catalogue's flag; false for
    /// solvers written in Lua).
    var teachesItself: Bool { get }
}

extension Solver {
    public func effectiveEps(_ k: Int, _ run: SolverRun) throws -> Combination? { nil }
    public var teachesItself: Bool { false }

    /// A one-line description: `dpmpp(order=2, method=multistep)`.
    public var summary: String {
        name + "(" + options.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ") + ")"
    }
}
