// swift-tools-version:5.9
// Latchkey for iOS: the Rust library (an XCFramework), its UniFFI-generated Swift, the
// portable Swift shell and the iOS-only parts. See README.md and docs/INTEGRATION.md.
//
// Two inputs are built, never committed (scripts/package-ios makes both):
//   Frameworks/LatchkeyFFIRust.xcframework   the Rust static library per platform, with
//                                            LatchkeyFFIFFI.h and its module.modulemap
//   Sources/LatchkeyFFI/LatchkeyFFI.swift     the generated Swift (scripts/gen-bindings)
// Xcode reports a missing XCFramework or an empty LatchkeyFFI target by name: run
// `scripts/package-ios` (or `scripts/package-ios --swift-only` for the Swift alone).
import PackageDescription

let package = Package(
    name: "Latchkey",
    platforms: [.iOS(.v16), .macOS(.v13)],
    products: [
        // The bindings and the portable shell: what an app (or an extension) links.
        .library(name: "LatchkeyShell", targets: ["LatchkeyShell"]),
        // Notifications, APNs registration and os_log: the iOS app's thin parts.
        .library(name: "LatchkeyIOS", targets: ["LatchkeyIOS"]),
    ],
    targets: [
        // liblatchkey_ffi.a per platform (device arm64; simulator arm64 + x86_64 in one
        // lipo'd slice; macOS for `swift test` on a Mac) and the C header of its FFI,
        // whose module.modulemap names the module `LatchkeyFFIFFI`.
        .binaryTarget(
            name: "LatchkeyFFIRust",
            path: "Frameworks/LatchkeyFFIRust.xcframework"
        ),
        // The UniFFI-generated Swift (module LatchkeyFFI): `Authenticator`, the records
        // and enums, and the `PlatformKeystore`, `Transport` and `LogSink` protocols.
        .target(
            name: "LatchkeyFFI",
            dependencies: ["LatchkeyFFIRust"],
            path: "Sources/LatchkeyFFI",
            exclude: ["README.md"]
        ),
        // The portable shell: push routing, the approval state machine, the URLSession
        // transport and the Secure Enclave keystore (Foundation, Security,
        // LocalAuthentication, CryptoKit: iOS and macOS alike).
        .target(
            name: "LatchkeyShell",
            dependencies: ["LatchkeyFFI"],
            swiftSettings: [.enableExperimentalFeature("StrictConcurrency")]
        ),
        // The iOS app's parts: UNUserNotificationCenter delegate, categories and actions,
        // APNs registration, the os_log sink.
        .target(
            name: "LatchkeyIOS",
            dependencies: ["LatchkeyShell", "LatchkeyFFI"],
            swiftSettings: [.enableExperimentalFeature("StrictConcurrency")]
        ),
        .testTarget(
            name: "LatchkeyShellTests",
            dependencies: ["LatchkeyShell", "LatchkeyFFI"]
        ),
    ]
)
