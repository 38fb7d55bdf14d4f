// swift-tools-version:6.1
// Bulwark: a container sandbox with a user-space kernel. See docs/ARCHITECTURE.md for the module map.
// Dependencies flow one way: LinuxABI, Wire -> HostOS -> IPC/Protocol -> Sentry*/services -> executables.
import PackageDescription

// Sentry targets: Swift 5 mode; the Sentry manages its own threads (one pthread per task under a
// kernel lock) rather than Swift concurrency, so strict Sendable checking only adds noise there.
let sentrySwift: [SwiftSetting] = [.swiftLanguageMode(.v5)]
// The runtime's executables link the Swift runtime and Foundation statically in release builds: each
// container start execs five of them, and resolving libswiftCore/libFoundation's symbols at every exec
// cost more than the rest of start-up (tools/bench/startup-phases); static binaries also touch fewer
// pages (RSS). Debug builds (tests) keep the faster dynamic link.
let staticRuntime: [LinkerSetting] = [.unsafeFlags(["-static-stdlib"], .when(configuration: .release))]
// Foundation's static archives and what they need (the modules were compiled against the shared
// Foundation, whose autolink entries name only -lFoundation), listed twice for the one-pass linker.
let staticFoundation: [LinkerSetting] = [.unsafeFlags(["-static-stdlib"] + Array(repeating: [
    "-lFoundation", "-lFoundationInternationalization", "-lCoreFoundation", "-l_FoundationICU", "-lFoundationEssentials",
    "-l_FoundationCShims", "-l_FoundationCollections", "-lswiftDispatch", "-ldispatch", "-lBlocksRuntime",
    "-lswiftSynchronization"], count: 2).flatMap { $0 } + ["-lstdc++", "-lutil"], .when(configuration: .release))]

