/// A built-in solver as the catalogue lists it: name, option schema, help, whether it is its
/// own D-ODE teacher, and how to build it.
public struct SolverEntry: Sendable {
    public let name: String
    /// One paragraph: what the solver is and which reference it matches.
    public let help: String
    public let options: [SolverOption]
    /// True when D-ODE's default teacher is the solver itself on the refined grid (iPNDM and
    /// DEIS, as in the reference code); otherwise DDIM teaches.
    public let teachesItself: Bool
    let build: @Sendable (SolverOptionValues) throws -> Solver

    public init(name: String, help: String, options: [SolverOption] = [], teachesItself: Bool = false,
                build: @escaping @Sendable (SolverOptionValues) throws -> Solver) {
        self.name = name
        self.help = help
        self.options = options
        self.teachesItself = teachesItself
        self.build = build
    }

    /// `dode.solver.dpmpp{order = 2, method = 'multistep' | 'singlestep', lower_order_final = true}`.
    public var signature: String {
        "dode.solver.\(name)"
            + (options.isEmpty ? "([{}])" : "{" + options.map(\.signature).joined(separator: ", ") + "}")
    }

    /// Builds the solver from option values (missing ones take their defaults). Unknown names
    /// and values the schema refuses are errors naming the option, what it accepts and what came.
    public func make(_ given: [String: SolverOptionValue] = [:]) throws -> Solver {
        var values: [String: SolverOptionValue] = [:]
        for (key, v) in given {
            guard let opt = options.first(where: { $0.name == key }) else {
                let valid = options.isEmpty ? "it takes no options"
                                            : "valid options: " + options.map(\.name).joined(separator: ", ")
                throw CoreError("\(name): unknown option '\(key)' (\(valid))")
            }
            guard opt.accepts(v) else { throw CoreError("\(name): option '\(key)' must be \(opt.expected) (got \(v))") }
            values[key] = v
        }
        for opt in options where values[opt.name] == nil { values[opt.name] = opt.defaultValue }
        return try build(SolverOptionValues(values: values))
    }

    /// Builds the solver from options in text form (as `Solver.options` reports them and saved
    /// fits store them).
    public func make(text: [String: String]) throws -> Solver {
        var values: [String: SolverOptionValue] = [:]
        for (key, t) in text {
            guard let opt = options.first(where: { $0.name == key }) else {
                throw CoreError("\(name): unknown option '\(key)' " +
                                "(valid options: \(options.map(\.name).joined(separator: ", ")))")
            }
            guard let v = opt.parse(t) else {
                throw CoreError("\(name): option '\(key)' must be \(opt.expected) (got '\(t)')")
            }
            values[key] = v
        }
        return try make(values)
    }
}

/// The built-in solvers: one table drives the Lua constructors (`dode.solver.<name>`),
/// `dode.solver.make`/`list`, the parity tests and the reloading of saved fits. A new solver is
/// its own file (with its `entry`) and one line here.
public enum SolverCatalog {
    public static let entries: [SolverEntry] = [
        DDIMSolver.entry, EulerSolver.entry, HeunSolver.entry, DPM2Solver.entry, LMSSolver.entry, PNDMSolver.entry,
        IPNDMSolver.entry, DEISSolver.entry, DPMSolver.entry, DPMSolverPlusPlus.entry, UniPCSolver.entry,
    ]

    public static func entry(_ name: String) -> SolverEntry? { entries.first { $0.name == name } }

    /// The built-in solver `name` with the given options.
    public static func make(_ name: String, _ options: [String: SolverOptionValue] = [:]) throws -> Solver {
        guard let e = entry(name) else { throw unknown(name) }
        return try e.make(options)
    }

    /// The built-in solver `name` from options in text form (saved fits).
    public static func make(_ name: String, text: [String: String]) throws -> Solver {
        guard let e = entry(name) else { throw unknown(name) }
        return try e.make(text: text)
    }

    static func unknown(_ name: String) -> CoreError {
        CoreError("'\(name)' is not a built-in solver (built-in: \(entries.map(\.name).joined(separator: ", ")))")
    }
}
