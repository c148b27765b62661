import CKernels

/// A user's request to stop the running operation (Ctrl-C in the REPL, a notebook's interrupt
/// button). A signal handler sets a process-wide flag; long loops (solver steps, fit rounds,
/// reference-solve steps) call `check()` between units of work, so an interrupt stops a long
/// `sample` or `fit` within one step and leaves the session usable.
public enum Interrupt {
    /// Throws `Interrupted` (and clears the request) when an interrupt is pending.
    @inlinable
    public static func check() throws {
        if dode_interrupt_pending() != 0, dode_interrupt_take() != 0 { throw Interrupted() }
    }

    /// Sets the request, as the signal handler does (tests, embedders).
    public static func request() { dode_interrupt_request() }

    /// Drops a pending request (before running a new chunk of user code).
    public static func clear() { dode_interrupt_clear() }
}

/// The error a loop throws when the user interrupted it.
public struct Interrupted: Error, CustomStringConvertible {
    public init() {}
    public var description: String { "interrupted" }
}
