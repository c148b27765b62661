import CBLAS
import Foundation

/// A time-conditioned MLP read from dode's `dode.mlp` format: a JSON config whose "graph" is a
/// list of register operations over named Float32 tensors (`x` holds the network input, `t` the
/// time label, `out` the result), and a .safetensors file with the weights (PyTorch Linear
/// convention: weight [out, in], bias [out]). Operations:
/// - `time_embedding` {out, dim, max_period = 10000, order = "cos_sin" | "sin_cos", scale = 1}:
///   freqs_i = exp(−ln(max_period)·i/(dim/2)), emb = [cos(scale·t·f), sin(scale·t·f)];
/// - `linear` {in, out, weight, bias?} (sgemm);
/// - `silu` | `gelu` | `relu` {in, out};  `add` {in: [a, b], out};
/// - `resblock` {in, temb, out, act, fc1, tproj, fc2}: out = in + fc2(act(fc1(act(in)) + tproj(temb))).
/// Missing tensors or wrong shapes are errors naming the tensor and both shapes.
public final class MLPNetwork {
    enum Op {
        case timeEmbedding(out: String, dim: Int, maxPeriod: Double, cosFirst: Bool, scale: Double)
        case linear(inp: String, out: String, w: Tensor, b: Tensor?)
        case act(inp: String, out: String, fn: UnaryOp)
        case add(a: String, b: String, out: String)
        case resblock(inp: String, temb: String, out: String, fn: UnaryOp, fc1: (Tensor, Tensor?),
                      tproj: (Tensor, Tensor?), fc2: (Tensor, Tensor?))
    }

    let ops: [Op]
    public let inputDim: Int
    public let outputDim: Int
    public let config: [String: Any]
    public let prediction: Prediction
    /// Feature size of every register (for reading intermediate layers, e.g. classifier features).
    public let registerSizes: [String: Int]

