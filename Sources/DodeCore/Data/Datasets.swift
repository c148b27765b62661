import Foundation

/// The data sets dode reads, as the built-in models see them.
public enum Datasets {
    /// Debian's `dataset-fashion-mnist` folder (Scripts/dode installs it).
    public static let fashionFolder = "/usr/share/datasets/fashion-mnist"

    /// The first n images of a Fashion-MNIST split as the built-in U-Net sees them — 28×28
    /// padded with background to 32×32, x = pixel/127.5 − 1, an n×1×32×32 Float64 tensor — and
    /// their labels 0…9. Reads the IDX files of `folder` (only the images it returns).
    /// Credit: H. Xiao, K. Rasul, R. Vollgraf (Zalando Research), MIT licence.
    public static func fashion(split: String = "test", n: Int? = nil,
                               folder: String = fashionFolder) throws -> (images: Tensor, labels: Tensor) {
        guard split == "test" || split == "train" else {
            throw CoreError("split must be 'test' or 'train' (got '\(split)')")
        }
        let prefix = split == "train" ? "train" : "t10k"
        let ip = folder + "/\(prefix)-images-idx3-ubyte.gz", lp = folder + "/\(prefix)-labels-idx1-ubyte.gz"
        guard FileManager.default.fileExists(atPath: ip) else {
            throw CoreError("no Fashion-MNIST at \(folder) (install Debian's dataset-fashion-mnist: " +
                            "apt-get install dataset-fashion-mnist, or give folder =)")
        }
        let img = try IDX.readRaw(path: ip), lab = try IDX.readRaw(path: lp)
        guard img.shape.count == 3, img.shape[1] == 28, img.shape[2] == 28,
              lab.shape.count == 1, lab.shape[0] == img.shape[0] else {
            throw CoreError("\(ip) holds \(formatShape(img.shape)) images and \(formatShape(lab.shape)) labels; " +
                            "expected N×28×28 and N")
        }
        let total = img.shape[0]
        guard total >= 1 else { throw CoreError("\(ip) holds no images") }
        let count = n ?? total
        guard count >= 1, count <= total else { throw CoreError("n must be in 1..\(total) (got \(count))") }
        let x = try Tensor(zeros: [count, 1, 32, 32], dtype: .float64)
        let labels = try Tensor.empty([count], dtype: .float64)
        x.apply(.sub, scalar: 1)
        let dst = x.pointer(Double.self), lv = labels.pointer(Double.self)
        for i in 0..<count {
            for r in 0..<28 {
                for c in 0..<28 { dst[i * 1024 + (r + 2) * 32 + c + 2] = img.value(i * 784 + r * 28 + c) / 127.5 - 1 }
            }
            lv[i] = lab.value(i)
        }
        return (x, labels)
    }

    /// The 1797 UCI 8×8 digits from dode's safetensors file, scaled to x = pixel/8 − 1 (a 1797×64
    /// Float64 tensor), and their labels. Credit: E. Alpaydin and C. Kaynak, UCI Machine Learning
    /// Repository (CC BY 4.0).
    public static func digits(path: String) throws -> (images: Tensor, labels: Tensor) {
        let f = try Safetensors.read(path: path)
        guard let img = f.tensors["images"], let lab = f.tensors["labels"] else {
            throw CoreError("\(path) lacks 'images' or 'labels'")
        }
        let x = img.to(.float64).clone()
        x.apply(.div, scalar: 8); x.apply(.sub, scalar: 1)
        return (x, lab.to(.float64))
    }
}
