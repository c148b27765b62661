import Foundation

/// The JSON files of a diffusers folder that dode reads, parsed from their bytes (the U-Net
/// loader reads the files; the fuzzers feed these functions directly).
public enum UNetFiles {
    static func object(_ data: Data, _ source: String) throws -> [String: Any] {
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: data) } catch {
            throw CoreError("\(source) is not valid JSON (\(error.localizedDescription))")
        }
        guard let obj = json as? [String: Any] else { throw CoreError("\(source) is not a JSON object") }
        return obj
    }

    /// A UNet's `config.json`: a `UNet2DModel` configuration (`_class_name`, when present, must
    /// say so). Keys UNet2DModel does not take are listed in `ignoredKeys`.
    public static func config(_ data: Data, source: String) throws -> UNetConfig {
        let obj = try object(data, source)
        if let cls = obj["_class_name"], (cls as? String) != "UNet2DModel" {
            throw CoreError("\(source): '_class_name' = \(describe(cls)) is not supported (supported: \"UNet2DModel\")")
        }
        return try UNetConfig(json: obj, source: source)
    }

    /// The `prediction_type` of a scheduler config (`epsilon`, `sample` or `v_prediction`;
    /// absent means epsilon, as in diffusers).
    public static func predictionType(_ data: Data, source: String) throws -> Prediction {
        let obj = try object(data, source)
        guard let v = obj["prediction_type"] else { return .eps }
        switch v as? String {
        case "epsilon": return .eps
        case "sample": return .x0
        case "v_prediction": return .v
        default:
            throw CoreError("\(source): 'prediction_type' = \(describe(v)) is not supported " +
                            "(supported: \"epsilon\", \"sample\", \"v_prediction\")")
        }
    }

    /// What a pipeline's `model_index.json` says about its components.
    public struct PipelineIndex: Sendable {
        public let pipeline: String
        /// The class of the `unet` component, and of the `scheduler` one when listed.
        public let unet: String
        public let scheduler: String?
    }

    /// Reads a pipeline's `model_index.json` and refuses pipelines whose denoiser dode cannot
    /// run (a `unet` that is not a UNet2DModel, e.g. Stable Diffusion's UNet2DConditionModel).
    public static func pipelineIndex(_ data: Data, source: String) throws -> PipelineIndex {
        let obj = try object(data, source)
        let pipeline = obj["_class_name"] as? String ?? "pipeline"
        func component(_ key: String) throws -> String? {
            guard let v = obj[key] else { return nil }
            // diffusers writes ["library", "ClassName"].
            guard let pair = v as? [Any], pair.count == 2, let cls = pair[1] as? String else {
                throw CoreError("\(source): '\(key)' must be [library, class name] (got \(describe(v)))")
            }
            return cls
        }
        guard let unet = try component("unet") else {
            throw CoreError("\(source): the \(pipeline) has no 'unet' component (dode runs UNet2DModel pipelines)")
        }
        guard unet == "UNet2DModel" else {
            throw CoreError("\(source): the \(pipeline)'s unet is a \(unet); dode runs UNet2DModel only")
        }
        return PipelineIndex(pipeline: pipeline, unet: unet, scheduler: try component("scheduler"))
    }
}
