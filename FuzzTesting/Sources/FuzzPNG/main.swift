import DodeTensor
import Foundation
import FuzzSupport

/// The PNG writer's inputs and the reader: the first 3 bytes choose width and height (1–64)
/// and channels (0–3: only 1 and 3 are valid, the others must be refused); the rest are pixels
/// (too few or too many is an error to report, not a crash). Encoded images decode to the same pixels.
/// The whole input is also handed to the decoder as a file.
func fuzzPNG(_ input: UnsafeRawBufferPointer) {
    TensorLimits.maxBytes = 64 << 20
    let b = [UInt8](input)
    _ = try? PNG.decode(Data(b), name: "fuzz.png")
    guard b.count >= 3 else { return }
    let w = Int(b[0] % 64) + 1, h = Int(b[1] % 64) + 1, c = Int(b[2] % 4)
    let pixels = Array(b.dropFirst(3))
    do {
        let png = try PNG.encode(pixels: pixels, width: w, height: h, channels: c)
        let img = try PNG.decode(png, name: "roundtrip.png")
        precondition(img.width == w && img.height == h && img.channels == c, "round trip changed the size")
        precondition(img.pixels == pixels, "round trip changed the pixels")
    } catch {}
}

runFuzzer { fuzzPNG(bytes($0, $1)); return 0 }
