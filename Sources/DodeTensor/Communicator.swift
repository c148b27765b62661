import Foundation

/// Elementwise reductions of a collective.
public enum ReduceOp: String, Sendable, CaseIterable { case sum, max, min }

/// A group of cooperating processes, numbered 0..<size: MPI's communicator (`DodeMPI`), or
/// `LocalWorld` for a single process. The primitives move raw memory; the extensions below
/// build tensor collectives with shape checks on them. Every rank must make the same calls in
/// the same order, as with MPI.
public protocol Communicator: AnyObject {
    var rank: Int { get }
    var size: Int { get }
    /// What the group is ("one process", "MPI (Open MPI 4.1.4), 4 ranks").
    var summary: String { get }
    func barrier() throws
    /// Elementwise integer sum over every rank, in place (exact: order plays no part).
    func allreduce(int64 p: UnsafeMutablePointer<Int64>, count: Int) throws
    /// Elementwise reduction over every rank, in place. Floating-point sums may depend on the
    /// rank count; use `ExactSum` where bits matter.
    func allreduce(double p: UnsafeMutablePointer<Double>, count: Int, op: ReduceOp) throws
    /// `root`'s bytes copied to every rank.
    func broadcast(bytes p: UnsafeMutableRawPointer, count: Int, root: Int) throws
    /// Every rank's bytes (sizes may differ), in rank order, on every rank.
    func allgather(bytes: [UInt8]) throws -> [[UInt8]]
    /// Every rank's bytes on `root` (nil on the other ranks).
    func gather(bytes: [UInt8], root: Int) throws -> [[UInt8]]?
    /// Ends every process of the group with exit status `code` (a fatal error on one rank).
    func abort(code: Int32) -> Never
}

/// The world of a single process: collectives are identities.
public final class LocalWorld: Communicator {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public var summary: String { "one process" }
    public func barrier() throws {}
    public func allreduce(int64 p: UnsafeMutablePointer<Int64>, count: Int) throws {}
    public func allreduce(double p: UnsafeMutablePointer<Double>, count: Int, op: ReduceOp) throws {}
    public func broadcast(bytes p: UnsafeMutableRawPointer, count: Int, root: Int) throws {}
    public func allgather(bytes: [UInt8]) throws -> [[UInt8]] { [bytes] }
    public func gather(bytes: [UInt8], root: Int) throws -> [[UInt8]]? { [bytes] }
    public func abort(code: Int32) -> Never { exit(code) }
}

/// The process's world: `LocalWorld` unless the program was started by an MPI launcher and
/// installed an MPI communicator here at start-up (the `dode` executable does).
public enum World {
    nonisolated(unsafe) private static var installed: Communicator = LocalWorld()
    /// The world every collective defaults to. Set once, at start-up, before any thread runs.
    public static var current: Communicator {
        get { installed }
        set { installed = newValue }
    }
}

// MARK: collectives built on the primitives

extension Communicator {
    /// Rows [lo, hi) of a global batch of n rows that this rank owns: contiguous, in rank order,
    /// sizes differing by at most one (rank r gets ⌊r·n/size⌋ ..< ⌊(r+1)·n/size⌋).
    public func rows(of n: Int) -> Range<Int> {
        // r·n can exceed 64 bits for huge n: a full-width product, then the division.
        func bound(_ r: Int) -> Int { size.dividingFullWidth(r.multipliedFullWidth(by: Swift.max(n, 0))).quotient }
        return bound(rank)..<bound(rank + 1)
    }

    /// Exact sums added over every rank (bit-identical whatever the rank count).
    public func allreduce(_ sums: inout [ExactSum]) throws {
        if size == 1 || sums.isEmpty { return }
        let w = ExactSum.wordCount
        var flat = [Int64](); flat.reserveCapacity(sums.count * w)
        for s in sums { flat.append(contentsOf: s.normalizedWords) }
        try flat.withUnsafeMutableBufferPointer { try allreduce(int64: $0.baseAddress!, count: $0.count) }
        sums = try (0..<sums.count).map { try ExactSum(words: Array(flat[($0 * w)..<(($0 + 1) * w)])) }
    }

    /// Plain Double reduction of a list of numbers.
    public func allreduce(_ values: [Double], op: ReduceOp) throws -> [Double] {
        var v = values
        if size > 1 && !v.isEmpty {
            try v.withUnsafeMutableBufferPointer { try allreduce(double: $0.baseAddress!, count: $0.count, op: op) }
        }
        return v
    }

    /// Fails on every rank (with the same message) unless every rank passed the same
    /// `signature`; `describe` renders one rank's signature for the message.
    public func requireSame(_ what: String, _ signature: [Int64], describe: ([Int64]) -> String) throws {
        if size == 1 { return }
        let all = try allgather(bytes: signature.withUnsafeBytes { Array($0) }).map { b in
            b.withUnsafeBytes { Array($0.bindMemory(to: Int64.self)) }
        }
        if let q = all.firstIndex(where: { $0 != all[0] }) {
            throw TensorError("\(what) differ across ranks: rank 0 has \(describe(all[0])), " +
                              "rank \(q) has \(describe(all[q]))")
        }
    }

