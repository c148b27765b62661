/// The teacher of a D-ODE fit (docs/method.md §4.2): the same start states run with K times more
/// steps on the student grid refined K times, with the student's stage points inserted, so that
/// a teacher state exists at exactly every point where a student update lands.
public enum Teacher {
    /// The default teacher: DDIM, except for solvers the catalogue marks as teaching themselves
    /// (iPNDM and DEIS, as in the reference code).
    public static func `default`(for s: Solver) -> Solver {
        s.teachesItself ? s : DDIMSolver()
    }

    /// The teacher's grid: the student grid refined k times, with the student's stage points inserted.
    public static func grid(student plan: Plan, grid: Grid, k: Int) throws -> Grid {
        guard k >= 2 else { throw CoreError("k must be an integer ≥ 2 (got \(k))") }
        let refined = try grid.refine(k)
        let extra = plan.stagePoints(of: grid)
        return extra.isEmpty ? refined : try refined.inserting(extra)
    }

    /// Teacher states at every student landing point (one tensor per evaluation). `progress`
    /// receives (steps done, steps) of the teacher run.
    public static func targets(_ teacher: Solver, den: Denoiser, x: Tensor, grid: Grid, student plan: Plan, k: Int,
                               cond: Tensor? = nil, progress: ((Int, Int) -> Void)? = nil) throws -> [Tensor] {
        let tg = try Teacher.grid(student: plan, grid: grid, k: k)
        var want: [Int] = []
        for e in plan.evaluations {
            guard let i = tg.index(ofS: e.lands.s) else {
                throw CoreError("internal: the teacher grid has no point at s = \(e.lands.s)")
            }
            want.append(i)
        }
        var done = 0
        let (_, kept) = try Sampler.sample(teacher, den, x, tg, cond: cond, keep: Set(want)) { _ in
            done += 1
            progress?(done, tg.steps)
        }
        return try want.map { i in
            guard let t = kept[i] else { throw CoreError("internal: no teacher state kept at grid index \(i)") }
            return t
        }
    }
}
