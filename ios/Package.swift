// swift-tools-version:5.9
// The iOS shell's portable part. The UniFFI-generated Swift and the Rust xcframework join
// this package with the bindings (see README.md); until then it builds on its own.
import PackageDescription

let package = Package(
    name: "LatchkeyShell",
    platforms: [.iOS(.v16), .macOS(.v13)],
    products: [
        .library(name: "LatchkeyShell", targets: ["LatchkeyShell"]),
    ],
    targets: [
        .target(
            name: "LatchkeyShell",
            swiftSettings: [.enableExperimentalFeature("StrictConcurrency")]
        ),
        .testTarget(
            name: "LatchkeyShellTests",
            dependencies: ["LatchkeyShell"]
        ),
    ]
)
