/// An error from the tensor core. `message` is a complete sentence fragment such as
/// "shapes 3x4 and 5 cannot be broadcast"; the Lua layer prefixes it with the function name.
public struct TensorError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Formats a shape as dode prints it everywhere: `2x3`, or `scalar` for rank 0.
@inlinable
public func formatShape(_ shape: [Int]) -> String {
    shape.isEmpty ? "scalar" : shape.map(String.init).joined(separator: "x")
}
