import CKernels
import DodeTensor
import Foundation

// The layers of a UNet2DModel evaluated on a chunk of n images stored image-major and
// channels-last, [n][H][W][C] (see conv.c): a convolution reads each input pixel's channels as
// one contiguous run, with no im2col matrix, and every image is computed by the same operations
// whatever else is in the batch, so results are bit-identical across batch sizes, chunkings and
// thread counts. All arithmetic is Float32, like diffusers; reductions (GroupNorm statistics,
// softmax sums) accumulate in Float64.

/// Reusable buffers of one worker thread, keyed by size. A forward pass takes and gives back
/// buffers in the same sizes each time, so after the first call a sampling loop allocates
/// nothing.
final class BufferPool {
    private var free: [Int: [UnsafeMutablePointer<Float>]] = [:]
    private var all: [UnsafeMutablePointer<Float>] = []
    private var scratchArea: UnsafeMutablePointer<Float>?
    private var scratchCount = 0
    private var workArea: UnsafeMutablePointer<Double>?
    private var workCount = 0
    private(set) var bytes = 0

    func take(_ count: Int) -> UnsafeMutablePointer<Float> {
        let n = max(count, 1)
        if let p = free[n]?.popLast() { return p }   // in place: no copy of the list
        let p = UnsafeMutableRawPointer.allocate(byteCount: n * 4, alignment: 64)
            .bindMemory(to: Float.self, capacity: n)
        all.append(p)
        bytes += n * 4
        return p
    }

    func give(_ p: UnsafeMutablePointer<Float>, _ count: Int) {
        free[max(count, 1), default: []].append(p)
    }

    /// One growing scratch area (a convolution's or attention's private buffers), valid until
    /// the next call.
    func scratch(_ count: Int) -> UnsafeMutablePointer<Float> {
        if count > scratchCount || scratchArea == nil {
            scratchArea?.deallocate()
            let n = max(count, 1)
            scratchArea = UnsafeMutableRawPointer.allocate(byteCount: n * 4, alignment: 64)
                .bindMemory(to: Float.self, capacity: n)
            bytes += (n - scratchCount) * 4
            scratchCount = n
        }
        return scratchArea.unsafelyUnwrapped
    }

    /// A growing Float64 work area (GroupNorm sums), valid until the next call.
    func work(_ count: Int) -> UnsafeMutablePointer<Double> {
        if count > workCount || workArea == nil {
            workArea?.deallocate()
            let n = max(count, 1)
            workArea = UnsafeMutablePointer<Double>.allocate(capacity: n)
            bytes += (n - workCount) * 8
            workCount = n
        }
        return workArea.unsafelyUnwrapped
    }

    deinit {
        for p in all { p.deallocate() }
        scratchArea?.deallocate()
        workArea?.deallocate()
    }
}

/// A chunk-local activation: n images of H×W×C in [n][H][W][C] layout, owned by the pool.
struct Activation4 {
    let p: UnsafeMutablePointer<Float>
    let c: Int, h: Int, w: Int
    var plane: Int { h * w }
}

/// What one chunk's evaluation needs: its images, the worker's buffers, and — when a batch has
/// fewer chunks than threads (a single image) — the other workers' buffers, so that each layer
/// splits its own work over the threads.
final class ChunkContext {
    let n: Int
    let pool: BufferPool
    /// act(temb) for the chunk's images, [n][temb] (every ResNet applies its activation to temb first).
    let actTemb: UnsafeMutablePointer<Float>
    /// The pools of the threads a layer's work is split over (just `pool` when chunks run in parallel).
    let pools: [BufferPool]

    init(n: Int, pool: BufferPool, actTemb: UnsafeMutablePointer<Float>, splitPools: [BufferPool] = []) {
        self.n = n
        self.pool = pool
        self.actTemb = actTemb
        self.pools = splitPools.isEmpty ? [pool] : splitPools
    }

    func alloc(_ c: Int, _ h: Int, _ w: Int) -> Activation4 {
        Activation4(p: pool.take(c * n * h * w), c: c, h: h, w: w)
    }
    func release(_ a: Activation4) { pool.give(a.p, a.c * n * a.h * a.w) }

