import CLua
import DodeCore
import Foundation

/// `dode.schedule.*`, schedule methods and points.
extension LuaVM {
    func installScheduleBindings() {
        doc("dode.schedule", "dode.schedule", """
            Noise schedules: vp (discrete DDPM family), vp_continuous, edm, ve. Each gives alpha, sigma, the \
            noise level s = sigma/alpha, logsnr = -log s, and points.
            """)
        def("dode.schedule.vp",
            "dode.schedule.vp{betas = 'linear' | 'scaled_linear' | 'cosine' | tensor, beta_start =, beta_end =, " +
            "steps = 1000, alphas_cumprod = tensor, interpolation = 'log_alpha' | 'sigma'}", """
            A discrete VP (DDPM) schedule with 0-based integer labels 0..steps-1. Between labels, log alpha \
            is interpolated linearly (DPM-Solver's convention, 'log_alpha', the default) or s linearly \
            (diffusers' Euler/Heun, 'sigma'). Defaults: DDPM linear betas 1e-4..0.02 over 1000 steps; \
            scaled_linear 0.00085..0.012.
            """) { a in
            let o = try a.options(1, allowed: ["betas", "beta_start", "beta_end", "steps", "alphas_cumprod",
                                               "interpolation"])
            let interp = Schedule.Interpolation(
                rawValue: try o.choice("interpolation", ["log_alpha", "sigma"]) ?? "log_alpha") ?? .logAlpha
            if let ac = try o.tensor("alphas_cumprod") {
                guard !o.has("betas") else { throw a.error("give either 'betas' or 'alphas_cumprod', not both") }
                return a.vm.pushReturning(try Schedule.vp(alphasCumprod: ac.toArray(), interpolation: interp))
            }
            if let bt = o.with("betas", { i in LuaArgs.tensorAt(a.L, i) }) {
                return a.vm.pushReturning(try Schedule.vp(betasArray: bt.toArray(), interpolation: interp))
            }
            let kind = try o.choice("betas", ["linear", "scaled_linear", "cosine"]) ?? "linear"
            let steps = try o.int("steps", in: 2...1_000_000, "an integer in 2..1000000") ?? 1000
            return a.vm.pushReturning(try Schedule.vp(betas: kind, betaStart: try o.positive("beta_start"),
                                                      betaEnd: try o.positive("beta_end"), steps: steps,
                                                      interpolation: interp))
        }
        def("dode.schedule.vp_continuous",
            "dode.schedule.vp_continuous{schedule = 'linear' | 'cosine', beta_min = 0.1, beta_max = 20}", """
            A continuous-time VP schedule, t in (0, 1] (cosine: t up to 0.9946); grids stop at t = 1e-3.
            """) { a in
            let o = try a.options(1, allowed: ["schedule", "beta_min", "beta_max"])
            return a.vm.pushReturning(try Schedule.vpContinuous(
                schedule: try o.choice("schedule", ["linear", "cosine"]) ?? "linear",
                betaMin: try o.positive("beta_min") ?? 0.1, betaMax: try o.positive("beta_max") ?? 20))
        }
        for (kind, lo, hi) in [("edm", 0.002, 80.0), ("ve", 0.02, 100.0)] {
            def("dode.schedule.\(kind)",
                "dode.schedule.\(kind){sigma_min = \(lo), sigma_max = \(hi), sigma_data = 0.5}", """
                An \(kind.uppercased()) schedule: alpha = 1, the time label is the noise level itself (t = s \
                = sigma). States are y = x0 + s·noise.
                """) { a in
                let o = try a.options(1, allowed: ["sigma_min", "sigma_max", "sigma_data"])
                return a.vm.pushReturning(try Schedule.edm(sigmaMin: try o.positive("sigma_min") ?? lo,
                                                           sigmaMax: try o.positive("sigma_max") ?? hi,
                                                           sigmaData: try o.positive("sigma_data") ?? 0.5, name: kind))
            }
        }
        def("Schedule:point", "sched:point{t = label} or {s = level} or {logsnr = l}", """
            The point at a time label, a noise level s (s = 0 gives the clean point) or a logSNR. Points \
            carry t, alpha, sigma, s, logsnr.
            """) { a in
            let sch = try a.schedule(1)
            let o = try a.options(2, allowed: ["t", "s", "logsnr"])
            let given = ["t", "s", "logsnr"].filter { o.has($0) }
            guard given.count == 1 else {
                throw a.error("give exactly one of t, s or logsnr " +
                              "(got \(given.isEmpty ? "none" : given.joined(separator: ", ")))")
            }
            if let t = try o.finite("t") { return a.push(try sch.point(t: t)) }
            if let s = try o.finite("s") { return a.push(try sch.point(s: s)) }
            return a.push(try sch.point(logsnr: try o.number("logsnr") ?? 0))
        }
        for (name, text) in [("alpha", "alpha(t)"), ("sigma", "sigma(t)"), ("s", "the noise level s(t) = sigma/alpha"),
                             ("logsnr", "logsnr(t) = log(alpha/sigma)")] {
            def("Schedule:\(name)", "sched:\(name)(t)", "The schedule's \(text) at time label t.") { a in
                let p = try a.schedule(1).point(t: try a.finite(2))
                switch name {
                case "alpha": return a.push(p.alpha)
                case "sigma": return a.push(p.sigma)
                case "s": return a.push(p.s)
                default: return a.push(p.logsnr)
                }
            }
        }
        def("Schedule:t", "sched:t{s = level} or {logsnr = l}", """
            The time label at a noise level or logSNR (the inverse maps).
            """) { a in
            let sch = try a.schedule(1)
            let o = try a.options(2, allowed: ["s", "logsnr"])
            if let s = try o.positive("s") { return a.push(try sch.t(fromS: s)) }
            if let l = try o.finite("logsnr") { return a.push(try sch.t(fromS: Foundation.exp(-l))) }
            throw a.error("give s or logsnr")
        }
        def("Schedule:range", "sched:range()", "The largest and smallest time labels grids use (t_max, t_min).") { a in
            let s = try a.schedule(1)
            _ = a.push(s.tMax)
            return 1 + a.push(s.tMin)
        }
        def("Schedule:info", "sched:info()", "A table describing the schedule (what saved fits record).") { a in
            let s = try a.schedule(1)
            lua_createtable(a.L, 0, Int32(s.config.count + 1))
            for (k, v) in s.config { lua_pushstring(a.L, v); lua_setfield(a.L, -2, k) }
            lua_pushstring(a.L, s.name); lua_setfield(a.L, -2, "name")
            return 1
        }
        def("Schedule:__tostring", "tostring(sched)", "") { a in a.push("dode.Schedule " + (try a.schedule(1)).name) }
        def("Schedule:__eq", "sched1 == sched2", "") { a in
            guard let x = LuaVM.object(a.L, 1, "dode.Schedule", as: Schedule.self),
                  let y = LuaVM.object(a.L, 2, "dode.Schedule", as: Schedule.self) else { return a.push(false) }
            return a.push(x === y)
        }

        // Points
        doc("dode.Point", "dode.Point", """
            A point of a schedule: fields t (the network's time label; nil at the clean point), alpha, \
            sigma, s = sigma/alpha and logsnr = log(alpha/sigma) (math.huge at s = 0). Immutable.
            """)
        def("Point:__get", "point.field", "") { a in
            let p = try a.point(1)
            guard a.isString(2) else { return a.pushNil() }
            switch try a.string(2) {
            case "t":
                guard let t = p.t else { return a.pushNil() }
                // Integral labels come back as Lua integers (999, not 999.0).
                return t == t.rounded() && abs(t) < 9e15 ? a.push(Int(t)) : a.push(t)
            case "alpha": return a.push(p.alpha)
            case "sigma": return a.push(p.sigma)
            case "s": return a.push(p.s)
            case "logsnr": return a.push(p.logsnr)
            case "clean": return a.push(p.isClean)
            default: return a.pushNil()
            }
        }
        def("Point:__tostring", "tostring(point)", "") { a in a.push("dode.Point" + (try a.point(1)).description) }
        def("Point:__eq", "p1 == p2", "") { a in
            guard let x = LuaVM.object(a.L, 1, "dode.Point", as: PointBox.self),
                  let y = LuaVM.object(a.L, 2, "dode.Point", as: PointBox.self) else { return a.push(false) }
            return a.push(x.p == y.p)
        }
    }

    func pushReturning(_ s: Schedule) -> Int32 { push(s); return 1 }
}
