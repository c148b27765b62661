import XCTest
import CZlib
@testable import DodeTensor

/// Files and arguments that declare huge sizes are refused before anything that large is
/// allocated: a PNG header of 65536×65536, a gzip bomb, a grid image with millions of rows, a
/// file above the size cap, .npy and .safetensors headers whose shapes the data cannot fill.
final class ResourceLimitTests: XCTestCase {
    /// Runs `body` with the size cap at `bytes`.
    func withCap<T>(_ bytes: Int, _ body: () throws -> T) rethrows -> T {
        let old = TensorLimits.maxBytes
        TensorLimits.maxBytes = bytes
        defer { TensorLimits.maxBytes = old }
        return try body()
    }

    /// A PNG made of the given IHDR size and a small valid IDAT.
    func png(width: Int, height: Int) throws -> Data {
        var d = try PNG.encode(pixels: [1, 2, 3, 4], width: 2, height: 2, channels: 1)
        // Patch IHDR's width and height (bytes 16..<24) and its CRC (bytes 29..<33).
        func be(_ v: Int) -> [UInt8] {
            [UInt8(v >> 24 & 255), UInt8(v >> 16 & 255), UInt8(v >> 8 & 255), UInt8(v & 255)]
        }
        d.replaceSubrange(16..<24, with: be(width) + be(height))
        let crc = Array(d[12..<29]).withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt($0.count)) }
        d.replaceSubrange(29..<33, with: be(Int(crc)))
        return d
    }

    func testPNGHeaderWithHugeSizes() throws {
        XCTAssertThrowsError(try PNG.decode(try png(width: 65536, height: 65536), name: "huge.png")) {
            XCTAssertTrue("\($0)".contains("huge.png") && "\($0)".contains("65536x65536"), "\($0)")
        }
        // Under the cap, but far more than 22 bytes of image data can hold.
        XCTAssertThrowsError(try withCap(1 << 40) {
            try PNG.decode(try png(width: 20000, height: 20000), name: "big.png")
        }) {
            XCTAssertTrue("\($0)".contains("cannot hold a 20000x20000 image"), "\($0)")
        }
        XCTAssertEqual(try PNG.decode(try png(width: 2, height: 2)).pixels, [1, 2, 3, 4])
    }

    func testGzipBombIsCutAtTheCap() throws {
        let dir = NSTemporaryDirectory() + "dode-limits-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/bomb-idx1-ubyte.gz"
        guard let f = gzopen(path, "wb9") else { return XCTFail("cannot write \(path)") }
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        for _ in 0..<64 {   // 64 MB of zeros
            _ = zeros.withUnsafeBytes { gzwrite(f, $0.baseAddress, UInt32($0.count)) }
        }
        gzclose(f)
        XCTAssertLessThan(try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int, 1 << 20)
        XCTAssertThrowsError(try withCap(8 << 20) { try IDX.readRaw(path: path) }) {
            XCTAssertTrue("\($0)".contains("decompresses to more than the size cap"), "\($0)")
        }
    }

    func testGridImageWithMillionsOfRows() throws {
        let x = try Tensor(zeros: [2_000_000, 1])
        XCTAssertThrowsError(try ImageGrid.render(x, height: 1, width: 1, channels: 1, columns: 1, scale: 64,
                                                  lo: -1, hi: 1, pad: 64)) {
            XCTAssertTrue("\($0)".contains("too large"), "\($0)")
        }
    }

    func testFilesAboveTheCapAreNotRead() throws {
        let path = NSTemporaryDirectory() + "dode-limits-file-\(getpid()).npy"
        try NPY.write(try Tensor(zeros: [1000]), path: path)
        defer { unlink(path) }
        XCTAssertThrowsError(try withCap(4096) { try NPY.read(path: path) }) {
            XCTAssertTrue("\($0)".contains("above the size cap of 4096 bytes"), "\($0)")
        }
        XCTAssertEqual(try NPY.read(path: path).count, 1000)
    }

    /// Headers that announce more data than the file holds fail on the header, before allocating.
    func testHeadersThatOverstateTheirData() throws {
        var npy = NPY.encode(try Tensor(zeros: [2, 2]))
        let text = String(decoding: npy, as: UTF8.self)
        let r = text.range(of: "(2, 2)")!
        let start = text.utf8.distance(from: text.startIndex, to: r.lowerBound)
        npy.replaceSubrange(start..<(start + 6), with: Array("(99999, 99999)".utf8.prefix(6)))
        XCTAssertThrowsError(try NPY.decode(npy, name: "big.npy"))
        let st = Data(#"{"a":{"dtype":"F64","shape":[100000,100000],"data_offsets":[0,32]}}"#.utf8)
        var file = Data(withUnsafeBytes(of: UInt64(st.count).littleEndian) { Array($0) })
        file.append(st); file.append(Data(count: 32))
        XCTAssertThrowsError(try Safetensors.decode(file, name: "big.safetensors")) {
            XCTAssertTrue("\($0)".contains("big.safetensors"), "\($0)")
        }
    }
}
