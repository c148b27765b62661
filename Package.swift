// swift-tools-version:6.0
// dode: diffusion ODE samplers and D-ODE distillation, a Swift core with an embedded Lua 5.4.
//
// Layers (lower never import upper):
//   CLua / CBLAS / CEdit / CMPI (C shims) -> DodeTensor -> DodeCore, DodeMPI -> DodeLua -> dode (executable)
import PackageDescription

let package = Package(
    name: "dode",
    products: [
        .executable(name: "dode", targets: ["dode"]),
        .library(name: "DodeTensor", targets: ["DodeTensor"]),
        .library(name: "DodeCore", targets: ["DodeCore"]),
        .library(name: "DodeLua", targets: ["DodeLua"]),
    ],
    // No package dependencies: Foundation, the C libraries above and Swift's Synchronization.
    targets: [
        // C shims over system libraries (Debian: liblua5.4-dev, libopenblas-dev, libedit-dev).
        .target(name: "CLua", dependencies: ["CKernels"], linkerSettings: [.linkedLibrary("lua5.4")]),
        .target(name: "CBLAS", linkerSettings: [.linkedLibrary("openblas")]),
        .target(name: "CEdit", linkerSettings: [.linkedLibrary("edit")]),
        .target(name: "CZlib", linkerSettings: [.linkedLibrary("z")]),
        // MPI (Debian: libopenmpi-dev or libmpich-dev; `mpi` is the pkg-config alternative both register).
        .systemLibrary(name: "CMPI", pkgConfig: "mpi", providers: [.apt(["libopenmpi-dev"])]),
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-O3"])], linkerSettings: [.linkedLibrary("m")]),

        // Tensor core: storage, views, broadcasting, kernels, BLAS, RNG, file formats.
        .target(
            name: "DodeTensor",
            dependencies: ["CBLAS", "CZlib", "CKernels"]),

        // Diffusion core: schedules, grids, denoisers, solvers, distillation, metrics.
        .target(
            name: "DodeCore",
            dependencies: ["DodeTensor", "CKernels"]),

        // Scale-out: MPI_COMM_WORLD as a Communicator (collectives, sharded batches).
        .target(name: "DodeMPI", dependencies: ["CMPI", "DodeTensor"]),

        // Lua bindings: VM, userdata, error trampoline, the `dode` module, embedded Stdlib.
        .target(
            name: "DodeLua",
            dependencies: ["CLua", "DodeTensor", "DodeCore", "DodeMPI"],
            plugins: ["EmbedStdlib"]),

        .executableTarget(name: "dode", dependencies: ["DodeLua", "DodeCore", "DodeMPI", "CLua", "CEdit"]),

        // Build-time embedding of Stdlib/*.lua into the binary (relocatable, no resource bundle).
        .executableTarget(name: "DodeEmbed", path: "Sources/DodeEmbed"),
        .plugin(name: "EmbedStdlib", capability: .buildTool(), dependencies: ["DodeEmbed"]),

        .testTarget(name: "DodeTensorTests", dependencies: ["DodeTensor"]),
        .testTarget(name: "DodeCoreTests", dependencies: ["DodeCore"]),
        .testTarget(name: "DodeLuaTests", dependencies: ["DodeLua", "DodeTensor", "CLua"]),
    ],
    swiftLanguageModes: [.v5]
)
