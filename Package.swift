// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "bocker",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "bocker", targets: ["bocker"]),
    ],
    targets: [
        // C: Lua 5.4 (Debian's liblua5.4-dev) with its macros as static-inline functions and the
        // error trampoline that raises a Swift-reported error without longjmp across Swift frames.
        .target(name: "CLua", linkerSettings: [.linkedLibrary("lua5.4")]),
        // C: everything that must run between clone() and execve(), plus kernel calls Swift's Glibc
        // module does not expose (btrfs ioctls, pivot_root, pidfd, close_range).
        .target(name: "CBocker"),
        // C: SHA-256 from OpenSSL's libcrypto (opened with dlopen on first use).
        .target(name: "CCrypto", linkerSettings: [.linkedLibrary("dl")]),
        // Streaming SHA-256 digests for blobs and layers.
        .target(name: "BockerDigest", dependencies: ["CCrypto"]),
        // C: libarchive (tar parsing; opened with dlopen on first use), zlib and zstd
        // (streaming decompression) for layers.
        .target(name: "CArchive", linkerSettings: [.linkedLibrary("dl"), .linkedLibrary("z"), .linkedLibrary("zstd")]),
        // Safe extraction of image layers (whiteouts, links, no escape from the root).
        .target(name: "BockerArchive", dependencies: ["CArchive", "BockerCore", "BockerDigest"]),
        // C: libcurl behind non-variadic functions, for registries (opened with dlopen on first
        // use, so that commands other than pull do not load its thirty libraries).
        .target(name: "CCurl", linkerSettings: [.linkedLibrary("dl")]),
        // OCI distribution: references, auth, manifests, platform choice, verified blobs.
        .target(name: "BockerRegistry", dependencies: ["CCurl", "BockerCore", "BockerDigest"]),
        // C: libseccomp (Debian's libseccomp-dev), for compiling seccomp profiles into BPF.
        .systemLibrary(name: "CSeccomp", pkgConfig: "libseccomp", providers: [.apt(["libseccomp-dev"])]),
        // seccomp: Docker's default profile, Docker's JSON profile format, compiling to BPF.
        .target(name: "BockerSeccomp", dependencies: ["CSeccomp", "BockerCore", "CBocker"]),
        // C: libyaml (Debian's libyaml-dev), the YAML parser and emitter behind bocker.yaml.
        .systemLibrary(name: "CYaml", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        // YAML text ↔ values (aliases, merge keys, the 1.2 core schema), for compose files.
        .target(name: "BockerYAML", dependencies: ["CYaml", "BockerCore"]),
        // Errors, state root, ids, atomic files and the store lock.
        .target(name: "BockerCore"),
        // Layers, images, container root filesystems and the storage drivers (btrfs, overlay, copy).
        .target(name: "BockerStore", dependencies: ["BockerCore", "BockerDigest", "CBocker"]),
        // cgroup v1 and v2 behind one interface.
        .target(name: "BockerCgroups", dependencies: ["BockerCore", "CBocker"]),
        // Bridge networks over rtnetlink: addresses, veths, NAT and published ports.
        .target(name: "BockerNetwork", dependencies: ["BockerCore", "CBocker"]),
        // Containers: records, the lifecycle, spawning, exec, logs, commit, repair.
        .target(name: "BockerRuntime", dependencies: ["BockerCore", "BockerStore", "BockerCgroups", "BockerNetwork", "CBocker",
                                                     "BockerRegistry", "BockerArchive", "BockerDigest", "BockerSeccomp"]),
        // The bundled Lua scripts (scripts/), compiled into the binary.
        .target(name: "BockerScripts", plugins: ["EmbedScriptsPlugin"]),
        // The Lua host: script search, the bocker.* modules (thin bindings over the core), errors.
        .target(name: "BockerLua", dependencies: ["CLua", "BockerCore", "BockerStore", "BockerCgroups", "BockerNetwork", "BockerRuntime", "BockerScripts", "BockerRegistry", "BockerYAML"]),
        .executableTarget(name: "bocker", dependencies: ["BockerLua", "BockerRuntime"]),
        .executableTarget(name: "embed-scripts", dependencies: ["CLua"]),
        .plugin(name: "EmbedScriptsPlugin", capability: .buildTool(), dependencies: ["embed-scripts"]),
        .testTarget(name: "BockerCoreTests", dependencies: ["BockerCore", "BockerStore", "BockerCgroups", "BockerRuntime"]),
        .testTarget(name: "BockerSeccompTests", dependencies: ["BockerSeccomp", "BockerCore"]),
        .testTarget(name: "BockerLuaTests", dependencies: ["BockerLua", "BockerYAML"]),
        .testTarget(name: "BockerNetworkTests", dependencies: ["BockerNetwork"]),
        .testTarget(name: "BockerArchiveTests", dependencies: ["BockerArchive", "BockerDigest", "BockerCore"]),
        .testTarget(name: "BockerRegistryTests", dependencies: ["BockerRegistry", "BockerDigest", "BockerCore"]),
        .testTarget(name: "BockerEndToEndTests", dependencies: ["BockerCore", "CBocker"]),
    ],
    swiftLanguageModes: [.v5]
)