    /// Runs `body(pool, range)` over 0..<work, on this thread or split over the threads of
    /// `pools`. Every kernel called this way gives the same bits for any split.
    func split(_ work: Int, _ body: (BufferPool, Range<Int>) -> Void) {
        let threads = pools.count
        if threads == 1 || work < 2 {
            body(pool, 0..<work)
            return
        }
        let parts = min(work, 4 * threads), size = (work + parts - 1) / parts
        let count = (work + size - 1) / size
        let ps = UnsafeSendable(pools)
        Parallel.forEachWorker(chunks: count, workers: threads) { w, c in
            body(ps.value[w], (c * size)..<min(work, (c + 1) * size))
        }
    }
}

/// Looks tensors up by name in a checkpoint, checks shapes, and remembers which were used so
/// that leftovers can be reported. Tensors become contiguous Float32 (F16/BF16 are widened).
final class WeightStore {
    private let tensors: [String: Tensor]
    private(set) var used: Set<String> = []
    let source: String
    /// How 3×3 convolutions are computed (their packed weights depend on it).
    let convolutions: UNetConvolutions
    /// Old diffusers attention names (< 0.10: query/key/value/proj_attn), accepted in place of the current ones.
    static let legacy = [".to_q.": ".query.", ".to_k.": ".key.", ".to_v.": ".value.", ".to_out.0.": ".proj_attn."]

    init(_ tensors: [String: Tensor], source: String, convolutions: UNetConvolutions = .winograd) {
        self.tensors = tensors
        self.source = source
        self.convolutions = convolutions
    }

    private func legacyName(_ name: String) -> String? {
        for (new, old) in Self.legacy where name.contains(new) {
            let alt = name.replacingOccurrences(of: new, with: old)
            if tensors[alt] != nil { return alt }
        }
        return nil
    }

    /// The tensor `name` with exactly `shape` (a 1×1 conv may also be stored as a 2-D linear).
    func get(_ name: String, _ shape: [Int]) throws -> Tensor {
        guard let key = tensors[name] != nil ? name : legacyName(name), let t = tensors[key] else {
            throw CoreError("\(source) has no tensor '\(name)' " +
                            "(the config's architecture needs it, shape \(formatShape(shape)))")
        }
        let flat = shape.reduce(1, *)
        let ok = t.shape == shape
            || (t.count == flat && shape.count == 4 && shape[2] == 1 && shape[3] == 1 && t.rank == 2
                && t.shape == [shape[0], shape[1]])
            || (t.count == flat && shape.count == 2 && t.rank == 4 && t.shape == [shape[0], shape[1], 1, 1])
        guard ok else {
            throw CoreError("tensor '\(key)' in \(source) has shape \(formatShape(t.shape)), " +
                            "the config's architecture needs \(formatShape(shape))")
        }
        used.insert(key)
        return t.to(.float32).contiguous()
    }

    func unused() -> [String] { tensors.keys.filter { !used.contains($0) }.sorted() }
}

/// How the U-Net computes its 3×3 stride-1 convolutions.
public enum UNetConvolutions: Sendable {
    /// Winograd F(4×4, 3×3) (about 4× fewer multiplications; each convolution's rounding error
    /// grows to a few 1e-6 relative, against ~5e-7 directly).
    case winograd
    /// Direct summation over the 3×3 window for every convolution.
    case direct
}

/// A 2-D convolution (PyTorch Conv2d: weight [Cout][Cin][k][k], bias [Cout]) with stride and
/// padding (top, left, bottom, right), on channels-last activations. The weights are packed once
/// for the algorithm: Winograd F(4×4, 3×3) for 3×3 stride-1 convolutions with padding 1 and at
/// least 8 channels in and out (`UNetConvolutions.winograd`; on the 1–3 channel input and output
/// layers it would be faster but raise the error against diffusers from 2.6e-6 to 3.9e-6), a dot
/// product per output for fewer than 8 output channels, and otherwise a direct convolution with
/// 16 output channels per vector block.
struct Conv2d {
    let packed: Tensor, bias: Tensor
    let cin: Int, cout: Int, k: Int, stride: Int
    let pad: (top: Int, left: Int, bottom: Int, right: Int)
    let algo: Int32

    init(_ store: WeightStore, _ prefix: String, cin: Int, cout: Int, k: Int, stride: Int = 1, pad: Int? = nil,
         padBottomRight: Int? = nil) throws {
        let weight = try store.get("\(prefix).weight", [cout, cin, k, k])
        try self.init(weight: weight, bias: try store.get("\(prefix).bias", [cout]), cin: cin, cout: cout, k: k,
                      stride: stride, pad: pad, padBottomRight: padBottomRight, convolutions: store.convolutions)
    }

