import DodeTensor
import Foundation

/// The architecture of a diffusers `UNet2DModel`, read from its `config.json`.
///
/// Every key diffusers' UNet2DModel accepts is read, with diffusers' defaults (diffusers 0.42,
/// `models/unets/unet_2d.py`). A value dode does not implement is an error naming the key and the
/// values it supports, so an unsupported checkpoint never becomes a silently different network.
/// `_class_name`, `_diffusers_version` and other `_`-prefixed keys are metadata; `dropout` is
/// ignored (inference). A key UNet2DModel does not take is ignored with a warning, as diffusers
/// does (`ignoredKeys`).
public struct UNetConfig: Sendable {
    public enum DownBlock: String, Sendable, CaseIterable { case down = "DownBlock2D", attnDown = "AttnDownBlock2D" }
    public enum UpBlock: String, Sendable, CaseIterable { case up = "UpBlock2D", attnUp = "AttnUpBlock2D" }
    public enum TimeEmbedding: String, Sendable, CaseIterable { case positional, learned }
    public enum ClassEmbedding: String, Sendable { case table, timestep, identity }
    public enum Resampling: String, Sendable, CaseIterable { case conv, resnet }

    public var sampleSize: [Int]? = nil
    public var inChannels = 3
    public var outChannels = 3
    public var centerInputSample = false
    public var timeEmbeddingType = TimeEmbedding.positional
    public var timeEmbeddingDim: Int? = nil
    public var freqShift = 0.0
    public var flipSinToCos = true
    public var downBlockTypes: [DownBlock] = [.down, .attnDown, .attnDown, .attnDown]
    public var upBlockTypes: [UpBlock] = [.attnUp, .attnUp, .attnUp, .up]
    public var blockOutChannels = [224, 448, 672, 896]
    public var layersPerBlock = 2
    public var midBlockScaleFactor = 1.0
    public var downsamplePadding = 1
    public var downsampleType = Resampling.conv
    public var upsampleType = Resampling.conv
    public var hasMidBlock = true
    public var actFn = Activation.silu
    public var attentionHeadDim: Int? = 8
    public var normNumGroups = 32
    public var attnNormNumGroups: Int? = nil
    public var normEps = 1e-5
    public var scaleShift = false
    public var addAttention = true
    public var classEmbedding: ClassEmbedding? = nil
    public var numClassEmbeds: Int? = nil
    public var numTrainTimesteps: Int? = nil
    /// Keys of the file that UNet2DModel does not take (diffusers ignores them with a warning).
    public var ignoredKeys: [String] = []

    /// Width of the time embedding (`time_embedding_dim`, default 4 × block_out_channels[0]).
    public var timeEmbedDim: Int { timeEmbeddingDim ?? 4 * blockOutChannels[0] }

    public init() {}

