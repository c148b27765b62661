import CKernels
import Foundation

/// The exact denoiser of a Gaussian mixture with per-axis standard deviations:
/// D(y, s) = Σ_k r_k(y) [μ_k + (std_k² / v_k) ⊙ (y − μ_k)],  v_k = std_k² + s²,
/// log r_k = log w_k − ½ Σ_j [(y_j − μ_kj)²/v_kj + log v_kj] − logsumexp(…).
///
/// Computed in Float64 by a fused per-sample kernel (likelihoods, softmax and mean in one pass
/// over a row kept in cache, SIMD over the dimension, threads over the batch), with the square
/// (y − μ)² formed directly rather than expanded, so no digits are lost at tiny s (docs/method.md §8.1,
/// docs/design.md §8). Components may carry class labels, making the denoiser conditional.
public final class MixtureDenoiser: Denoiser {
    public let schedule: Schedule
    public let K: Int
    public let d: Int
    /// Normalised weights.
    public let weights: [Double]
    /// K×d row-major.
    public let means: [Double]
    public let stds: [Double]
    public let labels: [Int]?
    public let name: String

    public var featureSize: Int? { d }
    public var isConditional: Bool { labels != nil }
    public var summary: String { "gmm '\(name)': \(K) components in \(d)-D\(labels != nil ? ", labelled" : "")" }

    public init(weights: [Double], means: [[Double]], stds: [[Double]], labels: [Int]? = nil,
                schedule: Schedule, name: String = "mixture") throws {
        let k = weights.count
        guard k >= 1 else { throw CoreError("a mixture needs at least one component") }
        guard means.count == k else { throw CoreError("weights has \(k) entries but means has \(means.count) rows") }
        guard stds.count == k else { throw CoreError("weights has \(k) entries but stds has \(stds.count) rows") }
        let d = means[0].count
        guard d >= 1 else { throw CoreError("means must have at least one dimension") }
        var total = 0.0
        for (i, w) in weights.enumerated() {
            guard w.isFinite, w >= 0 else {
                throw CoreError("weight \(i + 1) must be finite and non-negative (got \(w))")
            }
            total += w
        }
        guard total > 0, total.isFinite else { throw CoreError("weights must sum to a positive number (got \(total))") }
        for i in 0..<k {
            guard means[i].count == d else {
                throw CoreError("means row \(i + 1) has \(means[i].count) entries, expected \(d) (dimensions disagree)")
            }
            guard stds[i].count == d else {
                throw CoreError("stds row \(i + 1) has \(stds[i].count) entries, expected \(d) (dimensions disagree)")
            }
            for j in 0..<d {
                guard means[i][j].isFinite else { throw CoreError("means[\(i + 1)][\(j + 1)] is not finite") }
                guard stds[i][j].isFinite, stds[i][j] > 0 else {
                    throw CoreError("stds[\(i + 1)][\(j + 1)] must be positive and finite (got \(stds[i][j]))")
                }
            }
        }
        if let labels, labels.count != k {
            throw CoreError("labels has \(labels.count) entries, expected one per component (\(k))")
        }
        self.schedule = schedule
        self.K = k
        self.d = d
        self.weights = weights.map { $0 / total }
        self.means = means.flatMap { $0 }
        self.stds = stds.flatMap { $0 }
        self.labels = labels
        self.name = name
    }

    // MARK: the kernel

    /// Per-noise-level constants: 1/v, shrink = std²/v, a = μ·s²/v, and c_k = log w_k − ½Σ log v.
    struct Level {
        var iv: [Double], sh: [Double], a: [Double], c: [Double]
    }

    func level(_ s: Double) -> Level {
        let n = K * d, s2 = s * s
        var iv = [Double](repeating: 0, count: n), sh = iv, a = iv
        var c = [Double](repeating: 0, count: K)
        for k in 0..<K {
            var logdet = 0.0
            for j in 0..<d {
                let i = k * d + j
                let sd2 = stds[i] * stds[i], v = sd2 + s2
                iv[i] = 1 / v
                sh[i] = sd2 / v
                a[i] = means[i] * s2 / v
                logdet += Foundation.log(v)
            }
            c[k] = (weights[k] > 0 ? Foundation.log(weights[k]) : -.infinity) - 0.5 * logdet
        }
        return Level(iv: iv, sh: sh, a: a, c: c)
    }

