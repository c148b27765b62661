/// Lays a batch of images (B × (C·H·W), CHW order per sample) out as a grid of 8-bit pixels:
/// values mapped linearly from [lo, hi] to 0…255 (clamped), each image enlarged `scale` times
/// (nearest neighbour), `pad` pixels of grey between cells.
public enum ImageGrid {
    public static func render(_ x: Tensor, height h: Int, width w: Int, channels c: Int, columns: Int,
                              scale: Int, lo: Double, hi: Double,
                              pad: Int) throws -> (pixels: [UInt8], width: Int, height: Int) {
        guard c == 1 || c == 3 else { throw TensorError("channels must be 1 or 3 (got \(c))") }
        guard h >= 1, w >= 1, scale >= 1, scale <= 64, pad >= 0, pad <= 64, columns >= 1 else {
            throw TensorError("invalid image geometry")
        }
        guard x.rank >= 1, x.shape[0] >= 1 else { throw TensorError("expected a non-empty batch of images") }
        let n = x.shape[0], per = x.count / n
        guard per == c * h * w else {
            throw TensorError("each sample has \(per) values, a \(c)x\(h)x\(w) image needs \(c * h * w)")
        }
        guard hi > lo, lo.isFinite, hi.isFinite else { throw TensorError("range must be finite with hi > lo") }
        let cols = Swift.min(columns, n), rows = (n + cols - 1) / cols
        let cw = w * scale, chh = h * scale
        let W = cols * cw + (cols + 1) * pad, H = rows * chh + (rows + 1) * pad
        let (area, o) = W.multipliedReportingOverflow(by: H)
        guard !o, area <= 1 << 26 else {
            throw TensorError("the grid image would be \(W)x\(H) pixels, too large (at most 2^26)")
        }
        var px = [UInt8](repeating: 128, count: W * H * c)
        let v = x.contiguous().to(.float64).toArray()
        for i in 0..<n {
            let gx = pad + (i % cols) * (cw + pad), gy = pad + (i / cols) * (chh + pad)
            for yy in 0..<chh {
                for xx in 0..<cw {
                    for ch in 0..<c {
                        let val = v[i * per + ch * h * w + (yy / scale) * w + (xx / scale)]
                        let q = val.isNaN ? 0 : Swift.max(0, Swift.min(255, ((val - lo) / (hi - lo) * 255).rounded()))
                        px[((gy + yy) * W + gx + xx) * c + ch] = UInt8(q)
                    }
                }
            }
        }
        return (px, W, H)
    }
}
