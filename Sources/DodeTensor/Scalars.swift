import Foundation

// The element types' math functions, from the C library (Foundation): `pow` keeps C's (and
// numpy's) meaning for negative bases with integral exponents, (−2)^3 = −8, where
// swift-numerics' RealModule returns NaN for every negative base.

extension Double: TensorScalar {
    @inlinable public static var dtype: DType { .float64 }
    @inlinable public static func exp(_ x: Double) -> Double { Foundation.exp(x) }
    @inlinable public static func log(_ x: Double) -> Double { Foundation.log(x) }
    @inlinable public static func sqrt(_ x: Double) -> Double { x.squareRoot() }
    @inlinable public static func tanh(_ x: Double) -> Double { Foundation.tanh(x) }
    @inlinable public static func pow(_ x: Double, _ y: Double) -> Double { Foundation.pow(x, y) }
    @inlinable public static func sin(_ x: Double) -> Double { Foundation.sin(x) }
    @inlinable public static func cos(_ x: Double) -> Double { Foundation.cos(x) }
    @inlinable public var double: Double { self }
}

extension Float: TensorScalar {
    @inlinable public static var dtype: DType { .float32 }
    @inlinable public static func exp(_ x: Float) -> Float { Foundation.expf(x) }
    @inlinable public static func log(_ x: Float) -> Float { Foundation.logf(x) }
    @inlinable public static func sqrt(_ x: Float) -> Float { x.squareRoot() }
    @inlinable public static func tanh(_ x: Float) -> Float { Foundation.tanhf(x) }
    @inlinable public static func pow(_ x: Float, _ y: Float) -> Float { Foundation.powf(x, y) }
    @inlinable public static func sin(_ x: Float) -> Float { Foundation.sinf(x) }
    @inlinable public static func cos(_ x: Float) -> Float { Foundation.cosf(x) }
    @inlinable public var double: Double { Double(self) }
}
