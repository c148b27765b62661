import CMPI
import DodeTensor
import Foundation

/// MPI_COMM_WORLD as a `Communicator` (Open MPI or MPICH, whichever Debian's `mpi`
/// alternative selects). Only the main thread calls MPI (MPI_THREAD_FUNNELED); dode's worker
/// threads stay inside each rank.
public final class MPIWorld: Communicator {
    public let rank: Int
    public let size: Int
    /// Ranks on this node (they share its cores).
    public let localSize: Int
    /// The MPI library's own version line.
    public let library: String

    /// True when this process was started by an MPI launcher (mpirun/mpiexec of Open MPI or
    /// MPICH, srun with PMI/PMIx) — or DODE_MPI=1 asks for MPI anyway; DODE_MPI=0 never starts it.
    public static var launched: Bool {
        let env = ProcessInfo.processInfo.environment
        if let f = env["DODE_MPI"] { return f == "1" }
        return ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMI_RANK", "PMIX_RANK", "MPI_LOCALNRANKS"]
            .contains { env[$0] != nil }
    }

    /// Starts MPI when the process was launched by mpirun (see `launched`), or returns nil.
    public static func startIfLaunched() throws -> MPIWorld? {
        guard launched else { return nil }
        // Containers often deny the cross-memory attach Open MPI's shared-memory transport uses
        // for large messages ("Read -1, expected N, errno = 1"); copy through shared memory instead.
        setenv("OMPI_MCA_btl_vader_single_copy_mechanism", "none", 0)
        var provided: Int32 = 0
        try check(dode_mpi_init(&provided), "MPI_Init_thread")
        return try MPIWorld()
    }

    private init() throws {
        var r: Int32 = 0, n: Int32 = 0, l: Int32 = 1
        try MPIWorld.check(dode_mpi_rank(&r), "MPI_Comm_rank")
        try MPIWorld.check(dode_mpi_size(&n), "MPI_Comm_size")
        try MPIWorld.check(dode_mpi_local_size(&l), "MPI_Comm_split_type")
        rank = Int(r); size = Int(n); localSize = Int(l)
        var buf = [CChar](repeating: 0, count: 512)
        dode_mpi_library(&buf, Int32(buf.count))
        library = String(cString: buf).split(separator: ",").first
            .map { String($0).trimmingCharacters(in: .whitespacesAndNewlines) } ?? "MPI"
    }

    public var summary: String { "MPI (\(library)), \(size) rank\(size == 1 ? "" : "s"), \(localSize) on this node" }

    static func check(_ rc: Int32, _ what: String) throws {
        guard rc != 0 else { return }
        var buf = [CChar](repeating: 0, count: 512)
        dode_mpi_error_string(rc, &buf, Int32(buf.count))
        throw TensorError("\(what) failed: \(String(cString: buf))")
    }

    /// MPI counts are 32-bit.
    private func int32(_ n: Int, _ what: String) throws -> Int32 {
        guard n >= 0, n <= Int(Int32.max) else {
            throw TensorError("\(what): \(n) elements exceed MPI's 32-bit counts; split the data")
        }
        return Int32(n)
    }

    public func barrier() throws { try MPIWorld.check(dode_mpi_barrier(), "MPI_Barrier") }

    public func allreduce(int64 p: UnsafeMutablePointer<Int64>, count: Int) throws {
        try MPIWorld.check(dode_mpi_allreduce_sum_i64(p, try int32(count, "allreduce")), "MPI_Allreduce")
    }

    public func allreduce(double p: UnsafeMutablePointer<Double>, count: Int, op: ReduceOp) throws {
        let code: Int32 = op == .sum ? 0 : (op == .max ? 1 : 2)
        try MPIWorld.check(dode_mpi_allreduce_f64(p, try int32(count, "allreduce"), code), "MPI_Allreduce")
    }

    public func broadcast(bytes p: UnsafeMutableRawPointer, count: Int, root: Int) throws {
        try MPIWorld.check(dode_mpi_bcast(p, try int32(count, "broadcast"), Int32(root)), "MPI_Bcast")
    }

    /// Every rank's byte count, then the bytes with displacements.
    private func layout(_ mine: Int) throws -> (counts: [Int32], displs: [Int32], total: Int) {
        var sizes = [Int64](repeating: 0, count: size)
        try MPIWorld.check(dode_mpi_allgather_i64(Int64(mine), &sizes), "MPI_Allgather")
        let total = sizes.reduce(0, +)
        _ = try int32(Int(total), "gather")
        var displs: [Int32] = [], at: Int32 = 0
        for s in sizes { displs.append(at); at += Int32(s) }
        return (sizes.map { Int32($0) }, displs, Int(total))
    }

    private func split(_ buf: [UInt8], _ l: (counts: [Int32], displs: [Int32], total: Int)) -> [[UInt8]] {
        (0..<size).map { Array(buf[Int(l.displs[$0])..<Int(l.displs[$0] + l.counts[$0])]) }
    }

    public func allgather(bytes: [UInt8]) throws -> [[UInt8]] {
        let l = try layout(bytes.count)
        var recv = [UInt8](repeating: 0, count: Swift.max(l.total, 1))
        try bytes.withUnsafeBytes { s in
            try MPIWorld.check(dode_mpi_allgatherv(s.baseAddress, Int32(bytes.count), &recv, l.counts, l.displs),
                               "MPI_Allgatherv")
        }
        return split(recv, l)
    }

    public func gather(bytes: [UInt8], root: Int) throws -> [[UInt8]]? {
        let l = try layout(bytes.count)
        var recv = [UInt8](repeating: 0, count: rank == root ? Swift.max(l.total, 1) : 1)
        try bytes.withUnsafeBytes { s in
            try MPIWorld.check(dode_mpi_gatherv(s.baseAddress, Int32(bytes.count), &recv, l.counts, l.displs,
                                                Int32(root)), "MPI_Gatherv")
        }
        return rank == root ? split(recv, l) : nil
    }

    public func abort(code: Int32) -> Never {
        FileHandle.standardError.synchronizeFile()
        _ = dode_mpi_abort(code)
        exit(code)
    }

    /// Ends MPI (at the end of a successful run).
    public func finalize() {
        if dode_mpi_is_initialized() != 0 && dode_mpi_is_finalized() == 0 { _ = dode_mpi_finalize() }
    }
}
