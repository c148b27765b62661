// swift-tools-version:6.0
// libFuzzer targets for dode's parsers and its Lua argument layer (Scripts/fuzz TARGET [seconds]).
// Built apart from the main package, every module instrumented for coverage and AddressSanitizer,
// and the fuzz targets linked with libFuzzer's driver as a library (Scripts/fuzz passes the flags):
//   swift build -c release -Xswiftc -sanitize=address \
//     -Xswiftc -sanitize-coverage=edge,trace-cmp,inline-8bit-counters,pc-table \
//     -Xlinker <toolchain>/lib/clang/*/lib/linux/libclang_rt.fuzzer_no_main-x86_64.a --product FuzzNPY
// (-sanitize=fuzzer on every module would link libFuzzer's own main into the plugin's build
// tool too.) Each target's main hands its callback to LLVMFuzzerRunDriver.
import PackageDescription

let targets = ["FuzzNPY", "FuzzSafetensors", "FuzzIDX", "FuzzPNG", "FuzzFitJSON", "FuzzMixtureJSON", "FuzzUNetJSON",
               "FuzzLuaCalls"]

let package = Package(
    name: "DodeFuzz",
    products: targets.map { .executable(name: $0, targets: [$0]) },
    dependencies: [.package(name: "dode", path: "..")],
    targets: [
        .target(name: "CFuzzDriver"),
        .target(name: "FuzzSupport", dependencies: ["CFuzzDriver"]),
    ] + targets.map { name in
        .executableTarget(
            name: name,
            dependencies: [
                "FuzzSupport", .product(name: "DodeTensor", package: "dode"),
                .product(name: "DodeCore", package: "dode"),
                .product(name: "DodeLua", package: "dode"),
            ])
    },
    swiftLanguageModes: [.v5]
)
