import CBLAS
import CKernels
import DodeTensor
import Foundation

// The layers of a UNet2DModel evaluated on a chunk of n images in channel-major layout
// [C][n][H][W] (see conv.c): convolutions are one sgemm per layer for the whole chunk and
// skip-connection concatenation is buffer concatenation. All arithmetic is Float32, like
// diffusers; reductions (GroupNorm statistics, softmax sums) accumulate in Float64.

/// Reusable Float32 buffers of one worker thread, keyed by size. A forward pass takes and gives
/// back buffers in the same sizes each time, so after the first call a sampling loop allocates
/// nothing.
final class BufferPool {
    private var free: [Int: [UnsafeMutablePointer<Float>]] = [:]
    private var all: [UnsafeMutablePointer<Float>] = []
    private var scratch: UnsafeMutablePointer<Float>?
    private var scratchCount = 0
    private(set) var bytes = 0

    func take(_ count: Int) -> UnsafeMutablePointer<Float> {
        let n = max(count, 1)
        if var list = free[n], let p = list.popLast() {
            free[n] = list
            return p
        }
        let p = UnsafeMutableRawPointer.allocate(byteCount: n * 4, alignment: 64).bindMemory(to: Float.self, capacity: n)
        all.append(p)
        bytes += n * 4
        return p
    }

    func give(_ p: UnsafeMutablePointer<Float>, _ count: Int) {
        free[max(count, 1), default: []].append(p)
    }

    /// One growing scratch area (im2col matrices, attention scores), valid until the next call.
    func scratch(_ count: Int) -> UnsafeMutablePointer<Float> {
        if count > scratchCount {
            scratch?.deallocate()
            scratch = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64).bindMemory(to: Float.self, capacity: max(count, 1))
            bytes += (count - scratchCount) * 4
            scratchCount = count
        }
        return scratch!
    }

    deinit {
        for p in all { p.deallocate() }
        scratch?.deallocate()
    }
}

/// A chunk-local activation: n images of C×H×W in [C][n][H][W] layout, owned by `pool`.
struct Activation4 {
    let p: UnsafeMutablePointer<Float>
    let c: Int, h: Int, w: Int
    var plane: Int { h * w }
}

/// What one worker needs to evaluate a block on its chunk.
final class ChunkContext {
    let n: Int
    let pool: BufferPool
    /// act(temb) for the chunk's images, [n][temb] (every ResNet applies its activation to temb first).
    let actTemb: UnsafeMutablePointer<Float>

    init(n: Int, pool: BufferPool, actTemb: UnsafeMutablePointer<Float>) {
        self.n = n
        self.pool = pool
        self.actTemb = actTemb
    }

    func alloc(_ c: Int, _ h: Int, _ w: Int) -> Activation4 { Activation4(p: pool.take(c * n * h * w), c: c, h: h, w: w) }
    func release(_ a: Activation4) { pool.give(a.p, a.c * n * a.h * a.w) }
}

/// Looks tensors up by name in a checkpoint, checks shapes, and remembers which were used so
/// that leftovers can be reported. Tensors become contiguous Float32 (F16/BF16 are widened).
final class WeightStore {
    private let tensors: [String: Tensor]
    private(set) var used: Set<String> = []
    let source: String
    /// Old diffusers attention names (< 0.10: query/key/value/proj_attn), accepted in place of the current ones.
    static let legacy = [".to_q.": ".query.", ".to_k.": ".key.", ".to_v.": ".value.", ".to_out.0.": ".proj_attn."]

    init(_ tensors: [String: Tensor], source: String) {
        self.tensors = tensors
        self.source = source
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
            throw CoreError("\(source) has no tensor '\(name)' (the config's architecture needs it, shape \(formatShape(shape)))")
        }
        let flat = shape.reduce(1, *)
        let ok = t.shape == shape || (t.count == flat && shape.count == 4 && shape[2] == 1 && shape[3] == 1 && t.rank == 2 && t.shape == [shape[0], shape[1]])
            || (t.count == flat && shape.count == 2 && t.rank == 4 && t.shape == [shape[0], shape[1], 1, 1])
        guard ok else {
            throw CoreError("tensor '\(key)' in \(source) has shape \(formatShape(t.shape)), the config's architecture needs \(formatShape(shape))")
        }
        used.insert(key)
        return t.to(.float32).contiguous()
    }

    func unused() -> [String] { tensors.keys.filter { !used.contains($0) }.sorted() }
}

