/// Classifier-free guidance as a denoiser: D = D_u + w·(D_c − D_u), where D_c uses the class
/// labels `cond` and D_u the label `uncond` (or no label at all when nil). w = 1 is purely
/// conditional, w = 0 unconditional (docs/design.md §3.6, docs/method.md §8.3).
public final class GuidanceDenoiser: Denoiser {
    public let base: Denoiser
    public let scale: Double
    public let cond: Tensor
    public let uncond: Double?
    public var schedule: Schedule { base.schedule }
    public var featureSize: Int? { base.featureSize }
    public var isConditional: Bool { false }
    public var summary: String { "cfg(w = \(scale)) of \(base.summary)" }

    public init(base: Denoiser, scale: Double, cond: Tensor, uncond: Double?) throws {
        guard base.isConditional else {
            throw CoreError("guidance needs a conditional denoiser (one with class labels)")
        }
        guard scale.isFinite else { throw CoreError("guidance scale must be finite (got \(scale))") }
        self.base = base
        self.scale = scale
        self.cond = cond
        self.uncond = uncond
    }

    public func denoise(_ x: Tensor, at p: Point, cond extra: Tensor?, into out: Tensor) throws {
        guard extra == nil else {
            throw CoreError("a guided denoiser already carries its labels; call it without cond")
        }
        try check(x, p, out)
        try base.denoise(x, at: p, cond: cond, into: out)
        if scale == 1 { return }
        let u = try Tensor.empty(x.shape, dtype: x.dtype)
        try base.denoise(x, at: p, cond: uncond.map { Tensor.scalar($0) }, into: u)
        // out = u + w·(c − u) = w·c + (1 − w)·u
        try out.axpby(1 - scale, u, scale)
    }
}
