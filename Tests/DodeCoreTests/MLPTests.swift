import XCTest
@testable import DodeCore

/// The Swift MLP forward pass against PyTorch on the committed fixture
/// (Models/digits_mlp/fixture.safetensors, written by Scripts/train_digits.py): 1e-5 relative,
/// both sides Float32 with different summation orders (~100 terms per output at 6e-8 each).
final class MLPTests: XCTestCase {
    func testMatchesPyTorch() throws {
        let dir = Support.path("Models/digits_mlp")
        let net = try MLPNetwork(configPath: dir + "/config.json", weightsPath: dir + "/weights.safetensors")
        let fx = try Safetensors.read(path: dir + "/fixture.safetensors").tensors
        let x = try XCTUnwrap(fx["x"]), t = try XCTUnwrap(fx["t"]), eps = try XCTUnwrap(fx["eps"])
        let labels = t.toArray()
        var rows: [Tensor] = []
        for i in 0..<x.shape[0] {
            rows.append(try net.forward(try x.narrow(0, i, 1).clone(), labels: [labels[i]]))
        }
        let out = try Tensor.cat(rows, dim: 0)
        let err = Support.relError(out.to(.float64), eps.to(.float64))
        XCTAssertLessThan(err, 1e-5, "relative error \(err)")
        if let e64 = fx["eps64"] {
            // Against the Float64 PyTorch run: Float32 rounding only.
            XCTAssertLessThan(Support.relError(out.to(.float64), e64.to(.float64)), 1e-4)
        }
    }

    func testBadModelFiles() throws {
        let dir = Support.path("Models/digits_mlp")
        let cfg = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/config.json")))
            as! [String: Any]
        var w = try Safetensors.read(path: dir + "/weights.safetensors").tensors
        w.removeValue(forKey: "input.weight")
        XCTAssertThrowsError(try MLPNetwork(config: cfg, weights: w, source: "config.json",
                                            weightsSource: "w.safetensors")) {
            XCTAssertTrue("\($0)".contains("no tensor 'input.weight'") || "\($0)".contains("'input.weight'"), "\($0)")
        }
        var w2 = try Safetensors.read(path: dir + "/weights.safetensors").tensors
        w2["output.bias"] = try Tensor(zeros: [3], dtype: .float32)
        XCTAssertThrowsError(try MLPNetwork(config: cfg, weights: w2, source: "config.json",
                                            weightsSource: "w.safetensors")) {
            XCTAssertTrue("\($0)".contains("output.bias") && "\($0)".contains("shape 3"), "\($0)")
        }
    }

    /// The Fashion-MNIST classifier (Models/fashion_classifier, Scripts/train_fashion_classifier.py):
    /// features and logits against PyTorch, 1e-5 relative (Float32 both sides).
    func testFashionClassifierMatchesPyTorch() throws {
        let dir = Support.path("Models/fashion_classifier")
        let net = try MLPNetwork(configPath: dir + "/config.json", weightsPath: dir + "/weights.safetensors")
        let fx = try Safetensors.read(path: dir + "/fixture.safetensors").tensors
        let x = try XCTUnwrap(fx["x"])
        let feats = try net.forward(x, labels: [0], output: "feat"), logits = try net.forward(x, labels: [0])
        XCTAssertLessThan(Support.relError(feats.to(.float64), try XCTUnwrap(fx["features"]).to(.float64)), 1e-5)
        XCTAssertLessThan(Support.relError(logits.to(.float64), try XCTUnwrap(fx["logits"]).to(.float64)), 1e-5)
    }
}