// The netstack's modules skip the runtime exclusivity checks in release builds (swift_beginAccess was
// ~7% of the driver thread's CPU under redis): the netstack is a sandboxed, unprivileged service, and
// debug builds (the tests) keep the checks. docs/ARCHITECTURE.md, "Netstack: CPU per request".
let netstackSwift: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "Bulwark",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "bulwark", targets: ["bulwark"]),
        .executable(name: "bulwark-sentry", targets: ["bulwark-sentry"]),
        .executable(name: "bulwark-gofer", targets: ["bulwark-gofer"]),
        .executable(name: "bulwark-netstack", targets: ["bulwark-netstack"]),
        .executable(name: "bulwark-procfs", targets: ["bulwark-procfs"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // ---- C shims and system libraries -------------------------------------------------
        .target(name: "CBulwark", path: "Sources/CBulwark"),
        .systemLibrary(name: "CSeccomp", path: "Sources/CSeccomp", pkgConfig: "libseccomp",
                       providers: [.apt(["libseccomp-dev"])]),
        .systemLibrary(name: "CCap", path: "Sources/CCap", pkgConfig: "libcap",
                       providers: [.apt(["libcap-dev"])]),
        .systemLibrary(name: "CFuse", path: "Sources/CFuse", pkgConfig: "fuse3",
                       providers: [.apt(["libfuse3-dev"])]),

        // ---- Foundation layers (no knowledge of services) ---------------------------------
        .target(name: "LinuxABI", path: "Sources/LinuxABI"),
        .target(name: "Wire", path: "Sources/Wire"),
        .target(name: "HostOS", dependencies: ["CBulwark", "CSeccomp", "CCap", "LinuxABI"], path: "Sources/HostOS"),
        .target(name: "Protocol", dependencies: ["Wire"], path: "Sources/Protocol"),
        .target(name: "FaultInjection", dependencies: ["Wire", "LinuxABI"], path: "Sources/FaultInjection"),
        .target(name: "IPC", dependencies: ["Wire", "Protocol", "HostOS", "FaultInjection"], path: "Sources/IPC"),
        .target(name: "ServiceKit", dependencies: ["IPC", "HostOS", "Protocol", "FaultInjection"], path: "Sources/ServiceKit"),

        // ---- The Sentry (user-space kernel) ------------------------------------------------
        .target(name: "SentryPlatform", dependencies: ["CBulwark", "HostOS", "LinuxABI"],
                path: "Sources/SentryPlatform", swiftSettings: sentrySwift),
        .target(name: "SentryMemory", dependencies: ["HostOS", "LinuxABI"], path: "Sources/SentryMemory",
                swiftSettings: sentrySwift),
        .target(name: "SentryLoader", dependencies: ["SentryMemory", "LinuxABI", "HostOS"],
                path: "Sources/SentryLoader", swiftSettings: sentrySwift),
        .target(name: "SentryKernel",
                dependencies: ["SentryPlatform", "SentryMemory", "SentryLoader", "SentryVDSO", "LinuxABI", "HostOS",
                               "GoferServer", "IPC", "Protocol", "Wire", "ProcfsServer", "FaultInjection"],
                path: "Sources/SentryKernel", swiftSettings: sentrySwift),
        .target(name: "SentryVDSO", dependencies: ["HostOS"], path: "Sources/SentryVDSO"),

        // ---- Other services' libraries -----------------------------------------------------
        .target(name: "GoferServer", dependencies: ["ServiceKit", "Protocol", "HostOS"], path: "Sources/GoferServer"),
        .target(name: "NetstackCore", path: "Sources/NetstackCore", swiftSettings: netstackSwift),
        .target(name: "NetstackServer", dependencies: ["NetstackCore", "ServiceKit", "Protocol", "HostOS"],
                path: "Sources/NetstackServer", swiftSettings: netstackSwift),
        .target(name: "ProcfsServer", dependencies: ["ServiceKit", "Protocol", "HostOS"], path: "Sources/ProcfsServer"),
        .target(name: "OCIRuntime",
                dependencies: ["HostOS", "IPC", "Protocol", "FaultInjection", "LinuxABI", .product(name: "ArgumentParser", package: "swift-argument-parser")],
                path: "Sources/OCIRuntime"),
        .target(name: "TestSupport", dependencies: ["HostOS"], path: "Sources/TestSupport"),

        // ---- Executables: thin mains --------------------------------------------------------
        .executableTarget(name: "bulwark", dependencies: ["OCIRuntime"], path: "services/launcher",
                         linkerSettings: staticFoundation),
        .executableTarget(name: "bulwark-sentry", dependencies: ["SentryKernel", "ServiceKit"], path: "services/sentry",
                         swiftSettings: sentrySwift, linkerSettings: staticRuntime),
        .executableTarget(name: "bulwark-gofer", dependencies: ["GoferServer"], path: "services/gofer",
                         linkerSettings: staticRuntime),
        .executableTarget(name: "bulwark-netstack", dependencies: ["NetstackServer"], path: "services/netstack",
                         linkerSettings: staticRuntime),
        .executableTarget(name: "bulwark-procfs", dependencies: ["ProcfsServer"], path: "services/procfs",
                         linkerSettings: staticRuntime),

        // ---- Tools --------------------------------------------------------------------------
        .executableTarget(name: "bulwark-protogen", path: "tools/protogen"),
        .executableTarget(name: "bulwark-ipc-client", dependencies: ["IPC", "Protocol"], path: "tools/ipc-client"),
        .executableTarget(name: "bulwark-ipc-dump", dependencies: ["Wire", "Protocol"], path: "tools/ipc-dump"),
        .executableTarget(name: "bulwark-gofer-fuse", dependencies: ["GoferServer", "CFuse"], path: "tools/gofer-fuse"),
        .executableTarget(name: "bulwark-netstack-probe", dependencies: ["NetstackServer", "NetstackCore", "HostOS"],
                          path: "tools/netstack-probe"),
        .executableTarget(name: "bulwark-bench-ipc", dependencies: ["IPC", "HostOS", "FaultInjection"], path: "tools/bench-ipc"),

        // ---- Tests --------------------------------------------------------------------------
        .testTarget(name: "HostOSTests", dependencies: ["HostOS", "TestSupport"], path: "Tests/HostOSTests"),
        .testTarget(name: "LinuxABITests", dependencies: ["LinuxABI", "TestSupport"], path: "Tests/LinuxABITests"),
        .testTarget(name: "WireTests", dependencies: ["Wire", "Protocol", "TestSupport", "bulwark-ipc-dump"], path: "Tests/WireTests"),
        .testTarget(name: "IPCTests", dependencies: ["IPC", "ServiceKit", "HostOS", "TestSupport",
                                                 "bulwark-gofer", "bulwark-netstack", "bulwark-procfs", "bulwark-ipc-client"],
                    path: "Tests/IPCTests"),
        .testTarget(name: "SentryTests",
                    dependencies: ["SentryKernel", "SentryMemory", "SentryLoader", "SentryPlatform", "TestSupport"],
                    path: "Tests/SentryTests"),
        .testTarget(name: "SentryIntegrationTests", dependencies: ["TestSupport", "bulwark-sentry", "bulwark-procfs"],
                    path: "Tests/SentryIntegrationTests"),
        .testTarget(name: "OCIRuntimeTests", dependencies: ["OCIRuntime", "TestSupport", "bulwark", "bulwark-sentry"],
                    path: "Tests/OCIRuntimeTests"),
        .testTarget(name: "NetstackCoreTests", dependencies: ["NetstackCore"], path: "Tests/NetstackCoreTests"),
        .testTarget(name: "SentryVDSOTests", dependencies: ["SentryVDSO", "HostOS", "LinuxABI", "TestSupport"],
                    path: "Tests/SentryVDSOTests"),
        .testTarget(name: "GoferTests", dependencies: ["GoferServer", "IPC", "Protocol", "TestSupport", "bulwark-gofer",
                                                   "bulwark-gofer-fuse"],
                    path: "Tests/GoferTests"),
        .testTarget(name: "NetstackServerTests",
                    dependencies: ["NetstackServer", "NetstackCore", "IPC", "Protocol", "TestSupport", "HostOS", "LinuxABI", "Wire",
                                   "bulwark-netstack", "bulwark-netstack-probe"],
                    path: "Tests/NetstackServerTests"),
        .testTarget(name: "ProcfsTests", dependencies: ["ProcfsServer", "IPC", "Protocol", "TestSupport", "bulwark-procfs"],
                    path: "Tests/ProcfsTests"),
        .testTarget(name: "FaultInjectionTests", dependencies: ["FaultInjection", "IPC", "ServiceKit", "HostOS", "TestSupport",
                                                            "bulwark-netstack", "bulwark-procfs", "LinuxABI", "bulwark-sentry",
                                                            "GoferServer", "ProcfsServer", "Protocol", "bulwark-gofer", "bulwark"],
                    path: "Tests/FaultInjectionTests"),
    ]
)
