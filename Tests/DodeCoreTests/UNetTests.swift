import XCTest
@testable import DodeCore

/// The native UNet2DModel against diffusers on the committed fixtures (Tests/Fixtures/unet,
/// written by Scripts/make_unet_fixtures.py) and the trained Fashion-MNIST model.
///
/// Tolerance: 1e-5 relative (max|a − b| / max|b|). Both sides run in Float32 with different
/// summation orders (dode's Winograd F(4×4, 3×3) and direct kernels against oneDNN), so
/// agreement is ~1e-6, not 1e-12 (the kernels themselves: UNetKernelTests).
final class UNetTests: XCTestCase {
    static let fixtures = ["cifar_small", "heads_scale_shift", "resnet_sampling_classes", "timestep_class_nomid",
                           "identity_class", "legacy_attention", "odd_widths"]

    func run(_ name: String, threads: Int = 2) throws -> (out: Tensor, ref: Tensor) {
        let dir = Support.path("Tests/Fixtures/unet/\(name)")
        let net = try UNet2DModel(folder: dir + "/unet")
        let io = try Safetensors.read(path: dir + "/io.safetensors").tensors
        let x = try XCTUnwrap(io["x"]), t = try XCTUnwrap(io["t"]), ref = try XCTUnwrap(io["out"])
        var labels: [Int]? = nil, vectors: Tensor? = nil
        if let c = io["class_labels"] {
            if c.rank == 1 { labels = c.toArray().map { Int($0) } } else { vectors = c }
        }
        let saved = Parallel.threads
        Parallel.threads = threads
        defer { Parallel.threads = saved }
        let out = try net.forward(x, timesteps: t.toArray(), classLabels: labels, classVectors: vectors)
        return (out, ref)
    }

    func testFixturesMatchDiffusers() throws {
        for name in Self.fixtures {
            let (out, ref) = try run(name)
            XCTAssertEqual(out.shape, ref.shape, name)
            let err = Support.relError(out.to(.float64), ref.to(.float64))
            XCTAssertLessThan(err, 1e-5, "\(name): relative error \(err)")
            print("unet fixture \(name): relative error \(err)")
        }
    }

    func testTrainedFashionModelMatchesPyTorch() throws {
        let dir = Support.path("Models/fashion_unet")
        let net = try UNet2DModel(folder: dir + "/unet")
        let fx = try Safetensors.read(path: dir + "/fixture.safetensors").tensors
        let x = try XCTUnwrap(fx["x"]), t = try XCTUnwrap(fx["t"]), eps = try XCTUnwrap(fx["eps"])
        let out = try net.forward(x, timesteps: t.toArray())
        let err = Support.relError(out.to(.float64), eps.to(.float64))
        print("unet fashion_unet: relative error \(err)")
        XCTAssertLessThan(err, 1e-5, "relative error \(err)")
    }

    /// One time label (and one class label) serves the whole batch, as diffusers broadcasts a
    /// scalar timestep: equal to passing it once per sample.
    func testOneLabelBroadcasts() throws {
        let dir = Support.path("Tests/Fixtures/unet/resnet_sampling_classes")
        let net = try UNet2DModel(folder: dir + "/unet")
        let x = try XCTUnwrap(Safetensors.read(path: dir + "/io.safetensors").tensors["x"])
        let one = try net.forward(x, timesteps: [421], classLabels: [2])
        let each = try net.forward(x, timesteps: [421, 421, 421], classLabels: [2, 2, 2])
        XCTAssertEqual(one.toArray(), each.toArray())
    }

    /// A sampling loop allocates no workspace after its first call: the workers' buffers are
    /// sized once and reused.
    func testWorkspaceIsReused() throws {
        let net = try UNet2DModel(folder: Support.path("Tests/Fixtures/unet/cifar_small/unet"))
        let x = try Tensor(zeros: [8, 3, 32, 32], dtype: .float32)
        _ = try net.forward(x, timesteps: [900])
        let after1 = net.workspaceBytes
        XCTAssertGreaterThan(after1, 0)
        for t in [700.0, 500, 300, 100] { _ = try net.forward(x, timesteps: [t]) }
        XCTAssertEqual(net.workspaceBytes, after1, "later calls allocated workspace")
    }