    /// Parses and validates a config. `source` names the file in errors.
    public init(json: [String: Any], source: String) throws {
        func fail(_ key: String, _ what: String) -> CoreError {
            CoreError("\(source): '\(key)' \(what)")
        }
        func present(_ key: String) -> Any? {
            guard let v = json[key], !(v is NSNull) else { return nil }
            return v
        }
        // Sizes are capped so that no product of them can overflow (a checkpoint this large
        // would not fit in memory anyway).
        func int(_ key: String, min lo: Int = 1, max hi: Int = 1 << 20) throws -> Int? {
            guard let v = present(key) else { return nil }
            guard let n = v as? NSNumber, let d = Optional(n.doubleValue), d == d.rounded(), d >= Double(lo),
                  d <= Double(hi) else {
                throw fail(key, "must be an integer in \(lo)...\(hi) (got \(describe(v)))")
            }
            return Int(d)
        }
        func size(_ v: Any) -> Int? {
            guard let n = v as? NSNumber, n.doubleValue == n.doubleValue.rounded(), n.doubleValue >= 1,
                  n.doubleValue <= 65536 else { return nil }
            return n.intValue
        }
        func number(_ key: String) throws -> Double? {
            guard let v = present(key) else { return nil }
            guard let d = JSONText.double(v), d.isFinite else {
                throw fail(key, "must be a finite number (got \(describe(v)))")
            }
            return d
        }
        func bool(_ key: String) throws -> Bool? {
            guard let v = present(key) else { return nil }
            guard let b = v as? Bool else { throw fail(key, "must be true or false (got \(describe(v)))") }
            return b
        }
        func choice<E: RawRepresentable & CaseIterable>(_ key: String,
                                                        _ type: E.Type) throws -> E? where E.RawValue == String {
            guard let v = present(key) else { return nil }
            guard let s = v as? String, let e = E(rawValue: s) else {
                throw fail(key, "= \(describe(v)) is not supported " +
                                "(supported: \(E.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")))")
            }
            return e
        }
        func list<E: RawRepresentable & CaseIterable>(_ key: String,
                                                      _ type: E.Type) throws -> [E]? where E.RawValue == String {
            guard let v = present(key) else { return nil }
            guard let a = v as? [Any], !a.isEmpty else {
                throw fail(key, "must be a non-empty list of block names (got \(describe(v)))")
            }
            return try a.enumerated().map { i, x in
                guard let s = x as? String, let e = E(rawValue: s) else {
                    throw fail(key, "entry \(i + 1) = \(describe(x)) is not supported " +
                                    "(supported: \(E.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")))")
                }
                return e
            }
        }

        let known: Set<String> = [
            "sample_size", "in_channels", "out_channels", "center_input_sample", "time_embedding_type",
            "time_embedding_dim", "freq_shift", "flip_sin_to_cos", "down_block_types", "mid_block_type",
            "up_block_types", "block_out_channels", "layers_per_block", "mid_block_scale_factor",
            "downsample_padding", "downsample_type", "upsample_type", "dropout", "act_fn",
            "attention_head_dim", "norm_num_groups", "attn_norm_num_groups", "norm_eps",
            "resnet_time_scale_shift", "add_attention", "class_embed_type", "num_class_embeds",
            "num_train_timesteps",
        ]
        ignoredKeys = json.keys.sorted().filter { !$0.hasPrefix("_") && !known.contains($0) }
        if let v = present("sample_size") {
            if let n = size(v) {
                sampleSize = [n, n]
            } else if let a = v as? [Any], a.count == 2, let h = size(a[0]), let w = size(a[1]) {
                sampleSize = [h, w]
            } else {
                throw fail("sample_size", "must be an integer in 1...65536 or [height, width] of such " +
                                          "(got \(describe(v)))")
            }
        }
        inChannels = try int("in_channels", max: 65536) ?? inChannels
        outChannels = try int("out_channels", max: 65536) ?? outChannels
        centerInputSample = try bool("center_input_sample") ?? false
        if let v = present("time_embedding_type"), (v as? String) == "fourier" {
            throw fail("time_embedding_type", "= \"fourier\" is not supported (supported: \"positional\", \"learned\")")
        }
        timeEmbeddingType = try choice("time_embedding_type", TimeEmbedding.self) ?? .positional
        timeEmbeddingDim = try int("time_embedding_dim")
        freqShift = try number("freq_shift") ?? 0
        flipSinToCos = try bool("flip_sin_to_cos") ?? true
        downBlockTypes = try list("down_block_types", DownBlock.self) ?? downBlockTypes
        upBlockTypes = try list("up_block_types", UpBlock.self) ?? upBlockTypes
        if let v = present("block_out_channels") {
            guard let a = v as? [Any], !a.isEmpty, a.count <= 16, let c = Optional(a.compactMap(size)),
                  c.count == a.count else {
                throw fail("block_out_channels", "must be a list of 1 to 16 integers in 1...65536 (got \(describe(v)))")
            }
            blockOutChannels = c
        }
        layersPerBlock = try int("layers_per_block", max: 64) ?? layersPerBlock
        midBlockScaleFactor = try number("mid_block_scale_factor") ?? 1
        guard midBlockScaleFactor != 0 else { throw fail("mid_block_scale_factor", "must not be 0") }
        downsamplePadding = try int("downsample_padding", min: 0) ?? 1
        guard downsamplePadding <= 1 else {
            throw fail("downsample_padding", "= \(downsamplePadding) is not supported (supported: 0, 1)")
        }
        downsampleType = try choice("downsample_type", Resampling.self) ?? .conv
        upsampleType = try choice("upsample_type", Resampling.self) ?? .conv
        if let v = present("mid_block_type") {
            guard (v as? String) == "UNetMidBlock2D" else {
                throw fail("mid_block_type", "= \(describe(v)) is not supported (supported: \"UNetMidBlock2D\", null)")
            }
            hasMidBlock = true
        } else {
            hasMidBlock = json.keys.contains("mid_block_type") ? false : true
        }
        if let v = present("act_fn") {
            guard let s = v as? String, let a = Activation(diffusersName: s) else {
                throw fail("act_fn", "= \(describe(v)) is not supported " +
                                     "(supported: \"silu\", \"swish\", \"mish\", \"gelu\", \"relu\")")
            }
            actFn = a
        }
        attentionHeadDim = json.keys.contains("attention_head_dim") ? try int("attention_head_dim") : 8
        if json.keys.contains("norm_num_groups"), present("norm_num_groups") == nil {
            throw fail("norm_num_groups", "= null is not supported (diffusers' down blocks need a group count; " +
                                          "supported: a positive integer)")
        }
        normNumGroups = try int("norm_num_groups") ?? 32
        attnNormNumGroups = try int("attn_norm_num_groups")
        normEps = try number("norm_eps") ?? 1e-5
        guard normEps > 0 else { throw fail("norm_eps", "must be positive (got \(normEps))") }
        if let v = present("resnet_time_scale_shift") {
            guard let s = v as? String, s == "default" || s == "scale_shift" else {
                throw fail("resnet_time_scale_shift", "= \(describe(v)) is not supported " +
                                                      "(supported: \"default\", \"scale_shift\")")
            }
            scaleShift = s == "scale_shift"
        }
        addAttention = try bool("add_attention") ?? true
        numClassEmbeds = try int("num_class_embeds", max: 1 << 24)
        if let v = present("class_embed_type") {
            switch v as? String {
            case "timestep": classEmbedding = .timestep
            case "identity": classEmbedding = .identity
            default:
                throw fail("class_embed_type", "= \(describe(v)) is not supported " +
                                               "(supported: null, \"timestep\", \"identity\")")
            }
        } else if numClassEmbeds != nil {
            classEmbedding = .table
        }
        numTrainTimesteps = try int("num_train_timesteps", max: 1 << 24)
        if timeEmbeddingType == .learned, numTrainTimesteps == nil {
            throw fail("num_train_timesteps", "is required with time_embedding_type = \"learned\" " +
                                              "(the embedding table's size)")
        }
        try validate(source: source)
    }

    /// Structural checks diffusers would only fail on at run time (or not at all).
    func validate(source: String) throws {
        let n = blockOutChannels.count
        guard downBlockTypes.count == n else {
            throw CoreError("\(source): 'down_block_types' has \(downBlockTypes.count) entries, " +
                            "'block_out_channels' \(n); they must be equal")
        }
        guard upBlockTypes.count == n else {
            throw CoreError("\(source): 'up_block_types' has \(upBlockTypes.count) entries, " +
                            "'block_out_channels' \(n); they must be equal")
        }
        for c in blockOutChannels where c % normNumGroups != 0 {
            throw CoreError("\(source): 'norm_num_groups' = \(normNumGroups) does not divide " +
                            "block_out_channels entry \(c)")
        }
        let midChannels = blockOutChannels[n - 1]
        if let g = attnNormNumGroups, hasMidBlock, addAttention, midChannels % g != 0 {
            throw CoreError("\(source): 'attn_norm_num_groups' = \(g) does not divide " +
                            "the mid block's \(midChannels) channels")
        }
        var attention: [Int] = []
        for (i, t) in downBlockTypes.enumerated() where t == .attnDown { attention.append(blockOutChannels[i]) }
        for (i, t) in upBlockTypes.enumerated() where t == .attnUp { attention.append(blockOutChannels[n - 1 - i]) }
        if hasMidBlock && addAttention { attention.append(midChannels) }
        for c in attention {
            let hd = attentionHeadDim ?? c
            guard c / hd >= 1 else {
                throw CoreError("\(source): 'attention_head_dim' = \(hd) is larger than the \(c) channels " +
                                "of an attention block (no attention head fits)")
            }
        }
        if classEmbedding == .timestep || timeEmbeddingType == .positional {
            guard blockOutChannels[0] >= 2 else {
                throw CoreError("\(source): block_out_channels[1] must be ≥ 2 for a sinusoidal embedding")
            }
        }
        if timeEmbeddingType == .positional || classEmbedding == .timestep,
           Float(Double(blockOutChannels[0] / 2) - freqShift) == 0 {
            throw CoreError("\(source): 'freq_shift' = \(freqShift) equals half the embedding width; " +
                            "the frequencies would divide by zero")
        }
    }

    /// How many times the spatial size is halved on the way down.
    public var downsamplings: Int { blockOutChannels.count - 1 }
}

/// An activation function, by diffusers' `get_activation` names.
public enum Activation: Int32, Sendable {
    case none = 0, silu = 1, mish = 2, gelu = 3, relu = 4

    init?(diffusersName s: String) {
        switch s {
        case "silu", "swish": self = .silu
        case "mish": self = .mish
        case "gelu": self = .gelu
        case "relu": self = .relu
        default: return nil
        }
    }
}

func describe(_ v: Any) -> String {
    if v is NSNull { return "null" }
    if let s = v as? String { return "\"\(s)\"" }
    if let a = v as? [Any] { return "[" + a.map(describe).joined(separator: ", ") + "]" }
    if v is [String: Any] { return "an object" }
    return "\(v)"
}
