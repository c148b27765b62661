import Synchronization

/// Threading policy for batch work. Work is always split into the same chunks whatever the
/// thread count, so results are bit-identical for any `threads`.
public enum Parallel {
    private static let threadCount = Atomic<Int>(2)

    /// Number of worker threads (default 2, the machine's cores; 1 disables threading).
    public static var threads: Int {
        get { threadCount.load(ordering: .relaxed) }
        set { threadCount.store(max(1, min(newValue, 64)), ordering: .relaxed) }
    }

    /// Runs `body(chunk)` for chunk in 0..<chunks, spreading chunks over the worker threads.
    /// Chunks are independent; the caller defines them from the problem size alone.
    @inlinable
    public static func forEach(chunks: Int, _ body: (Int) -> Void) {
        forEachWorker(chunks: chunks, workers: threads) { _, c in body(c) }
    }

    /// Runs `body(worker, chunk)` for chunk in 0..<chunks on up to min(workers, chunks) threads (the
    /// caller and persistent pool threads, see `WorkerPool`). Each worker takes the next
    /// unclaimed chunk (an atomic counter), so a core slowed by other load does less of the
    /// work; a worker index is only ever used by one thread at a time, so per-worker state
    /// (e.g. reusable buffers indexed by `worker`) is never shared. Which worker runs a chunk
    /// varies from run to run: results must depend on the chunk alone. A call made while the
    /// pool is busy (from inside a body, or from another thread) runs on the calling thread.
    @inlinable
    public static func forEachWorker(chunks: Int, workers: Int, _ body: (_ worker: Int, _ chunk: Int) -> Void) {
        let t = max(1, min(workers, chunks))
        if t == 1 || !runOnPool(chunks: chunks, workers: t, body) {
            for c in 0..<chunks { body(0, c) }
        }
    }

    /// Lets the pool's threads sleep now rather than poll for the next job: call before a
    /// multithreaded BLAS call, whose own threads need the cores.
    public static func releaseCores() { WorkerPool.shared.rest() }

    @usableFromInline
    static func runOnPool(chunks: Int, workers: Int, _ body: (Int, Int) -> Void) -> Bool {
        WorkerPool.shared.run(chunks: chunks, workers: workers, body)
    }

    /// Splits `0..<count` into ranges of at least `grain` elements and runs them in parallel.
    /// The split depends only on `count` and `grain`.
    @inlinable
    public static func forRanges(count: Int, grain: Int, _ body: (Range<Int>) -> Void) {
        if count <= grain || threads <= 1 {
            if count > 0 { body(0..<count) }
            return
        }
        let chunks = min((count + grain - 1) / grain, 64)
        let size = (count + chunks - 1) / chunks
        forEach(chunks: chunks) { c in
            let lo = c * size, hi = min(count, lo + size)
            if lo < hi { body(lo..<hi) }
        }
    }
}

/// Wraps a value that is shared read-only (or written at disjoint places) across threads.
public struct UnsafeSendable<T>: @unchecked Sendable {
    public let value: T
    @inlinable public init(_ value: T) { self.value = value }
}
