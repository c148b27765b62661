import Foundation

/// The one interface every model is adapted to: given a state `x` in the schedule's own space
/// (x = α·y for VP schedules, y for VE/EDM) at point `p`, return the x0 prediction
/// D = E[x0 | x] (k-diffusion's convention; docs/method.md §1.1).
///
/// `denoise(_:at:cond:into:)` writes into a caller-provided tensor of x's shape and dtype (no
/// allocation in solver loops). Denoisers accept Float64 or Float32 and write the input's dtype.
public protocol Denoiser: AnyObject {
    /// The schedule the denoiser was built for; points from another schedule are an error.
    var schedule: Schedule { get }
    /// Feature size of a sample (the product of the non-batch dimensions), when fixed.
    var featureSize: Int? { get }
    /// True when the model takes class labels.
    var isConditional: Bool { get }
    /// A short description for printing.
    var summary: String { get }
    func denoise(_ x: Tensor, at p: Point, cond: Tensor?, into out: Tensor) throws
}

extension Denoiser {
    /// Allocating form.
    public func denoise(_ x: Tensor, at p: Point, cond: Tensor? = nil) throws -> Tensor {
        let out = try Tensor.empty(x.shape, dtype: x.dtype)
        try denoise(x, at: p, cond: cond, into: out)
        return out
    }

    /// Common argument checks: schedule identity, a non-clean point, shapes.
    public func check(_ x: Tensor, _ p: Point, _ out: Tensor) throws {
        try check(x, p, out, features: featureSize)
    }

    /// The same checks against `features` values per sample (nil: any).
    public func check(_ x: Tensor, _ p: Point, _ out: Tensor, features: Int?) throws {
        guard p.scheduleID == schedule.id else {
            throw CoreError("the point comes from another schedule than the denoiser's (\(schedule.name)); " +
                            "build grids and points from the denoiser's schedule")
        }
        guard !p.isClean else { throw CoreError("cannot evaluate a denoiser at the clean point (s = 0)") }
        guard x.rank >= 1 else { throw CoreError("x must have a batch dimension (got a 0-D tensor)") }
        if let f = features {
            let per = x.count / Swift.max(x.shape[0], 1)
            guard per == f || x.shape[0] == 0 else {
                throw CoreError("x of shape \(formatShape(x.shape)) has \(per) features per sample, " +
                                "the denoiser expects \(f)")
            }
        }
        guard out.shape == x.shape, out.dtype == x.dtype else {
            throw CoreError("output must have x's shape \(formatShape(x.shape)) and dtype \(x.dtype.rawValue)")
        }
    }

    /// Validates a `cond` tensor of class labels for a batch of `batch` samples: one label per
    /// sample or a single label for all. Returns the labels as integers.
    public func labels(_ cond: Tensor?, batch: Int) throws -> [Int]? {
        guard let cond else { return nil }
        guard isConditional else { throw CoreError("this denoiser is not conditional (it has no class labels)") }
        let v = cond.toArray()
        guard v.count == batch || v.count == 1 else {
            throw CoreError("cond must hold one label per sample (\(batch)) or one label (got \(v.count))")
        }
        return try v.map { l in
            guard l == l.rounded(), abs(l) < 1e9 else { throw CoreError("class labels must be integers (got \(l))") }
            return Int(l)
        }
    }
}
