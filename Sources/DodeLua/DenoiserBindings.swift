import CLua
import DodeCore
import Foundation

/// `dode.denoiser.*` and denoiser methods.
extension LuaVM {
    func installDenoiserBindings() {
        doc("dode.denoiser", "dode.denoiser", """
            Denoisers: callable as den(x, point [, cond]) -> x0 prediction for a state x in the schedule's \
            own space (x for VP, y for EDM/VE). Builders: gmm (exact mixture), empirical (exact for a finite \
            data set), mlp (a trained network), unet (a diffusers UNet2DModel checkpoint), fn (a Lua \
            function), cfg (classifier-free guidance).
            """)
        def("dode.denoiser.gmm",
            "dode.denoiser.gmm{file = 'mixture.json' | weights =, means =, stds =, labels =, schedule =}", """
            The exact posterior-mean denoiser of a Gaussian mixture with per-axis standard deviations \
            (Float64, fused kernel). From a mixture file or from tables/tensors (weights K, means K×d, stds \
            K×d; labels: one class per component makes it conditional).
            """) { a in
            let o = try a.options(1, allowed: ["file", "weights", "means", "stds", "labels", "schedule", "name"])
            guard let sch = try o.schedule("schedule") else { throw o.fail("schedule", "a dode.Schedule") }
            if let f = try o.string("file") {
                for k in ["weights", "means", "stds", "labels"] where o.has(k) {
                    throw a.error("give either 'file' or '\(k)', not both")
                }
                a.vm.push(denoiser: try MixtureDenoiser.load(path: f, schedule: sch))
                return 1
            }
            guard let w = try o.numbers("weights") else {
                throw o.fail("weights", "a table of numbers or a tensor (or give 'file')")
            }
            let means = try a.vm.matrix(o, "means"), stds = try a.vm.matrix(o, "stds")
            let labels = try o.numbers("labels").map { try $0.map { v -> Int in
                guard v == v.rounded(), abs(v) < 1e9 else { throw o.fail("labels", "integers") }
                return Int(v)
            } }
            a.vm.push(denoiser: try MixtureDenoiser(weights: w, means: means, stds: stds, labels: labels, schedule: sch,
                                                    name: try o.string("name") ?? "mixture"))
            return 1
        }
        def("dode.denoiser.empirical", "dode.denoiser.empirical{data = X, schedule =}", """
            The exact optimal denoiser of a finite data set X (N×d): a softmax over the data points, batched \
            as matrix products.
            """) { a in
            let o = try a.options(1, allowed: ["data", "schedule"])
            guard let sch = try o.schedule("schedule") else { throw o.fail("schedule", "a dode.Schedule") }
            guard let x = try o.tensor("data") else { throw o.fail("data", "an N×d tensor") }
            a.vm.push(denoiser: try EmpiricalDenoiser(data: x, schedule: sch))
            return 1
        }
        def("dode.denoiser.mlp",
            "dode.denoiser.mlp{path = folder | config = 'config.json', weights = 'w.safetensors', " +
            "schedule =, predicts =}", """
            A time-conditioned MLP in dode's format (config.json + weights.safetensors; see \
            Models/digits_mlp). The schedule defaults to the one the config records; predicts (eps, x0, v, \
            edm) defaults to the config's.
            """) { a in
            let o = try a.options(1, allowed: ["path", "config", "weights", "schedule", "predicts"])
            var cfg = try o.string("config"), w = try o.string("weights")
            if let p = try o.string("path") {
                cfg = cfg ?? p + "/config.json"
                w = w ?? p + "/weights.safetensors"
            }
            guard let cfg, let w else { throw a.error("give 'path' (a model folder) or both 'config' and 'weights'") }
            let net = try MLPNetwork(configPath: cfg, weightsPath: w)
            let sch = try o.schedule("schedule") ?? (try Schedule.fromModelConfig(net.config, source: cfg))
            let pred = try o.choice("predicts", Prediction.allCases.map(\.rawValue)).flatMap(Prediction.init(rawValue:))
            a.vm.push(denoiser: try NetworkDenoiser(network: net, schedule: sch, prediction: pred,
                                                    name: (cfg as NSString).deletingLastPathComponent))
            return 1
        }
        def("dode.denoiser.unet",
            "dode.denoiser.unet{path = 'folder', schedule = vp, predicts = 'eps' | 'x0' | 'v', clip = c, " +
            "threshold = ratio, threshold_max = 1}", """
            A diffusers UNet2DModel checkpoint run natively (Float32, both cores): `path` is a pipeline \
            folder (with unet/ and maybe scheduler/), the unet folder itself (config.json + \
            diffusion_pytorch_model.safetensors), or a single-model folder with scheduler_config.json beside \
            config.json. The prediction type comes from the scheduler config when present (an option that \
            disagrees is an error), else from `predicts` (default eps). The schedule must be the discrete VP \
            schedule the model was trained with. The x0 prediction is unclipped unless `clip` (clamp to ±c) \
            or `threshold` (dynamic thresholding: per sample the `ratio` quantile s of |x0|, clamped to [1, \
            threshold_max]; x0 = clamp(x0, −s, s)/s) is given. Class labels (num_class_embeds / \
            class_embed_type = 'timestep') or embeddings ('identity') arrive as cond. x may be B×C×H×W or \
            B×(C·H·W).
            """) { a in
            let o = try a.options(1, allowed: ["path", "schedule", "predicts", "clip", "threshold", "threshold_max"])
            guard let path = try o.string("path") else {
                throw o.fail("path", "a folder (a diffusers pipeline or its unet folder)")
            }
            guard let sch = try o.schedule("schedule") else {
                throw o.fail("schedule", "a dode.Schedule (the discrete VP schedule the model was trained with, " +
                                         "e.g. dode.schedule.vp())")
            }
            let pred = try o.choice("predicts", ["eps", "x0", "v"]).flatMap(Prediction.init(rawValue:))
            let den = try UNetDenoiser.load(path: path, schedule: sch, predicts: pred)
            den.clip = try o.positive("clip")
            if let r = try o.number("threshold") {
                guard r > 0, r <= 1 else { throw o.fail("threshold", "a quantile ratio in (0, 1]") }
                let mx = try o.positive("threshold_max") ?? 1
                guard mx >= 1 else { throw o.fail("threshold_max", "a number ≥ 1") }
                den.threshold = (r, mx)
            } else if o.has("threshold_max") {
                throw a.error("'threshold_max' needs 'threshold'")
            }
            a.vm.push(denoiser: den)
            return 1
        }
        def("dode.denoiser.fn",
            "dode.denoiser.fn(function(x, point [, cond]) ... end, " +
            "{schedule =, predicts = 'x0' | 'eps' | 'v' | 'edm', dim =, conditional = false})", """
            A denoiser written in Lua. The function receives the network input and the point and returns its \
            raw output, which `predicts` converts to an x0 prediction (default: it returns x0 itself).
            """) { a in
            try a.function(1)
            let o = try a.options(2, allowed: ["schedule", "predicts", "dim", "conditional"])
            guard let sch = try o.schedule("schedule") else { throw o.fail("schedule", "a dode.Schedule") }
            let pred = Prediction(rawValue: try o.choice("predicts", Prediction.allCases.map(\.rawValue)) ?? "x0")
                ?? .x0
            let dim = try o.int("dim", in: 1...Int(Int32.max), "a positive integer")
            lua_pushvalue(a.L, 1)
            let ref = dode_ref(a.L)
            a.vm.push(denoiser: LuaFunctionDenoiser(vm: a.vm, ref: ref, schedule: sch, prediction: pred, dim: dim,
                                                    conditional: try o.bool("conditional") ?? false))
            return 1
        }
        def("dode.denoiser.cfg", "dode.denoiser.cfg(den, w, {cond = labels, uncond = label_or_nil})", """
            Classifier-free guidance as a denoiser: D_u + w·(D_c − D_u), D_c with the class labels `cond` (a \
            number or one per sample), D_u with `uncond` (or no label). w = 1 is purely conditional.
            """) { a in
            let den = try a.denoiser(1), w = try a.finite(2)
            let o = try a.options(3, allowed: ["cond", "uncond"])
            guard let cond = try o.labels("cond") else { throw o.fail("cond", "a class label or a tensor of labels") }
            a.vm.push(denoiser: try GuidanceDenoiser(base: den, scale: w, cond: cond, uncond: try o.finite("uncond")))
            return 1
        }

        // Methods
        def("Denoiser:__call", "den(x, point [, cond])",
            "The x0 prediction at point for state x (a new tensor).") { a in
            let d = try a.denoiser(1), x = try a.tensor(2), p = try a.point(3)
            return a.push(try d.denoise(x, at: p, cond: try a.optTensorOrNumber(4)))
        }
        def("Denoiser:into", "den:into(out, x, point [, cond])", """
            Destination-first form: writes the x0 prediction into `out` (x's shape and dtype) without \
            allocating. Returns out.
            """) { a in
            let d = try a.denoiser(1), out = try a.tensor(2), x = try a.tensor(3), p = try a.point(4)
            try d.denoise(x, at: p, cond: try a.optTensorOrNumber(5), into: out)
            lua_settop(a.L, 2); return 1
        }
        def("Denoiser:schedule", "den:schedule()", "The schedule the denoiser was built for.") { a in
            a.vm.push(try a.denoiser(1).schedule); return 1
        }
        def("Denoiser:dim", "den:dim()", "Features per sample (nil when not fixed).") { a in
            (try a.denoiser(1)).featureSize.map { a.push($0) } ?? a.pushNil()
        }
        def("Denoiser:__tostring", "tostring(den)", "") { a in a.push("dode.Denoiser " + (try a.denoiser(1)).summary) }
        def("Denoiser:logpdf", "den:logpdf(y [, {s = 0}])", """
            Mixtures: log-density of each row of y (data space) under the mixture convolved with N(0, s²I).
            """) { a in
            let m = try a.vm.mixture(a, 1)
            let o = try a.options(3, allowed: ["s"])
            let y = try a.tensor(2)
            return a.push(try Tensor(try m.logDensity(y, s: try o.number("s") ?? 0), shape: [y.shape.first ?? 0]))
        }
        def("Denoiser:component", "den:component(y [, {s = 0}])", """
            Mixtures: the most likely component of each row of y (1-based), as a tensor.
            """) { a in
            let m = try a.vm.mixture(a, 1)
            let o = try a.options(3, allowed: ["s"])
            let y = try a.tensor(2)
            return a.push(try Tensor(try m.component(y, s: try o.number("s") ?? 0).map { Double($0 + 1) },
                                     shape: [y.shape.first ?? 0]))
        }
        def("Denoiser:sample", "den:sample(g, n [, {label =}])", """
            Mixtures: n exact samples of x0 (and their 1-based components), drawn from generator g.
            """) { a in
            let m = try a.vm.mixture(a, 1)
            let g = try a.generator(2), n = try a.nonNegativeInt(3)
            let o = try a.options(4, allowed: ["label"])
            let (x, c) = try m.sample(g, n, labels: try o.int("label"))
            _ = a.push(x)
            return 1 + a.push(try Tensor(c.map { Double($0 + 1) }, shape: [n]))
        }
        def("Denoiser:info", "den:info()", "Mixtures: a table {weights, means, stds, labels, dim, components}.") { a in
            let m = try a.vm.mixture(a, 1)
            lua_createtable(a.L, 0, 6)
            a.vm.push(try Tensor(m.weights, shape: [m.K])); lua_setfield(a.L, -2, "weights")
            a.vm.push(try Tensor(m.means, shape: [m.K, m.d])); lua_setfield(a.L, -2, "means")
            a.vm.push(try Tensor(m.stds, shape: [m.K, m.d])); lua_setfield(a.L, -2, "stds")
            lua_pushinteger(a.L, lua_Integer(m.d)); lua_setfield(a.L, -2, "dim")
            lua_pushinteger(a.L, lua_Integer(m.K)); lua_setfield(a.L, -2, "components")
            lua_pushstring(a.L, m.name); lua_setfield(a.L, -2, "name")
            if let l = m.labels { _ = a.push(ints: l); lua_setfield(a.L, -2, "labels") }
            return 1
        }
    }

