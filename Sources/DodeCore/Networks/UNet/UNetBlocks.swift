import CKernels
import DodeTensor
import Foundation

/// diffusers' `ResnetBlock2D` (resnet.py):
/// h = conv1(act(norm1(x))) [+ proj(act(temb)) per channel when time_embedding_norm = "default"],
/// h = act(norm2(h)) [·(1 + scale) + shift before the activation for "scale_shift"],
/// out = (shortcut(x) + conv2(h)) / output_scale_factor, with a 1×1 `conv_shortcut` when the
/// channel count changes. `up`/`down` variants resample both paths after norm1 (nearest 2× or
/// 2×2 average pooling), as diffusers' ResNet up/downsamplers do.
struct ResnetBlock {
    enum Resample { case none, up, down }
    let norm1: GroupNorm, conv1: Conv2d, timeProj: Linear, norm2: GroupNorm, conv2: Conv2d
    let shortcut: Conv2d?
    let scaleShift: Bool, act: Activation, outputScale: Float, resample: Resample

    init(_ s: WeightStore, _ prefix: String, cin: Int, cout: Int, _ cfg: UNetConfig, outputScale: Double = 1,
         resample: Resample = .none) throws {
        norm1 = try GroupNorm(s, "\(prefix).norm1", groups: cfg.normNumGroups, channels: cin, eps: cfg.normEps)
        conv1 = try Conv2d(s, "\(prefix).conv1", cin: cin, cout: cout, k: 3)
        timeProj = try Linear(s, "\(prefix).time_emb_proj", fin: cfg.timeEmbedDim,
                              fout: cfg.scaleShift ? 2 * cout : cout)
        norm2 = try GroupNorm(s, "\(prefix).norm2", groups: cfg.normNumGroups, channels: cout, eps: cfg.normEps)
        conv2 = try Conv2d(s, "\(prefix).conv2", cin: cout, cout: cout, k: 3)
        shortcut = cin != cout ? try Conv2d(s, "\(prefix).conv_shortcut", cin: cin, cout: cout, k: 1, pad: 0) : nil
        scaleShift = cfg.scaleShift
        act = cfg.actFn
        self.outputScale = Float(outputScale)
        self.resample = resample
    }

    /// Whether the block can take its input as two parts of a channel concatenation.
    var takesConcatenation: Bool { shortcut != nil && resample == .none }

    /// A new activation; `x` is not consumed. With `second` (when `takesConcatenation`), the
    /// input is the channel concatenation (x, second), which is never built: norm1 and the 1×1
    /// shortcut read both parts.
    func callAsFunction(_ x: Activation4, _ ctx: ChunkContext, second: Activation4? = nil) -> Activation4 {
        let n = ctx.n
        var h = norm1(x, ctx, act: act, second: second)
        var skip = x, ownsSkip = false
        if resample != .none {
            let (ho, wo) = resample == .up ? (2 * x.h, 2 * x.w) : (x.h / 2, x.w / 2)
            let xs = ctx.alloc(x.c, ho, wo), hs = ctx.alloc(x.c, ho, wo)
            if resample == .up {
                dode_upsample2_nhwc(x.p, n, x.h, x.w, x.c, xs.p)
                dode_upsample2_nhwc(h.p, n, x.h, x.w, x.c, hs.p)
            } else {
                dode_avgpool2_nhwc(x.p, n, x.h, x.w, x.c, xs.p)
                dode_avgpool2_nhwc(h.p, n, x.h, x.w, x.c, hs.p)
            }
            ctx.release(h)
            h = hs
            skip = xs
            ownsSkip = true
        }
        let cout = conv1.cout, tw = timeProj.fout
        let tp = ctx.pool.take(n * tw)
        timeProj.rows(ctx.actTemb, n, into: tp)
        let h1 = scaleShift ? conv1(h, ctx) : conv1(h, ctx, timeBias: tp, ld: tw)
        ctx.release(h)
        _ = norm2(h1, ctx, act: act, scaleShift: scaleShift ? (UnsafePointer(tp), UnsafePointer(tp + cout), tw) : nil,
                  into: h1)
        ctx.pool.give(tp, n * tw)
        if let shortcut {
            let sc = second.map { shortcut.concatenated(skip, $0, ctx) } ?? shortcut(skip, ctx)
            if ownsSkip { ctx.release(skip) }
            skip = sc
            ownsSkip = true
        }
        // out = (shortcut + conv2(h)) / output_scale_factor, in conv2's epilogue.
        let out = conv2(h1, ctx, residual: skip, outputScale: outputScale)
        ctx.release(h1)
        if ownsSkip { ctx.release(skip) }
        return out
    }
}