    public func denoise(_ x: Tensor, at p: Point, cond: Tensor?, into out: Tensor) throws {
        try check(x, p, out)
        let B = x.shape[0]
        let allowed = try allowedComponents(cond, batch: B)
        let lv = level(p.s)
        let xin = x.contiguous()
        let dst = out.isContiguous ? out : try Tensor.empty(out.shape, dtype: out.dtype)
        // The kernel reads the state x = α·y itself, with α folded into the constants:
        // (x − αμ)²·(1/v)/α² = (y − μ)²/v and y·shrink = x·(shrink/α); a and c do not change.
        let al = p.alpha
        let kmu = al == 1 ? means : means.map { $0 * al }
        let kiv = al == 1 ? lv.iv : lv.iv.map { $0 / (al * al) }
        let ksh = al == 1 ? lv.sh : lv.sh.map { $0 / al }
        try kiv.withUnsafeBufferPointer { iv in
            try ksh.withUnsafeBufferPointer { sh in
                try lv.a.withUnsafeBufferPointer { aa in
                    try kmu.withUnsafeBufferPointer { mu in
                        let ctx = KernelContext(K: K, d: d, iv: iv.baseAddress!, sh: sh.baseAddress!,
                                                a: aa.baseAddress!,
                                                mu: mu.baseAddress!, c: lv.c,
                                                stream: B * d * 8 >= MixtureDenoiser.streamBytes)
                        let fail = UnsafeSendable(UnsafeMutablePointer<Int>.allocate(capacity: 1))
                        fail.value.pointee = -1
                        defer { fail.value.deallocate() }
                        // Chunks of a multiple of 4 rows (the kernel's block), at most 64 of them.
                        let grain = Swift.max(4, 2048 / Swift.max(d, 1))
                        let wanted = Swift.max(1, Swift.min((B + grain - 1) / grain, 64))
                        let size = ((B + wanted - 1) / wanted + 3) / 4 * 4
                        let chunks = B == 0 ? 0 : (B + size - 1) / size
                        func rows<T: TensorScalar>(_: T.Type) {
                            let src = UnsafeSendable(xin.pointer(T.self)), o = UnsafeSendable(dst.pointer(T.self))
                            Parallel.forEach(chunks: chunks) { c in
                                let r = (c * size)..<Swift.min(B, c * size + size)
                                if !ctx.run(rows: r, src: src.value, dst: o.value, allowed: allowed) {
                                    fail.value.pointee = r.lowerBound
                                }
                            }
                        }
                        switch x.dtype {
                        case .float64: rows(Double.self)
                        case .float32: rows(Float.self)
                        }
                        if fail.value.pointee >= 0 { throw farRowError(xin, from: fail.value.pointee) }
                    }
                }
            }
        }
        if dst !== out { try out.copy(from: dst) }
    }

    /// The kernel fails on a row whose every allowed component has density 0 in Float64 (class
    /// labels always name a component, see `allowedComponents`): an infinite value, or one so
    /// large that its squared distance overflows. Names the first such row from `start`.
    func farRowError(_ x: Tensor, from start: Int) -> CoreError {
        let v = x.to(.float64).toArray()
        for r in start..<x.shape[0] {
            let row = v[(r * d)..<((r + 1) * d)]
            if let j = row.firstIndex(where: { !$0.isFinite }) {
                return CoreError("x[\(r + 1)][\(j - r * d + 1)] is \(v[j]): " +
                                 "every mixture component has density 0 there")
            }
            if let big = row.max(by: { abs($0) < abs($1) }), abs(big) > 1e150 {
                return CoreError("row \(r + 1) of x holds \(big): " +
                                 "too far from every mixture component (all densities underflow)")
            }
        }
        return CoreError("row \(start + 1) of x or later is too far from every mixture component " +
                         "(all densities underflow)")
    }

    /// Per-sample masks of the components allowed by class labels (nil: all).
    func allowedComponents(_ cond: Tensor?, batch: Int) throws -> [[UInt8]]? {
        guard let ls = try labels(cond, batch: batch), let mine = labels else { return nil }
        var cache: [Int: [UInt8]] = [:]
        return try ls.map { l in
            if let m = cache[l] { return m }
            let m: [UInt8] = mine.map { $0 == l ? 1 : 0 }
            guard m.contains(1) else {
                throw CoreError("no mixture component has class label \(l) (labels: \(Set(mine).sorted()))")
            }
            cache[l] = m
            return m
        }
    }

    /// Outputs of at least this many bytes are written past the caches (non-temporal stores): at
    /// that size they would not stay cached for the next step anyway, and skipping the read of
    /// the destination lines saves a third of the memory traffic (a C harness of the kernel on
    /// 10000×64, two threads: 1.37 → 0.92 ms when the batch is not cached).
    static let streamBytes = 4 << 20

    /// The fused kernel over a range of rows.
    struct KernelContext: @unchecked Sendable {
        let K: Int, d: Int
        let iv: UnsafePointer<Double>, sh: UnsafePointer<Double>, a: UnsafePointer<Double>, mu: UnsafePointer<Double>
        let c: [Double]
        /// Write Float64 predictions with non-temporal stores (outputs larger than the caches).
        let stream: Bool

