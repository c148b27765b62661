import Foundation

/// numpy's `.npy` format (versions 1.0, 2.0 and 3.0).
/// Reads float32/float64 and integer, unsigned and bool types (converted to Float64), little or
/// big endian, C or Fortran order; writes float32/float64, version 1.0, C order.
public enum NPY {
    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]

    public static func read(path: String) throws -> Tensor {
        try decode(AtomicFile.read(path), name: path)
    }

    public static func write(_ t: Tensor, path: String) throws {
        try AtomicFile.write(encode(t), to: path)
    }

    public static func encode(_ t: Tensor) -> Data {
        let descr = t.dtype == .float64 ? "<f8" : "<f4"
        let shapeText = t.shape.isEmpty ? "()"
            : (t.shape.count == 1 ? "(\(t.shape[0]),)" : "(" + t.shape.map(String.init).joined(separator: ", ") + ")")
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }"
        let total = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - total % 64) % 64) + "\n"
        var d = Data(magic)
        d.append(contentsOf: [1, 0])
        let hl = UInt16(header.utf8.count)
        d.append(contentsOf: [UInt8(hl & 0xff), UInt8(hl >> 8)])
        d.append(header.data(using: .ascii)!)
        let c = t.contiguous()
        d.append(Data(bytes: c.storage.raw + c.offset * c.dtype.size, count: c.count * c.dtype.size))
        return d
    }

    public static func decode(_ data: Data, name: String) throws -> Tensor {
        func fail(_ why: String) -> TensorError { TensorError("'\(name)' is not a valid .npy file: \(why)") }
        let bytes = [UInt8](data)
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else { throw fail("wrong magic (expected \\x93NUMPY)") }
        let major = bytes[6]
        var headerLen: Int, start: Int
        switch major {
        case 1:
            headerLen = Int(bytes[8]) | Int(bytes[9]) << 8; start = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw fail("truncated header length") }
            headerLen = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24; start = 12
        default: throw fail("unsupported version \(major)")
        }
        guard start + headerLen <= bytes.count else {
            throw fail("header length \(headerLen) runs past the end of the file (\(bytes.count) bytes)")
        }
        guard let header = String(bytes: bytes[start..<(start + headerLen)],
                                  encoding: major == 3 ? .utf8 : .isoLatin1) else {
            throw fail("header is not text")
        }
        guard let descr = field(header, "descr") else { throw fail("header has no 'descr'") }
        guard let fortranText = field(header, "fortran_order") else { throw fail("header has no 'fortran_order'") }
        guard let shapeText = field(header, "shape") else { throw fail("header has no 'shape'") }
        let fortran: Bool
        switch fortranText { case "True": fortran = true; case "False": fortran = false
        default: throw fail("fortran_order must be True or False (got \(fortranText))") }
        let inner = shapeText.trimmingCharacters(in: CharacterSet(charactersIn: "() "))
        var shape: [Int] = []
        for part in inner.split(separator: ",") {
            let p = part.trimmingCharacters(in: .whitespaces)
            if p.isEmpty { continue }
            guard let v = Int(p), v >= 0 else { throw fail("invalid shape \(shapeText)") }
            shape.append(v)
        }
        let d = descr.trimmingCharacters(in: CharacterSet(charactersIn: "'\""))
        guard d.count >= 2 else { throw fail("invalid descr \(descr)") }
        let order = d.first!, kind = d.dropFirst().first!, sizeText = String(d.dropFirst(2))
        guard let size = Int(sizeText), [1, 2, 4, 8].contains(size) else { throw fail("unsupported descr \(descr)") }
        let big = order == ">"
        guard "<>|=".contains(order) else { throw fail("unsupported byte order in descr \(descr)") }
        guard "fiub".contains(kind), !(kind == "f" && size == 1) else { throw fail("unsupported descr \(descr)") }
        let dtype: DType = kind == "f" && size == 4 ? .float32 : .float64
        let count: Int
        do { count = try TensorLimits.checkedCount(shape, dtype: dtype) }
        catch let e as TensorError { throw fail(e.message) }
        let dataStart = start + headerLen
        let (need, o) = count.multipliedReportingOverflow(by: size)
        guard !o, bytes.count - dataStart >= need else {
            throw fail("shape \(formatShape(shape)) needs \(o ? "too many" : String(need)) bytes of data, " +
                       "the file has \(bytes.count - dataStart)")
        }
        let fshape = fortran ? Array(shape.reversed()) : shape
        let t = try Tensor.empty(fshape, dtype: dtype)
        try bytes.withUnsafeBufferPointer { buf in
            let base = buf.baseAddress! + dataStart
            func raw(_ i: Int) -> UInt64 {
                var v: UInt64 = 0
                for b in 0..<size {
                    let byte = UInt64(base[i * size + (big ? size - 1 - b : b)])
                    v |= byte << (8 * UInt64(b))
                }
                return v
            }
            func value(_ i: Int) throws -> Double {
                let r = raw(i)
                switch (kind, size) {
                case ("f", 2): return Double(Float16(bitPattern: UInt16(r)))
                case ("f", 4): return Double(Float(bitPattern: UInt32(r)))
                case ("f", 8): return Double(bitPattern: r)
                case ("i", 1): return Double(Int8(truncatingIfNeeded: r))
                case ("i", 2): return Double(Int16(truncatingIfNeeded: r))
                case ("i", 4): return Double(Int32(truncatingIfNeeded: r))
                case ("i", 8): return Double(Int64(bitPattern: r))
                case ("u", _), ("b", _): return Double(r)
                default: throw fail("unsupported descr \(descr)")
                }
            }
            switch dtype {
            case .float64:
                let p = t.pointer(Double.self)
                for i in 0..<count { p[i] = try value(i) }
            case .float32:
                let p = t.pointer(Float.self)
                for i in 0..<count { p[i] = Float(bitPattern: UInt32(raw(i))) }
            }
        }
        if fortran && shape.count > 1 {
            // A Fortran-order array is the C-order array of the reversed shape, transposed.
            return Tensor(storage: t.storage, offset: 0, shape: shape,
                          strides: Array(Tensor.contiguousStrides(fshape).reversed())).clone()
        }
        return fortran ? try t.reshape(shape) : t
    }

    /// Extracts the raw text of `key`'s value from a Python dict literal header.
    static func field(_ header: String, _ key: String) -> String? {
        guard let r = header.range(of: "'\(key)'") ?? header.range(of: "\"\(key)\"") else { return nil }
        var rest = header[r.upperBound...].drop(while: { $0 == " " })
        guard rest.first == ":" else { return nil }
        rest = rest.dropFirst().drop(while: { $0 == " " })
        if rest.first == "(" {
            guard let close = rest.firstIndex(of: ")") else { return nil }
            return String(rest[...close])
        }
        if rest.first == "'" || rest.first == "\"" {
            let q = rest.first!
            let body = rest.dropFirst()
            guard let close = body.firstIndex(of: q) else { return nil }
            return String(body[..<close])
        }
        let end = rest.firstIndex(where: { $0 == "," || $0 == "}" }) ?? rest.endIndex
        return rest[..<end].trimmingCharacters(in: .whitespaces)
    }
}
