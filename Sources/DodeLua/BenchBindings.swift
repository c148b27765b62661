import CBLAS
import CLua
import DodeCore
import DodeTensor
import Foundation

/// Baselines for `Scripts/bench`: the raw operations dode's own are compared against in the same
/// run (no argument conversion beyond what the baseline itself needs).
extension LuaVM {
    func installBenchBindings() {
        def("dode._bench.noop", "dode._bench.noop()", "Does nothing: measures the Lua → Swift call cost.") { _ in 0 }
        def("dode._bench.memcpy", "dode._bench.memcpy(dst, src)", """
            memcpy of src's bytes into dst (contiguous, same dtype and size): the bandwidth baseline.
            """) { a in
            let d = try a.tensor(1), s = try a.tensor(2)
            guard d.isContiguous, s.isContiguous, d.dtype == s.dtype, d.count == s.count else {
                throw a.error("expects two contiguous tensors of the same dtype and size")
            }
            memcpy(d.storage.raw + d.offset * d.dtype.size, s.storage.raw + s.offset * s.dtype.size,
                   d.count * d.dtype.size)
            return 0
        }
        def("dode._bench.dgemm", "dode._bench.dgemm(a, b, c)", """
            c = a·b by calling cblas_dgemm directly on contiguous Float64 matrices: the BLAS baseline.
            """) { a in
            let x = try a.tensor(1), y = try a.tensor(2), z = try a.tensor(3)
            guard x.rank == 2, y.rank == 2, z.rank == 2, x.isContiguous, y.isContiguous, z.isContiguous,
                  x.dtype == .float64, y.dtype == .float64, z.dtype == .float64,
                  x.shape[1] == y.shape[0], z.shape == [x.shape[0], y.shape[1]],
                  x.shape.allSatisfy({ $0 < Int(Int32.max) }), y.shape.allSatisfy({ $0 < Int(Int32.max) }) else {
                throw a.error("expects contiguous Float64 matrices a (m×k), b (k×n), c (m×n)")
            }
            let m = Int32(x.shape[0]), k = Int32(x.shape[1]), n = Int32(y.shape[1])
            Parallel.releaseCores()   // as Tensor.gemm does: OpenBLAS's threads get the cores
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1, x.pointer(Double.self), k,
                        y.pointer(Double.self), n, 0, z.pointer(Double.self), n)
            return 0
        }
        def("dode._bench.fit_collective", "dode._bench.fit_collective(n)", """
            Mean seconds of the collective a D-ODE fit makes per evaluation (FitStatistics.reduce of one \
            direction over the process's world), over n calls in step on every rank.
            """) { a in
            let n = try a.int(1, in: 1...1_000_000, "a positive count")
            var st = FitStatistics(directions: 1)
            st.rss.add(1); st.count = 1; st.exists = [true]
            try World.current.barrier()
            let t0 = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<n { var s = st; try s.reduce(over: World.current) }
            return a.push(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9 / Double(n))
        }
        def("dode._bench.unet_flops", "dode._bench.unet_flops(den, height, width)", """
            FLOPs (2 per multiply-add) of the convolutions of a unet denoiser's network for one image of \
            height×width.
            """) { a in
            guard let den = try a.denoiser(1) as? UNetDenoiser else { throw a.fail(1, "a unet denoiser") }
            let h = try a.int(2, in: 1...65536, "a positive height")
            let w = try a.int(3, in: 1...65536, "a positive width")
            return a.push(den.network.convFlops(height: h, width: w))
        }
        def("dode._bench.conv3x3", "dode._bench.conv3x3(cin, cout, size, batch, reps [, winograd=true])",
            "Best of reps wall seconds of a 3×3 stride-1 convolution (padding 1) of batch images size×size, " +
            "cin → cout channels, run as a unet pass runs it " +
            "(Winograd F(4×4, 3×3) unless winograd=false).") { a in
            let cin = try a.int(1, in: 1...4096, "channels in 1..4096"),
                cout = try a.int(2, in: 1...4096, "channels in 1..4096")
            let size = try a.int(3, in: 1...4096, "a size in 1..4096"),
                batch = try a.int(4, in: 1...4096, "a batch in 1..4096")
            let reps = try a.int(5, in: 1...1000, "repetitions in 1..1000")
            let wino = a.isNil(6) ? true : try a.bool(6)
            return a.push(try UNet2DModel.benchmarkConvolution(cin: cin, cout: cout, size: size, batch: batch,
                                                               reps: reps, convolutions: wino ? .winograd : .direct))
        }
    }
}
