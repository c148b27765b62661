import DodeTensor
import Foundation
import FuzzSupport

/// .npy bytes → NPY.decode: a tensor or a TensorError, never a crash, a hang or a huge
/// allocation (the size cap is 64 MB here). A decoded tensor re-encodes and decodes to itself.
func fuzzNPY(_ input: UnsafeRawBufferPointer) {
    TensorLimits.maxBytes = 64 << 20
    let data = Data(input)
    guard let t = try? NPY.decode(data, name: "fuzz.npy") else { return }
    let back = try! NPY.decode(NPY.encode(t.dtype == .float32 ? t : t.to(.float64)), name: "again.npy")
    precondition(back.shape == t.shape, "re-encoded shape differs")
}

runFuzzer { fuzzNPY(bytes($0, $1)); return 0 }