    /// Fails on every rank alike when any rank has a problem: each rank passes its own problem
    /// (nil when it has none) and every rank throws the lowest such rank's message, so no rank goes
    /// on into a collective the others have left. One allgather.
    public func agree(_ problem: String?) throws {
        if size == 1 {
            if let problem { throw TensorError(problem) }
            return
        }
        let all = try allgather(bytes: Array((problem ?? "").utf8))
        if let r = all.firstIndex(where: { !$0.isEmpty }) {
            throw TensorError("\(String(decoding: all[r], as: UTF8.self)) (on rank \(r))")
        }
    }

    func tensorSignature(_ t: Tensor, ignoringFirst: Bool) -> [Int64] {
        var sig: [Int64] = [t.dtype == .float64 ? 8 : 4, Int64(t.rank)]
        for (i, d) in t.shape.enumerated() { sig.append(ignoringFirst && i == 0 ? -1 : Int64(d)) }
        return sig
    }

    func describeSignature(_ s: [Int64]) -> String {
        let dims = s.dropFirst(2).map { $0 < 0 ? "N" : String($0) }
        return "a \(s[0] == 8 ? "float64" : "float32") tensor of shape " +
               "\(dims.isEmpty ? "()" : dims.joined(separator: "x"))"
    }

    /// Elementwise reduction of a tensor over every rank (a new Float64 tensor of its shape;
    /// every rank must pass the same shape and dtype).
    public func allreduce(_ t: Tensor, op: ReduceOp) throws -> Tensor {
        try requireSame("tensor shapes", tensorSignature(t, ignoringFirst: false), describe: describeSignature)
        let out = t.to(.float64).contiguous().clone()
        if size > 1 && out.count > 0 { try allreduce(double: out.pointer(Double.self), count: out.count, op: op) }
        return out
    }

    /// The tensors of every rank joined along the first dimension in rank order, on `root`
    /// (nil on the other ranks). Every rank must pass the same dtype and trailing dimensions.
    public func gather(_ t: Tensor, root: Int = 0) throws -> Tensor? {
        // Checked on every rank first, so a rank's bad argument fails every rank alike.
        try requireSame("tensor shapes (beyond the first dimension)", tensorSignature(t, ignoringFirst: true),
                        describe: describeSignature)
        guard t.rank >= 1 else {
            throw TensorError("gather needs tensors with a first (row) dimension (got a 0-D tensor)")
        }
        let c = t.contiguous()
        // Every rank's row count (a rank may have none; rows may have no values).
        let rows = Int(try allreduce([Double(c.shape[0])], op: .sum)[0])
        let bytes = c.count * c.dtype.size
        let mine = bytes == 0 ? []
            : Array(UnsafeRawBufferPointer(start: c.storage.raw + c.offset * c.dtype.size, count: bytes))
        guard let parts = try gather(bytes: mine, root: root) else { return nil }
        let out = try Tensor.empty([rows] + Array(c.shape.dropFirst()), dtype: c.dtype)
        var at = out.storage.raw
        for p in parts {
            p.withUnsafeBytes { src in
                if let b = src.baseAddress, src.count > 0 { at.copyMemory(from: b, byteCount: src.count) }
            }
            at += p.count
        }
        return out
    }

    /// `root`'s tensor on every rank (the other ranks' arguments are ignored; pass nil there).
    public func broadcast(_ t: Tensor?, root: Int = 0) throws -> Tensor {
        if size == 1 {
            guard let t else { throw TensorError("broadcast: the root passed no tensor") }
            return t
        }
        // The root's problems travel in the header (0: no tensor, −1: too many dimensions), so
        // every rank fails alike instead of waiting for data that never comes.
        var header = [Int64](repeating: 0, count: 2 + 16)
        if rank == root {
            if let t, t.rank <= 16 {
                header[0] = t.dtype == .float64 ? 8 : 4
                header[1] = Int64(t.rank)
                for (i, d) in t.shape.enumerated() { header[2 + i] = Int64(d) }
            } else {
                header[0] = t == nil ? 0 : -1
            }
        }
        try header.withUnsafeMutableBytes { try broadcast(bytes: $0.baseAddress!, count: $0.count, root: root) }
        guard header[0] > 0 else {
            throw TensorError(header[0] == 0 ? "broadcast: rank \(root) (the root) passed no tensor"
                                             : "broadcast: rank \(root)'s tensor has more than 16 dimensions")
        }
        let dtype: DType = header[0] == 8 ? .float64 : .float32
        let shape = (0..<Int(header[1])).map { Int(header[2 + $0]) }
        let out: Tensor
        if rank == root, let t { out = t.contiguous().clone() } else { out = try Tensor.empty(shape, dtype: dtype) }
        if out.count > 0 {
            try broadcast(bytes: out.storage.raw + out.offset * dtype.size, count: out.count * dtype.size, root: root)
        }
        return out
    }
}
