#if canImport(Glibc)
import Glibc
#endif
import CKernels
import Synchronization

/// The persistent threads behind `Parallel`: `threads − 1` workers that stay awake for a short
/// while after each job, polling for the next one, and only then sleep on a condition variable.
///
/// Why not Dispatch: on a virtual machine an idle vCPU is halted, and waking it costs tens to
/// hundreds of microseconds, so a pool that sleeps between jobs (libdispatch's) leaves the second
/// core out of millisecond-sized jobs altogether (measured here: 64 chunks of 15 µs each through
/// `concurrentPerform(iterations: 2)` ran 62 of them on the calling thread). A sampling loop calls
/// the denoiser and the tensor kernels back to back, so a worker that polls for about a
/// millisecond is always there for the next step; OpenMP runtimes and OpenBLAS work the same way.
final class WorkerPool: @unchecked Sendable {
    static let shared = WorkerPool()

    /// How long an idle worker polls for the next job before it sleeps. Polling yields the CPU
    /// (`sched_yield`) after the first microseconds, so it does not hold off other threads.
    static let pollSeconds = 0.002

    /// One call's work: chunks claimed from an atomic counter by the caller (worker 0) and the
    /// pool threads 1 ..< workers that join before the caller closes the job.
    final class Job: @unchecked Sendable {
        let generation: Int, chunks: Int, workers: Int
        var body: ((Int, Int) -> Void)?
        let next = Atomic<Int>(0)
        /// Threads that joined, plus `closed` once the caller has run out of chunks.
        let joined = Atomic<Int>(0)
        let finished = Atomic<Int>(0)
        static let closed = 1 << 40

        init(generation: Int, chunks: Int, workers: Int, body: @escaping (Int, Int) -> Void) {
            self.generation = generation; self.chunks = chunks; self.workers = workers; self.body = body
        }

        func run(worker: Int) {
            guard let body else { return }
            while true {
                let c = next.wrappingAdd(1, ordering: .relaxed).oldValue
                if c >= chunks { return }
                body(worker, c)
            }
        }

        /// A pool thread takes part only if the job is still open; then it must report back.
        func join() -> Bool { joined.wrappingAdd(1, ordering: .acquiring).oldValue < Job.closed }
    }

    private let busy = Atomic<Bool>(false)
    private let generation = Atomic<Int>(0)
    /// Bumped by `rest()`: polling threads go to sleep at once.
    private let restEpoch = Atomic<Int>(0)
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let wake: UnsafeMutablePointer<pthread_cond_t>
    // Guarded by `mutex`.
    private var current: Job?
    private var sleepers = 0
    private var started = 0

    private init() {
        mutex = .allocate(capacity: 1)
        wake = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(wake, nil)
    }

