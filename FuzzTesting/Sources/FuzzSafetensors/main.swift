import DodeTensor
import Foundation
import FuzzSupport

/// .safetensors bytes → Safetensors.decode (header JSON, dtypes, shapes, data offsets): tensors or
/// a TensorError, never a crash or an allocation past the 64 MB cap. A decoded file re-encodes
/// and decodes to the same names and shapes.
func fuzzSafetensors(_ input: UnsafeRawBufferPointer) {
    TensorLimits.maxBytes = 64 << 20
    let data = Data(input)
    guard let f = try? Safetensors.decode(data, name: "fuzz.safetensors") else { return }
    let back = try! Safetensors.decode(Safetensors.encode(f.tensors, metadata: f.metadata), name: "again.safetensors")
    precondition(Set(back.tensors.keys) == Set(f.tensors.keys), "re-encoded names differ")
    for (k, t) in f.tensors { precondition(back.tensors[k]?.shape == t.shape, "re-encoded shape differs") }
}

runFuzzer { fuzzSafetensors(bytes($0, $1)); return 0 }
