import CBLAS
import Foundation

/// A network adapted to the denoiser interface through its prediction kind.
public final class NetworkDenoiser: Denoiser {
    public let schedule: Schedule
    public let network: MLPNetwork
    public let prediction: Prediction
    public let name: String
    public var featureSize: Int? { network.inputDim }
    public var isConditional: Bool { false }
    public var summary: String { "mlp '\(name)' (\(prediction.rawValue) prediction, \(network.inputDim)-D)" }

    public init(network: MLPNetwork, schedule: Schedule, prediction: Prediction? = nil, name: String) throws {
        guard network.outputDim == network.inputDim else {
            throw CoreError("model '\(name)' outputs \(network.outputDim) values per sample for \(network.inputDim) " +
                            "inputs; a denoiser must output as many as it takes")
        }
        self.network = network
        self.schedule = schedule
        self.prediction = prediction ?? network.prediction
        self.name = name
    }

    public func denoise(_ x: Tensor, at p: Point, cond: Tensor?, into out: Tensor) throws {
        try check(x, p, out)
        _ = try labels(cond, batch: x.shape[0])
        let (scale, label) = prediction.networkInput(x, p, sigmaData: schedule.sigmaData ?? 0.5)
        var inp = x.to(.float32)
        if scale != 1 { inp = Tensor.binary(.mul, inp, scalar: scale) }
        let f = try network.forward(inp, labels: [label])
        try out.copy(from: f.reshape(x.shape))
        try prediction.toDenoised(x, p, output: out, sigmaData: schedule.sigmaData ?? 0.5)
    }
}