    /// A K×d matrix option (a tensor or a table of rows).
    func matrix(_ o: LuaOptions, _ key: String) throws -> [[Double]] {
        try o.with(key) { i in
            if let t = LuaArgs.tensorAt(L, i) {
                guard t.rank == 2 else { throw o.fail(key, "a K×d tensor or a table of rows") }
                let v = t.contiguous().toArray(), d = t.shape[1]
                return (0..<t.shape[0]).map { Array(v[($0 * d)..<(($0 + 1) * d)]) }
            }
            guard lua_type(L, i) == LUA_TTABLE else { throw o.fail(key, "a K×d tensor or a table of rows") }
            let n = Int(lua_rawlen(L, i))
            var rows: [[Double]] = []
            for k in 0..<n {
                lua_rawgeti(L, i, lua_Integer(k + 1))
                defer { dode_pop(L, 1) }
                if let t = LuaArgs.tensorAt(L, -1) { rows.append(t.toArray()); continue }
                guard lua_type(L, -1) == LUA_TTABLE, let r = LuaArgs.numberList(L, lua_gettop(L)) else {
                    throw o.fail(key, "a K×d tensor or a table of rows of numbers")
                }
                rows.append(r)
            }
            return rows
        }
    }

    func mixture(_ a: LuaArgs, _ i: Int32) throws -> MixtureDenoiser {
        guard let m = try a.denoiser(i) as? MixtureDenoiser else { throw a.fail(i, "a mixture (gmm) denoiser") }
        return m
    }
}

extension LuaArgs {
    /// Class labels: a tensor or a number (nil when absent).
    func optTensorOrNumber(_ i: Int32) throws -> Tensor? {
        if isNil(i) { return nil }
        return try tensorOrNumber(i)
    }
}
