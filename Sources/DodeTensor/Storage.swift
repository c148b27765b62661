import CBLAS
import Foundation
import Synchronization

/// Process-wide limits on tensor memory. The cap is checked before anything is allocated, so an
/// oversized request is an error, never an allocation failure.
public enum TensorLimits {
    private static let cap = Atomic<Int>(defaultCap())
    private static let live = Atomic<Int>(0)

    /// Default cap: half the physical memory.
    public static func defaultCap() -> Int {
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), size = sysconf(Int32(_SC_PAGESIZE))
        if pages > 0 && size > 0 { return Int(pages) / 2 * Int(size) }
        return 4 << 30
    }

    /// The largest number of bytes one tensor may occupy.
    public static var maxBytes: Int {
        get { cap.load(ordering: .relaxed) }
        set { cap.store(max(0, newValue), ordering: .relaxed) }
    }

    /// Bytes currently held by live tensor storages.
    public static var liveBytes: Int { live.load(ordering: .relaxed) }

    static func didAllocate(_ n: Int) { live.add(n, ordering: .relaxed) }
    static func didFree(_ n: Int) { live.subtract(n, ordering: .relaxed) }

    /// Validates a shape and returns its element count, or throws with a clear message.
    public static func checkedCount(_ shape: [Int], dtype: DType) throws -> Int {
        var n = 1, span = 1
        for d in shape {
            if d < 0 { throw TensorError("negative dimension \(d) in shape \(formatShape(shape))") }
            let (m, o) = n.multipliedReportingOverflow(by: d)
            // Strides multiply the non-zero sizes: they must fit too, even for an empty tensor.
            let (sp, o2) = span.multipliedReportingOverflow(by: Swift.max(d, 1))
            if o || o2 || sp > Int.max / 16 {
                throw TensorError("shape \(shape.map(String.init).joined(separator: "x")) is too large")
            }
            n = m
            span = sp
        }
        let (bytes, o) = n.multipliedReportingOverflow(by: dtype.size)
        if o || bytes > maxBytes {
            throw TensorError("a \(dtype.rawValue) tensor of shape \(formatShape(shape)) needs " +
                              "\(o ? "more than Int.max" : String(bytes)) bytes, " +
                              "above the size cap of \(maxBytes) bytes")
        }
        return n
    }
}

/// A contiguous, 16-byte aligned buffer of one dtype (plain malloc alignment: larger alignments
/// make glibc carve fresh memory instead of reusing freed blocks; kernels load unaligned).
/// Tensors are views into a storage.
public final class Storage: @unchecked Sendable {
    public let dtype: DType
    public let count: Int
    public let raw: UnsafeMutableRawPointer
    /// Set by an embedding's garbage collector (the Lua VM) once it has counted these bytes, so
    /// that a storage handed out many times (a solver run's state) is counted once.
    public var reportedToCollector = false

    /// glibc returns large blocks to the kernel on free (mmap/munmap) and faults fresh pages in
    /// on the next allocation; solver and network loops allocate same-sized buffers over and
    /// over, so keep them in the heap instead (blocks up to 512 MB are recycled).
    private static let allocatorTuned: Bool = {
        dode_tune_allocator()
        return true
    }()

    /// Allocates `count` zeroed elements. The caller has checked the size cap.
    init(count: Int, dtype: DType, zeroed: Bool = true) {
        _ = Storage.allocatorTuned
        self.dtype = dtype
        self.count = count
        let bytes = max(count * dtype.size, 1)
        raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 16)
        if zeroed { raw.initializeMemory(as: UInt8.self, repeating: 0, count: bytes) }
        TensorLimits.didAllocate(bytes)
    }

    deinit {
        raw.deallocate()
        TensorLimits.didFree(max(count * dtype.size, 1))
    }

    public var byteCount: Int { count * dtype.size }
}