/// diffusers' `Attention` as UNet2DModel builds it (`_from_deprecated_attn_block`): spatial
/// self-attention over the H·W positions with an optional GroupNorm, q/k/v projections of
/// `heads × dim_head` channels, softmax(q·kᵀ/√dim_head)·v per head, the output projection, the
/// residual, and division by `rescale_output_factor`.
struct AttentionBlock {
    let norm: GroupNorm?
    /// q, k and v projections as one 1×1 convolution to 3·inner channels, and the output projection.
    let qkv: Conv2d, o: Conv2d
    let heads: Int, dimHead: Int, rescale: Float

    init(_ s: WeightStore, _ prefix: String, channels: Int, headDim: Int, groups: Int?, eps: Double,
         rescale: Double) throws {
        norm = try groups.map { try GroupNorm(s, "\(prefix).group_norm", groups: $0, channels: channels, eps: eps) }
        heads = channels / headDim
        dimHead = headDim
        let inner = heads * headDim
        let w = try ["to_q", "to_k", "to_v"].map { try s.get("\(prefix).\($0).weight", [inner, channels]) }
        let b = try ["to_q", "to_k", "to_v"].map { try s.get("\(prefix).\($0).bias", [inner]) }
        qkv = try Conv2d(weight: try Tensor.cat(w, dim: 0), bias: try Tensor.cat(b, dim: 0), cin: channels,
                         cout: 3 * inner, k: 1, convolutions: s.convolutions)
        o = try Conv2d(weight: try s.get("\(prefix).to_out.0.weight", [channels, inner]),
                       bias: try s.get("\(prefix).to_out.0.bias", [channels]),
                       cin: inner, cout: channels, k: 1, convolutions: s.convolutions)
        self.rescale = Float(rescale)
    }

    func callAsFunction(_ x: Activation4, _ ctx: ChunkContext) -> Activation4 {
        let n = ctx.n, L = x.plane, inner = heads * dimHead, dh = dimHead, nh = heads
        let hn = norm.map { $0(x, ctx) } ?? x
        let qkvBuf = ctx.pool.take(n * L * 3 * inner)
        qkv.run(hn.p, hn.c, h: x.h, w: x.w, ctx, into: qkvBuf)
        if norm != nil { ctx.release(hn) }
        let O = ctx.pool.take(n * L * inner)
        let scale = 1 / Float(dimHead).squareRoot()
        // Work items: (image, head, part of the query rows); rows split only when a layer is
        // spread over threads (one image), at multiples of the kernel's 6-row blocks.
        let parts = ctx.pools.count > 1 ? min(4 * ctx.pools.count, (L + 5) / 6) : 1
        let rowsPer = ((L + parts - 1) / parts + 5) / 6 * 6
        let need = dode_attention_scratch(L, dh)
        let qp = UnsafeSendable(qkvBuf), op = UnsafeSendable(O)
        ctx.split(n * nh * parts) { pool, range in
            let sc = pool.scratch(need)
            for item in range {
                let b = item / (nh * parts), h = (item / parts) % nh, part = item % parts
                let r0 = min(L, part * rowsPer), r1 = min(L, r0 + rowsPer)
                if r0 >= r1 { continue }
                let base = qp.value + b * L * 3 * inner + h * dh
                dode_attention(base, base + inner, base + 2 * inner, 3 * inner, L, dh, scale,
                               op.value + b * L * inner + h * dh, inner, r0, r1, sc)
            }
        }
        ctx.pool.give(qkvBuf, n * L * 3 * inner)
        // out = (x + to_out(O)) / rescale_output_factor, in the projection's epilogue.
        let out = ctx.alloc(x.c, x.h, x.w)
        o.run(O, inner, h: x.h, w: x.w, ctx, into: out.p, residual: x.p, ldr: x.c, outputScale: rescale)
        ctx.pool.give(O, n * L * inner)
        return out
    }
}

