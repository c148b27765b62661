import DodeTensor
import Foundation
import FuzzSupport

/// IDX bytes (uncompressed; the gzip layer is zlib's) → IDX.decode, then every value read.
func fuzzIDX(_ input: UnsafeRawBufferPointer) {
    TensorLimits.maxBytes = 64 << 20
    guard let raw = try? IDX.decode(Data(input), name: "fuzz.idx") else { return }
    let n = raw.shape.reduce(1, *)
    var s = 0.0
    for i in 0..<n { s += raw.value(i) }
    precondition(s.isFinite)
}

runFuzzer { fuzzIDX(bytes($0, $1)); return 0 }
