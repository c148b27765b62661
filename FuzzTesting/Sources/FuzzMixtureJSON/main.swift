import DodeCore
import Foundation
import FuzzSupport

/// Mixture JSON → MixtureDenoiser.decode, then one evaluation of the denoiser at a mid noise
/// level on a small batch (a mixture that loads must evaluate, or refuse with an error).
func fuzzMixtureJSON(_ input: UnsafeRawBufferPointer) {
    TensorLimits.maxBytes = 64 << 20
    guard let vp = try? Schedule.vp(),
          let m = try? MixtureDenoiser.decode(Data(input), name: "fuzz.json", schedule: vp) else { return }
    guard m.d * m.K <= 1 << 16, let x = try? Generator(seed: 1).randn([3, m.d]),
          let p = try? vp.point(t: 500) else { return }
    _ = try? m.denoise(x, at: p)
}

runFuzzer { fuzzMixtureJSON(bytes($0, $1)); return 0 }