/// A block's down- or upsampler: a 3×3 conv (after nearest 2× upsampling on the way up) or a
/// ResNet that resamples inside (`downsample_type` / `upsample_type` = "resnet").
enum Resampler { case conv(Conv2d), resnet(ResnetBlock) }

extension AttentionBlock {
    /// The `count` attention layers `<prefix>.attentions.<j>` of an Attn block of `channels`.
    static func stack(_ s: WeightStore, _ prefix: String, count: Int, channels: Int,
                      _ cfg: UNetConfig) throws -> [AttentionBlock] {
        try (0..<count).map {
            try AttentionBlock(s, "\(prefix).attentions.\($0)", channels: channels,
                               headDim: cfg.attentionHeadDim ?? channels,
                               groups: cfg.normNumGroups, eps: cfg.normEps, rescale: 1)
        }
    }
}

/// `h` followed by the block's j-th attention layer, if it has one (`h` is then released).
private func attend(_ attentions: [AttentionBlock], _ j: Int, _ h: Activation4, _ ctx: ChunkContext) -> Activation4 {
    guard j < attentions.count else { return h }
    let a = attentions[j](h, ctx)
    ctx.release(h)
    return a
}

/// `DownBlock2D` / `AttnDownBlock2D`: ResNets (each followed by attention in the Attn variant),
/// then a downsampler (a stride-2 3×3 conv — with diffusers' (0, 1, 0, 1) zero padding when
/// `downsample_padding` is 0 — or a ResNet with 2×2 average pooling). Every intermediate state is
/// a skip connection for the way up.
struct DownBlock {
    let resnets: [ResnetBlock]
    let attentions: [AttentionBlock]
    let downsampler: Resampler?

    init(_ s: WeightStore, _ i: Int, cin: Int, cout: Int, final: Bool, _ cfg: UNetConfig) throws {
        let prefix = "down_blocks.\(i)"
        let attn = cfg.downBlockTypes[i] == .attnDown
        resnets = try (0..<cfg.layersPerBlock).map {
            try ResnetBlock(s, "\(prefix).resnets.\($0)", cin: $0 == 0 ? cin : cout, cout: cout, cfg)
        }
        attentions = attn ? try AttentionBlock.stack(s, prefix, count: cfg.layersPerBlock, channels: cout, cfg) : []
        if final {
            downsampler = nil
        } else if attn && cfg.downsampleType == .resnet {
            downsampler = .resnet(try ResnetBlock(s, "\(prefix).downsamplers.0", cin: cout, cout: cout, cfg,
                                                  resample: .down))
        } else {
            let p = cfg.downsamplePadding
            downsampler = .conv(try Conv2d(s, "\(prefix).downsamplers.0.conv", cin: cout, cout: cout, k: 3, stride: 2,
                                           pad: p, padBottomRight: p == 0 ? 1 : p))
        }
    }

    /// Runs the block on `x`, appending each new state to `skips` (which owns them); returns the last.
    func callAsFunction(_ x: Activation4, _ ctx: ChunkContext, skips: inout [Activation4]) -> Activation4 {
        var h = x
        for (j, r) in resnets.enumerated() {
            h = attend(attentions, j, r(h, ctx), ctx)
            skips.append(h)
        }
        switch downsampler {
        case .conv(let c)?: h = c(h, ctx); skips.append(h)
        case .resnet(let r)?: h = r(h, ctx); skips.append(h)
        case nil: break
        }
        return h
    }
}

/// `UNetMidBlock2D`: ResNet, [attention,] ResNet, with `mid_block_scale_factor` as both output
/// scales. The attention's GroupNorm uses `attn_norm_num_groups`, defaulting to `norm_num_groups`
/// with default time conditioning and to no norm at all with scale-shift (as diffusers does).
struct MidBlock {
    let first: ResnetBlock, attention: AttentionBlock?, second: ResnetBlock