    init(weight: Tensor, bias: Tensor, cin: Int, cout: Int, k: Int, stride: Int = 1, pad: Int? = nil,
         padBottomRight: Int? = nil, convolutions: UNetConvolutions) throws {
        self.bias = bias
        self.cin = cin
        self.cout = cout
        self.k = k
        self.stride = stride
        let p = pad ?? (k / 2)
        self.pad = (p, p, padBottomRight ?? p, padBottomRight ?? p)
        if convolutions == .winograd && k == 3 && stride == 1 && self.pad == (1, 1, 1, 1) && cin >= 8 && cout >= 8 {
            algo = Int32(DODE_CONV_WINO)
        } else if cout < 8 && cin >= 8 {
            algo = Int32(DODE_CONV_DOT)
        } else {
            algo = Int32(DODE_CONV_DIRECT)
        }
        packed = try Tensor.empty([dode_conv_packed_size(cout, cin, k, algo)], dtype: .float32)
        dode_conv_pack(weight.pointer(Float.self), cout, cin, k, algo, packed.pointer(Float.self))
    }

    func outSize(_ h: Int, _ w: Int) -> (Int, Int) {
        ((h + pad.top + pad.bottom - k) / stride + 1, (w + pad.left + pad.right - k) / stride + 1)
    }

    /// FLOPs of one image at input size h×w (2 per multiply-add of the direct form).
    func flops(_ h: Int, _ w: Int) -> Double {
        let (ho, wo) = outSize(h, w)
        return 2 * Double(cout * cin * k * k * ho * wo)
    }

    /// Whether this layer runs Winograd F(4×4, 3×3).
    var isWinograd: Bool { algo == Int32(DODE_CONV_WINO) }

    /// Scratch floats a thread needs for this convolution.
    var scratch: Int { dode_conv_scratch(cin, k, algo) }

    /// out = conv(x) + bias (+ timeBias[b][c] per image: a row of `ld` floats per image), then
    /// with a residual `res` (same shape as the output) out = (res + out) / outputScale.
    /// `upsampled`: convolve the nearest 2× upsampling of x, read on the fly.
    func callAsFunction(_ x: Activation4, _ ctx: ChunkContext, timeBias: UnsafePointer<Float>? = nil, ld: Int = 0,
                        residual: Activation4? = nil, outputScale: Float = 1, upsampled: Bool = false) -> Activation4 {
        let f = upsampled ? 2 : 1
        let (ho, wo) = outSize(f * x.h, f * x.w)
        let out = ctx.alloc(cout, ho, wo)
        run(x.p, x.c, h: f * x.h, w: f * x.w, ctx, into: out.p, timeBias: timeBias, ld: ld,
            residual: residual.map { UnsafePointer($0.p) }, ldr: residual?.c ?? 0, outputScale: outputScale,
            upsampled: upsampled)
        return out
    }

    /// A 1×1 convolution of the channel concatenation (a, b) without building it.
    func concatenated(_ a: Activation4, _ b: Activation4, _ ctx: ChunkContext) -> Activation4 {
        let out = ctx.alloc(cout, a.h, a.w)
        run(a.p, a.c, h: a.h, w: a.w, ctx, into: out.p, second: (UnsafePointer(b.p), b.c))
        return out
    }

    /// The convolution of n images at `x` (pixel stride ldx) into `y` ([n][ho][wo][cout]); h×w
    /// is the input size the convolution sees (twice the stored size when `upsampled`).
    /// `second`: channels from `ldx` on come from that buffer (1×1 convolutions only).
    func run(_ x: UnsafePointer<Float>, _ ldx: Int, h: Int, w: Int, _ ctx: ChunkContext,
             into y: UnsafeMutablePointer<Float>, timeBias: UnsafePointer<Float>? = nil, ld: Int = 0,
             residual: UnsafePointer<Float>? = nil, ldr: Int = 0, outputScale: Float = 1, upsampled: Bool = false,
             second: (p: UnsafePointer<Float>, ld: Int)? = nil) {
        let (ho, wo) = outSize(h, w)
        var c = dode_conv_t(x: x, n: ctx.n, H: h, W: w, cin: cin, ldx: ldx,
                            w: UnsafePointer(packed.pointer(Float.self)), cout: cout, k: k, stride: stride,
                            pt: pad.top, pl: pad.left, Ho: ho, Wo: wo,
                            bias: UnsafePointer(bias.pointer(Float.self)), tb: timeBias, ldt: ld, res: residual,
                            ldr: ldr, oscale: outputScale, y: y, ldy: cout, scratch: nil, up: upsampled ? 1 : 0,
                            x2: second?.p, ldx2: second?.ld ?? 0, cin1: second == nil ? cin : ldx, parts: 1)
        if isWinograd && ctx.pools.count > 1 {
            // A single small image split over threads: few tile blocks, so their output
            // channels are split too.
            let blocks = dode_conv_work(&c, algo), ncb = (cout + 15) / 16
            if blocks < 4 * ctx.pools.count { c.parts = min(ncb, (4 * ctx.pools.count + blocks - 1) / blocks) }
        }
        let work = dode_conv_work(&c, algo), need = scratch, a = algo
        ctx.split(work) { pool, range in
            var cc = c
            cc.scratch = pool.scratch(need)
            // Always 1: the algorithm was chosen for this layer's shape (see init).
            _ = dode_conv(&cc, a, range.lowerBound, range.upperBound)
        }
    }
}

