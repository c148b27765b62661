import Foundation

/// JSON output with exact numbers: Doubles are written in Swift's shortest round-trip form (so
/// a value read back is bit-identical; Foundation's writer on Linux rounds to 15 digits), object
/// keys sorted, optional indentation. Non-finite numbers are an error (JSON has none).
public enum JSONText {
    public static func encode(_ v: Any, indent: Bool = true) throws -> String {
        var out = ""
        try write(v, indent: indent, level: 0, into: &out)
        return out
    }

    static func write(_ v: Any, indent: Bool, level: Int, into out: inout String) throws {
        let nl = indent ? "\n" + String(repeating: "  ", count: level + 1) : ""
        let close = indent ? "\n" + String(repeating: "  ", count: level) : ""
        switch v {
        case is NSNull: out += "null"
        case let b as Bool: out += b ? "true" : "false"
        case let i as Int: out += String(i)
        case let d as Double:
            guard d.isFinite else { throw TensorError("cannot write \(d) in JSON") }
            out += d == d.rounded() && abs(d) < 1e15 ? String(format: "%.1f", d) : "\(d)"
        case let f as Float: try write(Double(f), indent: indent, level: level, into: &out)
        case let s as String: out += jsonString(s)
        case let a as [Any]:
            if a.isEmpty { out += "[]"; return }
            let flat = a.allSatisfy { $0 is Double || $0 is Int || $0 is Bool }
            out += "["
            for (i, x) in a.enumerated() {
                if i > 0 { out += flat ? ", " : "," }
                if !flat { out += nl }
                try write(x, indent: indent, level: level + 1, into: &out)
            }
            out += (flat ? "" : close) + "]"
        case let d as [String: Any]:
            if d.isEmpty { out += "{}"; return }
            out += "{"
            for (i, k) in d.keys.sorted().enumerated() {
                if i > 0 { out += "," }
                out += nl + jsonString(k) + (indent ? ": " : ":")
                try write(d[k] ?? NSNull(), indent: indent, level: level + 1, into: &out)
            }
            out += close + "}"
        case let n as NSNumber: try write(n.doubleValue, indent: indent, level: level, into: &out)
        default: out += jsonString("\(v)")
        }
    }

    public static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}

extension JSONText {
    /// The exact Double of a number parsed by Foundation's JSONSerialization. On Linux many
    /// decimals come back as NSDecimalNumber, whose `doubleValue` can be off by an ulp; its
    /// decimal text converts exactly. Booleans are not numbers here.
    public static func double(_ v: Any?) -> Double? {
        guard let n = v as? NSNumber else { return nil }
        let t = String(cString: n.objCType)
        if t == "c" || t == "B" { return nil }
        if let d = n as? NSDecimalNumber { return Double(d.description) ?? d.doubleValue }
        return n.doubleValue
    }
}
