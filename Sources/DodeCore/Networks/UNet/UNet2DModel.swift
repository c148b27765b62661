import CKernels
import DodeTensor
import Foundation
import Synchronization

/// A diffusers `UNet2DModel` (diffusers 0.42 `models/unets/unet_2d.py`) evaluated natively in
/// Float32: the forward pass F(x, t [, class]) of the network, NCHW in and out.
///
/// The time embedding is diffusers' `Timesteps` (sinusoidal, `flip_sin_to_cos`, `freq_shift`,
/// computed in Float32 as diffusers does) or a learned table (`time_embedding_type = "learned"`;
/// a fractional label interpolates linearly between the two neighbouring rows, which equals the
/// table at integer labels), followed by `TimestepEmbedding` (linear, SiLU, linear). Class
/// conditioning adds an embedding table row (`num_class_embeds`), the `TimestepEmbedding` of the
/// label's sinusoid (`class_embed_type = "timestep"`) or a given vector (`"identity"`).
///
/// Activations are channels-last ([n][H][W][C], see conv.c) and every kernel computes an image
/// with the same operations whatever the batch, its chunking or the thread count, so an image's
/// output is bit-identical in any batch. Batches are split into chunks of a few images, evaluated
/// on all worker threads (`Parallel.threads`), each worker reusing its own buffers across calls:
/// a sampling loop allocates nothing after its first step. A batch with fewer chunks than threads
/// (a single image) splits each layer's work over the threads instead.
public final class UNet2DModel {
    public let config: UNetConfig
    let convIn: Conv2d
    let timeTable: Tensor?                // learned time embedding [num_train_timesteps][C0]
    let time1: Linear, time2: Linear
    /// The class embedding's parameters, by `class_embed_type`.
    enum ClassEmbedder {
        case table(Tensor)               // [num_class_embeds][temb]
        case timestep(Linear, Linear)    // TimestepEmbedding of the label's sinusoid
        case identity                    // cond is the embedding itself
    }
    let classEmbedder: ClassEmbedder?
    let down: [DownBlock]
    let mid: MidBlock?
    let up: [UpBlock]
    let normOut: GroupNorm
    let convOut: Conv2d
    /// Total number of parameters read from the checkpoint.
    public let parameterCount: Int
    private let pools = Mutex<[BufferPool]>([])
    private let forwardLock = Mutex<Void>(())
    nonisolated(unsafe) private var lastSignature: [Int] = []

    /// How the 3×3 stride-1 convolutions are computed.
    public let convolutions: UNetConvolutions

    /// Builds the network of `config` from `weights` (named as in diffusers' state dict; F16 and
    /// BF16 are widened to Float32). Missing tensors, wrong shapes and tensors the architecture
    /// does not use are errors naming the tensor; `source` names the file.
    public init(config cfg: UNetConfig, weights: [String: Tensor], source: String,
                convolutions: UNetConvolutions = .winograd) throws {
        let s = WeightStore(weights, source: source, convolutions: convolutions)
        config = cfg
        self.convolutions = convolutions
        let c0 = cfg.blockOutChannels[0], temb = cfg.timeEmbedDim
        convIn = try Conv2d(s, "conv_in", cin: cfg.inChannels, cout: c0, k: 3)
        if cfg.timeEmbeddingType == .learned {
            timeTable = try s.get("time_proj.weight", [cfg.numTrainTimesteps ?? 0, c0])
        } else {
            timeTable = nil
        }
        time1 = try Linear(s, "time_embedding.linear_1", fin: c0, fout: temb)
        time2 = try Linear(s, "time_embedding.linear_2", fin: temb, fout: temb)
        switch cfg.classEmbedding {
        case .table?: classEmbedder = .table(try s.get("class_embedding.weight", [cfg.numClassEmbeds ?? 0, temb]))
        case .timestep?:
            classEmbedder = .timestep(try Linear(s, "class_embedding.linear_1", fin: c0, fout: temb),
                                      try Linear(s, "class_embedding.linear_2", fin: temb, fout: temb))
        case .identity?: classEmbedder = .identity
        case nil: classEmbedder = nil
        }
        let ch = cfg.blockOutChannels
        var downs: [DownBlock] = []
        var outC = ch[0]
        for i in 0..<ch.count {
            let inC = outC
            outC = ch[i]
            downs.append(try DownBlock(s, i, cin: inC, cout: outC, final: i == ch.count - 1, cfg))
        }
        down = downs
        mid = cfg.hasMidBlock ? try MidBlock(s, channels: ch[ch.count - 1], cfg) : nil
        let rev = Array(ch.reversed())
        var ups: [UpBlock] = []
        outC = rev[0]
        for i in 0..<rev.count {
            let prev = outC
            outC = rev[i]
            let inC = rev[min(i + 1, rev.count - 1)]
            ups.append(try UpBlock(s, i, cin: inC, cout: outC, prev: prev, final: i == rev.count - 1, cfg))
        }
        up = ups
        normOut = try GroupNorm(s, "conv_norm_out", groups: cfg.normNumGroups, channels: c0, eps: cfg.normEps)
        convOut = try Conv2d(s, "conv_out", cin: c0, cout: cfg.outChannels, k: 3)
        let extra = s.unused()
        if !extra.isEmpty {
            let shown = extra.prefix(4).map { "'\($0)'" }.joined(separator: ", ")
            throw CoreError("\(source) has \(extra.count) tensor\(extra.count == 1 ? "" : "s") " +
                            "the config's architecture does not use (\(shown)\(extra.count > 4 ? ", …" : "")); " +
                            "the config does not describe this checkpoint")
        }
        parameterCount = s.used.reduce(0) { $0 + (weights[$1]?.count ?? 0) }
    }

