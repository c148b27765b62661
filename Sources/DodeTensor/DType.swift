/// Element type of a tensor. Float64 is the default everywhere; Float32 is used by networks.
public enum DType: String, Sendable, CaseIterable {
    case float64
    case float32

    /// Bytes per element.
    @inlinable public var size: Int { self == .float64 ? 8 : 4 }

    /// numpy's promotion rule restricted to the two float types: any Float64 operand wins.
    @inlinable public static func promote(_ a: DType, _ b: DType) -> DType {
        (a == .float64 || b == .float64) ? .float64 : .float32
    }

    /// Parses 'float64'/'double'/'f64' and 'float32'/'float'/'f32'.
    public init?(name: String) {
        switch name.lowercased() {
        case "float64", "double", "f64": self = .float64
        case "float32", "float", "f32": self = .float32
        default: return nil
        }
    }
}

/// The scalar types a tensor can hold; kernels are written once, generic over this protocol,
/// and specialised for Float and Double.
public protocol TensorScalar: BinaryFloatingPoint, Sendable where Self.RawSignificand: FixedWidthInteger {
    static var dtype: DType { get }
    static func exp(_ x: Self) -> Self
    static func log(_ x: Self) -> Self
    static func sqrt(_ x: Self) -> Self
    static func tanh(_ x: Self) -> Self
    static func pow(_ x: Self, _ y: Self) -> Self
    static func sin(_ x: Self) -> Self
    static func cos(_ x: Self) -> Self
    init(_ v: Double)
    var double: Double { get }
}
