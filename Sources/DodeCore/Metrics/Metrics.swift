import CBLAS
import Foundation

/// Sample-quality metrics (docs/method.md §7). Inputs are N×d tensors (any dtype); sums in Double.
public enum Metrics {
    /// A problem found on this rank, reported the same way on every rank (`Communicator.agree`);
    /// without a world it is simply thrown.
    static func agree(_ problem: String?, _ world: Communicator?) throws {
        if let world { try world.agree(problem) } else if let problem { throw CoreError(problem) }
    }

    /// The rows of `t` as Double: n samples of d features, d the product of the dimensions after
    /// the first. With `world`, every rank checks its own rows and learns whether any rank's are
    /// malformed, so every rank throws the same error (and none waits in a later collective); a
    /// rank may hold no rows, but every rank's d must agree and some rank must hold a row.
    /// `total` is the number of rows over every rank.
    static func matrix(_ t: Tensor, _ what: String,
                       world: Communicator? = nil) throws -> (v: [Double], n: Int, d: Int, total: Int) {
        let n = t.rank >= 1 ? t.shape[0] : 0, d = t.shape.dropFirst().reduce(1, *)
        var problem: String?
        if t.rank == 0 {
            problem = "\(what) must be a batch (got a 0-D tensor)"
        } else if d == 0 {
            problem = "\(what) has no features (got shape \(formatShape(t.shape)))"
        } else if t.hasNonFinite() {
            problem = "\(what) contains NaN or Inf"
        }
        try agree(problem, world)
        var total = n
        if let world, world.size > 1 {
            try world.requireSame("\(what)'s features per sample", [Int64(d)]) { String($0[0]) }
            total = Int(try world.allreduce([Double(n)], op: .sum)[0])
        }
        guard total >= 1 else {
            throw CoreError("\(what) must be a non-empty batch (got shape \(formatShape(t.shape))" +
                            (world.map { $0.size > 1 } == true ? " on every rank)" : ")"))
        }
        return (t.contiguous().to(.float64).toArray(), n, d, total)
    }

    /// Checks that a and b pair up (the same shape on this rank), on every rank alike.
    static func samePairs(_ a: Tensor, _ b: Tensor, _ world: Communicator?) throws {
        try agree(a.shape == b.shape ? nil
                  : "shapes \(formatShape(a.shape)) and \(formatShape(b.shape)) differ", world)
    }

    /// √(mean((a − b)²)) over every element: an exact sum of per-sample sums of squares, so the
    /// value does not depend on the batch split. With `world`, a and b are this rank's rows (a rank
    /// may hold none) and the result is that of every rank's rows together (the same bits on any
    /// number of ranks).
    public static func rmse(_ a: Tensor, _ b: Tensor, world: Communicator? = nil) throws -> Double {
        try samePairs(a, b, world)
        try agree(a.rank == 0 ? "a must be a batch (got a 0-D tensor)"
                  : a.hasNonFinite() ? "a contains NaN or Inf"
                  : b.hasNonFinite() ? "b contains NaN or Inf" : nil, world)
        let diff = try Tensor.binary(.sub, a.to(.float64), b.to(.float64))
        var sums = [try diff.exactDot(diff)]
        var n = Double(diff.count)
        if let world, world.size > 1 {
            try world.allreduce(&sums)
            n = try world.allreduce([n], op: .sum)[0]
        }
        guard n > 0 else { throw CoreError("a must be a non-empty batch (got shape \(formatShape(a.shape)))") }
        return (sums[0].value / n).squareRoot()
    }

    /// Per-sample RMS errors (row i: √(mean_j (a_ij − b_ij)²)) of this rank's rows.
    public static func perSample(_ a: Tensor, _ b: Tensor) throws -> [Double] {
        try perSample(a, b, world: nil)
    }

    static func perSample(_ a: Tensor, _ b: Tensor, world: Communicator?) throws -> [Double] {
        try samePairs(a, b, world)
        let (x, n, d, _) = try matrix(a, "a", world: world), (y, _, _, _) = try matrix(b, "b", world: world)
        return (0..<n).map { i in
            var s = 0.0
            for j in 0..<d { let e = x[i * d + j] - y[i * d + j]; s += e * e }
            return (s / Double(d)).squareRoot()
        }
    }

    /// Every rank's values joined in rank order (the values themselves without `world`).
    static func joined(_ v: [Double], _ world: Communicator?) throws -> [Double] {
        guard let world, world.size > 1 else { return v }
        let parts = try world.allgather(bytes: v.withUnsafeBytes { Array($0) })
        return parts.flatMap { p in p.withUnsafeBytes { Array($0.bindMemory(to: Double.self)) } }
    }

