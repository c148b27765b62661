import Foundation
import Synchronization
import XCTest
@testable import DodeTensor

/// The worker pool behind `Parallel`: every chunk runs exactly once with a valid worker index,
/// whatever the thread count; nested and concurrent calls complete (on the calling thread).
final class ParallelTests: XCTestCase {
    override func tearDown() { Parallel.threads = 2 }

    /// Counts per chunk and the largest worker index seen, for one call.
    func census(chunks: Int, workers: Int) -> (counts: [Int], maxWorker: Int) {
        let counts = UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: max(chunks, 1))
        for c in 0..<chunks { (counts + c).initialize(to: Atomic(0)) }
        defer { counts.deallocate() }
        let maxWorker = Atomic<Int>(-1)
        let box = UnsafeSendable(counts)
        Parallel.forEachWorker(chunks: chunks, workers: workers) { w, c in
            box.value[c].wrappingAdd(1, ordering: .relaxed)
            var seen = maxWorker.load(ordering: .relaxed)
            while w > seen {
                let (done, now) = maxWorker.compareExchange(expected: seen, desired: w, ordering: .relaxed)
                if done { break }
                seen = now
            }
            // Enough work per chunk that both threads take part.
            var x = 1.0
            for i in 0..<2000 { x = x * 1.000001 + Double(i & 1) }
            if x.isNaN { print(x) }
        }
        return ((0..<chunks).map { counts[$0].load(ordering: .relaxed) }, maxWorker.load(ordering: .relaxed))
    }

    func testEveryChunkRunsOnceWithAValidWorker() {
        for workers in [1, 2, 3, 5] {
            Parallel.threads = workers
            for chunks in [0, 1, 2, 7, 64, 1000] {
                var helped = false
                for _ in 0..<20 {
                    let (counts, maxWorker) = census(chunks: chunks, workers: workers)
                    XCTAssertEqual(counts, [Int](repeating: 1, count: chunks), "workers \(workers), chunks \(chunks)")
                    XCTAssertLessThan(maxWorker, max(1, min(workers, chunks)), "worker index out of range")
                    helped = helped || maxWorker > 0
                }
                // With 1000 chunks of ~2 µs the pool threads must take part at least once.
                if workers > 1 && chunks == 1000 {
                    XCTAssertTrue(helped, "no pool thread ran a chunk (workers \(workers))")
                }
            }
        }
    }

    /// A call from inside a body runs on that thread instead of waiting for the busy pool.
    func testNestedCallsComplete() {
        let total = Atomic<Int>(0)
        Parallel.forEach(chunks: 8) { _ in
            Parallel.forEach(chunks: 5) { _ in total.wrappingAdd(1, ordering: .relaxed) }
        }
        XCTAssertEqual(total.load(ordering: .relaxed), 40)
    }

    /// Two threads calling at once: both finish with every chunk done once.
    func testConcurrentCallersComplete() {
        let results = Mutex<[[Int]]>([])
        let group = DispatchGroup()
        for _ in 0..<2 {
            group.enter()
            Thread.detachNewThread {
                var all: [Int] = []
                for _ in 0..<50 { all.append(contentsOf: self.census(chunks: 33, workers: 2).counts) }
                results.withLock { $0.append(all) }
                group.leave()
            }
        }
        XCTAssertEqual(group.wait(timeout: .now() + 60), .success, "concurrent calls did not finish")
        results.withLock { r in
            XCTAssertEqual(r.count, 2)
            for all in r { XCTAssertTrue(all.allSatisfy { $0 == 1 }) }
        }
    }
}
