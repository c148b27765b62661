/// numpy broadcasting rules.
public enum Broadcast {
    /// The broadcast shape of `a` and `b`, or an error naming both shapes.
    public static func shape(_ a: [Int], _ b: [Int]) throws -> [Int] {
        let n = max(a.count, b.count)
        var out = [Int](repeating: 1, count: n)
        for i in 0..<n {
            let da = i < n - a.count ? 1 : a[i - (n - a.count)]
            let db = i < n - b.count ? 1 : b[i - (n - b.count)]
            if da == db || db == 1 { out[i] = da }
            else if da == 1 { out[i] = db }
            else { throw TensorError("shapes \(formatShape(a)) and \(formatShape(b)) cannot be broadcast together") }
        }
        return out
    }

    /// Strides of `t` viewed with `shape` (which `t.shape` broadcasts to): 0 on broadcast axes.
    public static func strides(of t: Tensor, to shape: [Int]) -> [Int] {
        let n = shape.count, k = t.rank
        var s = [Int](repeating: 0, count: n)
        for i in 0..<k {
            let j = n - k + i
            s[j] = t.shape[i] == 1 && shape[j] != 1 ? 0 : t.strides[i]
        }
        return s
    }
}

/// Walks every element of an N-d shape for up to three operands with their own strides,
/// calling `body(o0, o1, o2, n)` for each run of `n` elements along the last dimension.
/// Offsets are in elements relative to each operand's first element.
@inlinable
func stridedWalk(shape: [Int], _ s0: [Int], _ s1: [Int], _ s2: [Int],
                 _ body: (Int, Int, Int, Int) -> Void) {
    let r = shape.count
    if r == 0 { body(0, 0, 0, 1); return }
    if shape.contains(0) { return }
    let inner = shape[r - 1]
    var idx = [Int](repeating: 0, count: max(r - 1, 0))
    var o0 = 0, o1 = 0, o2 = 0
    while true {
        body(o0, o1, o2, inner)
        var d = r - 2
        while d >= 0 {
            idx[d] += 1
            o0 += s0[d]; o1 += s1[d]; o2 += s2[d]
            if idx[d] < shape[d] { break }
            o0 -= s0[d] * shape[d]; o1 -= s1[d] * shape[d]; o2 -= s2[d] * shape[d]
            idx[d] = 0
            d -= 1
        }
        if d < 0 { return }
    }
}
