import XCTest
@testable import DodeCore

/// The U-Net's own kernels (Sources/CKernels/conv.c): convolutions against a Float64 reference,
/// bit-identical results for any batch, chunking and thread count, the portable path against
/// AVX2/FMA, and Winograd against the direct form on every fixture.
final class UNetKernelTests: XCTestCase {
    /// A deterministic pseudo-random Float32 tensor in [−1, 1).
    func noise(_ shape: [Int], seed: UInt64) throws -> Tensor {
        let t = try Tensor(zeros: shape, dtype: .float32)
        var s = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        let p = t.pointer(Float.self)
        for i in 0..<t.count {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17
            p[i] = Float(Double(s >> 11) / Double(1 << 53) * 2 - 1)
        }
        return t
    }

    /// conv(x) + bias in Float64, x [n][H][W][cin], w [cout][cin][k][k].
    func reference(_ x: Tensor, n: Int, h: Int, w: Int, cin: Int, _ wt: Tensor, _ bias: Tensor, cout: Int, k: Int,
                   stride: Int, pad: (Int, Int, Int, Int)) -> (out: [Double], ho: Int, wo: Int) {
        let ho = (h + pad.0 + pad.2 - k) / stride + 1, wo = (w + pad.1 + pad.3 - k) / stride + 1
        let xp = x.pointer(Float.self), wp = wt.pointer(Float.self), bp = bias.pointer(Float.self)
        var out = [Double](repeating: 0, count: n * ho * wo * cout)
        for b in 0..<n { for oy in 0..<ho { for ox in 0..<wo { for co in 0..<cout {
            var acc = Double(bp[co])
            for ky in 0..<k { for kx in 0..<k {
                let iy = oy * stride + ky - pad.0, ix = ox * stride + kx - pad.1
                guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                for ci in 0..<cin {
                    acc += Double(xp[((b * h + iy) * w + ix) * cin + ci])
                        * Double(wp[((co * cin + ci) * k + ky) * k + kx])
                }
            } }
            out[((b * ho + oy) * wo + ox) * cout + co] = acc
        } } } }
        return (out, ho, wo)
    }

    /// Runs `conv` on n images, its work in one range or split over `parts` ranges.
    func run(_ conv: Conv2d, _ x: Tensor, n: Int, h: Int, w: Int, parts: Int = 1) throws -> [Float] {
        let (ho, wo) = conv.outSize(h, w)
        let y = try Tensor(zeros: [n * ho * wo * conv.cout], dtype: .float32)
        let pools = (0..<max(parts, 1)).map { _ in BufferPool() }
        let dummy = try Tensor(zeros: [1], dtype: .float32)
        let saved = Parallel.threads
        Parallel.threads = parts
        defer { Parallel.threads = saved }
        let ctx = ChunkContext(n: n, pool: pools[0], actTemb: dummy.pointer(Float.self),
                               splitPools: parts > 1 ? pools : [])
        conv.run(x.pointer(Float.self), conv.cin, h: h, w: w, ctx, into: y.pointer(Float.self))
        return y.toArray().map { Float($0) }
    }

