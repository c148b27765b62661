import CLua
import DodeCore
import Foundation

/// `dode.grid.*` and grid methods. Grids are 1-based in Lua: grid[1] is the first (noisiest)
/// point, grid[#grid] the final one.
extension LuaVM {
    func installGridBindings() {
        doc("dode.grid", "dode.grid", """
            Grids: decreasing lists of points ending with the final point. Builders: uniform, quadratic, \
            logsnr, karras, discrete (diffusers' DDIM spacings), timesteps, sigmas, points. n counts steps: \
            #grid == n + 1 (n with final = 'none').
            """)
        let finalText = " Options: final = 'zero' (default: s = 0), 'sigma_min' (the schedule's smallest level) " +
                        "or 'none'."
        func final(_ o: LuaOptions) throws -> Grid.Final {
            Grid.Final(rawValue: try o.choice("final", ["zero", "sigma_min", "none"]) ?? "zero") ?? .zero
        }
        for (name, text) in [("uniform", "uniform in t"),
                             ("quadratic", "uniform in sqrt(t) (DPM-Solver's time_quadratic)"),
                             ("logsnr", "uniform in logSNR")] {
            def("dode.grid.\(name)", "dode.grid.\(name)(schedule, n [, {final =}])",
                "n levels \(text) from the schedule's largest time (999, or t = 1) to its smallest " +
                "(0, or t = 1e-3), then the final point." + finalText) { a in
                let s = try a.schedule(1), n = try a.int(2, in: 1...1_000_000, "a step count in 1..1000000")
                let o = try a.options(3, allowed: ["final"])
                switch name {
                case "uniform": return a.push(try Grid.uniform(s, n, final: try final(o)))
                case "quadratic": return a.push(try Grid.quadratic(s, n, final: try final(o)))
                default: return a.push(try Grid.logsnr(s, n, final: try final(o)))
                }
            }
        }
        def("dode.grid.karras", "dode.grid.karras(schedule, n [, {sigma_min =, sigma_max =, rho = 7, final =}])",
            "k-diffusion's get_sigmas_karras(n): n noise levels from sigma_max to sigma_min uniform in " +
            "sigma^(1/rho), then the final point (0 by default). sigma_min/max default to the schedule's." +
            finalText) { a in
            let s = try a.schedule(1), n = try a.int(2, in: 1...1_000_000, "a step count in 1..1000000")
            let o = try a.options(3, allowed: ["sigma_min", "sigma_max", "rho", "final"])
            return a.push(try Grid.karras(s, n, sigmaMin: try o.positive("sigma_min"),
                                          sigmaMax: try o.positive("sigma_max"),
                                          rho: try o.positive("rho") ?? 7, final: try final(o)))
        }
        def("dode.grid.discrete",
            "dode.grid.discrete(schedule, n [, {spacing = 'leading' | 'trailing' | 'linspace', steps_offset = 0, " +
            "final =}])",
            "Exactly the integer timesteps of diffusers' DDIMScheduler for that spacing " +
            "(leading: k*(N//n) + offset; trailing: round(arange(N, 0, -N/n)) - 1; " +
            "linspace: round(linspace(0, N-1, n)) reversed), then the final point." + finalText) { a in
            let s = try a.schedule(1), n = try a.int(2, in: 1...1_000_000, "a step count in 1..1000000")
            let o = try a.options(3, allowed: ["spacing", "steps_offset", "final"])
            return a.push(try Grid.discrete(
                s, n, spacing: try o.choice("spacing", ["leading", "trailing", "linspace"]) ?? "leading",
                stepsOffset: try o.int("steps_offset", in: 0...1_000_000, "a non-negative integer") ?? 0,
                final: try final(o)))
        }
        def("dode.grid.timesteps", "dode.grid.timesteps(schedule, {t1, t2, ...} [, {final =}])",
            "Exactly the listed time labels (decreasing), then the final point." + finalText) { a in
            let s = try a.schedule(1), ts = try a.numbers(2)
            let o = try a.options(3, allowed: ["final"])
            return a.push(try Grid.timesteps(s, ts, final: try final(o)))
        }
        def("dode.grid.sigmas", "dode.grid.sigmas(schedule, {s1, s2, ...} [, {final =}])",
            "Exactly the listed noise levels s (decreasing), then the final point; refined in s." + finalText) { a in
            let s = try a.schedule(1), ls = try a.numbers(2)
            let o = try a.options(3, allowed: ["final"])
            return a.push(try Grid.sigmas(s, ls, final: try final(o)))
        }
        def("dode.grid.points",
            "dode.grid.points(schedule, {p1, p2, ...} [, {variable = 't' | 'logsnr' | 's' | 'karras', rho = 7}])", """
            A grid from explicit points (e.g. an edited copy of grid:points()); the last may be the clean \
            point.
            """) { a in
            let s = try a.schedule(1)
            try a.table(2, "a table of points")
            let n = Int(lua_rawlen(a.L, 2))
            var pts: [Point] = []
            for k in 0..<n {
                lua_rawgeti(a.L, 2, lua_Integer(k + 1))
                let b = LuaVM.object(a.L, -1, "dode.Point", as: PointBox.self)
                dode_pop(a.L, 1)
                guard let b else {
                    throw a.error("argument 2 must be a table of points (entry \(k + 1) is not a dode.Point)")
                }
                pts.append(b.p)
            }
            let o = try a.options(3, allowed: ["variable", "rho"])
            let v: Grid.Variable
            switch try o.choice("variable", ["t", "logsnr", "s", "karras"]) ?? "t" {
            case "logsnr": v = .logsnr
            case "s": v = .s
            case "karras": v = .karras(rho: try o.positive("rho") ?? 7)
            default: v = .t
            }
            return a.push(try Grid.points(s, pts, variable: v))
        }
        def("Grid:refine", "grid:refine(k)", """
            A new grid with k - 1 points inserted uniformly (in the grid's own variable) in every interval; \
            every original point is kept exactly. The final interval into s = 0 is refined in t for VP \
            schedules (the clean point counts as t = -1 for discrete ones) and in s^(1/7) otherwise.
            """) { a in
            let g = try a.grid(1)
            return a.push(try g.refine(try a.int(2, in: 1...100_000, "a positive integer factor")))
        }
        def("Grid:points", "grid:points()", "The points as a Lua table (1-based).") { a in
            let g = try a.grid(1)
            lua_createtable(a.L, Int32(g.count), 0)
            for (i, p) in g.points.enumerated() { a.vm.push(p); lua_rawseti(a.L, -2, lua_Integer(i + 1)) }
            return 1
        }
        def("Grid:levels", "grid:levels()", "The noise levels s of every point as a tensor.") { a in
            let g = try a.grid(1)
            return a.push(try Tensor(g.points.map(\.s), shape: [g.count]))
        }
        def("Grid:timesteps", "grid:timesteps()", """
            The time labels as a Lua table (the clean point has none, so it is left out).
            """) { a in
            a.push(numbers: try a.grid(1).points.compactMap(\.t))
        }
        def("Grid:sub", "grid:sub(i, j)", "The points i..j (1-based, inclusive) as a new grid.") { a in
            let g = try a.grid(1)
            let i = try a.index(2, size: g.count), j = try a.index(3, size: g.count)
            guard j > i else { throw a.error("the sub-grid needs j > i (got \(i + 1), \(j + 1))") }
            return a.push(try Grid(schedule: g.schedule, points: Array(g.points[i...j]), variable: g.variable,
                                   final: g.points[j].isClean ? .zero : .none,
                                   origin: "\(g.origin)[\(i + 1)..\(j + 1)]"))
        }
        def("Grid:schedule", "grid:schedule()", "The schedule the grid's points come from.") { a in
            a.vm.push(try a.grid(1).schedule); return 1
        }
        def("Grid:steps", "grid:steps()", "Number of steps (#grid - 1).") { a in a.push(try a.grid(1).steps) }
        def("Grid:__len", "#grid", "") { a in a.push(try a.grid(1).count) }
        def("Grid:__get", "grid[i]", "") { a in
            let g = try a.grid(1)
            if !a.isNumber(2) { return a.pushNil() }
            return a.push(g[try a.index(2, size: g.count)])
        }
        def("Grid:__tostring", "tostring(grid)", "") { a in a.push((try a.grid(1)).description) }
        def("Grid:__eq", "g1 == g2", "") { a in
            guard let x = LuaVM.object(a.L, 1, "dode.Grid", as: GridBox.self),
                  let y = LuaVM.object(a.L, 2, "dode.Grid", as: GridBox.self) else { return a.push(false) }
            return a.push(x.g.points == y.g.points)
        }
    }
}