/// A linear layer (PyTorch Linear: weight [out][in], bias [out]) applied to row vectors, each
/// row computed on its own (the same bits whatever the number of rows).
struct Linear {
    let weight: Tensor, bias: Tensor?
    let packed: Tensor
    let fin: Int, fout: Int

    init(_ store: WeightStore, _ prefix: String, fin: Int, fout: Int, bias hasBias: Bool = true) throws {
        weight = try store.get("\(prefix).weight", [fout, fin])
        bias = hasBias ? try store.get("\(prefix).bias", [fout]) : nil
        self.fin = fin
        self.fout = fout
        packed = try Tensor.empty([fin * ((fout + 7) / 8 * 8)], dtype: .float32)
        dode_linear_pack(weight.pointer(Float.self), fout, fin, packed.pointer(Float.self))
    }

    /// y[r][·] = W·x[r][·] + b for `rows` row vectors.
    func rows(_ x: UnsafePointer<Float>, _ rows: Int, into y: UnsafeMutablePointer<Float>) {
        dode_linear_rows(x, rows, fin, packed.pointer(Float.self),
                         bias.map { UnsafePointer($0.pointer(Float.self)) }, fout, y)
    }
}

/// GroupNorm (PyTorch: biased variance per image and group, affine per channel), optionally
/// followed by diffusers' scale-shift conditioning and an activation, fused in one pass.
struct GroupNorm {
    let weight: Tensor, bias: Tensor
    let groups: Int, channels: Int
    let eps: Float

    init(_ store: WeightStore, _ prefix: String, groups: Int, channels: Int, eps: Double) throws {
        weight = try store.get("\(prefix).weight", [channels])
        bias = try store.get("\(prefix).bias", [channels])
        self.groups = groups
        self.channels = channels
        self.eps = Float(eps)
    }

    /// With `second`, the GroupNorm of the channel concatenation (x, second), without building it.
    func callAsFunction(_ x: Activation4, _ ctx: ChunkContext, act: Activation = .none,
                        scaleShift: (scale: UnsafePointer<Float>, shift: UnsafePointer<Float>, ld: Int)? = nil,
                        into out: Activation4? = nil, second: Activation4? = nil) -> Activation4 {
        let C = channels, hw = x.plane, c1 = x.c, c2 = second?.c ?? 0
        let y = out ?? ctx.alloc(C, x.h, x.w)
        let xp = UnsafeSendable(x.p), yp = UnsafeSendable(y.p), x2 = second.map { UnsafeSendable(UnsafePointer($0.p)) }
        let ss = scaleShift.map { UnsafeSendable($0) }
        ctx.split(ctx.n) { pool, range in
            let b0 = range.lowerBound, nb = range.count
            let sc = ss.map { $0.value.scale + b0 * $0.value.ld }, sh = ss.map { $0.value.shift + b0 * $0.value.ld }
            dode_group_norm_nhwc(xp.value + b0 * hw * c1, c1, c1, x2.map { $0.value + b0 * hw * c2 }, c2,
                                 yp.value + b0 * hw * C, C, nb, hw, C, groups, eps,
                                 weight.pointer(Float.self), bias.pointer(Float.self), sc, sh, ss?.value.ld ?? 0,
                                 act.rawValue, pool.work(dode_group_norm_work(C)))
        }
        return y
    }
}
