// swift-tools-version:6.0
import PackageDescription

// The executables that run Lua export its API (lua_*, luaL_*, luaopen_*) to the native modules that
// scripts and plugins load, which take it from the process (Sources/CLua/README.md). A linker flag
// on executable and test targets only; the libraries carry none.
let exportsLuaAPI: [LinkerSetting] = [
    .unsafeFlags(["-Xlinker", "--dynamic-list=\(Context.packageDirectory)/Sources/CLua/exports.list"]),
]

let package = Package(
    name: "NetStack",
    products: [
        .library(name: "NetStack", targets: ["NetStack"]),
        // The documented C ABI as a shared library (libnetstack-c.so) for C programs.
        .library(name: "netstack-c", type: .dynamic, targets: ["NetStackC"]),
        .executable(name: "netstack", targets: ["netstack"]),
        .executable(name: "netstack-wsbench", targets: ["netstack-wsbench"]),
        .executable(name: "netstack-autobahn", targets: ["netstack-autobahn"]),
        .executable(name: "netstack-certbench", targets: ["netstack-certbench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.3.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // Lua 5.4.8, built in: the sources with a faster string hash and Debian's module paths
        // (Sources/CLua/README.md says what differs from the release).
        .target(
            name: "CLua",
            exclude: ["README.md", "exports.list"],
            linkerSettings: [.linkedLibrary("m"), .linkedLibrary("dl")]
        ),
        // System libraries (Debian: libssl-dev, zlib1g-dev), each with a shim header.
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),

        // The C side of the Lua boundary: trampolines that raise for Swift, protected calls, limits.
        .target(name: "CLuaBridge", dependencies: ["CLua"]),
        // SIGINT for `netstack run`: a real handler, so the second SIGINT ends a busy script at once.
        .target(name: "CInterrupt"),
        // glibc's heap statistics and trim, for the benchmarks' memory measurements.
        .target(name: "CMallocInfo"),
        // Certificate verification and inspection on the system OpenSSL (small C, no hand-written ASN.1).
        .target(name: "CNetStackSSL", dependencies: ["COpenSSL"]),
        // The engine: URL parsing, handshake, RFC 6455 framing, permessage-deflate, TLS, error codes.
        .target(
            name: "NetStack",
            dependencies: [
                "CZlib", "COpenSSL", "CNetStackSSL",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "Atomics", package: "swift-atomics"),
            ],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        // A local ws/wss server: echo, flood, sink and scripted misbehaviour, for tests, examples and `netstack serve`.
        .target(
            name: "NetStackTestServer",
            dependencies: [
                "NetStack",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        // The documented C headers (net_websocket*.h, net_ssl_c*.h) and their Swift implementation.
        .target(name: "CNetStackABI"),
        .target(
            name: "NetStackC",
            dependencies: ["NetStack", "CNetStackABI", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        // The Lua 5.4 scripting host: VM ownership, the `netstack` module, event dispatch, timers.
        .target(
            name: "LuaHost",
            dependencies: [
                "NetStack", "CLuaBridge",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            resources: [.embedInCode("Lua/plugins.lua"), .embedInCode("Lua/coroutines.lua")],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        // Load runs: virtual users over one event loop per core, executors, segments, built-in and
        // custom metrics in mergeable HDR histograms, thresholds, summaries.
        .target(
            name: "NetStackLoad",
            dependencies: [
                "NetStack", "LuaHost", "CLuaBridge",
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        // The command line's commands (parsing and running); a library so that the parser can be fuzzed.
        .target(
            name: "NetStackCLI",
            dependencies: [
                "NetStack", "NetStackTestServer", "LuaHost", "NetStackLoad", "CInterrupt",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        .executableTarget(
            name: "netstack", dependencies: ["NetStackCLI"], swiftSettings: [.swiftLanguageMode(.v5)],
            linkerSettings: exportsLuaAPI
        ),
        // Bench client speaking the contract of shared/bench (engine only, no Lua).
        .executableTarget(
            name: "netstack-wsbench",
            dependencies: [
                "NetStack", "CMallocInfo",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        // Autobahn|Testsuite client (fuzzingserver mode): echoes every case back.
        .executableTarget(
            name: "netstack-autobahn",
            dependencies: [
                "NetStack",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        // Verification throughput against raw OpenSSL loops (scripts/bench certs).
        .executableTarget(
            name: "netstack-certbench",
            dependencies: ["NetStack", "NetStackTestServer", "CNetStackSSL"],
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        // Fuzz targets (scripts/fuzz builds them with libFuzzer; a normal build replays inputs).
        .executableTarget(
            name: "netstack-fuzz",
            dependencies: [
                "NetStack", "LuaHost", "NetStackCLI", "NetStackTestServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: [.swiftLanguageMode(.v5)],
            linkerSettings: exportsLuaAPI
        ),
        .testTarget(
            name: "NetStackTests",
            dependencies: [
                "NetStack", "NetStackTestServer", "LuaHost", "NetStackLoad", "NetStackCLI",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: [.swiftLanguageMode(.v5)],
            linkerSettings: exportsLuaAPI
        ),
    ]
)
