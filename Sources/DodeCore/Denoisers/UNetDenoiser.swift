import DodeTensor
import Foundation

/// A diffusers UNet2DModel checkpoint adapted to the denoiser interface.
///
/// The network sees the state x (VP: x = α·y) and the schedule's time label t (for discrete
/// schedules DPM-Solver's continuous label, equal to diffusers' integer timestep on the training
/// grid) and returns ε, x0 or v, which `Prediction` converts to D. A model with twice as many
/// output as input channels (learned variance) uses the first half, as diffusers' schedulers do.
/// The prediction is returned unclipped; `clip` (clamp to ±c) and `threshold` (Imagen's dynamic
/// thresholding as in diffusers' `_threshold_sample`: per sample, s = the `ratio` quantile of
/// |x0|, clamped to [1, max], then x0 = clamp(x0, −s, s)/s) are explicit options.
public final class UNetDenoiser: Denoiser {
    public let schedule: Schedule
    public let network: UNet2DModel
    public let prediction: Prediction
    public let name: String
    public var clip: Double?
    public var threshold: (ratio: Double, max: Double)?
    public var featureSize: Int? { network.config.sampleSize.map { network.config.inChannels * $0[0] * $0[1] } }
    public var isConditional: Bool { network.config.classEmbedding != nil }
    public var summary: String {
        let c = network.config
        let size = c.sampleSize.map { "\(c.inChannels)×\($0[0])×\($0[1])" } ?? "\(c.inChannels) channels"
        let params = String(format: "%.2fM", Double(network.parameterCount) / 1e6)
        return "unet '\(name)' (\(prediction.rawValue) prediction, \(size), " +
               "\(params) parameters\(isConditional ? ", class-conditional" : ""))"
    }

    public init(network: UNet2DModel, schedule: Schedule, prediction: Prediction, name: String) throws {
        let c = network.config
        guard prediction != .edm else {
            throw CoreError("a UNet2DModel predicts eps, x0 or v (predicts = 'edm' is for EDM-preconditioned networks)")
        }
        guard case .discreteVP(let ac, _) = schedule.kind else {
            throw CoreError("a UNet2DModel is trained on a discrete VP schedule: " +
                            "give schedule = dode.schedule.vp{...} (got \(schedule.name))")
        }
        if let n = c.numTrainTimesteps, n != ac.count {
            throw CoreError("the U-Net was trained with num_train_timesteps = \(n), the schedule has \(ac.count) steps")
        }
        guard c.outChannels == c.inChannels || c.outChannels == 2 * c.inChannels else {
            throw CoreError("the U-Net outputs \(c.outChannels) channels for \(c.inChannels) input channels; " +
                            "a denoiser needs as many (or twice as many, with learned variance)")
        }
        self.network = network
        self.schedule = schedule
        self.prediction = prediction
        self.name = name
    }