        func run<T: TensorScalar>(rows: Range<Int>, src: UnsafeMutablePointer<T>, dst: UnsafeMutablePointer<T>,
                                  allowed: [[UInt8]]?) -> Bool {
            // Blocks of rows: Float64 states in, predictions out, masks when conditional.
            let block = 32
            let y = UnsafeMutablePointer<Double>.allocate(capacity: block * d)
            let o = UnsafeMutablePointer<Double>.allocate(capacity: block * d)
            let lp = UnsafeMutablePointer<Double>.allocate(capacity: 4 * K)
            let rr = UnsafeMutablePointer<Double>.allocate(capacity: K)
            let kk = UnsafeMutablePointer<Int32>.allocate(capacity: K)
            let mask = UnsafeMutablePointer<UInt8>.allocate(capacity: block * K)
            defer {
                y.deallocate(); o.deallocate(); lp.deallocate(); rr.deallocate(); kk.deallocate(); mask.deallocate()
            }
            return c.withUnsafeBufferPointer { cb in
                var r0 = rows.lowerBound
                while r0 < rows.upperBound {
                    let n = Swift.min(block, rows.upperBound - r0)
                    let s = src + r0 * d
                    // Float64 states are read in place; Float32 ones are widened first.
                    let yin: UnsafePointer<Double>
                    if T.self == Double.self {
                        yin = UnsafePointer(UnsafeMutableRawPointer(s).assumingMemoryBound(to: Double.self))
                    } else {
                        for i in 0..<(n * d) { y[i] = s[i].double }
                        yin = UnsafePointer(y)
                    }
                    if let allowed {
                        for i in 0..<n {
                            let m = allowed[r0 + i < allowed.count ? r0 + i : 0]
                            for k in 0..<K { mask[i * K + k] = m[k] }
                        }
                    }
                    let direct = T.self == Double.self
                    let out = direct ? UnsafeMutableRawPointer(dst + r0 * d).assumingMemoryBound(to: Double.self) : o
                    let ok = dode_gmm_rows(Int32(n), Int32(K), Int32(d), yin, mu, iv, a, sh, cb.baseAddress,
                                           allowed == nil ? nil : UnsafePointer(mask), lp, rr, kk, out,
                                           direct && stream ? 1 : 0)
                    if ok == 0 { return false }
                    if !direct { let dr = dst + r0 * d; for i in 0..<(n * d) { dr[i] = T(o[i]) } }
                    r0 += n
                }
                return true
            }
        }
    }

    // MARK: density, sampling, components

    /// log p_s(y) for each row of y (the data density convolved with N(0, s²I)); y in data
    /// (scaled) space.
    public func logDensity(_ y: Tensor, s: Double) throws -> [Double] {
        guard y.rank == 2, y.shape[1] == d else {
            throw CoreError("expected a B×\(d) tensor (got \(formatShape(y.shape)))")
        }
        let lv = level(s)
        let v = y.contiguous().to(.float64).toArray()
        let B = y.shape[0]
        let log2pi = Foundation.log(2 * Double.pi)
        return (0..<B).map { r in
            var lps = [Double](repeating: 0, count: K)
            var m = -Double.infinity
            for k in 0..<K {
                var q = 0.0
                for j in 0..<d { let df = v[r * d + j] - means[k * d + j]; q += df * df * lv.iv[k * d + j] }
                lps[k] = lv.c[k] - 0.5 * q - 0.5 * Double(d) * log2pi
                m = Swift.max(m, lps[k])
            }
            return m + Foundation.log(lps.reduce(0) { $0 + Foundation.exp($1 - m) })
        }
    }

    /// The most likely component (0-based) of each row of y at noise level s.
    public func component(_ y: Tensor, s: Double = 0) throws -> [Int] {
        guard y.rank == 2, y.shape[1] == d else {
            throw CoreError("expected a B×\(d) tensor (got \(formatShape(y.shape)))")
        }
        let lv = level(s)
        let v = y.contiguous().to(.float64).toArray()
        return (0..<y.shape[0]).map { r in
            var best = 0, bestV = -Double.infinity
            for k in 0..<K {
                var q = 0.0
                for j in 0..<d { let df = v[r * d + j] - means[k * d + j]; q += df * df * lv.iv[k * d + j] }
                let l = lv.c[k] - 0.5 * q
                if l > bestV { bestV = l; best = k }
            }
            return best
        }
    }

    /// n samples of x0 from the mixture (row i from the generator's row rule). Returns the
    /// samples and their components (0-based).
    public func sample(_ g: Generator, _ n: Int, labels want: Int? = nil) throws -> (Tensor, [Int]) {
        let u = try g.rand([n, 1]).toArray()
        let z = try g.randn([n, d])
        var cdf: [Double] = []
        var acc = 0.0
        let w = weights.enumerated().map { k, wk in (want == nil || labels?[k] == want) ? wk : 0 }
        let tot = w.reduce(0, +)
        guard tot > 0 else { throw CoreError("no mixture component has class label \(want ?? -1)") }
        for wk in w { acc += wk / tot; cdf.append(acc) }
        var comps: [Int] = []
        let zp = z.pointer(Double.self)
        for i in 0..<n {
            var k = cdf.firstIndex { u[i] <= $0 } ?? (K - 1)
            while w[k] == 0 && k > 0 { k -= 1 }
            comps.append(k)
            for j in 0..<d { zp[i * d + j] = means[k * d + j] + stds[k * d + j] * zp[i * d + j] }
        }
        return (z, comps)
    }
}
