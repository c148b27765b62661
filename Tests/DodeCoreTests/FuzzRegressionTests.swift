import XCTest
@testable import DodeCore

/// Every input the fuzzers ever crashed on (FuzzTesting/Regressions/<target>/) is replayed
/// through the reader it broke, as the fuzz target feeds it (Scripts/fuzz replays them under
/// AddressSanitizer too): it must now load or be refused with an error, and that error must name
/// the file. The corpora's seeds (FuzzTesting/Seeds) must load.
final class FuzzRegressionTests: XCTestCase {
    func files(_ dir: String) -> [String] {
        let d = Support.path(dir)
        return ((try? FileManager.default.contentsOfDirectory(atPath: d)) ?? []).sorted().map { d + "/" + $0 }
    }

    /// Runs `read` on every regression input of `target`, failing on anything but a clean
    /// result or an error that names the input.
    func replay(_ target: String, _ read: (Data) throws -> Void) {
        for f in files("FuzzTesting/Regressions/\(target)") {
            guard let data = FileManager.default.contents(atPath: f) else { XCTFail("cannot read \(f)"); continue }
            do { try read(data) } catch {
                XCTAssertTrue("\(error)".contains("fuzz"),
                              "\(target) \(f): the error does not name the input: \(error)")
            }
        }
    }

    func testParsersRefuseTheInputsThatBrokeThem() {
        let limit = TensorLimits.maxBytes
        TensorLimits.maxBytes = 64 << 20
        defer { TensorLimits.maxBytes = limit }
        replay("FuzzNPY") { _ = try NPY.decode($0, name: "fuzz.npy") }
        replay("FuzzSafetensors") { _ = try Safetensors.decode($0, name: "fuzz.safetensors") }
        replay("FuzzIDX") {
            let r = try IDX.decode($0, name: "fuzz.idx")
            for i in 0..<r.shape.reduce(1, *) { _ = r.value(i) }
        }
        replay("FuzzPNG") { _ = try PNG.decode($0, name: "fuzz.png") }
        replay("FuzzFitJSON") { _ = try DODEFit.decode($0, name: "fuzz.json").table() }
        replay("FuzzMixtureJSON") { _ = try MixtureDenoiser.decode($0, name: "fuzz.json", schedule: try Schedule.vp()) }
        replay("FuzzUNetJSON") { d in
            guard let first = d.first else { return }
            let rest = d.dropFirst()
            switch first % 3 {
            case 0: _ = try UNetFiles.config(rest, source: "fuzz config.json")
            case 1: _ = try UNetFiles.predictionType(rest, source: "fuzz scheduler_config.json")
            default: _ = try UNetFiles.pipelineIndex(rest, source: "fuzz model_index.json")
            }
        }
        XCTAssertFalse(files("FuzzTesting/Regressions/FuzzIDX").isEmpty, "the IDX regression input is committed")
    }

    func testSeedsLoad() throws {
        for f in files("FuzzTesting/Seeds/FuzzFitJSON") { _ = try DODEFit.load(path: f) }
        for f in files("FuzzTesting/Seeds/FuzzIDX") {
            _ = try IDX.decode(try Data(contentsOf: URL(fileURLWithPath: f)), name: f)
        }
        let index = try Data(contentsOf: URL(
            fileURLWithPath: Support.path("FuzzTesting/Seeds/FuzzUNetJSON/model_index.json")))
        XCTAssertEqual(try UNetFiles.pipelineIndex(index.dropFirst(), source: "model_index.json").unet, "UNet2DModel")
    }

    /// model_index.json: a pipeline whose unet dode cannot run is refused with its class.
    func testPipelineIndex() {
        let sd = Data(
            #"{"_class_name": "StableDiffusionPipeline", "unet": ["diffusers", "UNet2DConditionModel"]}"#.utf8)
        XCTAssertThrowsError(try UNetFiles.pipelineIndex(sd, source: "model_index.json")) {
            XCTAssertTrue("\($0)".contains("the StableDiffusionPipeline's unet is a UNet2DConditionModel; " +
                                           "dode runs UNet2DModel only"), "\($0)")
        }
        XCTAssertThrowsError(try UNetFiles.pipelineIndex(Data(#"{"unet": "UNet2DModel"}"#.utf8), source: "m.json")) {
            XCTAssertTrue("\($0)".contains("'unet' must be [library, class name]"), "\($0)")
        }
        XCTAssertThrowsError(try UNetFiles.pipelineIndex(Data("[1]".utf8), source: "m.json")) {
            XCTAssertTrue("\($0)".contains("not a JSON object"))
        }
    }
}
