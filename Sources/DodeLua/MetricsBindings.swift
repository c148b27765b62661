import CLua
import DodeCore
import Foundation

/// `dode.metrics.*`, `dode.features.*` and `dode.image.*`.
extension LuaVM {
    func installMetricsBindings() {
        doc("dode.metrics", "dode.metrics", """
            Sample-quality metrics: rmse, per_sample, median_error, mode_mismatch, swd, mmd, frechet, nll. \
            Inputs are N×d tensors (samples in rows). Under mpirun, {world = dode.mpi} makes every tensor \
            argument this rank's rows and the result that of all ranks' rows together (rmse, median_error, \
            swd and mmd with the same bits as one process; frechet to rounding).
            """)
        def("dode.metrics.rmse", "dode.metrics.rmse(a, b [, {world =}])", """
            √(mean((a − b)²)) over every element (an exact sum, so the value does not depend on how the rows \
            are split).
            """) { a in
            let o = try a.options(3, allowed: ["world"])
            return a.push(try Metrics.rmse(try a.tensor(1), try a.tensor(2),
                                           world: try a.vm.worldOption(o, byDefault: false)))
        }
        def("dode.metrics.per_sample", "dode.metrics.per_sample(a, b)", """
            Per-sample RMS errors as a tensor (row i: √(mean_j (a_ij − b_ij)²)).
            """) { a in
            let v = try Metrics.perSample(try a.tensor(1), try a.tensor(2))
            return a.push(try Tensor(v, shape: [v.count]))
        }
        def("dode.metrics.median_error", "dode.metrics.median_error(a, b [, {world =}])", """
            Median over samples of the per-sample RMS error.
            """) { a in
            let o = try a.options(3, allowed: ["world"])
            return a.push(try Metrics.medianError(try a.tensor(1), try a.tensor(2),
                                                  world: try a.vm.worldOption(o, byDefault: false)))
        }
        def("dode.metrics.mode_mismatch", "dode.metrics.mode_mismatch(den, a, b)", """
            Mixtures: the fraction of samples whose most likely component differs between a and the \
            reference b.
            """) { a in
            let m = try a.vm.mixture(a, 1)
            let x = try a.tensor(2), y = try a.tensor(3)
            guard x.shape == y.shape else {
                throw a.error("shapes \(formatShape(x.shape)) and \(formatShape(y.shape)) differ")
            }
            guard x.rank == 2, x.shape[0] >= 1 else { throw a.fail(2, "a non-empty N×d tensor") }
            if x.hasNonFinite() || y.hasNonFinite() { throw a.error("the samples contain NaN or Inf") }
            let ca = try m.component(x), cb = try m.component(y)
            return a.push(Double(zip(ca, cb).filter { $0 != $1 }.count) / Double(ca.count))
        }
        def("dode.metrics.swd", "dode.metrics.swd(a, b, {gen = g, projections = 128, world =})", """
            Sliced Wasserstein-2 distance over seeded random projections (quantile-matched, so sizes may \
            differ).
            """) { a in
            let x = try a.tensor(1), y = try a.tensor(2)
            let o = try a.options(3, allowed: ["gen", "projections", "world"])
            let g: Generator = try o.with("gen") { i in
                guard let gg = LuaVM.object(a.L, i, "dode.Generator", as: Generator.self) else {
                    throw o.fail("gen", "a dode.Generator")
                }
                return gg
            }
            return a.push(try Metrics.slicedWasserstein(
                x, y, projections: try o.int("projections", in: 1...100_000, "an integer in 1..100000") ?? 128,
                generator: g, world: try a.vm.worldOption(o, byDefault: false)))
        }
        def("dode.metrics.mmd", "dode.metrics.mmd(a, b [, {bandwidth =, world =}])", """
            Unbiased MMD² with an RBF kernel (median-heuristic bandwidth by default). Returns mmd² and the \
            bandwidth.
            """) { a in
            let o = try a.options(3, allowed: ["bandwidth", "world"])
            let (v, h) = try Metrics.mmd(try a.tensor(1), try a.tensor(2), bandwidth: try o.positive("bandwidth"),
                                         world: try a.vm.worldOption(o, byDefault: false))
            return a.push(v) + a.push(h)
        }
        def("dode.metrics.frechet", "dode.metrics.frechet(fa, fb [, {world =}])", """
            Fréchet distance between the Gaussians fitted to two feature sets (rows are samples): ‖μa − μb‖² \
            + tr(Σa + Σb − 2(Σa^½ Σb Σa^½)^½). At most 4096 features per sample (pass features, not raw \
            images).
            """) { a in
            let o = try a.options(3, allowed: ["world"])
            return a.push(try Metrics.frechet(try a.tensor(1), try a.tensor(2),
                                              world: try a.vm.worldOption(o, byDefault: false)))
        }
        def("dode.metrics.frechet_gaussian", "dode.metrics.frechet_gaussian(mu1, cov1, mu2, cov2)", """
            Fréchet distance between two Gaussians given by means (d) and covariances (d×d).
            """) { a in
            let m1 = try a.tensor(1), c1 = try a.tensor(2), m2 = try a.tensor(3), c2 = try a.tensor(4)
            let d = m1.count
            guard m2.count == d, c1.count == d * d, c2.count == d * d, d >= 1 else {
                throw a.error("expected means of size d and d×d covariances")
            }
            return a.push(try Metrics.frechet(mu1: m1.toArray(), cov1: c1.toArray(), mu2: m2.toArray(),
                                              cov2: c2.toArray(), d: d))
        }
        def("dode.metrics.nll", "dode.metrics.nll(den, x)", """
            Mixtures: the mean negative log-likelihood of the rows of x under the mixture (nats).
            """) { a in
            let m = try a.vm.mixture(a, 1), x = try a.tensor(2)
            guard x.shape.first ?? 0 >= 1 else { throw a.fail(2, "a non-empty N×d tensor") }
            if x.hasNonFinite() { throw a.error("x contains NaN or Inf") }
            let l = try m.logDensity(x, s: 0)
            return a.push(-l.reduce(0, +) / Double(l.count))
        }

        doc("dode.features", "dode.features", """
            Feature extractors for Fréchet distances: dode.features.digits(x), dode.features.fashion(x).
            """)
        def("dode.features.digits", "dode.features.digits(x)", """
            Penultimate-layer features (64-D) of the built-in digits classifier (Models/digits_classifier, \
            trained by Scripts/train_digits_classifier.py) for digits x (N×64, x = pixel/8 − 1).
            """) { a in
            let x = try a.tensor(1)
            guard x.rank == 2, x.shape[1] == 64, x.shape[0] >= 1 else { throw a.fail(1, "an N×64 tensor of digits") }
            let net = try a.vm.digitsClassifier()
            let feats = net.config["features"] as? String ?? "feat"
            return a.push(try net.forward(x, labels: [0], output: feats).to(.float64))
        }
        def("dode.features.digits_logits", "dode.features.digits_logits(x)", """
            Class logits (N×10) of the built-in digits classifier.
            """) { a in
            let x = try a.tensor(1)
            guard x.rank == 2, x.shape[1] == 64, x.shape[0] >= 1 else { throw a.fail(1, "an N×64 tensor of digits") }
            return a.push(try a.vm.digitsClassifier().forward(x, labels: [0]).to(.float64))
        }

        def("dode.features.fashion", "dode.features.fashion(x)", """
            Penultimate-layer features (128-D) of the built-in Fashion-MNIST classifier \
            (Models/fashion_classifier, trained by Scripts/train_fashion_classifier.py) for images x \
            (N×1×32×32 or N×1024, x = pixel/127.5 − 1, padded as dode.data.fashion gives them).
            """) { a in
            let x = try a.tensor(1)
            guard x.rank >= 2, x.shape[0] >= 1, x.count == x.shape[0] * 1024 else {
                throw a.fail(1, "an N×1×32×32 (or N×1024) tensor of images")
            }
            let net = try a.vm.classifier("fashion_classifier")
            let flat = try x.contiguous().reshape([x.shape[0], 1024])
            return a.push(try net.forward(flat, labels: [0], output: net.config["features"] as? String ?? "feat")
                .to(.float64))
        }
        def("dode.features.fashion_logits", "dode.features.fashion_logits(x)", """
            Class logits (N×10) of the built-in Fashion-MNIST classifier.
            """) { a in
            let x = try a.tensor(1)
            guard x.rank >= 2, x.shape[0] >= 1, x.count == x.shape[0] * 1024 else {
                throw a.fail(1, "an N×1×32×32 (or N×1024) tensor of images")
            }
            let flat = try x.contiguous().reshape([x.shape[0], 1024])
            return a.push(try a.vm.classifier("fashion_classifier").forward(flat, labels: [0]).to(.float64))
        }

        doc("dode.image", "dode.image", """
            Images: dode.image.grid (PNG sample grids, shown inline in a notebook), dode.image.save, \
            dode.image.read.
            """)
        def("dode.image.grid",
            "dode.image.grid(x, {path =, height = 8, width = 8, channels = 1, columns = 8, scale = 4, " +
            "range = {-1, 1}, pad = 1})", """
            A PNG grid of the images in x (N samples of channels×height×width values, CHW order), values \
            mapped from range to 0..255. Returns an image object (fields png, width, height, channels, path; \
            img:save(path)) that a notebook shows inline; with `path` the PNG is also written there \
            (atomically).
            """) { a in
            let x = try a.tensor(1)
            let o = try a.options(2, allowed: ["path", "height", "width", "channels", "columns", "scale",
                                               "range", "pad"])
            let path = try o.string("path")
            if let path, path.isEmpty { throw o.fail("path", "a file path ending in .png") }
            var lo = -1.0, hi = 1.0
            if o.has("range") {
                guard let r = try o.numbers("range"), r.count == 2, r[1] > r[0] else {
                    throw o.fail("range", "{lo, hi} with hi > lo")
                }
                lo = r[0]; hi = r[1]
            }
            let c = try o.int("channels", in: 1...3, "1 or 3") ?? 1
            let n0 = x.shape.first ?? 1   // a 0-D tensor has no rows: ImageGrid.render says so
            let side = Int(Double(n0 > 0 ? x.count / n0 / c : 64).squareRoot())
            let h = try o.int("height", in: 1...4096, "an integer in 1..4096") ?? side
            let w = try o.int("width", in: 1...4096, "an integer in 1..4096") ?? side
            let g = try ImageGrid.render(x, height: h, width: w, channels: c,
                                         columns: try o.int("columns", in: 1...1024, "an integer in 1..1024") ?? 8,
                                         scale: try o.int("scale", in: 1...64, "an integer in 1..64") ?? 4,
                                         lo: lo, hi: hi,
                                         pad: try o.int("pad", in: 0...64, "an integer in 0..64") ?? 1)
            let png = try PNG.encode(pixels: g.pixels, width: g.width, height: g.height, channels: c)
            if let path { try AtomicFile.write(png, to: path) }
            a.vm.pushImage(png: png, width: g.width, height: g.height, channels: c, path: path)
            return 1
        }
        def("dode.image.read", "dode.image.read(path)", """
            Reads an 8-bit grey or RGB PNG as a tensor of 0..255 values (H×W, or H×W×3).
            """) { a in
            let path = try a.string(1)
            let img = try PNG.decode(try AtomicFile.read(path), name: path)
            let shape = img.channels == 1 ? [img.height, img.width] : [img.height, img.width, 3]
            return a.push(try Tensor(img.pixels.map(Double.init), shape: shape))
        }
    }

    /// The built-in digits classifier, loaded once per VM.
    func digitsClassifier() throws -> MLPNetwork { try classifier("digits_classifier") }

    /// A built-in dode.mlp classifier (Models/<name>), loaded once per VM.
    func classifier(_ name: String) throws -> MLPNetwork {
        if let n = cachedClassifiers[name] { return n }
        let dir = Assets.path("Models/\(name)")
        let n = try MLPNetwork(configPath: dir + "/config.json", weightsPath: dir + "/weights.safetensors")
        cachedClassifiers[name] = n
        return n
    }
}