/// A 2-D convolution (PyTorch Conv2d: weight [Cout][Cin][k][k], bias [Cout]) with stride and
/// padding (top, left, bottom, right), computed as im2col + sgemm (1×1 stride-1 convolutions
/// skip the im2col).
struct Conv2d {
    let weight: Tensor, bias: Tensor
    let cin: Int, cout: Int, k: Int, stride: Int
    let pad: (top: Int, left: Int, bottom: Int, right: Int)

    init(_ store: WeightStore, _ prefix: String, cin: Int, cout: Int, k: Int, stride: Int = 1, pad: Int? = nil,
         padBottomRight: Int? = nil) throws {
        weight = try store.get("\(prefix).weight", [cout, cin, k, k])
        bias = try store.get("\(prefix).bias", [cout])
        self.cin = cin
        self.cout = cout
        self.k = k
        self.stride = stride
        let p = pad ?? (k / 2)
        self.pad = (p, p, padBottomRight ?? p, padBottomRight ?? p)
    }

    func outSize(_ h: Int, _ w: Int) -> (Int, Int) {
        ((h + pad.top + pad.bottom - k) / stride + 1, (w + pad.left + pad.right - k) / stride + 1)
    }

    /// FLOPs of one image at input size h×w (2 per multiply-add).
    func flops(_ h: Int, _ w: Int) -> Double {
        let (ho, wo) = outSize(h, w)
        return 2 * Double(cout * cin * k * k * ho * wo)
    }

    /// out = conv(x) + bias (+ timeBias[b][c] per image when given: a row of `ld` floats per image).
    func callAsFunction(_ x: Activation4, _ ctx: ChunkContext, timeBias: UnsafePointer<Float>? = nil, ld: Int = 0) -> Activation4 {
        let (ho, wo) = outSize(x.h, x.w)
        let out = ctx.alloc(cout, ho, wo)
        let n = ctx.n, N = n * ho * wo, K = cin * k * k
        dode_fill_bias_f32(out.p, cout, n, ho * wo, bias.pointer(Float.self), timeBias, ld)
        let b: UnsafePointer<Float>
        if k == 1 && stride == 1 && pad == (0, 0, 0, 0) {
            b = UnsafePointer(x.p)
        } else {
            let col = ctx.pool.scratch(K * N)
            dode_im2col_f32(x.p, cin, n, x.h, x.w, k, stride, pad.top, pad.left, ho, wo, col)
            b = UnsafePointer(col)
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(cout), Int32(N), Int32(K), 1,
                    weight.pointer(Float.self), Int32(K), b, Int32(N), 1, out.p, Int32(N))
        return out
    }
}

/// A linear layer (PyTorch Linear: weight [out][in], bias [out]).
struct Linear {
    let weight: Tensor, bias: Tensor?
    let fin: Int, fout: Int

    init(_ store: WeightStore, _ prefix: String, fin: Int, fout: Int, bias hasBias: Bool = true) throws {
        weight = try store.get("\(prefix).weight", [fout, fin])
        bias = hasBias ? try store.get("\(prefix).bias", [fout]) : nil
        self.fin = fin
        self.fout = fout
    }

    /// Rows form: y[r][·] = W·x[r][·] + b for `rows` row vectors.
    func rows(_ x: UnsafePointer<Float>, _ rows: Int, into y: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            if let bias { (y + r * fout).update(from: bias.pointer(Float.self), count: fout) } else { (y + r * fout).update(repeating: 0, count: fout) }
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(fout), Int32(fin), 1,
                    x, Int32(fin), weight.pointer(Float.self), Int32(fin), 1, y, Int32(fout))
    }

    /// Channel-major form: Y[fout][N] = W·X[fin][N] + b (a 1×1 convolution over N positions).
    func columns(_ x: UnsafePointer<Float>, _ N: Int, into y: UnsafeMutablePointer<Float>) {
        dode_fill_bias_f32(y, fout, 1, N, bias?.pointer(Float.self), nil, 0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(fout), Int32(N), Int32(fin), 1,
                    weight.pointer(Float.self), Int32(fin), x, Int32(N), bias == nil ? 0 : 1, y, Int32(N))
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

    func callAsFunction(_ x: Activation4, _ ctx: ChunkContext, act: Activation = .none,
                        scaleShift: (scale: UnsafePointer<Float>, shift: UnsafePointer<Float>, ld: Int)? = nil,
                        into out: Activation4? = nil) -> Activation4 {
        let y = out ?? ctx.alloc(x.c, x.h, x.w)
        dode_group_norm_f32(x.p, y.p, channels, ctx.n, x.plane, groups, eps, weight.pointer(Float.self), bias.pointer(Float.self),
                            scaleShift?.scale, scaleShift?.shift, scaleShift?.ld ?? 0, act.rawValue)
        return y
    }
}