    /// Runs `body(worker, chunk)` for every chunk on up to `workers` threads (the caller and
    /// `workers − 1` pool threads) and returns when all chunks are done. The caller does not wait
    /// for a pool thread that has not joined by the time the chunks run out (a sleeping thread
    /// takes long to wake on a VM). Returns false without running anything when the pool is
    /// already in use (a nested or concurrent call) or has no thread; the caller then runs the
    /// chunks itself.
    func run(chunks: Int, workers: Int, _ body: (Int, Int) -> Void) -> Bool {
        guard busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return false }
        defer { busy.store(false, ordering: .releasing) }
        let workers = Swift.min(workers, ensureThreads(workers - 1) + 1)
        guard workers > 1 else { return false }
        return withoutActuallyEscaping(body) { body in
            pthread_mutex_lock(mutex)
            let job = Job(generation: generation.load(ordering: .relaxed) + 1, chunks: chunks, workers: workers,
                          body: body)
            current = job
            generation.store(job.generation, ordering: .releasing)
            if sleepers > 0 { pthread_cond_broadcast(wake) }
            pthread_mutex_unlock(mutex)
            job.run(worker: 0)
            // Close the job: threads that joined before this are waited for, later ones skip it.
            let joined = job.joined.wrappingAdd(Job.closed, ordering: .acquiringAndReleasing).oldValue
            var spins = 0
            while job.finished.load(ordering: .acquiring) < joined {
                spins += 1
                if spins < 4096 { spinPause() } else { sched_yield() }
            }
            // No thread calls the body any more (late pool threads only read the counts).
            pthread_mutex_lock(mutex)
            job.body = nil
            current = nil
            pthread_mutex_unlock(mutex)
            return true
        }
    }

    /// Starts pool threads until there are `n` (at most 63), and returns how many there are
    /// (fewer if the system refuses a thread).
    private func ensureThreads(_ n: Int) -> Int {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while started < Swift.min(n, 63) {
            let index = started + 1
            // The thread starts from the current generation: a job published after this point is
            // new to it even if the thread only begins running later.
            let context = Unmanaged.passRetained(Start(pool: self, index: index,
                                                       seen: generation.load(ordering: .acquiring))).toOpaque()
            var thread = pthread_t()
            guard pthread_create(&thread, nil, { raw in
                let start = Unmanaged<Start>.fromOpaque(raw!).takeRetainedValue()
                start.pool.loop(index: start.index, seen: start.seen)
                return nil
            }, context) == 0 else {
                Unmanaged<Start>.fromOpaque(context).release()
                break
            }
            pthread_detach(thread)
            started += 1
        }
        return Swift.min(started, n)
    }

    private final class Start {
        let pool: WorkerPool, index: Int, seen: Int
        init(pool: WorkerPool, index: Int, seen: Int) { self.pool = pool; self.index = index; self.seen = seen }
    }

    /// A pool thread: wait for a new generation, take part in its job if it is one of the first
    /// `workers − 1` threads and the job is still open, repeat.
    private func loop(index: Int, seen start: Int) {
        var seen = start
        var epoch = restEpoch.load(ordering: .relaxed)
        while true {
            waitForNewGeneration(after: seen, restEpoch: epoch)
            // `current` and `generation` change together under the mutex: the job read here is
            // the one of generation `seen`, or nil once that job has completed without us.
            pthread_mutex_lock(mutex)
            let job = current
            seen = generation.load(ordering: .relaxed)
            pthread_mutex_unlock(mutex)
            // Read before reporting back: a `rest()` right after the caller returns must count.
            epoch = restEpoch.load(ordering: .relaxed)
            guard let job, job.generation == seen, index < job.workers, job.join() else { continue }
            job.run(worker: index)
            job.finished.wrappingAdd(1, ordering: .releasing)
        }
    }

    /// Makes polling threads sleep now instead of at the end of their polling time: called
    /// before work that brings its own threads (a multithreaded BLAS call), which would otherwise
    /// share a core with a poller.
    func rest() {
        restEpoch.wrappingAdd(1, ordering: .relaxed)
    }

    /// Polls for `pollSeconds` (pausing, then yielding the CPU), then sleeps until woken; sleeps
    /// at once when `rest()` has been called since `epoch` was read.
    private func waitForNewGeneration(after seen: Int, restEpoch epoch: Int) {
        var spins = 0
        let deadline = monotonicSeconds() + WorkerPool.pollSeconds
        while generation.load(ordering: .acquiring) == seen {
            spins += 1
            let resting = restEpoch.load(ordering: .relaxed) != epoch
            if spins < 2048 && !resting { spinPause(); continue }
            if resting || (spins % 16 == 0 && monotonicSeconds() > deadline) {
                pthread_mutex_lock(mutex)
                while generation.load(ordering: .acquiring) == seen {
                    sleepers += 1
                    pthread_cond_wait(wake, mutex)
                    sleepers -= 1
                }
                pthread_mutex_unlock(mutex)
                return
            }
            sched_yield()
        }
    }
}

@inline(__always)
private func monotonicSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + 1e-9 * Double(t.tv_nsec)
}

@inline(__always)
private func spinPause() { dode_spin_pause() }