    public convenience init(configPath: String, weightsPath: String) throws {
        let data = try AtomicFile.read(configPath)
        guard let cfg = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw CoreError("'\(configPath)' is not a JSON object")
        }
        let weights = try Safetensors.read(path: weightsPath).tensors
        try self.init(config: cfg, weights: weights, source: configPath, weightsSource: weightsPath)
    }

    public init(config cfg: [String: Any], weights: [String: Tensor], source: String, weightsSource: String) throws {
        func fail(_ m: String) -> CoreError { CoreError("model config '\(source)': \(m)") }
        guard (cfg["format"] as? String) == "dode.mlp" else { throw fail("'format' must be \"dode.mlp\"") }
        guard let dim = (cfg["dim"] as? NSNumber)?.intValue, dim >= 1 else {
            throw fail("'dim' must be a positive integer")
        }
        let pred = cfg["predicts"] as? String ?? "eps"
        guard let p = Prediction(rawValue: pred) else {
            throw fail("'predicts' must be one of eps, x0, v, edm (got \(pred))")
        }
        guard let graph = cfg["graph"] as? [[String: Any]], !graph.isEmpty else {
            throw fail("'graph' must be a non-empty list of operations")
        }
        var shapes: [String: Int] = ["x": dim]   // register -> feature size
        func tensor(_ name: String, _ shape: [Int]) throws -> Tensor {
            guard let t = weights[name] else {
                throw CoreError("weights '\(weightsSource)' have no tensor '\(name)' (named by the config)")
            }
            guard t.shape == shape else {
                throw CoreError("tensor '\(name)' in '\(weightsSource)' has shape \(formatShape(t.shape)), " +
                                "the config needs \(formatShape(shape))")
            }
            return t.to(.float32).contiguous()
        }
        func reg(_ op: [String: Any], _ key: String, _ i: Int) throws -> String {
            guard let r = op[key] as? String else { throw fail("operation \(i + 1) needs a register name '\(key)'") }
            return r
        }
        func size(_ r: String, _ i: Int) throws -> Int {
            guard let s = shapes[r] else { throw fail("operation \(i + 1) reads register '\(r)' before it is written") }
            return s
        }
        func linearParams(_ prefix: String, inSize: Int) throws -> (Tensor, Tensor?) {
            let w = weights["\(prefix).weight"]
            guard let w, w.rank == 2 else {
                throw CoreError("weights '\(weightsSource)' have no 2-D tensor '\(prefix).weight' " +
                                "(named by the config)")
            }
            let outSize = w.shape[0]
            let wt = try tensor("\(prefix).weight", [outSize, inSize])
            let b = weights["\(prefix).bias"] != nil ? try tensor("\(prefix).bias", [outSize]) : nil
            return (wt, b)
        }
        func activation(_ name: String?, _ i: Int) throws -> UnaryOp {
            switch name ?? "silu" {
            case "silu": return .silu
            case "gelu": return .gelu
            case "relu": return .relu
            case "tanh": return .tanh
            default:
                throw fail("operation \(i + 1): unknown activation '\(name ?? "")' (valid: silu, gelu, relu, tanh)")
            }
        }
        var ops: [Op] = []
        for (i, op) in graph.enumerated() {
            guard let kind = op["op"] as? String else { throw fail("operation \(i + 1) has no 'op'") }
            switch kind {
            case "time_embedding":
                let out = try reg(op, "out", i)
                guard let d = (op["dim"] as? NSNumber)?.intValue, d >= 2, d % 2 == 0 else {
                    throw fail("operation \(i + 1): 'dim' must be an even integer ≥ 2")
                }
                let order = op["order"] as? String ?? "cos_sin"
                guard order == "cos_sin" || order == "sin_cos" else {
                    throw fail("operation \(i + 1): 'order' must be cos_sin or sin_cos")
                }
                ops.append(.timeEmbedding(out: out, dim: d, maxPeriod: JSONText.double(op["max_period"]) ?? 10000,
                                          cosFirst: order == "cos_sin", scale: JSONText.double(op["scale"]) ?? 1))
                shapes[out] = d
            case "linear":
                let inp = try reg(op, "in", i), out = try reg(op, "out", i)
                guard let wname = op["weight"] as? String else {
                    throw fail("operation \(i + 1): linear needs 'weight'")
                }
                guard let w = weights[wname], w.rank == 2 else {
                    throw CoreError("weights '\(weightsSource)' have no 2-D tensor '\(wname)' (named by the config)")
                }
                let wt = try tensor(wname, [w.shape[0], try size(inp, i)])
                let b = try (op["bias"] as? String).map { try tensor($0, [w.shape[0]]) }
                ops.append(.linear(inp: inp, out: out, w: wt, b: b))
                shapes[out] = w.shape[0]
            case "silu", "gelu", "relu", "tanh":
                let inp = try reg(op, "in", i), out = try reg(op, "out", i)
                shapes[out] = try size(inp, i)
                ops.append(.act(inp: inp, out: out, fn: try activation(kind, i)))
            case "add":
                guard let ins = op["in"] as? [String], ins.count == 2 else {
                    throw fail("operation \(i + 1): add needs 'in': [a, b]")
                }
                let out = try reg(op, "out", i)
                let a = try size(ins[0], i), b = try size(ins[1], i)
                guard a == b else { throw fail("operation \(i + 1): add of registers with sizes \(a) and \(b)") }
                ops.append(.add(a: ins[0], b: ins[1], out: out))
                shapes[out] = a
            case "resblock":
                let inp = try reg(op, "in", i), temb = try reg(op, "temb", i), out = try reg(op, "out", i)
                let h = try size(inp, i), e = try size(temb, i)
                guard let p1 = op["fc1"] as? String, let pt = op["tproj"] as? String,
                      let p2 = op["fc2"] as? String else {
                    throw fail("operation \(i + 1): resblock needs 'fc1', 'tproj' and 'fc2'")
                }
                let fc1 = try linearParams(p1, inSize: h)
                let mid = fc1.0.shape[0]
                let tp = try linearParams(pt, inSize: e)
                guard tp.0.shape[0] == mid else {
                    throw CoreError("tensor '\(pt).weight' in '\(weightsSource)' has shape " +
                                    "\(formatShape(tp.0.shape)), the config needs \(mid)x\(e)")
                }
                let fc2 = try linearParams(p2, inSize: mid)
                guard fc2.0.shape[0] == h else {
                    throw CoreError("tensor '\(p2).weight' in '\(weightsSource)' has shape " +
                                    "\(formatShape(fc2.0.shape)), the config needs \(h)x\(mid)")
                }
                ops.append(.resblock(inp: inp, temb: temb, out: out, fn: try activation(op["act"] as? String, i),
                                     fc1: fc1, tproj: tp, fc2: fc2))
                shapes[out] = h
            default:
                throw fail("operation \(i + 1): unknown op '\(kind)' " +
                           "(valid: time_embedding, linear, silu, gelu, relu, tanh, add, resblock)")
            }
        }
        guard let o = shapes["out"] else { throw fail("no operation writes the register 'out'") }
        self.registerSizes = shapes
        self.ops = ops
        self.inputDim = dim
        self.outputDim = o
        self.config = cfg
        self.prediction = p
    }

    /// Runs the network on a B×dim Float32 input with per-sample (or one) time labels and
    /// returns register `output` (default "out").
    public func forward(_ x: Tensor, labels t: [Double], output: String = "out") throws -> Tensor {
        guard registerSizes[output] != nil else { throw CoreError("the network has no register '\(output)'") }
        let B = x.shape[0]
        guard x.count == B * inputDim else {
            throw CoreError("the network takes \(inputDim) values per sample, x has shape \(formatShape(x.shape))")
        }
        var regs: [String: Tensor] = ["x": try x.to(.float32).contiguous().reshape([B, inputDim])]
        func get(_ r: String) throws -> Tensor {
            guard let v = regs[r] else { throw CoreError("network register '\(r)' is read before it is written") }
            return v
        }
        // Registers derived from the time label alone have one row when every sample shares the
        // label (the usual case in sampling): the time branch then costs one row, not B, and
        // broadcasts where it meets the sample branch.
        func linear(_ inp: Tensor, _ w: Tensor, _ b: Tensor?) throws -> Tensor {
            let rows = inp.shape[0]
            let out = try Tensor.empty([rows, w.shape[0]], dtype: .float32)
            try BLAS.linearRows(inp.pointer(Float.self), rows: rows, fin: w.shape[1], weight: w.pointer(Float.self),
                                fout: w.shape[0],
                                bias: b?.pointer(Float.self), into: out.pointer(Float.self))
            return out
        }
        for op in ops {
            switch op {
            case let .timeEmbedding(out, dim, maxPeriod, cosFirst, scale):
                let rows = t.count == 1 ? 1 : B
                let e = try Tensor.empty([rows, dim], dtype: .float32)
                let p = e.pointer(Float.self), half = dim / 2
                for b in 0..<rows {
                    let tt = (t.count == 1 ? t[0] : t[b]) * scale
                    for i in 0..<half {
                        let f = Foundation.exp(-Foundation.log(maxPeriod) * Double(i) / Double(half))
                        let a = tt * f
                        p[b * dim + (cosFirst ? i : half + i)] = Float(Foundation.cos(a))
                        p[b * dim + (cosFirst ? half + i : i)] = Float(Foundation.sin(a))
                    }
                }
                regs[out] = e
            case let .linear(inp, out, w, b):
                regs[out] = try linear(try get(inp), w, b)
            case let .act(inp, out, fn):
                regs[out] = try get(inp).map(fn)
            case let .add(a, b, out):
                regs[out] = try Tensor.binary(.add, try get(a), try get(b))
            case let .resblock(inp, temb, out, fn, fc1, tp, fc2):
                let h = try get(inp)
                let z = try linear(h.map(fn), fc1.0, fc1.1)
                try z.add(try linear(try get(temb), tp.0, tp.1))
                z.mapInPlace(fn)
                let r = try linear(z, fc2.0, fc2.1)
                try r.add(h)
                regs[out] = r
            }
        }
        return try get(output)
    }
}
