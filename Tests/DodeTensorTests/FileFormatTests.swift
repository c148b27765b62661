import XCTest
@testable import DodeTensor

/// .npy and .safetensors: interoperability with numpy's own files, round trips, and robustness
/// against malformed input (≥ 1,000 mutated files must each decode or throw an error naming the
/// file — never crash).
final class FileFormatTests: XCTestCase {
    func testReadsNumpyFiles() throws {
        let f64 = try NPY.read(path: Fixtures.path("numpy/f64_2x3.npy"))
        XCTAssertEqual(f64.shape, [2, 3])
        XCTAssertEqual(f64.toArray(), (0..<6).map { Double($0) / 7.0 })
        XCTAssertEqual(try NPY.read(path: Fixtures.path("numpy/fortran_2x3.npy")).toArray(), f64.toArray())
        let f32 = try NPY.read(path: Fixtures.path("numpy/f32_3.npy"))
        XCTAssertEqual(f32.dtype, .float32)
        XCTAssertEqual(f32.toArray(), [1.5, -2.25, 3])
        XCTAssertEqual(try NPY.read(path: Fixtures.path("numpy/i64_4.npy")).toArray(), [1, -2, 3, 1099511627776])
        XCTAssertEqual(try NPY.read(path: Fixtures.path("numpy/u8_2x2.npy")).toArray(), [0, 255, 16, 8])
        XCTAssertEqual(try NPY.read(path: Fixtures.path("numpy/be_f8_3.npy")).toArray(), [1, 2.5, -3])
        let s = try NPY.read(path: Fixtures.path("numpy/scalar.npy"))
        XCTAssertEqual(s.shape, [])
        XCTAssertEqual(s.item, 4.5)
        XCTAssertEqual(try NPY.read(path: Fixtures.path("numpy/bool_3.npy")).toArray(), [1, 0, 1])
    }

    /// dode writes the exact bytes numpy writes, so numpy reads dode's files.
    func testWritesNumpyIdenticalBytes() throws {
        for name in ["f64_2x3", "f32_3", "scalar"] {
            let original = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("numpy/\(name).npy")))
            let t = try NPY.decode(original, name: name)
            XCTAssertEqual(NPY.encode(t), original, name)
        }
    }

    func testSafetensorsRoundTrip() throws {
        let dir = Fixtures.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let a = try Generator(seed: 1).randn([3, 4]), b = try Generator(seed: 2).randn([5], dtype: .float32)
        try Safetensors.write(["a": a, "b": b], metadata: ["k": "v"], path: dir + "/w.safetensors")
        let f = try Safetensors.read(path: dir + "/w.safetensors")
        XCTAssertEqual(f.tensors["a"]?.toArray(), a.toArray())
        XCTAssertEqual(f.tensors["b"]?.dtype, .float32)
        XCTAssertEqual(f.tensors["b"]?.toArray(), b.toArray())
        XCTAssertEqual(f.metadata["k"], "v")
        // The header is 8-byte aligned, as the format recommends.
        let d = try Data(contentsOf: URL(fileURLWithPath: dir + "/w.safetensors"))
        XCTAssertEqual(Int(d[0]) % 8, 0)
    }

    func testAtomicWriteLeavesNoTemporaryFiles() throws {
        let dir = Fixtures.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try NPY.write(try Tensor(zeros: [3]), path: dir + "/x.npy")
        try NPY.write(try Tensor.full([3], 2), path: dir + "/x.npy")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["x.npy"])
        XCTAssertEqual(try NPY.read(path: dir + "/x.npy").toArray(), [2, 2, 2])
        XCTAssertThrowsError(try NPY.write(try Tensor(zeros: [3]), path: dir + "/missing/x.npy")) {
            XCTAssertTrue("\($0)".contains("does not exist"))
        }
    }

    /// 1,200 mutated files of each format: every decode either succeeds with a consistent tensor
    /// or throws a TensorError naming the file.
    func testMutatedFilesNeverCrash() throws {
        var rng = SystemRandomNumberGenerator()
        let base: [(String, Data, (Data) throws -> Void)] = [
            ("npy", NPY.encode(try Generator(seed: 3).randn([4, 5])), { d in _ = try NPY.decode(d, name: "mut.npy") }),
            ("npy32", NPY.encode(try Generator(seed: 3).randn([7], dtype: .float32)),
             { d in _ = try NPY.decode(d, name: "mut.npy") }),
            ("safetensors", Safetensors.encode(["w": try Generator(seed: 4).randn([3, 3]),
                                                "b": try Tensor(zeros: [2], dtype: .float32)]),
             { d in _ = try Safetensors.decode(d, name: "mut.safetensors") }),
        ]
        var errors = 0, successes = 0
        for (kind, original, decode) in base {
            for trial in 0..<1200 {
                var d = [UInt8](original)
                switch trial % 6 {
                case 0: d = Array(d.prefix(Int.random(in: 0..<d.count, using: &rng)))          // truncated
                case 1: for _ in 0..<Int.random(in: 1...8, using: &rng) {                          // flipped bytes
                            let i = Int.random(in: 0..<d.count, using: &rng)
                            d[i] ^= UInt8.random(in: 1...255, using: &rng)
                        }
                case 2: if d.count > 12 {   // header length / version
                            for i in 6..<12 { d[i] = UInt8.random(in: 0...255, using: &rng) }
                        }
                case 3: let i = Int.random(in: 0..<Swift.min(d.count, 140), using: &rng)           // header text edits
                        d[i] = Array("()[]{},:'\"0123456789-eE ".utf8).randomElement(using: &rng)!
                case 4: d.append(contentsOf: (0..<Int.random(in: 1...64, using: &rng)).map { _ in
                            UInt8.random(in: 0...255, using: &rng)
                        })
                default: d.removeSubrange(Int.random(in: 0..<d.count / 2, using: &rng)
                                          ..< Int.random(in: d.count / 2..<d.count, using: &rng))
                }
                do { try decode(Data(d)); successes += 1 }
                catch let e as TensorError {
                    errors += 1
                    XCTAssertTrue(e.message.contains("mut."), "\(kind): error does not name the file: \(e.message)")
                } catch { XCTFail("\(kind): unexpected error type \(error)") }
            }
        }
        XCTAssertGreaterThan(errors, 1000)
        print("mutated files: \(errors) errors, \(successes) decoded")
    }
}
