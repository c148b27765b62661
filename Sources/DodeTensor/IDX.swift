import CZlib
import Foundation
import Synchronization

/// The IDX format of MNIST-style data sets (LeCun's): a big-endian header (two zero bytes, a type
/// code, the number of dimensions, then each dimension as a 32-bit big-endian integer) followed by
/// the values. Files ending in `.gz` are decompressed with zlib. Unsigned bytes (0x08) and signed
/// bytes (0x09) become Float64 tensors; other codes are errors.
public enum IDX {
    /// The header and raw values of an IDX file: the shape, the bytes, where the values start,
    /// and whether they are signed.
    public struct Raw {
        public let shape: [Int]
        public let bytes: [UInt8]
        public let start: Int
        public let signed: Bool

        /// Value i (row-major) as a Double.
        @inlinable public func value(_ i: Int) -> Double {
            signed ? Double(Int8(bitPattern: bytes[start + i])) : Double(bytes[start + i])
        }
    }

    public static func readRaw(path: String) throws -> Raw {
        try decode(try path.hasSuffix(".gz") ? gunzip(path) : AtomicFile.read(path), name: path)
    }

    /// Parses the (uncompressed) bytes of an IDX file; `name` labels errors.
    public static func decode(_ data: Data, name path: String) throws -> Raw {
        guard data.count >= 4 else { throw TensorError("'\(path)' is too short for an IDX file (\(data.count) bytes)") }
        let b = [UInt8](data)
        guard b[0] == 0, b[1] == 0 else {
            throw TensorError("'\(path)' is not an IDX file (it does not start with two zero bytes)")
        }
        guard b[2] == 0x08 || b[2] == 0x09 else {
            throw TensorError("'\(path)': IDX value type 0x\(String(b[2], radix: 16)) is not supported " +
                              "(supported: unsigned and signed bytes)")
        }
        let nd = Int(b[3])
        guard nd >= 1, nd <= 8, b.count >= 4 + 4 * nd else {
            throw TensorError("'\(path)': an IDX header with \(nd) dimensions does not fit the file")
        }
        var shape: [Int] = []
        for i in 0..<nd {
            let o = 4 + 4 * i
            shape.append(Int(b[o]) << 24 | Int(b[o + 1]) << 16 | Int(b[o + 2]) << 8 | Int(b[o + 3]))
        }
        // The product of the non-zero sizes must fit too (strides use it, even for no values).
        var count = 1, span = 1
        for d in shape {
            let (c, o1) = count.multipliedReportingOverflow(by: d)
            let (s, o2) = span.multipliedReportingOverflow(by: Swift.max(d, 1))
            guard !o1, !o2 else {
                throw TensorError("'\(path)': the IDX header announces a shape \(formatShape(shape)) " +
                                  "too large to index")
            }
            count = c; span = s
        }
        let start = 4 + 4 * nd
        guard b.count - start == count else {
            throw TensorError("'\(path)': the IDX header announces \(formatShape(shape)) = \(count) values, " +
                              "the file holds \(b.count - start)")
        }
        return Raw(shape: shape, bytes: b, start: start, signed: b[2] == 0x09)
    }

    /// The whole file as a Float64 tensor.
    public static func read(path: String) throws -> Tensor {
        let raw = try readRaw(path: path)
        let t = try Tensor.empty(raw.shape, dtype: .float64)
        let p = t.pointer(Double.self)
        for i in 0..<t.count { p[i] = raw.value(i) }
        return t
    }

    /// Recently decompressed files (path, size, modification date) → contents: a script that
    /// loads the same data set several times decompresses it once.
    private static let cache = Mutex<[(key: String, data: Data)]>([])

    /// The decompressed contents of a gzip file.
    static func gunzip(_ path: String) throws -> Data {
        guard let attrs = try? FileManager.default.attributesOfItem(atPath: path) else {
            throw TensorError("no file '\(path)'")
        }
        let key = "\(path)|\((attrs[.size] as? NSNumber)?.intValue ?? -1)|" +
                  "\((attrs[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)"
        if let hit = cache.withLock({ c in c.first { $0.key == key }?.data }) { return hit }
        let data = try inflate(path)
        cache.withLock { c in
            c.removeAll { $0.key == key }
            c.insert((key, data), at: 0)
            if c.count > 2 { c.removeLast() }
        }
        return data
    }

    private static func inflate(_ path: String) throws -> Data {
        guard let f = gzopen(path, "rb") else { throw TensorError("cannot open '\(path)'") }
        defer { gzclose(f) }
        var out = Data()
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buf.withUnsafeMutableBytes { gzread(f, $0.baseAddress, UInt32($0.count)) }
            if n < 0 { throw TensorError("'\(path)' is not a valid gzip file") }
            if n == 0 { break }
            guard out.count + Int(n) <= TensorLimits.maxBytes else {
                throw TensorError("'\(path)' decompresses to more than the size cap of \(TensorLimits.maxBytes) bytes")
            }
            out.append(contentsOf: buf[0..<Int(n)])
        }
        return out
    }
}
