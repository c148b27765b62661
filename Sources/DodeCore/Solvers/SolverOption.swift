/// A value of a solver option.
public enum SolverOptionValue: Hashable, Sendable, CustomStringConvertible {
    case int(Int), string(String), bool(Bool)

    /// The form solvers report in `options` and saved fits keep ("2", "multistep", "true").
    public var description: String {
        switch self {
        case .int(let i): return String(i)
        case .string(let s): return s
        case .bool(let b): return String(b)
        }
    }
}

/// One option of a built-in solver: its name, what it accepts, its default and what it does.
/// The catalogue's constructors, `dode.solver.make`, the help text and the reloading of saved
/// fits all validate against it.
public struct SolverOption: Sendable {
    public enum Kind: Sendable, Equatable {
        case integer(ClosedRange<Int>)
        case choice([String])
        case boolean
    }
    public let name: String
    public let kind: Kind
    public let defaultValue: SolverOptionValue
    public let help: String

    public static func integer(_ name: String, _ range: ClosedRange<Int>, default d: Int,
                               _ help: String) -> SolverOption {
        SolverOption(name: name, kind: .integer(range), defaultValue: .int(d), help: help)
    }
    public static func choice(_ name: String, _ choices: [String], default d: String, _ help: String) -> SolverOption {
        SolverOption(name: name, kind: .choice(choices), defaultValue: .string(d), help: help)
    }
    public static func boolean(_ name: String, default d: Bool, _ help: String) -> SolverOption {
        SolverOption(name: name, kind: .boolean, defaultValue: .bool(d), help: help)
    }
    /// diffusers' `lower_order_final`, shared by the multistep solvers.
    public static let lowerOrderFinal = boolean("lower_order_final", default: true,
        "lower the last steps' orders as diffusers does (below 15 steps; always first order into s = 0)")

    /// What the option accepts, for messages: "1, 2 or 3", "one of 'bh1', 'bh2'", "a boolean".
    public var expected: String {
        switch kind {
        case .integer(let r):
            if r.count <= 5 {
                let v = r.map(String.init)
                return v.count == 1 ? v[0] : v.dropLast().joined(separator: ", ") + " or " + v.last!
            }
            return "an integer in \(r.lowerBound)..\(r.upperBound)"
        case .choice(let c): return "one of " + c.map { "'\($0)'" }.joined(separator: ", ")
        case .boolean: return "a boolean"
        }
    }

    /// `value` if the option accepts it, else nil.
    public func accepts(_ value: SolverOptionValue) -> Bool {
        switch (kind, value) {
        case (.integer(let r), .int(let i)): return r.contains(i)
        case (.choice(let c), .string(let s)): return c.contains(s)
        case (.boolean, .bool): return true
        default: return false
        }
    }

    /// The value of its text form (as saved fits store options), if the option accepts it.
    public func parse(_ text: String) -> SolverOptionValue? {
        let v: SolverOptionValue?
        switch kind {
        case .integer: v = Int(text).map { .int($0) }
        case .choice: v = .string(text)
        case .boolean: v = text == "true" ? .bool(true) : text == "false" ? .bool(false) : nil
        }
        return v.flatMap { accepts($0) ? $0 : nil }
    }

    /// The option as it reads in a signature: `order = 2`, `method = 'multistep' | 'singlestep'`.
    public var signature: String {
        switch kind {
        case .choice(let c):
            let d = defaultValue.description
            return "\(name) = " + ([d] + c.filter { $0 != d }).map { "'\($0)'" }.joined(separator: " | ")
        default: return "\(name) = \(defaultValue)"
        }
    }

    /// Checks an order given to a solver's initialiser.
    static func checkOrder(_ o: Int, in range: ClosedRange<Int>, solver: String) throws -> Int {
        let opt = integer("order", range, default: range.lowerBound, "")
        guard opt.accepts(.int(o)) else { throw CoreError("\(solver): order must be \(opt.expected) (got \(o))") }
        return o
    }
}

/// Validated option values of one solver, defaults filled in.
public struct SolverOptionValues: Sendable {
    public let values: [String: SolverOptionValue]

    public func int(_ name: String) -> Int { if case .int(let i)? = values[name] { return i }; return 0 }
    public func string(_ name: String) -> String { if case .string(let s)? = values[name] { return s }; return "" }
    public func bool(_ name: String) -> Bool { if case .bool(let b)? = values[name] { return b }; return false }
}
