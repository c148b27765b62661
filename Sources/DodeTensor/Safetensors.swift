import Foundation

/// The `.safetensors` format: an 8-byte little-endian header length, a JSON header mapping names
/// to {dtype, shape, data_offsets}, then the data. Reads F64, F32, F16, BF16, U8, I8, I16, I32, I64
/// (integers and half floats are converted: F16/BF16 to Float32, integers to Float64); writes F64
/// and F32.
public enum Safetensors {
    public struct File {
        public var tensors: [String: Tensor]
        public var metadata: [String: String]
    }

    public static func read(path: String) throws -> File {
        try decode(AtomicFile.read(path), name: path)
    }

    public static func write(_ tensors: [String: Tensor], metadata: [String: String] = [:], path: String) throws {
        try AtomicFile.write(encode(tensors, metadata: metadata), to: path)
    }

    public static func encode(_ tensors: [String: Tensor], metadata: [String: String] = [:]) -> Data {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        let sorted = tensors.sorted { $0.key < $1.key }
        for (name, t) in sorted {
            let n = t.count * t.dtype.size
            header[name] = ["dtype": t.dtype == .float64 ? "F64" : "F32", "shape": t.shape,
                            "data_offsets": [offset, offset + n]] as [String: Any]
            offset += n
        }
        var json = (try? JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])) ?? Data("{}".utf8)
        while json.count % 8 != 0 { json.append(0x20) }
        var d = Data()
        var len = UInt64(json.count).littleEndian
        d.append(Data(bytes: &len, count: 8))
        d.append(json)
        for (_, t) in sorted {
            let c = t.contiguous()
            d.append(Data(bytes: c.storage.raw + c.offset * c.dtype.size, count: c.count * c.dtype.size))
        }
        return d
    }

    public static func decode(_ data: Data, name: String) throws -> File {
        func fail(_ why: String) -> TensorError { TensorError("'\(name)' is not a valid .safetensors file: \(why)") }
        let bytes = [UInt8](data)
        guard bytes.count >= 8 else { throw fail("shorter than the 8-byte header length") }
        var n: UInt64 = 0
        for i in 0..<8 { n |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard n <= UInt64(bytes.count - 8) else {
            throw fail("header length \(n) runs past the end of the file (\(bytes.count) bytes)")
        }
        let hlen = Int(n)
        guard let obj = try? JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + hlen)])),
              let header = obj as? [String: Any] else { throw fail("header is not a JSON object") }
        let dataStart = 8 + hlen, dataLen = bytes.count - dataStart
        var out: [String: Tensor] = [:], meta: [String: String] = [:]
        for (key, value) in header {
            if key == "__metadata__" {
                if let m = value as? [String: Any] { for (k, v) in m { meta[k] = "\(v)" } }
                continue
            }
            guard let entry = value as? [String: Any] else { throw fail("entry '\(key)' is not an object") }
            guard let dt = entry["dtype"] as? String else { throw fail("entry '\(key)' has no dtype") }
            guard let shapeAny = entry["shape"] as? [Any] else { throw fail("entry '\(key)' has no shape") }
            var shape: [Int] = []
            for s in shapeAny {
                guard let v = s as? NSNumber, let i = Int(exactly: v.doubleValue), i >= 0 else {
                    throw fail("entry '\(key)' has an invalid shape")
                }
                shape.append(i)
            }
            guard let offs = entry["data_offsets"] as? [Any], offs.count == 2,
                  let b0 = (offs[0] as? NSNumber).flatMap({ Int(exactly: $0.doubleValue) }),
                  let b1 = (offs[1] as? NSNumber).flatMap({ Int(exactly: $0.doubleValue) }),
                  b0 >= 0, b1 >= b0 else { throw fail("entry '\(key)' has invalid data_offsets") }
            guard b1 <= dataLen else {
                throw fail("tensor '\(key)' data (bytes \(b0)..\(b1)) runs past the end of the file " +
                           "(\(dataLen) data bytes)")
            }
            let elemSize: Int, outType: DType
            switch dt {
            case "F64": elemSize = 8; outType = .float64
            case "F32": elemSize = 4; outType = .float32
            case "F16", "BF16": elemSize = 2; outType = .float32
            case "U8", "I8", "BOOL": elemSize = 1; outType = .float64
            case "I16", "U16": elemSize = 2; outType = .float64
            case "I32", "U32": elemSize = 4; outType = .float64
            case "I64", "U64": elemSize = 8; outType = .float64
            default: throw fail("tensor '\(key)' has unsupported dtype \(dt)")
            }
            let count: Int
            do { count = try TensorLimits.checkedCount(shape, dtype: outType) }
            catch let e as TensorError { throw fail("tensor '\(key)': \(e.message)") }
            guard count.multipliedReportingOverflow(by: elemSize).partialValue == b1 - b0,
                  !count.multipliedReportingOverflow(by: elemSize).overflow else {
                throw fail("tensor '\(key)' of shape \(formatShape(shape)) and dtype \(dt) " +
                           "needs \(count &* elemSize) bytes, its data_offsets give \(b1 - b0)")
            }
            let t = try Tensor.empty(shape, dtype: outType)
            bytes.withUnsafeBufferPointer { buf in
                let base = buf.baseAddress! + dataStart + b0
                func le(_ i: Int, _ size: Int) -> UInt64 {
                    var v: UInt64 = 0
                    for b in 0..<size { v |= UInt64(base[i * size + b]) << (8 * UInt64(b)) }
                    return v
                }
                switch outType {
                case .float32:
                    let p = t.pointer(Float.self)
                    for i in 0..<count {
                        switch dt {
                        case "F32": p[i] = Float(bitPattern: UInt32(le(i, 4)))
                        case "F16": p[i] = Float(Float16(bitPattern: UInt16(le(i, 2))))
                        default: p[i] = Float(bitPattern: UInt32(le(i, 2)) << 16)
                        }
                    }
                case .float64:
                    let p = t.pointer(Double.self)
                    for i in 0..<count {
                        let r = le(i, elemSize)
                        switch dt {
                        case "F64": p[i] = Double(bitPattern: r)
                        case "I8": p[i] = Double(Int8(truncatingIfNeeded: r))
                        case "I16": p[i] = Double(Int16(truncatingIfNeeded: r))
                        case "I32": p[i] = Double(Int32(truncatingIfNeeded: r))
                        case "I64": p[i] = Double(Int64(bitPattern: r))
                        default: p[i] = Double(r)
                        }
                    }
                }
            }
            out[key] = t
        }
        return File(tensors: out, metadata: meta)
    }
}