    /// Every algorithm on awkward shapes (odd sizes and channel counts, stride 2, asymmetric
    /// padding, fewer than 8 channels in or out) against Float64: direct ≤ 1e-6, Winograd ≤ 1e-5
    /// relative; splitting the work changes no bit; the portable path agrees with AVX2/FMA.
    func testConvolutionsMatchFloat64() throws {
        // (cin, cout, k, stride, pad top/left/bottom/right, h, w, n)
        let shapes: [(Int, Int, Int, Int, (Int, Int, Int, Int), Int, Int, Int)] = [
            (5, 19, 3, 1, (1, 1, 1, 1), 9, 7, 2), (16, 16, 3, 1, (1, 1, 1, 1), 12, 12, 3),
            (30, 15, 3, 1, (1, 1, 1, 1), 8, 8, 3), (15, 30, 3, 2, (0, 0, 1, 1), 8, 8, 2),
            (16, 24, 3, 2, (1, 1, 1, 1), 9, 9, 2), (15, 30, 1, 1, (0, 0, 0, 0), 8, 8, 2),
            (3, 16, 3, 1, (1, 1, 1, 1), 10, 6, 2), (20, 3, 3, 1, (1, 1, 1, 1), 9, 7, 2),
            (16, 1, 3, 1, (1, 1, 1, 1), 8, 8, 2), (48, 40, 3, 1, (1, 1, 1, 1), 4, 4, 5),
            (1, 8, 3, 1, (1, 1, 1, 1), 5, 5, 1),
        ]
        for (i, s) in shapes.enumerated() {
            let (cin, cout, k, stride, pad, h, w, n) = s
            let x = try noise([n * h * w * cin], seed: UInt64(3 * i + 1))
            let wt = try noise([cout, cin, k, k], seed: UInt64(3 * i + 2))
            let bias = try noise([cout], seed: UInt64(3 * i + 3))
            let (ref, _, _) = reference(x, n: n, h: h, w: w, cin: cin, wt, bias, cout: cout, k: k, stride: stride,
                                        pad: pad)
            let refMax = ref.map { Swift.abs($0) }.max() ?? 1
            for mode in [UNetConvolutions.direct, .winograd] {
                let conv = try Conv2d(weight: wt, bias: bias, cin: cin, cout: cout, k: k, stride: stride, pad: pad.0,
                                      padBottomRight: pad.2, convolutions: mode)
                let name = "shape \(i) (\(cin)→\(cout), k\(k) s\(stride), \(h)×\(w)) algorithm \(conv.algo)"
                let y = try run(conv, x, n: n, h: h, w: w)
                XCTAssertEqual(y.count, ref.count, name)
                let err = zip(y, ref).map { Swift.abs(Double($0) - $1) }.max()! / refMax
                XCTAssertLessThan(err, conv.isWinograd ? 1e-5 : 1e-6, name)
                XCTAssertEqual(try run(conv, x, n: n, h: h, w: w, parts: 3), y, "\(name): split over 3 threads")
                KernelPath.use(avx2: false)
                let portable = try run(conv, x, n: n, h: h, w: w)
                KernelPath.use(avx2: true)
                let diff = zip(portable, ref).map { Swift.abs(Double($0) - $1) }.max()! / refMax
                XCTAssertLessThan(diff, conv.isWinograd ? 1e-5 : 1e-6, "\(name): portable path")
            }
        }
    }

    /// The fused forms give the bits of the unfused ones: a convolution reading its input's
    /// nearest 2× upsampling on the fly (the up blocks' upsamplers), and a 1×1 convolution of a
    /// channel concatenation that is never built (the up blocks' shortcuts).
    func testFusedUpsamplingAndConcatenation() throws {
        let n = 3, h = 5, w = 6, c = 20
        let x = try noise([n * h * w * c], seed: 11)
        let xs = x.pointer(Float.self)
        let up = try Tensor(zeros: [n * 4 * h * w * c], dtype: .float32)
        let u = up.pointer(Float.self)
        for b in 0..<n { for i in 0..<(2 * h) { for j in 0..<(2 * w) { for ch in 0..<c {
            u[((b * 2 * h + i) * 2 * w + j) * c + ch] = xs[((b * h + i / 2) * w + j / 2) * c + ch]
        } } } }
        let dummy = try Tensor(zeros: [1], dtype: .float32)
        let ctx = ChunkContext(n: n, pool: BufferPool(), actTemb: dummy.pointer(Float.self))
        func values(_ a: Activation4) -> [Float] { Array(UnsafeBufferPointer(start: a.p, count: n * a.c * a.h * a.w)) }
        for mode in [UNetConvolutions.direct, .winograd] {
            let conv = try Conv2d(weight: try noise([24, c, 3, 3], seed: 12), bias: try noise([24], seed: 13),
                                  cin: c, cout: 24, k: 3, convolutions: mode)
            let fused = conv(Activation4(p: x.pointer(Float.self), c: c, h: h, w: w), ctx, upsampled: true)
            let plain = conv(Activation4(p: up.pointer(Float.self), c: c, h: 2 * h, w: 2 * w), ctx)
            XCTAssertEqual(fused.h, 2 * h)
            XCTAssertTrue(values(fused) == values(plain), "\(mode): upsampled on the fly")
        }
        let c2 = 13
        let y = try noise([n * h * w * c2], seed: 14)
        let cat = try Tensor(zeros: [n * h * w * (c + c2)], dtype: .float32)
        let cp = cat.pointer(Float.self), yp = y.pointer(Float.self)
        for q in 0..<(n * h * w) {
            for ch in 0..<c { cp[q * (c + c2) + ch] = xs[q * c + ch] }
            for ch in 0..<c2 { cp[q * (c + c2) + c + ch] = yp[q * c2 + ch] }
        }
        let shortcut = try Conv2d(weight: try noise([17, c + c2, 1, 1], seed: 15), bias: try noise([17], seed: 16),
                                  cin: c + c2, cout: 17, k: 1, pad: 0, convolutions: .winograd)
        let fused = shortcut.concatenated(Activation4(p: x.pointer(Float.self), c: c, h: h, w: w),
                                          Activation4(p: y.pointer(Float.self), c: c2, h: h, w: w), ctx)
        let plain = shortcut(Activation4(p: cat.pointer(Float.self), c: c + c2, h: h, w: w), ctx)
        XCTAssertTrue(values(fused) == values(plain), "1×1 convolution of a concatenation")
        let gn = try GroupNorm(WeightStore(["g.weight": try noise([c + c2], seed: 17),
                                            "g.bias": try noise([c + c2], seed: 18)], source: "test"),
                               "g", groups: 11, channels: c + c2, eps: 1e-5)
        let g1 = gn(Activation4(p: x.pointer(Float.self), c: c, h: h, w: w), ctx, act: .silu,
                    second: Activation4(p: y.pointer(Float.self), c: c2, h: h, w: w))
        let g2 = gn(Activation4(p: cat.pointer(Float.self), c: c + c2, h: h, w: w), ctx, act: .silu)
        XCTAssertTrue(values(g1) == values(g2), "GroupNorm of a concatenation")
    }