    /// Reads a UNet folder: `config.json` and `diffusion_pytorch_model.safetensors`.
    public convenience init(folder: String, convolutions: UNetConvolutions = .winograd) throws {
        let cfgPath = (folder as NSString).appendingPathComponent("config.json")
        guard FileManager.default.fileExists(atPath: cfgPath) else {
            throw CoreError("'\(folder)' has no config.json (expected a diffusers UNet2DModel folder)")
        }
        let cfg = try UNetFiles.config(try AtomicFile.read(cfgPath), source: cfgPath)
        if !cfg.ignoredKeys.isEmpty {
            let msg = "dode: warning: \(cfgPath): ignoring keys UNet2DModel does not take: " +
                      "\(cfg.ignoredKeys.joined(separator: ", "))\n"
            FileHandle.standardError.write(Data(msg.utf8))
        }
        let wPath = (folder as NSString).appendingPathComponent("diffusion_pytorch_model.safetensors")
        guard FileManager.default.fileExists(atPath: wPath) else {
            let bin = (folder as NSString).appendingPathComponent("diffusion_pytorch_model.bin")
            let hint = FileManager.default.fileExists(atPath: bin)
                ? " (it has diffusion_pytorch_model.bin, a pickle dode does not read: " +
                  "convert it with diffusers' save_pretrained(..., safe_serialization=True))" : ""
            throw CoreError("'\(folder)' has no diffusion_pytorch_model.safetensors\(hint)")
        }
        try self.init(config: cfg, weights: try Safetensors.read(path: wPath).tensors, source: wPath,
                      convolutions: convolutions)
    }

    /// Multiply-add FLOPs (×2) of the convolutions for one image of h×w.
    public func convFlops(height h0: Int, width w0: Int) -> Double {
        var total = convIn.flops(h0, w0)
        var h = h0, w = w0
        func res(_ r: ResnetBlock) {
            var hh = h, ww = w
            if r.resample == .up { hh *= 2; ww *= 2 } else if r.resample == .down { hh /= 2; ww /= 2 }
            total += r.conv1.flops(hh, ww) + r.conv2.flops(hh, ww) + (r.shortcut?.flops(hh, ww) ?? 0)
            h = hh; w = ww
        }
        for d in down {
            d.resnets.forEach(res)
            switch d.downsampler {
            case .conv(let c)?: total += c.flops(h, w); (h, w) = c.outSize(h, w)
            case .resnet(let r)?: res(r)
            case nil: break
            }
        }
        if let mid { res(mid.first); res(mid.second) }
        for u in up {
            u.resnets.forEach(res)
            switch u.upsampler {
            case .conv(let c)?: h *= 2; w *= 2; total += c.flops(h, w)
            case .resnet(let r)?: res(r)
            case nil: break
            }
        }
        return total + convOut.flops(h, w)
    }

