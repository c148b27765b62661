import CZlib
import Foundation

/// PNG files (8-bit grey or RGB): an encoder over zlib's deflate, and a decoder for tests and
/// round trips (all five scanline filters).
public enum PNG {
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// Encodes `pixels` (row-major, `channels` bytes per pixel: 1 grey, 3 RGB).
    public static func encode(pixels: [UInt8], width: Int, height: Int, channels: Int) throws -> Data {
        guard channels == 1 || channels == 3 else {
            throw TensorError("PNG: channels must be 1 or 3 (got \(channels))")
        }
        guard width >= 1, height >= 1, width <= 1 << 24, height <= 1 << 24,
              pixels.count == width * height * channels else {
            throw TensorError("PNG: \(pixels.count) bytes do not make a \(width)x\(height)x\(channels) image")
        }
        var raw = [UInt8]()
        raw.reserveCapacity((width * channels + 1) * height)
        for y in 0..<height {
            raw.append(0)
            raw.append(contentsOf: pixels[(y * width * channels)..<((y + 1) * width * channels)])
        }
        var bound = compressBound(uLong(raw.count))
        var comp = [UInt8](repeating: 0, count: Int(bound))
        let rc = comp.withUnsafeMutableBufferPointer { c in raw.withUnsafeBufferPointer { r in
            compress2(c.baseAddress, &bound, r.baseAddress, uLong(r.count), 9)
        } }
        guard rc == Z_OK else { throw TensorError("PNG: zlib compression failed (\(rc))") }
        comp.removeSubrange(Int(bound)...)
        var out = Data(signature)
        func chunk(_ type: String, _ body: [UInt8]) {
            var len = UInt32(body.count).bigEndian
            out.append(Data(bytes: &len, count: 4))
            let tb = Array(type.utf8) + body
            out.append(contentsOf: tb)
            var crc = UInt32(tb.withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt($0.count)) }).bigEndian
            out.append(Data(bytes: &crc, count: 4))
        }
        func be32(_ v: Int) -> [UInt8] {
            [UInt8(v >> 24 & 255), UInt8(v >> 16 & 255), UInt8(v >> 8 & 255), UInt8(v & 255)]
        }
        chunk("IHDR", be32(width) + be32(height) + [8, channels == 1 ? 0 : 2, 0, 0, 0])
        chunk("IDAT", comp)
        chunk("IEND", [])
        return out
    }

    public struct Image { public let width: Int, height: Int, channels: Int, pixels: [UInt8] }

    /// Decodes an 8-bit grey or RGB, non-interlaced PNG.
    public static func decode(_ data: Data, name: String = "image") throws -> Image {
        func fail(_ m: String) -> TensorError { TensorError("'\(name)' is not a PNG dode can read: \(m)") }
        let b = [UInt8](data)
        guard b.count > 8, Array(b[0..<8]) == signature else { throw fail("wrong signature") }
        var i = 8
        var w = 0, h = 0, ch = 0
        var idat = [UInt8]()
        func be32(_ p: Int) -> Int { Int(b[p]) << 24 | Int(b[p + 1]) << 16 | Int(b[p + 2]) << 8 | Int(b[p + 3]) }
        while i + 12 <= b.count {
            let len = be32(i)
            guard len >= 0, i + 12 + len <= b.count else { throw fail("chunk runs past the end") }
            let type = String(bytes: b[(i + 4)..<(i + 8)], encoding: .ascii) ?? "?"
            let body = Array(b[(i + 8)..<(i + 8 + len)])
            let crcStored = UInt32(be32(i + 8 + len))
            let crc = UInt32(Array(b[(i + 4)..<(i + 8 + len)]).withUnsafeBufferPointer {
                crc32(0, $0.baseAddress, uInt($0.count))
            })
            guard crc == crcStored else { throw fail("bad CRC in chunk \(type)") }
            switch type {
            case "IHDR":
                guard len == 13 else { throw fail("bad IHDR") }
                w = Int(body[0]) << 24 | Int(body[1]) << 16 | Int(body[2]) << 8 | Int(body[3])
                h = Int(body[4]) << 24 | Int(body[5]) << 16 | Int(body[6]) << 8 | Int(body[7])
                guard body[8] == 8, body[12] == 0, body[9] == 0 || body[9] == 2 else {
                    throw fail("only 8-bit grey/RGB non-interlaced images")
                }
                ch = body[9] == 0 ? 1 : 3
            case "IDAT": idat += body
            default: break
            }
            i += 12 + len
        }
        guard w > 0, h > 0, w <= 1 << 16, h <= 1 << 16 else { throw fail("missing or invalid IHDR") }
        let stride = w * ch
        // Refused before anything is allocated: a size above the cap, or more bytes than the
        // compressed data can hold (deflate expands by at most 1032:1).
        let need = (stride + 1) * h
        guard need <= TensorLimits.maxBytes else {
            throw fail("a \(w)x\(h) image needs \(need) bytes, above the size cap of \(TensorLimits.maxBytes) bytes")
        }
        guard need <= idat.count * 1032 + 1024 else {
            throw fail("\(idat.count) bytes of image data cannot hold a \(w)x\(h) image")
        }
        var rawLen = uLongf(need)
        var raw = [UInt8](repeating: 0, count: Int(rawLen))
        let rc = raw.withUnsafeMutableBufferPointer { r in idat.withUnsafeBufferPointer { c in
            uncompress(r.baseAddress, &rawLen, c.baseAddress, uLong(c.count))
        } }
        guard rc == Z_OK, Int(rawLen) == (stride + 1) * h else { throw fail("corrupt image data") }
        var px = [UInt8](repeating: 0, count: stride * h)
        for y in 0..<h {
            let f = raw[y * (stride + 1)]
            for x in 0..<stride {
                let v = Int(raw[y * (stride + 1) + 1 + x])
                let a = x >= ch ? Int(px[y * stride + x - ch]) : 0
                let up = y > 0 ? Int(px[(y - 1) * stride + x]) : 0
                let c = (x >= ch && y > 0) ? Int(px[(y - 1) * stride + x - ch]) : 0
                let pred: Int
                switch f {
                case 0: pred = 0
                case 1: pred = a
                case 2: pred = up
                case 3: pred = (a + up) / 2
                case 4:
                    let p = a + up - c, pa = abs(p - a), pb = abs(p - up), pc = abs(p - c)
                    pred = pa <= pb && pa <= pc ? a : (pb <= pc ? up : c)
                default: throw fail("unknown filter \(f)")
                }
                px[y * stride + x] = UInt8((v + pred) & 255)
            }
        }
        return Image(width: w, height: h, channels: ch, pixels: px)
    }
}
