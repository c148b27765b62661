import CKernels
import DodeTensor
import Foundation

extension UNet2DModel {
    /// The best of `reps` wall times (seconds) of one 3×3 stride-1 convolution with padding 1,
    /// `cin` → `cout` channels, over `batch` images of size×size, run as a U-Net pass runs it:
    /// the algorithm `convolutions` selects for the layer, chunks of up to 8 images on all
    /// `Parallel.threads` workers. Random weights and inputs; for benchmarks (`Scripts/bench`).
    public static func benchmarkConvolution(cin: Int, cout: Int, size: Int, batch: Int, reps: Int,
                                            convolutions: UNetConvolutions = .winograd) throws -> Double {
        guard (1...4096).contains(cin), (1...4096).contains(cout), (1...4096).contains(size),
              (1...4096).contains(batch) else {
            throw CoreError("benchmarkConvolution: channels, size and batch must be in 1...4096")
        }
        let g = Generator(seed: 7)
        let w = try g.randn([cout, cin, 3, 3], dtype: .float32)
        let b = try g.randn([cout], dtype: .float32)
        let conv = try Conv2d(weight: w.contiguous(), bias: b.contiguous(), cin: cin, cout: cout, k: 3,
                              convolutions: convolutions)
        let x = try g.randn([batch * size * size * cin], dtype: .float32)
        let y = try Tensor.empty([batch * size * size * cout], dtype: .float32)
        let chunk = min(8, max(1, (batch + 1) / 2)), chunks = (batch + chunk - 1) / chunk
        let pools = (0..<Parallel.threads).map { _ in BufferPool() }
        let xp = UnsafeSendable(x.pointer(Float.self)), yp = UnsafeSendable(y.pointer(Float.self))
        let dummy = try Tensor.empty([1], dtype: .float32)
        let tp = UnsafeSendable(dummy.pointer(Float.self))
        func pass() {
            Parallel.forEachWorker(chunks: chunks, workers: min(pools.count, chunks)) { wk, c in
                let b0 = c * chunk, n = min(chunk, batch - b0)
                let ctx = ChunkContext(n: n, pool: pools[wk], actTemb: tp.value)
                conv.run(xp.value + b0 * size * size * cin, cin, h: size, w: size, ctx,
                         into: yp.value + b0 * size * size * cout)
            }
        }
        pass()
        var best = Double.infinity
        for _ in 0..<max(1, reps) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            pass()
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
        }
        return best
    }
}

/// Which code the vector kernels run: AVX2/FMA (chosen at run time when the CPU has it and
/// DODE_NO_AVX2 is not set) or the portable C. For tests that compare both paths in one process.
enum KernelPath {
    static var avx2: Bool { dode_kernels_avx2() != 0 }
    /// `true` restores run-time detection; `false` forces the portable kernels.
    static func use(avx2: Bool) { dode_kernels_set_avx2(avx2 ? 1 : 0) }
}