    /// Images per chunk: about 8192 positions at the input resolution (measured best among
    /// 1024–32768: large enough that Winograd's blocks of 6 tiles are full at the coarse levels),
    /// and at most half the batch so that two workers share even a small batch. Results do not
    /// depend on it (every image is computed alone).
    func chunkSize(batch: Int, height: Int, width: Int) -> Int {
        max(1, min(8192 / max(1, height * width), (batch + 1) / 2))
    }

    /// F(x, t): x is B×C×H×W Float32 (contiguous), `timesteps` one label or one per sample,
    /// `classLabels` one per sample (or one) for `num_class_embeds` / "timestep" models,
    /// `classVectors` a B×temb (or 1×temb) tensor for "identity". Returns B×out_channels×H×W.
    public func forward(_ x: Tensor, timesteps: [Double], classLabels: [Int]? = nil,
                        classVectors: Tensor? = nil) throws -> Tensor {
        let cfg = config
        guard x.rank == 4, x.shape[1] == cfg.inChannels else {
            throw CoreError("the U-Net takes B×\(cfg.inChannels)×H×W inputs (got \(formatShape(x.shape)))")
        }
        let B = x.shape[0], H = x.shape[2], W = x.shape[3]
        let m = 1 << cfg.downsamplings
        guard H >= m, W >= m, H % m == 0, W % m == 0 else {
            throw CoreError("the U-Net's input height and width must be multiples of \(m) " +
                            "(2^\(cfg.downsamplings) downsamplings); got \(H)×\(W)")
        }
        guard timesteps.count == 1 || timesteps.count == B else {
            throw CoreError("timesteps: one label or one per sample (\(B)) expected, got \(timesteps.count)")
        }
        let out = try Tensor.empty([B, cfg.outChannels, H, W], dtype: .float32)
        if B == 0 { return out }
        let xin = x.to(.float32).contiguous()
        let emb = try embedding(batch: B, timesteps: timesteps, classLabels: classLabels, classVectors: classVectors)
        let T = cfg.timeEmbedDim
        // act(temb) for the ResNets' time projections.
        let actTemb = try Tensor.empty([B, T], dtype: .float32)
        dode_act_f32(emb.pointer(Float.self), actTemb.pointer(Float.self), B * T, cfg.actFn.rawValue)

        let chunk = chunkSize(batch: B, height: H, width: W)
        let chunks = (B + chunk - 1) / chunk
        let threads = Parallel.threads
        let workers = min(threads, chunks)
        // Fewer chunks than threads: one chunk at a time, each layer split over the threads.
        let splitLayers = chunks < threads
        let pooled = splitLayers ? threads : workers
        let bound = workspaceBound(chunk: chunk, height: H, width: W)
        let need = bound > TensorLimits.maxBytes / max(pooled, 1) ? Int.max : bound * pooled
        guard need <= TensorLimits.maxBytes else {
            throw CoreError("a U-Net pass on \(H)×\(W) images needs up to \(need) bytes of workspace, " +
                            "above the size cap of \(TensorLimits.maxBytes) bytes (dode.limits{max_bytes =} raises it)")
        }
        try forwardLock.withLock { _ in
            let signature = [chunk, H, W, B % chunk, splitLayers ? threads : 0]
            let pools = self.pools.withLock { p -> [BufferPool] in
                // Buffers are kept per shape: a new batch or image size starts from empty pools
                // instead of adding to the old ones.
                if signature != lastSignature { p.removeAll(); lastSignature = signature }
                while p.count < pooled { p.append(BufferPool()) }
                return Array(p.prefix(pooled))
            }
            let errors = Mutex<[Int: Error]>([:])
            let xp = UnsafeSendable(xin.pointer(Float.self)), op = UnsafeSendable(out.pointer(Float.self))
            let tp = UnsafeSendable(actTemb.pointer(Float.self))
            let body = { (w: Int, c: Int) in
                let b0 = c * chunk, n = min(chunk, B - b0)
                let ctx = ChunkContext(n: n, pool: pools[w], actTemb: tp.value + b0 * T,
                                       splitPools: splitLayers ? pools : [])
                do {
                    try self.run(ctx, input: xp.value + b0 * cfg.inChannels * H * W,
                                 output: op.value + b0 * cfg.outChannels * H * W, H, W)
                } catch {
                    errors.withLock { $0[c] = error }
                }
            }
            if splitLayers {
                for c in 0..<chunks { body(0, c) }
            } else {
                Parallel.forEachWorker(chunks: chunks, workers: workers, body)
            }
            if let e = errors.withLock({ $0.sorted { $0.key < $1.key }.first?.value }) { throw e }
        }
        return out
    }