    func load(_ name: String, _ mode: UNetConvolutions = .winograd) throws -> (net: UNet2DModel, io: [String: Tensor]) {
        let dir = Support.path("Tests/Fixtures/unet/\(name)")
        return (try UNet2DModel(folder: dir + "/unet", convolutions: mode),
                try Safetensors.read(path: dir + "/io.safetensors").tensors)
    }

    func forward(_ net: UNet2DModel, _ x: Tensor, _ t: [Double], _ labels: [Int]?, threads: Int = 2) throws -> [Float] {
        let saved = Parallel.threads
        Parallel.threads = threads
        defer { Parallel.threads = saved }
        return try net.forward(x, timesteps: t, classLabels: labels).toArray().map { Float($0) }
    }

    /// An image's output does not depend on the batch it is in, the chunk it lands in, or the
    /// thread count: the same bits for a batch of 18 (several chunks and a ragged one, each image
    /// with its own time label and class), each image alone (whose layers are split over the
    /// threads), batches of 5, 6 and 7, and 1 vs 2 threads — on the AVX2/FMA path and on the
    /// portable one.
    func testBatchInvarianceIsBitExact() throws {
        let cases: [(String, Bool, Bool)] = [("cifar_small", false, true), ("resnet_sampling_classes", true, true),
                                             ("heads_scale_shift", false, true), ("odd_widths", false, true),
                                             ("fashion", false, true), ("cifar_small", false, false)]
        for (name, classes, avx2) in cases {
            if !avx2 { KernelPath.use(avx2: false) }
            defer { KernelPath.use(avx2: true) }
            let net: UNet2DModel, x0: Tensor
            if name == "fashion" {
                net = try UNet2DModel(folder: Support.path("Models/fashion_unet/unet"))
                x0 = try XCTUnwrap(
                    try Safetensors.read(path: Support.path("Models/fashion_unet/fixture.safetensors")).tensors["x"])
            } else {
                let (n, io) = try load(name)
                net = n
                x0 = try XCTUnwrap(io["x"])
            }
            let label = "\(name)\(avx2 ? "" : " (portable kernels)")"
            let B = 18
            let x = try Tensor.cat(Array(repeating: x0, count: (B + x0.shape[0] - 1) / x0.shape[0]), dim: 0)
                .narrow(0, 0, B).contiguous()
            let xp = x.pointer(Float.self)
            for i in 0..<x.count { xp[i] += Float(i % 97) * 1e-3 }          // every image different
            let t = (0..<B).map { 37.0 + 53.5 * Double($0) }
            let labels = classes ? (0..<B).map { $0 % 3 } : nil
            let all = try forward(net, x, t, labels)
            let outPer = all.count / B
            XCTAssertEqual(try forward(net, x, t, labels, threads: 1), all, "\(label): 1 vs 2 threads")
            for size in [1, 5, 6, 7] {
                for b0 in stride(from: 0, to: B, by: size) {
                    let m = min(size, B - b0)
                    let part = try x.narrow(0, b0, m).contiguous()
                    let got = try forward(net, part, Array(t[b0..<(b0 + m)]), labels.map { Array($0[b0..<(b0 + m)]) },
                                          threads: b0 % 2 + 1)
                    XCTAssertTrue(got == Array(all[(b0 * outPer)..<((b0 + m) * outPer)]),
                                  "\(label): images \(b0)..<\(b0 + m) in a batch of \(m)")
                }
            }
        }
    }