    /// Locates the UNet folder and the prediction type of a diffusers checkpoint at `path`: a
    /// pipeline folder (with `unet/` and maybe `scheduler/`), the `unet` folder itself (its
    /// scheduler is then `../scheduler`), or a single-model folder with `config.json` and
    /// `scheduler_config.json` side by side (the layout of google/ddpm-cifar10-32). Only
    /// `prediction_type` is read from the scheduler config.
    public static func load(path: String, schedule: Schedule, predicts: Prediction?) throws -> UNetDenoiser {
        let fm = FileManager.default
        let ns = path as NSString
        let unetDir: String, schedulerFiles: [String]
        if fm.fileExists(atPath: ns.appendingPathComponent("unet/config.json")) {
            let index = ns.appendingPathComponent("model_index.json")
            if fm.fileExists(atPath: index) {
                _ = try UNetFiles.pipelineIndex(try AtomicFile.read(index), source: index)
            }
            unetDir = ns.appendingPathComponent("unet")
            schedulerFiles = [ns.appendingPathComponent("scheduler/scheduler_config.json")]
        } else if fm.fileExists(atPath: ns.appendingPathComponent("config.json")) {
            unetDir = path
            schedulerFiles = [ns.appendingPathComponent("scheduler_config.json"),
                              ((ns.appendingPathComponent("..") as NSString)
                                  .appendingPathComponent("scheduler/scheduler_config.json") as NSString)
                                  .standardizingPath]
        } else {
            throw CoreError("'\(path)' is neither a diffusers pipeline folder (with unet/config.json) " +
                            "nor a UNet folder (with config.json)")
        }
        var pred = predicts
        if let schedulerFile = schedulerFiles.first(where: { fm.fileExists(atPath: $0) }) {
            let fromFile = try predictionType(schedulerFile)
            if let p = predicts, p != fromFile {
                throw CoreError("predicts = '\(p.rawValue)' disagrees with the prediction_type of \(schedulerFile) " +
                                "('\(fromFile.rawValue)'); drop the option (the scheduler config decides)")
            }
            pred = fromFile
        }
        let net = try UNet2DModel(folder: unetDir)
        return try UNetDenoiser(network: net, schedule: schedule, prediction: pred ?? .eps, name: path)
    }

    static func predictionType(_ file: String) throws -> Prediction {
        try UNetFiles.predictionType(try AtomicFile.read(file), source: file)
    }

    public func denoise(_ x: Tensor, at p: Point, cond: Tensor?, into out: Tensor) throws {
        // NCHW images may have any size the architecture takes (diffusers' sample_size is only a
        // default); flat states must have sample_size's feature count.
        try check(x, p, out, features: x.rank == 4 ? nil : featureSize)
        let c = network.config
        let B = x.shape[0]
        let shape: [Int]
        if x.rank == 4 {
            shape = x.shape
        } else if let s = c.sampleSize, x.count == B * c.inChannels * s[0] * s[1] {
            shape = [B, c.inChannels, s[0], s[1]]
        } else {
            throw CoreError("x must be B×\(c.inChannels)×H×W" +
                            "\(c.sampleSize.map { " or B×\(c.inChannels * $0[0] * $0[1])" } ?? "") " +
                            "for this U-Net (got \(formatShape(x.shape)))")
        }
        var labels: [Int]? = nil, vectors: Tensor? = nil
        if c.classEmbedding == .identity {
            vectors = cond
        } else {
            labels = try self.labels(cond, batch: B)
        }
        let xin = try x.to(.float32).contiguous().reshape(shape)
        let f = try network.forward(xin, timesteps: [p.t ?? 0], classLabels: labels, classVectors: vectors)
        let pred = c.outChannels == c.inChannels ? f : try f.narrow(1, 0, c.inChannels).contiguous()
        try out.copy(from: pred.reshape(x.shape))
        try prediction.toDenoised(x, p, output: out, sigmaData: 0.5)
        try postprocess(out)
    }

    /// The explicit clipping / dynamic thresholding of the x0 prediction.
    func postprocess(_ out: Tensor) throws {
        if let c = clip { try out.copy(from: out.clamped(min: -c, max: c)) }
        guard let (ratio, mx) = threshold else { return }
        let B = out.shape[0], per = out.count / max(B, 1)
        guard per > 0 else { return }
        var v = out.toArray()
        for b in 0..<B {
            let row = v[(b * per)..<((b + 1) * per)]
            var a = row.map { Swift.abs($0) }
            a.sort()
            // torch.quantile's linear interpolation.
            let pos = ratio * Double(per - 1)
            let lo = Int(pos.rounded(.down)), hi = Swift.min(lo + 1, per - 1)
            let q = a[lo] + (a[hi] - a[lo]) * (pos - Double(lo))
            let s = Swift.min(Swift.max(q, 1), mx)
            for i in (b * per)..<((b + 1) * per) { v[i] = Swift.min(Swift.max(v[i], -s), s) / s }
        }
        try out.copy(from: try Tensor(v, shape: out.shape, dtype: out.dtype))
    }
}