    /// An upper bound on one worker's buffers for a chunk of `n` images: the skip connections and
    /// a few live activations at the widest channel count (a concatenation is two widths, the
    /// attention's q, k, v and output four), and the scratch of a convolution (Winograd's
    /// transformed tiles) and of attention (packed keys and values, six rows of scores).
    func workspaceBound(chunk n: Int, height: Int, width: Int) -> Int {
        let cmax = Double(config.blockOutChannels.max() ?? 1), hw = Double(height * width)
        let layers = Double(config.layersPerBlock + 2)
        let perImage = hw * cmax * (layers * 4 / 3 + 12)
        let conv = (2 * cmax + 8) * (1 + 36 * 6) + 36 * 6 * 16
        let attention = 2 * hw * cmax + 16 * (hw + cmax) + 6 * (hw + 16)
        let bytes = 4 * (Double(n) * perImage + conv + attention) + 8 * 4 * (2 * cmax + 32)
        return bytes >= Double(Int.max / 4) ? Int.max / 4 : Int(bytes)
    }

    /// Bytes held by the workers' reusable buffers.
    public var workspaceBytes: Int { forwardLock.withLock { _ in pools.withLock { $0.reduce(0) { $0 + $1.bytes } } } }

    /// The forward pass on one chunk: NCHW input rows → channel-major → network → NCHW output rows.
    private func run(_ ctx: ChunkContext, input: UnsafeMutablePointer<Float>, output: UnsafeMutablePointer<Float>,
                     _ H: Int, _ W: Int) throws {
        let n = ctx.n, cin = config.inChannels, HW = H * W
        let x = ctx.alloc(cin, H, W)
        dode_nchw_to_nhwc(input, n, cin, HW, config.centerInputSample ? 1 : 0, x.p)
        var h = convIn(x, ctx)
        ctx.release(x)
        var skips = [h]
        for d in down { h = d(h, ctx, skips: &skips) }
        if let mid {
            h = mid(h, ctx)
        } else {
            // The first up block consumes the last skip and the state, which are the same tensor.
            let copy = ctx.alloc(h.c, h.h, h.w)
            copy.p.update(from: h.p, count: h.c * n * h.plane)
            h = copy
        }
        for u in up { h = try u(h, ctx, skips: &skips) }
        let hn = normOut(h, ctx, act: .silu, into: h)
        let y = convOut(hn, ctx)
        ctx.release(h)
        dode_nhwc_to_nchw(y.p, n, config.outChannels, HW, output)
        ctx.release(y)
    }

    /// The B×temb embedding: TimestepEmbedding(time_proj(t)) + class embedding.
    func embedding(batch B: Int, timesteps: [Double], classLabels: [Int]?, classVectors: Tensor?) throws -> Tensor {
        let cfg = config, c0 = cfg.blockOutChannels[0], T = cfg.timeEmbedDim
        let rows = timesteps.count
        if let l = classLabels, l.count != 1 && l.count != B {
            throw CoreError("class labels: one label or one per sample (\(B)) expected, got \(l.count)")
        }
        let proj = try Tensor.empty([rows, c0], dtype: .float32)
        try timeProjection(timesteps, into: proj.pointer(Float.self))
        let emb = try mlp(proj, rows: rows, time1, time2, broadcastTo: B)
        switch classEmbedder {
        case nil:
            if classLabels != nil || classVectors != nil {
                throw CoreError("this U-Net has no class embedding (its config sets neither num_class_embeds " +
                                "nor class_embed_type); call it without cond")
            }
        case .table(let table)?:
            guard let labels = classLabels else {
                throw CoreError("this U-Net is class-conditional (num_class_embeds = \(cfg.numClassEmbeds ?? 0)): " +
                                "pass class labels as cond")
            }
            let K = table.shape[0], e = emb.pointer(Float.self), tab = table.pointer(Float.self)
            for b in 0..<B {
                let l = labels.count == 1 ? labels[0] : labels[b]
                guard l >= 0, l < K else {
                    throw CoreError("class label \(l) is outside this U-Net's labels 0..\(K - 1)")
                }
                for j in 0..<T { e[b * T + j] += tab[l * T + j] }
            }
        case .timestep(let l1, let l2)?:
            guard let labels = classLabels else {
                throw CoreError("this U-Net is class-conditional (class_embed_type = \"timestep\"): " +
                                "pass class labels as cond")
            }
            let p = try Tensor.empty([labels.count, c0], dtype: .float32)
            try timeProjection(labels.map(Double.init), into: p.pointer(Float.self))
            let ce = try mlp(p, rows: labels.count, l1, l2, broadcastTo: B)
            try emb.add(ce)
        case .identity?:
            guard let v = classVectors else {
                throw CoreError("this U-Net takes its class embedding directly (class_embed_type = \"identity\"): " +
                                "pass a B×\(T) tensor as cond")
            }
            let vf = v.to(.float32).contiguous()
            guard vf.count == T || vf.count == B * T else {
                throw CoreError("cond must be a B×\(T) tensor of class embeddings for this U-Net " +
                                "(got \(formatShape(v.shape)))")
            }
            let e = emb.pointer(Float.self), src = vf.pointer(Float.self)
            for b in 0..<B { for j in 0..<T { e[b * T + j] += src[(vf.count == T ? 0 : b * T) + j] } }
        }
        return emb
    }

