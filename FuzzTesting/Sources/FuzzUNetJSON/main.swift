import DodeCore
import Foundation
import FuzzSupport

/// The JSON files of a diffusers folder: the first byte picks the reader — a UNet's
/// config.json (then the workspace bound of a pass on 32×32 images, which a config with huge
/// sizes must not overflow), a scheduler_config.json or a pipeline's model_index.json.
func fuzzUNetJSON(_ input: UnsafeRawBufferPointer) {
    TensorLimits.maxBytes = 64 << 20
    guard input.count >= 1 else { return }
    let b = input
    let data = Data(b.dropFirst())
    switch b[0] % 3 {
    case 0:
        if let cfg = try? UNetFiles.config(data, source: "config.json") { _ = cfg.downsamplings }
    case 1: _ = try? UNetFiles.predictionType(data, source: "scheduler_config.json")
    default: _ = try? UNetFiles.pipelineIndex(data, source: "model_index.json")
    }
}

runFuzzer { fuzzUNetJSON(bytes($0, $1)); return 0 }