    init(_ s: WeightStore, channels c: Int, _ cfg: UNetConfig) throws {
        first = try ResnetBlock(s, "mid_block.resnets.0", cin: c, cout: c, cfg, outputScale: cfg.midBlockScaleFactor)
        let groups = cfg.attnNormNumGroups ?? (cfg.scaleShift ? nil : cfg.normNumGroups)
        attention = cfg.addAttention
            ? try AttentionBlock(s, "mid_block.attentions.0", channels: c, headDim: cfg.attentionHeadDim ?? c,
                                 groups: groups, eps: cfg.normEps, rescale: cfg.midBlockScaleFactor) : nil
        second = try ResnetBlock(s, "mid_block.resnets.1", cin: c, cout: c, cfg, outputScale: cfg.midBlockScaleFactor)
    }

    /// A new activation; `x` is not consumed.
    func callAsFunction(_ x: Activation4, _ ctx: ChunkContext) -> Activation4 {
        let h = attend(attention.map { [$0] } ?? [], 0, first(x, ctx), ctx)
        let out = second(h, ctx)
        ctx.release(h)
        return out
    }
}

/// `UpBlock2D` / `AttnUpBlock2D`: layers_per_block + 1 ResNets, each on the concatenation of the
/// state with the next skip connection (taken from the end), each followed by attention in the
/// Attn variant, then an upsampler (nearest 2× and a 3×3 conv, or a ResNet with nearest 2×).
struct UpBlock {
    let resnets: [ResnetBlock]
    let attentions: [AttentionBlock]
    let upsampler: Resampler?

    init(_ s: WeightStore, _ i: Int, cin: Int, cout: Int, prev: Int, final: Bool, _ cfg: UNetConfig) throws {
        let prefix = "up_blocks.\(i)"
        let attn = cfg.upBlockTypes[i] == .attnUp
        let layers = cfg.layersPerBlock + 1
        resnets = try (0..<layers).map { j in
            let skip = j == layers - 1 ? cin : cout
            let rin = j == 0 ? prev : cout
            return try ResnetBlock(s, "\(prefix).resnets.\(j)", cin: rin + skip, cout: cout, cfg)
        }
        attentions = attn ? try AttentionBlock.stack(s, prefix, count: layers, channels: cout, cfg) : []
        if final {
            upsampler = nil
        } else if attn && cfg.upsampleType == .resnet {
            upsampler = .resnet(try ResnetBlock(s, "\(prefix).upsamplers.0", cin: cout, cout: cout, cfg, resample: .up))
        } else {
            upsampler = .conv(try Conv2d(s, "\(prefix).upsamplers.0.conv", cin: cout, cout: cout, k: 3))
        }
    }

    /// Consumes `x` and the skips it uses; returns a new activation.
    func callAsFunction(_ x: Activation4, _ ctx: ChunkContext, skips: inout [Activation4]) throws -> Activation4 {
        var h = x
        let n = ctx.n
        for (j, r) in resnets.enumerated() {
            guard let skip = skips.popLast() else {
                throw CoreError("U-Net: no skip connection left for up block resnet \(j + 1)")
            }
            guard skip.h == h.h, skip.w == h.w else {
                throw CoreError("U-Net: a skip connection of \(skip.h)×\(skip.w) meets a state of \(h.h)×\(h.w); " +
                                "the input's height and width must be divisible by 2^(number of downsamplings)")
            }
            let out: Activation4
            if r.takesConcatenation {
                out = r(h, ctx, second: skip)
            } else {
                let cat = ctx.alloc(h.c + skip.c, h.h, h.w)
                dode_concat_nhwc(h.p, h.c, skip.p, skip.c, n * h.plane, cat.p)
                out = r(cat, ctx)
                ctx.release(cat)
            }
            ctx.release(skip)
            ctx.release(h)
            h = attend(attentions, j, out, ctx)
        }
        switch upsampler {
        case .conv(let c)?:
            // Nearest 2× upsampling read on the fly by the convolution.
            let u = c(h, ctx, upsampled: true)
            ctx.release(h)
            h = u
        case .resnet(let r)?:
            let u = r(h, ctx)
            ctx.release(h)
            h = u
        case nil: break
        }
        return h
    }
}