    /// Median over every rank's samples of the per-sample RMS error.
    public static func medianError(_ a: Tensor, _ b: Tensor, world: Communicator? = nil) throws -> Double {
        median(try joined(try perSample(a, b, world: world), world))
    }

    public static func median(_ v: [Double]) -> Double {
        guard !v.isEmpty else { return .nan }
        let s = v.sorted(), m = s.count / 2
        return s.count % 2 == 1 ? s[m] : 0.5 * (s[m - 1] + s[m])
    }

    /// Sliced Wasserstein-2 distance: √(mean over `projections` random unit directions of the
    /// squared 1-D W2 between the projected samples), quantiles matched on a common grid so the
    /// sets may differ in size. Seeded by `g`; symmetric in a, b. With `world`, a and b are this
    /// rank's rows: each rank projects its own rows and the projections are gathered, so the
    /// value equals the single-process one bit for bit.
    public static func slicedWasserstein(_ a: Tensor, _ b: Tensor, projections: Int = 128, generator g: Generator,
                                         world: Communicator? = nil) throws -> Double {
        guard projections >= 1, projections <= 100_000 else { throw CoreError("projections must be in 1..100000") }
        let (x, n, d, _) = try matrix(a, "a", world: world), (y, m, d2, _) = try matrix(b, "b", world: world)
        guard d == d2 else { throw CoreError("a has \(d) features per sample, b has \(d2)") }
        let dirs = try g.randn([projections, d]).toArray()
        let norms = (0..<projections).map { p in
            (0..<d).reduce(0.0) { $0 + dirs[p * d + $1] * dirs[p * d + $1] }.squareRoot()
        }
        /// Row-major rows × projections of the projected samples.
        func project(_ v: [Double], _ rows: Int) -> [Double] {
            var out = [Double](repeating: 0, count: rows * projections)
            for i in 0..<rows {
                for p in 0..<projections {
                    out[i * projections + p] = (0..<d).reduce(0.0) { $0 + v[i * d + $1] * dirs[p * d + $1] } / norms[p]
                }
            }
            return out
        }
        let pa = try joined(project(x, n), world), pb = try joined(project(y, m), world)
        let na = pa.count / projections, nb = pb.count / projections
        let q = Swift.max(na, nb)
        func quantiles(_ s: [Double]) -> [Double] {
            let k = s.count
            return (0..<q).map { i in
                let u = (Double(i) + 0.5) / Double(q) * Double(k) - 0.5
                let lo = Swift.max(0, Swift.min(k - 1, Int(u.rounded(.down)))), hi = Swift.min(k - 1, lo + 1)
                let f = Swift.max(0, Swift.min(1, u - Double(lo)))
                return s[lo] * (1 - f) + s[hi] * f
            }
        }
        var total = 0.0
        for p in 0..<projections {
            let qa = quantiles((0..<na).map { pa[$0 * projections + p] }.sorted())
            let qb = quantiles((0..<nb).map { pb[$0 * projections + p] }.sorted())
            var w = 0.0
            for i in 0..<q { let e = qa[i] - qb[i]; w += e * e }
            total += w / Double(q)
        }
        return (total / Double(projections)).squareRoot()
    }

