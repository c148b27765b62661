import Foundation

/// Printing: values (summarised when large) and a footer `[dode.Tensor float64 2x3]`.
extension Tensor: CustomStringConvertible {
    public var description: String { format() }

    /// Number formatting shared by all elements of one print.
    static func formatter(for values: [Double]) -> (Double) -> String {
        let finite = values.filter { $0.isFinite }
        let allInt = finite.allSatisfy { $0 == $0.rounded() && abs($0) < 1e15 }
        let maxAbs = finite.map { abs($0) }.max() ?? 0
        let minAbs = finite.filter { $0 != 0 }.map { abs($0) }.min() ?? 0
        let sci = maxAbs >= 1e5 || (minAbs > 0 && minAbs < 1e-4)
        return { v in
            if v.isNaN { return "nan" }
            if v.isInfinite { return v > 0 ? "inf" : "-inf" }
            if allInt && !sci { return String(Int(v)) }
            return sci ? String(format: "%.4e", v) : String(format: "%.4f", v)
        }
    }

    /// Renders the tensor, showing `edge` leading and trailing entries per dimension when a
    /// dimension is longer than `2·edge + 1`.
    public func format(edge: Int = 3, footer: Bool = true) -> String {
        let foot = "[dode.Tensor \(dtype.rawValue) \(formatShape(shape))]"
        if rank == 0 { return Tensor.formatter(for: [item])(item) + (footer ? "\n" + foot : "") }
        if count == 0 { return footer ? "[]\n" + foot : "[]" }
        // Collect the shown values to pick one number format.
        func shownIndices(_ n: Int) -> [Int?] {
            n <= 2 * edge + 1 ? Array(0..<n) : Array(0..<edge) + [nil] + Array((n - edge)..<n)
        }
        var shown: [Double] = []
        func collect(_ t: Tensor) {
            if t.rank == 0 { shown.append(t.item); return }
            for i in shownIndices(t.shape[0]) { if let i { collect(t.selectUnchecked(0, i)) } }
        }
        collect(self)
        let fmt = Tensor.formatter(for: shown)
        let width = shown.map { fmt($0).count }.max() ?? 1
        func pad(_ s: String) -> String { String(repeating: " ", count: Swift.max(0, width - s.count)) + s }
        var lines: [String] = []
        func render(_ t: Tensor, prefix: [Int]) {
            if t.rank == 1 {
                let cells = shownIndices(t.shape[0]).map { $0.map { pad(fmt(t.element(flat: $0))) } ?? "..." }
                lines.append(cells.joined(separator: " "))
                return
            }
            if t.rank == 2 {
                if !prefix.isEmpty {
                    lines.append("(" + prefix.map { String($0 + 1) }.joined(separator: ",") + ",.,.)")
                }
                for i in shownIndices(t.shape[0]) {
                    if let i { render(t.selectUnchecked(0, i), prefix: prefix + [i]) } else { lines.append("...") }
                }
                return
            }
            for i in shownIndices(t.shape[0]) {
                if let i { render(t.selectUnchecked(0, i), prefix: prefix + [i]) } else { lines.append("...") }
            }
        }
        render(self, prefix: [])
        if footer { lines.append(foot) }
        return lines.joined(separator: "\n")
    }
}