    /// The portable kernels against AVX2/FMA on every fixture. They differ in rounding: a fused
    /// multiply-add rounds once where the portable code rounds the product and the sum, and the
    /// exponential (polynomial vs libm) and SiLU's reciprocal (estimate + Newton step vs
    /// division) differ by about an ulp; through ~40 layers that stays below 1e-5 relative.
    func testPortableKernelsAgreeWithAVX2() throws {
        guard KernelPath.avx2 else { throw XCTSkip("this CPU has no AVX2/FMA: only the portable path runs") }
        for name in UNetTests.fixtures {
            let (net, io) = try load(name)
            let x = try XCTUnwrap(io["x"]), t = try XCTUnwrap(io["t"])
            var labels: [Int]? = nil, vectors: Tensor? = nil
            if let c = io["class_labels"] {
                if c.rank == 1 { labels = c.toArray().map { Int($0) } } else { vectors = c }
            }
            let fast = try net.forward(x, timesteps: t.toArray(), classLabels: labels, classVectors: vectors)
            KernelPath.use(avx2: false)
            defer { KernelPath.use(avx2: true) }
            let portable = try net.forward(x, timesteps: t.toArray(), classLabels: labels, classVectors: vectors)
            let err = Support.relError(portable.to(.float64), fast.to(.float64))
            print("unet fixture \(name): portable vs AVX2 relative difference \(err)")
            XCTAssertLessThan(err, 1e-5, name)
            XCTAssertLessThan(Support.relError(portable.to(.float64), try XCTUnwrap(io["out"]).to(.float64)), 1e-5,
                              "\(name): portable vs diffusers")
        }
    }

    /// Winograd's error against diffusers on each fixture, beside the direct form's: both stay
    /// at the Float32 level (≤ 1e-5 relative).
    func testWinogradErrorPerFixture() throws {
        for name in UNetTests.fixtures {
            var errs: [Double] = []
            for mode in [UNetConvolutions.direct, .winograd] {
                let (net, io) = try load(name, mode)
                let x = try XCTUnwrap(io["x"]), t = try XCTUnwrap(io["t"])
                var labels: [Int]? = nil, vectors: Tensor? = nil
                if let c = io["class_labels"] {
                    if c.rank == 1 { labels = c.toArray().map { Int($0) } } else { vectors = c }
                }
                let out = try net.forward(x, timesteps: t.toArray(), classLabels: labels, classVectors: vectors)
                errs.append(Support.relError(out.to(.float64), try XCTUnwrap(io["out"]).to(.float64)))
            }
            print("unet fixture \(name): relative error vs diffusers: direct \(errs[0]), Winograd \(errs[1])")
            XCTAssertLessThan(errs[0], 1e-5, "\(name) direct")
            XCTAssertLessThan(errs[1], 1e-5, "\(name) Winograd")
        }
    }

    /// The workers' buffers stay within the bound the size-cap check uses.
    func testWorkspaceWithinBound() throws {
        for (name, c, h) in [("cifar_small", 3, 32), ("heads_scale_shift", 2, 16), ("odd_widths", 1, 8)] {
            let net = try UNet2DModel(folder: Support.path("Tests/Fixtures/unet/\(name)/unet"))
            for b in [1, 5, 64] {
                _ = try net.forward(try Tensor(zeros: [b, c, h, h], dtype: .float32), timesteps: [500])
                let chunk = net.chunkSize(batch: b, height: h, width: h)
                let workers = Parallel.threads
                XCTAssertLessThanOrEqual(net.workspaceBytes,
                                         workers * net.workspaceBound(chunk: chunk, height: h, width: h),
                                         "\(name) batch \(b)")
            }
        }
    }
}