    /// linear_2(SiLU(linear_1(x))) for `rows` rows, broadcast to B rows.
    private func mlp(_ x: Tensor, rows: Int, _ l1: Linear, _ l2: Linear, broadcastTo B: Int) throws -> Tensor {
        let h = try Tensor.empty([rows, l1.fout], dtype: .float32)
        l1.rows(x.pointer(Float.self), rows, into: h.pointer(Float.self))
        dode_silu_f32(h.pointer(Float.self), h.pointer(Float.self), rows * l1.fout)
        let o = try Tensor.empty([B, l2.fout], dtype: .float32)
        l2.rows(h.pointer(Float.self), rows, into: o.pointer(Float.self))
        if rows == 1 && B > 1 {
            let p = o.pointer(Float.self)
            for b in 1..<B { (p + b * l2.fout).update(from: p, count: l2.fout) }
        }
        return o
    }

    /// time_proj: diffusers' get_timestep_embedding in Float32, or the learned table.
    func timeProjection(_ t: [Double], into e: UnsafeMutablePointer<Float>) throws {
        let c0 = config.blockOutChannels[0]
        if let table = timeTable {
            let rows = table.shape[0], tab = table.pointer(Float.self)
            for (b, tt) in t.enumerated() {
                // Labels in (−1, 0) (a discrete schedule between its first step and the clean
                // point) use row 0.
                guard tt.isFinite, tt > -1, tt <= Double(rows - 1) else {
                    throw CoreError("time label \(tt) is outside this U-Net's learned embedding 0..\(rows - 1)")
                }
                let tc = max(tt, 0)
                let i0 = min(Int(tc), rows - 1), i1 = min(i0 + 1, rows - 1)
                let f = Float(tc - Double(i0))
                for j in 0..<c0 {
                    e[b * c0 + j] = f == 0 ? tab[i0 * c0 + j] : (1 - f) * tab[i0 * c0 + j] + f * tab[i1 * c0 + j]
                }
            }
            return
        }
        let half = c0 / 2
        let base = Float(-Foundation.log(10000.0))
        var freqs = [Float](repeating: 0, count: half)
        // diffusers divides by (half − shift) computed in Python (Float64), then cast to Float32.
        let divisor = Float(Double(half) - config.freqShift)
        for i in 0..<half { freqs[i] = Foundation.exp(base * Float(i) / divisor) }
        let flip = config.flipSinToCos
        for (b, tt) in t.enumerated() {
            guard tt.isFinite else { throw CoreError("time label \(tt) is not finite") }
            let row = e + b * c0
            let tf = Float(tt)
            for i in 0..<half {
                let a = tf * freqs[i]
                let sn = Float(Foundation.sin(Double(a))), cs = Float(Foundation.cos(Double(a)))
                row[flip ? i : half + i] = cs
                row[flip ? half + i : i] = sn
            }
            if c0 % 2 == 1 { row[c0 - 1] = 0 }
        }
    }
}
