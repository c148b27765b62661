/// The 64-bit FNV-1a hash (Fowler–Noll–Vo, offset basis 0xcbf29ce484222325, prime
/// 0x100000001b3) of a byte sequence. Unlike Swift's `Hasher`, which is seeded per process, it
/// gives the same value in every process, so ranks can compare hashes of what they were given.
public struct FNV1a {
    public private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    public init() {}

    public mutating func add(byte b: UInt8) { value = (value ^ UInt64(b)) &* 0x100_0000_01b3 }

    /// The eight bytes of `v`, least significant first.
    public mutating func add(_ v: UInt64) { for i in 0..<8 { add(byte: UInt8(truncatingIfNeeded: v >> (8 * i))) } }

    /// The bit pattern of `x` (so 0.0 and −0.0 differ, and NaNs hash by payload).
    public mutating func add(_ x: Double) { add(x.bitPattern) }

    /// The string's UTF-8 bytes and a terminating 0 (so ["ab", "c"] and ["a", "bc"] differ).
    public mutating func add(_ s: String) { for b in s.utf8 { add(byte: b) }; add(byte: 0) }

    /// `value` as a signed integer (for Int64 signatures).
    public var signed: Int64 { Int64(bitPattern: value) }
}
