/// The normal-equation sums of one evaluation of a D-ODE fit (docs/method.md §4.3): for the
/// directions Δ_m and the residual T − b of the uncorrected landing,
/// G[m][n] = ⟨Δ_m, Δ_n⟩, r[m] = ⟨Δ_m, T − b⟩, rss = ‖T − b‖², and the number of coordinates.
///
/// Every sum is exact (`ExactSum` over per-sample dot products), so the statistics of several
/// batches, threads or processes add to bit-for-bit those of their union, and λ does not depend
/// on how the fitting batch was split — in particular not on the number of MPI ranks.
public struct FitStatistics: Sendable {
    public var G: [[ExactSum]]
    public var r: [ExactSum]
    public var rss: ExactSum
    /// Coordinates summed over (samples × features).
    public var count: Int
    /// Whether each direction exists at this evaluation (none before the first evaluation).
    public var exists: [Bool]

    public init(directions m: Int) {
        G = [[ExactSum]](repeating: [ExactSum](repeating: ExactSum(), count: m), count: m)
        r = [ExactSum](repeating: ExactSum(), count: m)
        rss = ExactSum()
        count = 0
        exists = [Bool](repeating: false, count: m)
    }

    /// Adds another part's sums (exactly).
    public mutating func add(_ o: FitStatistics) {
        for i in 0..<r.count {
            r[i].add(o.r[i])
            for j in 0..<r.count { G[i][j].add(o.G[i][j]) }
        }
        rss.add(o.rss)
        count += o.count
        for i in 0..<exists.count { exists[i] = exists[i] || o.exists[i] }
    }

    /// Adds every rank's sums: one collective of (m² + m + 2) exact sums, then the counts.
    public mutating func reduce(over world: Communicator) throws {
        if world.size == 1 { return }
        let m = r.count
        var all = G.flatMap { $0 } + r + [rss]
        try world.allreduce(&all)
        for i in 0..<m { for j in 0..<m { G[i][j] = all[i * m + j] } }
        for i in 0..<m { r[i] = all[m * m + i] }
        rss = all[m * m + m]
        let meta = try world.allreduce([Double(count)] + exists.map { $0 ? 1 : 0 }, op: .sum)
        count = Int(meta[0])
        exists = meta.dropFirst().map { $0 > 0 }
    }

    /// The sums rounded to Double.
    public var values: (G: [[Double]], r: [Double], rss: Double) {
        (G.map { $0.map(\.value) }, r.map(\.value), rss.value)
    }
}
