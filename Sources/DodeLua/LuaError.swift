/// An error a binding throws. The dispatcher pushes `message` and the C trampoline raises it with
/// the caller's `file:line:` prefix, after every Swift frame has returned.
public struct LuaError: Error, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
