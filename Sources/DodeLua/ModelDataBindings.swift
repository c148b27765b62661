import CLua
import DodeCore
import Foundation

/// `dode.models.*` and `dode.data.*`: the built-in models and data sets.
extension LuaVM {
    func installModelDataBindings() {
        doc("dode.models", "dode.models", """
            Built-in models: dode.models.digits() (an ε-prediction MLP trained on the UCI digits) and \
            dode.models.path(name).
            """)
        def("dode.models.path", "dode.models.path([name])", """
            The folder of the built-in models (or of one model). DODE_HOME overrides the location.
            """) { a in
            let name = try a.optString(1)
            return a.push(Assets.path("Models" + (name.map { "/" + $0 } ?? "")))
        }
        def("dode.models.digits", "dode.models.digits([{schedule =}])", """
            The built-in digits denoiser: an ε-prediction MLP trained on the 1797 UCI 8x8 digits (x = \
            pixel/8 − 1, 64-D), DDPM linear schedule. Data: E. Alpaydin and C. Kaynak, Optical Recognition \
            of Handwritten Digits, UCI Machine Learning Repository (CC BY 4.0).
            """) { a in
            let o = try a.options(1, allowed: ["schedule"])
            let dir = Assets.path("Models/digits_mlp")
            let net = try MLPNetwork(configPath: dir + "/config.json", weightsPath: dir + "/weights.safetensors")
            let sch = try o.schedule("schedule")
                ?? (try Schedule.fromModelConfig(net.config, source: dir + "/config.json"))
            a.vm.push(denoiser: try NetworkDenoiser(network: net, schedule: sch, name: "digits"))
            return 1
        }
        def("dode.models.fashion", "dode.models.fashion([{schedule =}])", """
            The built-in Fashion-MNIST U-Net (Models/fashion_unet, a diffusers UNet2DModel trained by \
            Scripts/train_fashion_unet.py): ε prediction, DDPM linear schedule (the default), 1×32×32 images \
            in [−1, 1]. Data: Fashion-MNIST (Zalando Research, MIT licence).
            """) { a in
            let o = try a.options(1, allowed: ["schedule"])
            let sch = try o.schedule("schedule") ?? (try Schedule.vp())
            a.vm.push(denoiser: try UNetDenoiser.load(path: Assets.path("Models/fashion_unet"), schedule: sch,
                                                      predicts: nil))
            return 1
        }
        doc("dode.data", "dode.data", """
            Built-in data: dode.data.path(name), dode.data.digits(), dode.data.fashion{...}, \
            dode.data.mixture(name).
            """)
        def("dode.data.fashion",
            "dode.data.fashion{split = 'test' | 'train', n = all, folder = '/usr/share/datasets/fashion-mnist'}", """
            Fashion-MNIST images as the built-in U-Net sees them (28×28 padded with background to 32×32, x = \
            pixel/127.5 − 1; an n×1×32×32 tensor, the first n of the split) and their labels 0..9. Reads the \
            IDX files of Debian's dataset-fashion-mnist (Scripts/dode installs it). Credit: H. Xiao, K. \
            Rasul, R. Vollgraf (Zalando Research), MIT licence.
            """) { a in
            let o = try a.options(1, allowed: ["split", "n", "folder"])
            let (x, labels) = try Datasets.fashion(split: try o.choice("split", ["test", "train"]) ?? "test",
                                                   n: try o.int("n", in: 1...Int.max, "a positive integer"),
                                                   folder: try o.string("folder") ?? Datasets.fashionFolder)
            _ = a.push(x)
            return 1 + a.push(labels)
        }
        def("dode.data.path", "dode.data.path([name])", """
            The folder of the built-in data (or of one file). DODE_HOME overrides the location.
            """) { a in
            let name = try a.optString(1)
            return a.push(Assets.path("Data" + (name.map { "/" + $0 } ?? "")))
        }
        def("dode.data.digits", "dode.data.digits()", """
            The 1797 UCI 8x8 digits scaled to x = pixel/8 − 1 (a 1797×64 tensor) and their labels (a \
            tensor). Credit: E. Alpaydin and C. Kaynak, UCI Machine Learning Repository (CC BY 4.0).
            """) { a in
            let (x, labels) = try Datasets.digits(path: Assets.path("Data/digits_8x8_uint8.safetensors"))
            _ = a.push(x)
            return 1 + a.push(labels)
        }
        def("dode.data.mixture", "dode.data.mixture(name, schedule)", """
            The exact denoiser of a built-in mixture problem (Data/mixtures/<name>.json: ring6_2d, blobs32d, \
            ...).
            """) { a in
            let name = try a.string(1), s = try a.schedule(2)
            guard name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) else {
                throw a.fail(1, "a mixture name")
            }
            a.vm.push(denoiser: try MixtureDenoiser.load(path: Assets.path("Data/mixtures/\(name).json"), schedule: s))
            return 1
        }
    }
}