    /// Unbiased MMD² with an RBF kernel k(x, y) = exp(−‖x − y‖²/(2h²)); h defaults to the median
    /// heuristic (median pairwise distance of the pooled samples, over at most ~20000 pairs).
    /// Returns (mmd², h). The pair sums are exact sums of per-row partial sums, over both cores;
    /// with `world` (a and b are this rank's rows) the rows are gathered and each rank sums its
    /// share of the pairs, with the same bits as one process.
    public static func mmd(_ a: Tensor, _ b: Tensor, bandwidth: Double? = nil,
                           world: Communicator? = nil) throws -> (Double, Double) {
        if let bandwidth, !(bandwidth > 0 && bandwidth.isFinite) {
            throw CoreError("MMD bandwidth must be a positive finite number (got \(bandwidth))")
        }
        let (xl, _, d, n) = try matrix(a, "a", world: world), (yl, _, d2, m) = try matrix(b, "b", world: world)
        guard d == d2 else { throw CoreError("a has \(d) features per sample, b has \(d2)") }
        let x = try joined(xl, world), y = try joined(yl, world)
        guard n >= 2, m >= 2 else { throw CoreError("MMD needs at least 2 samples in each set") }
        let all = x + y, N = n + m
        func dist2(_ i: Int, _ j: Int) -> Double {
            var s = 0.0
            for k in 0..<d { let e = all[i * d + k] - all[j * d + k]; s += e * e }
            return s
        }
        var h = bandwidth ?? 0
        if bandwidth == nil {
            var ds: [Double] = []
            let stride = Swift.max(1, N * (N - 1) / 2 / 20000)
            var c = 0
            for i in 0..<N { for j in (i + 1)..<N { if c % stride == 0 { ds.append(dist2(i, j)) }; c += 1 } }
            h = median(ds).squareRoot()
        }
        guard h > 0, h.isFinite else {
            throw CoreError("MMD bandwidth must be positive (the samples may all be identical)")
        }
        let g = 1 / (2 * h * h)
        // Row i's sums over j > i, for this rank's rows of the pooled set.
        let mine = world.map { $0.rows(of: N) } ?? 0..<N
        var partial = [Double](repeating: 0, count: 3 * mine.count)
        partial.withUnsafeMutableBufferPointer { buf in
            let out = UnsafeSendable(buf.baseAddress!)
            Parallel.forRanges(count: mine.count, grain: 1) { r in
                for q in r {
                    let i = mine.lowerBound + q
                    var kxx = 0.0, kyy = 0.0, kxy = 0.0
                    for j in (i + 1)..<Swift.max(N, i + 1) {
                        let k = Foundation.exp(-g * dist2(i, j))
                        if i < n && j < n { kxx += k } else if i >= n && j >= n { kyy += k } else { kxy += k }
                    }
                    out.value[3 * q] = kxx; out.value[3 * q + 1] = kyy; out.value[3 * q + 2] = kxy
                }
            }
        }
        var sums = [ExactSum(), ExactSum(), ExactSum()]
        for q in 0..<mine.count { for c in 0..<3 { sums[c].add(partial[3 * q + c]) } }
        if let world { try world.allreduce(&sums) }
        let v = 2 * sums[0].value / Double(n * (n - 1)) + 2 * sums[1].value / Double(m * (m - 1))
            - 2 * sums[2].value / Double(n * m)
        return (v, h)
    }

    /// Mean and covariance (unbiased) of the rows. With `world` the rows of every rank count:
    /// the sums and the centred cross-products (about the global mean) are added over the ranks.
    /// Widest feature vector a covariance is formed for: d×d Float64 matrices and Jacobi
    /// eigendecompositions (O(d³) per sweep) of 4096 features take seconds and 128 MB each; raw
    /// images (d in the hundreds of thousands) would need terabytes and days.
    public static let maxCovarianceWidth = 4096

    static func checkCovarianceWidth(_ d: Int) throws {
        guard d <= maxCovarianceWidth else {
            throw CoreError("\(d) features per sample: a covariance is formed for at most \(maxCovarianceWidth) " +
                            "(pass features, e.g. dode.features.digits, rather than raw images)")
        }
    }