    func testDenoiserFolderAndPrediction() throws {
        let vp = try Schedule.vp()
        // heads_scale_shift ships a scheduler config with v_prediction.
        let den = try UNetDenoiser.load(path: Support.path("Tests/Fixtures/unet/heads_scale_shift"), schedule: vp,
                                        predicts: nil)
        XCTAssertEqual(den.prediction, .v)
        XCTAssertThrowsError(try UNetDenoiser.load(path: Support.path("Tests/Fixtures/unet/heads_scale_shift"),
                                                   schedule: vp, predicts: .eps)) {
            XCTAssertTrue("\($0)".contains("prediction_type"), "\($0)")
        }
        // The unet folder itself finds ../scheduler too.
        let den2 = try UNetDenoiser.load(path: Support.path("Tests/Fixtures/unet/heads_scale_shift/unet"),
                                         schedule: vp, predicts: nil)
        XCTAssertEqual(den2.prediction, .v)
        // A single-model folder with scheduler_config.json beside config.json (google/ddpm-cifar10-32's layout).
        let single = FileManager.default.temporaryDirectory
            .appendingPathComponent("dode-unet-flat-\(UInt32.random(in: 0...UInt32.max))").path
        try FileManager.default.createDirectory(atPath: single, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: single) }
        let src = Support.path("Tests/Fixtures/unet/heads_scale_shift")
        for f in ["unet/config.json", "unet/diffusion_pytorch_model.safetensors", "scheduler/scheduler_config.json"] {
            try FileManager.default.copyItem(atPath: src + "/" + f,
                                             toPath: single + "/" + (f as NSString).lastPathComponent)
        }
        XCTAssertEqual(try UNetDenoiser.load(path: single, schedule: vp, predicts: nil).prediction, .v)
        // prediction_type "sample" is x0.
        XCTAssertEqual(try UNetDenoiser.load(path: Support.path("Tests/Fixtures/unet/odd_widths"), schedule: vp,
                                             predicts: nil).prediction, .x0)
        // No scheduler: the option, default eps.
        let den3 = try UNetDenoiser.load(path: Support.path("Tests/Fixtures/unet/legacy_attention"), schedule: vp,
                                         predicts: nil)
        XCTAssertEqual(den3.prediction, .eps)
        // D = (x − σ·ε)/α on a flat or NCHW state, Float64 in and out.
        let io = try Safetensors.read(path: Support.path("Tests/Fixtures/unet/legacy_attention/io.safetensors")).tensors
        let x = try XCTUnwrap(io["x"]).to(.float64)
        let p = try vp.point(t: 421.5)
        let d = try den3.denoise(x, at: p)
        let eps = try den3.network.forward(x.to(.float32), timesteps: [421.5])
        let expect = try Tensor.binary(.sub, x, Tensor.binary(.mul, eps.to(.float64), scalar: p.sigma))
        let want = Tensor.binary(.mul, expect, scalar: 1 / p.alpha)
        XCTAssertLessThan(Support.relError(d, want), 1e-6)
        XCTAssertEqual(d.dtype, .float64)
        let flat = try den3.denoise(try x.reshape([3, 3 * 16 * 16]), at: p)
        XCTAssertEqual(flat.toArray(), d.toArray())
        // Other image sizes than sample_size, as in diffusers.
        XCTAssertEqual(try den3.denoise(try Tensor(zeros: [1, 3, 32, 24]), at: p).shape, [1, 3, 32, 24])
        // NaN in, NaN out (not finite garbage from clamped exponentials).
        let bad = try Tensor(zeros: [1, 3, 16, 16])
        bad.pointer(Double.self)[5] = .nan
        XCTAssertTrue(try den3.denoise(bad, at: p).toArray().contains { $0.isNaN })
    }

    func testBadCheckpoints() throws {
        let src = Support.path("Tests/Fixtures/unet/legacy_attention/unet")
        let tmp = FileManager.default.temporaryDirectory
            .appendingPathComponent("dode-unet-\(UInt32.random(in: 0...UInt32.max))").path
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        let cfgData = try Data(contentsOf: URL(fileURLWithPath: src + "/config.json"))
        let cfg = try JSONSerialization.jsonObject(with: cfgData) as! [String: Any]
        var w = try Safetensors.read(path: src + "/diffusion_pytorch_model.safetensors").tensors

        func expectError(_ config: [String: Any], _ weights: [String: Tensor], _ needles: [String],
                         line: UInt = #line) throws {
            let c = try UNetConfig(json: config, source: "config.json")
            XCTAssertThrowsError(try UNet2DModel(config: c, weights: weights, source: "model.safetensors"),
                                 line: line) { e in
                for n in needles { XCTAssertTrue("\(e)".contains(n), "'\(n)' not in: \(e)", line: line) }
            }
        }
        func expectConfigError(_ config: [String: Any], _ needles: [String], line: UInt = #line) {
            XCTAssertThrowsError(try UNetConfig(json: config, source: "config.json"), line: line) { e in
                for n in needles { XCTAssertTrue("\(e)".contains(n), "'\(n)' not in: \(e)", line: line) }
            }
        }
        // A missing tensor, a wrong shape, a tensor nobody uses.
        var missing = w
        missing.removeValue(forKey: "up_blocks.1.resnets.0.conv1.weight")
        try expectError(cfg, missing, ["model.safetensors", "up_blocks.1.resnets.0.conv1.weight"])
        var wrong = w
        wrong["conv_in.bias"] = try Tensor(zeros: [7], dtype: .float32)
        try expectError(cfg, wrong, ["conv_in.bias", "shape 7", "needs 8"])
        w["extra.weight"] = try Tensor(zeros: [2], dtype: .float32)
        try expectError(cfg, w, ["extra.weight", "does not use"])
        // Unsupported or malformed config values.
        var c1 = cfg; c1["down_block_types"] = ["DownBlock2D", "SkipDownBlock2D", "DownBlock2D"]
        expectConfigError(c1, ["down_block_types", "SkipDownBlock2D", "AttnDownBlock2D"])
        var c2 = cfg; c2["time_embedding_type"] = "fourier"
        expectConfigError(c2, ["time_embedding_type", "positional"])
        var c3 = cfg; c3["resnet_time_scale_shift"] = "ada_group"
        expectConfigError(c3, ["resnet_time_scale_shift", "scale_shift"])
        var c4 = cfg; c4["block_out_channels"] = [8, 16]
        expectConfigError(c4, ["down_block_types", "block_out_channels"])
        var c5 = cfg; c5["layers_per_block"] = "two"
        expectConfigError(c5, ["layers_per_block", "integer"])
        var c6 = cfg; c6["norm_num_groups"] = 3
        expectConfigError(c6, ["norm_num_groups", "does not divide"])
        var c9 = cfg; c9["layers_per_block"] = 999_999_999
        expectConfigError(c9, ["layers_per_block", "1...64"])
        var c10 = cfg; c10["block_out_channels"] = [1e18, 16, 16]
        expectConfigError(c10, ["block_out_channels"])
        var c11 = cfg; c11["sample_size"] = 4_294_967_296
        expectConfigError(c11, ["sample_size"])
        var c12 = cfg; c12["in_channels"] = 1e300
        expectConfigError(c12, ["in_channels"])
        var c7 = cfg; c7["act_fn"] = "tanh"
        expectConfigError(c7, ["act_fn", "silu"])
        // A key UNet2DModel does not take is ignored (with a warning when read from a file), as diffusers does.
        var c8 = cfg; c8["some_new_option"] = 1
        XCTAssertEqual(try UNetConfig(json: c8, source: "config.json").ignoredKeys, ["some_new_option"])
        // Malformed files on disk.
        try Data("{ not json".utf8).write(to: URL(fileURLWithPath: tmp + "/config.json"))
        XCTAssertThrowsError(try UNet2DModel(folder: tmp)) { XCTAssertTrue("\($0)".contains("config.json"), "\($0)") }
        try cfgData.write(to: URL(fileURLWithPath: tmp + "/config.json"))
        XCTAssertThrowsError(try UNet2DModel(folder: tmp)) {
            XCTAssertTrue("\($0)".contains("diffusion_pytorch_model.safetensors"), "\($0)")
        }
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: tmp + "/diffusion_pytorch_model.safetensors"))
        XCTAssertThrowsError(try UNet2DModel(folder: tmp)) {
            XCTAssertTrue("\($0)".contains("diffusion_pytorch_model.safetensors"), "\($0)")
        }
        // Inputs the architecture cannot take.
        let net = try UNet2DModel(folder: src)
        XCTAssertThrowsError(try net.forward(try Tensor(zeros: [1, 3, 10, 16], dtype: .float32), timesteps: [1])) {
            XCTAssertTrue("\($0)".contains("multiples of 4"), "\($0)")
        }
        XCTAssertThrowsError(try net.forward(try Tensor(zeros: [1, 2, 16, 16], dtype: .float32), timesteps: [1]))
        XCTAssertThrowsError(try net.forward(try Tensor(zeros: [1, 3, 16, 16], dtype: .float32), timesteps: [1],
                                             classLabels: [1])) {
            XCTAssertTrue("\($0)".contains("no class embedding"), "\($0)")
        }
        // Workspace above the size cap: an error before anything is allocated.
        let saved = TensorLimits.maxBytes
        TensorLimits.maxBytes = 1 << 16
        defer { TensorLimits.maxBytes = saved }
        XCTAssertThrowsError(try net.forward(try Tensor(zeros: [1, 3, 16, 16], dtype: .float32), timesteps: [1])) {
            XCTAssertTrue("\($0)".contains("workspace") && "\($0)".contains("size cap"), "\($0)")
        }
    }
}
