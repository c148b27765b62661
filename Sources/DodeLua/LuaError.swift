/// An error a binding throws. The dispatcher pushes `message` and the C trampoline raises it with
/// the caller's `file:line:` prefix, after every Swift frame has returned.
public struct LuaError: Error, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// An error that already went through a Lua callback of an outer dode call (a denoiser that
/// calls a denoiser ...): it is raised again exactly as it is, without another binding name,
/// location or traceback, so recursion does not grow the message at every level.
public struct LuaErrorVerbatim: Error, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