    public static func moments(_ t: Tensor,
                               world: Communicator? = nil) throws -> (mean: [Double], cov: [Double], d: Int) {
        let (x, nl, d, total) = try matrix(t, "features", world: world)
        try checkCovarianceWidth(d)   // the same d on every rank (matrix checked it): no rank goes on alone
        var mu = [Double](repeating: 0, count: d)
        for i in 0..<nl { for j in 0..<d { mu[j] += x[i * d + j] } }
        let n = Double(total)
        if let world, world.size > 1 { mu = try world.allreduce(mu, op: .sum) }
        guard n >= 2 else { throw CoreError("at least 2 samples are needed for a covariance") }
        for j in 0..<d { mu[j] /= n }
        var c = [Double](repeating: 0, count: d * d)
        var cen = x
        for i in 0..<nl { for j in 0..<d { cen[i * d + j] -= mu[j] } }
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, Int32(d), Int32(nl), 1, cen, Int32(d), 0, &c, Int32(d))
        if let world, world.size > 1 { c = try world.allreduce(c, op: .sum) }
        for i in 0..<d { for j in i..<d { c[i * d + j] /= n - 1; c[j * d + i] = c[i * d + j] } }
        return (mu, c, d)
    }

    /// Fréchet distance between Gaussians N(μ1, Σ1) and N(μ2, Σ2):
    /// ‖μ1 − μ2‖² + tr Σ1 + tr Σ2 − 2 tr (Σ1^{1/2} Σ2 Σ1^{1/2})^{1/2}, with the square roots of
    /// symmetric PSD matrices from Jacobi eigendecompositions (negative eigenvalues from rounding
    /// clipped to 0).
    public static func frechet(mu1: [Double], cov1: [Double], mu2: [Double], cov2: [Double], d: Int) throws -> Double {
        try checkCovarianceWidth(d)
        guard mu1.count == d, mu2.count == d, cov1.count == d * d, cov2.count == d * d else {
            throw CoreError("feature dimensions differ")
        }
        let s1 = try LinearAlgebra.sqrtPSD(cov1, d)
        var m = [Double](repeating: 0, count: d * d), t = m
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(d), Int32(d), Int32(d), 1, s1, Int32(d),
                    cov2, Int32(d), 0, &t, Int32(d))
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(d), Int32(d), Int32(d), 1, t, Int32(d),
                    s1, Int32(d), 0, &m, Int32(d))
        for i in 0..<d {
            for j in 0..<i { let a = 0.5 * (m[i * d + j] + m[j * d + i]); m[i * d + j] = a; m[j * d + i] = a }
        }
        let (ev, _) = try LinearAlgebra.symmetricEigen(m, d, vectors: false)
        var trSqrt = 0.0
        for e in ev { trSqrt += Swift.max(e, 0).squareRoot() }
        var dm = 0.0, tr = 0.0
        for j in 0..<d { dm += (mu1[j] - mu2[j]) * (mu1[j] - mu2[j]); tr += cov1[j * d + j] + cov2[j * d + j] }
        return Swift.max(0, dm + tr - 2 * trSqrt)
    }

    /// Fréchet distance between two feature sets (rows are samples; with `world`, this rank's rows).
    public static func frechet(_ a: Tensor, _ b: Tensor, world: Communicator? = nil) throws -> Double {
        let ma = try moments(a, world: world), mb = try moments(b, world: world)
        guard ma.d == mb.d else { throw CoreError("a has \(ma.d) features per sample, b has \(mb.d)") }
        return try frechet(mu1: ma.mean, cov1: ma.cov, mu2: mb.mean, cov2: mb.cov, d: ma.d)
    }
}

/// Small dense symmetric linear algebra in Double.
public enum LinearAlgebra {
    /// Eigenvalues (and optionally eigenvectors as columns of a row-major d×d matrix) of a
    /// symmetric matrix by cyclic Jacobi rotations.
    public static func symmetricEigen(_ a: [Double], _ d: Int, vectors: Bool) throws -> ([Double], [Double]) {
        guard a.count == d * d else { throw CoreError("expected a \(d)x\(d) matrix") }
        var m = a
        var v = [Double](repeating: 0, count: vectors ? d * d : 0)
        if vectors { for i in 0..<d { v[i * d + i] = 1 } }
        for _ in 0..<100 {
            var off = 0.0, scale = 0.0
            for i in 0..<d {
                for j in 0..<d {
                    if i != j { off += m[i * d + j] * m[i * d + j] } else { scale += m[i * d + j] * m[i * d + j] }
                }
            }
            if off <= 1e-30 * Swift.max(scale, 1e-300) { break }
            for p in 0..<d {
                for q in (p + 1)..<Swift.max(d, p + 1) {
                    let apq = m[p * d + q]
                    if abs(apq) < 1e-300 { continue }
                    let theta = (m[q * d + q] - m[p * d + p]) / (2 * apq)
                    let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                    let c = 1 / (t * t + 1).squareRoot(), s = t * c
                    for k in 0..<d {
                        let mkp = m[k * d + p], mkq = m[k * d + q]
                        m[k * d + p] = c * mkp - s * mkq
                        m[k * d + q] = s * mkp + c * mkq
                    }
                    for k in 0..<d {
                        let mpk = m[p * d + k], mqk = m[q * d + k]
                        m[p * d + k] = c * mpk - s * mqk
                        m[q * d + k] = s * mpk + c * mqk
                    }
                    if vectors {
                        for k in 0..<d {
                            let vkp = v[k * d + p], vkq = v[k * d + q]
                            v[k * d + p] = c * vkp - s * vkq
                            v[k * d + q] = s * vkp + c * vkq
                        }
                    }
                }
            }
        }
        return ((0..<d).map { m[$0 * d + $0] }, v)
    }

    /// The PSD square root of a symmetric matrix.
    public static func sqrtPSD(_ a: [Double], _ d: Int) throws -> [Double] {
        let (ev, v) = try symmetricEigen(a, d, vectors: true)
        var out = [Double](repeating: 0, count: d * d)
        for k in 0..<d {
            let r = Swift.max(ev[k], 0).squareRoot()
            if r == 0 { continue }
            for i in 0..<d { let vi = v[i * d + k] * r; for j in 0..<d { out[i * d + j] += vi * v[j * d + k] } }
        }
        return out
    }
}
