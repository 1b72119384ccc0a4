import BockerCore
import Glibc

/// An image reference, normalised the way distribution/reference (`ParseNormalizedNamed`) does:
/// `alpine` → `docker.io/library/alpine:latest`, `index.docker.io/x/y` → `docker.io/x/y`.
public struct ImageReference: Equatable, CustomStringConvertible, Sendable {
    /// "docker.io", "127.0.0.1:5000", "ghcr.io", "[::1]:5000".
    public var registry: String
    /// "library/alpine".
    public var repository: String
    /// "latest" when neither a tag nor a digest was given; nil for a bare `name@digest`.
    public var tag: String?
    /// "sha256:<64 hex>" when the reference pins a digest.
    public var digest: String?

    public static let dockerHub = "docker.io"
    static let maxNameLength = 255

    public init(registry: String, repository: String, tag: String?, digest: String?) {
        self.registry = registry
        self.repository = repository
        self.tag = tag
        self.digest = digest
    }

    /// Parses `[registry/]name[:tag][@digest]` with the distribution/reference grammar.
    public static func parse(_ s: String) throws -> ImageReference {
        func bad(_ why: String) -> BockerError {
            BockerError(.invalidArgument, "invalid reference format '\(s)': \(why)")
        }
        if s.isEmpty { throw bad("empty reference") }
        var rest = Substring(s)
        var digest: String?
        if let at = rest.firstIndex(of: "@") {
            let d = String(rest[rest.index(after: at)...])
            if let why = digestProblem(d) { throw bad(why) }
            digest = d
            rest = rest[..<at]
        }
        // The tag follows the last ':' that comes after the last '/' (a ':' before it is a port).
        var tag: String?
        let lastSlash = rest.lastIndex(of: "/")
        if let colon = rest.lastIndex(of: ":"), lastSlash.map({ colon > $0 }) ?? true {
            let t = String(rest[rest.index(after: colon)...])
            if let why = tagProblem(t) { throw bad(why) }
            tag = t
            rest = rest[..<colon]
        }
        var ref = try parseName(String(rest), whole: s)
        ref.digest = digest
        ref.tag = tag ?? (digest == nil ? "latest" : nil)
        return ref
    }

    /// `pull NAME TAG` (the original bocker's form): NAME is a bare name, TAG a tag (or a digest).
    public init(name: String, tag: String) throws {
        if name.contains("@") || name.split(separator: "/").last.map({ $0.contains(":") }) == true {
            throw BockerError(.invalidArgument,
                              "invalid reference format '\(name)': give the tag separately, not in the name")
        }
        var ref = try ImageReference.parseName(name, whole: name + ":" + tag)
        if tag.hasPrefix("sha256:") {
            if let why = ImageReference.digestProblem(tag) {
                throw BockerError(.invalidArgument, "invalid reference format '\(name)@\(tag)': \(why)")
            }
            ref.digest = tag
            ref.tag = nil
        } else {
            if let why = ImageReference.tagProblem(tag) {
                throw BockerError(.invalidArgument, "invalid reference format '\(name):\(tag)': \(why)")
            }
            ref.tag = tag
        }
        self = ref
    }

    /// The host the registry API lives on: registry-1.docker.io for Docker Hub.
    public var apiHost: String { registry == Self.dockerHub ? "registry-1.docker.io" : registry }

    /// The name without registry for Docker Hub, without `library/` for official images.
    public var familiarName: String {
        if registry == Self.dockerHub {
            if repository.hasPrefix("library/"), !repository.dropFirst(8).contains("/") {
                return String(repository.dropFirst(8))
            }
            return repository
        }
        return registry + "/" + repository
    }

    /// "alpine:3.20", "user/app:1", "127.0.0.1:5000/x:y", "alpine@sha256:…": what `images` shows.
    public var familiar: String {
        var s = familiarName
        if let tag { s += ":" + tag }
        if let digest { s += "@" + digest }
        return s
    }

    /// Fully qualified: "docker.io/library/alpine:3.20".
    public var description: String {
        var s = registry + "/" + repository
        if let tag { s += ":" + tag }
        if let digest { s += "@" + digest }
        return s
    }

    /// The tag or digest the manifest endpoint is asked for (the digest wins when both are given).
    var manifestReference: String { digest ?? tag ?? "latest" }

    // MARK: - Grammar

    /// Splits and validates `[domain/]path`, applying Docker Hub's normalisation.
    static func parseName(_ name: String, whole: String) throws -> ImageReference {
        func bad(_ why: String) -> BockerError {
            BockerError(.invalidArgument, "invalid reference format '\(whole)': \(why)")
        }
        if name.isEmpty { throw bad("missing repository name") }
        var domain = dockerHub
        var remainder = name
        if let slash = name.firstIndex(of: "/") {
            let first = String(name[..<slash])
            if first.contains(".") || first.contains(":") || first == "localhost" || first != first.lowercased() {
                domain = first
                remainder = String(name[name.index(after: slash)...])
            }
        }
        if domain == "index.docker.io" { domain = dockerHub }
        if domain != dockerHub, let why = domainProblem(domain) { throw bad(why) }
        if remainder != remainder.lowercased() { throw bad("repository name must be lowercase") }
        if domain == dockerHub && !remainder.contains("/") { remainder = "library/" + remainder }
        for component in remainder.split(separator: "/", omittingEmptySubsequences: false) {
            if !isPathComponent(component) {
                throw bad(component.isEmpty ? "empty path component"
                          : "invalid repository path component '\(component)'")
            }
        }
        if domain.count + 1 + remainder.count > maxNameLength {
            throw bad("repository name must not be longer than \(maxNameLength) characters")
        }
        if domain == dockerHub, remainder.hasPrefix("library/"), isHex64(remainder.dropFirst(8)) {
            throw bad("cannot use a 64-character hexadecimal string as a repository name")
        }
        return ImageReference(registry: domain, repository: remainder, tag: nil, digest: nil)
    }

    private static func isLowerAlnum(_ c: UInt8) -> Bool {
        (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39)
    }

    private static func isAlnum(_ c: UInt8) -> Bool {
        isLowerAlnum(c) || (c >= 0x41 && c <= 0x5a)
    }

    /// path-component := [a-z0-9]+ ( ( [_.] | __ | [-]+ ) [a-z0-9]+ )*
    static func isPathComponent(_ s: Substring) -> Bool {
        let b = Array(s.utf8)
        guard let first = b.first, let last = b.last, isLowerAlnum(first), isLowerAlnum(last) else { return false }
        var i = 0
        while i < b.count {
            if isLowerAlnum(b[i]) { i += 1; continue }
            // A separator run: one '.', one '_', "__", or any number of '-'.
            var j = i
            while j < b.count && !isLowerAlnum(b[j]) { j += 1 }
            let sep = b[i..<j]
            let ok = sep.elementsEqual([0x2e]) || sep.elementsEqual([0x5f]) || sep.elementsEqual([0x5f, 0x5f])
                || sep.allSatisfy { $0 == 0x2d }
            if !ok { return false }
            i = j
        }
        return true
    }

    /// domain := host [":" port]; host := domain-name | "[" IPv6 "]".
    static func domainProblem(_ d: String) -> String? {
        var host = Substring(d)
        var port: Substring?
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return "invalid registry host '\(d)'" }
            let inner = host[host.index(after: host.startIndex)..<close]
            if inner.isEmpty || !inner.utf8.allSatisfy({ isHexDigit($0) || $0 == 0x3a }) {
                return "invalid registry host '\(d)'"
            }
            let after = host[host.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { return "invalid registry host '\(d)'" }
                port = after.dropFirst()
            }
            host = ""
        } else if let colon = host.firstIndex(of: ":") {
            port = host[host.index(after: colon)...]
            host = host[..<colon]
        }
        if let port, port.isEmpty || !port.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) || port.count > 5 {
            return "invalid port in registry '\(d)'"
        }
        if !host.isEmpty || !d.hasPrefix("[") {
            for label in host.split(separator: ".", omittingEmptySubsequences: false) {
                let b = Array(label.utf8)
                guard let f = b.first, let l = b.last, isAlnum(f), isAlnum(l),
                      b.allSatisfy({ isAlnum($0) || $0 == 0x2d }) else {
                    return "invalid registry host '\(d)'"
                }
            }
        }
        return nil
    }

    /// tag := [\w][\w.-]{0,127}
    static func tagProblem(_ t: String) -> String? {
        if t.isEmpty { return "empty tag" }
        if t.utf8.count > 128 { return "tag must not be longer than 128 characters" }
        let b = Array(t.utf8)
        func word(_ c: UInt8) -> Bool { isAlnum(c) || c == 0x5f }
        if !word(b[0]) { return "invalid tag '\(t)'" }
        if !b.allSatisfy({ word($0) || $0 == 0x2e || $0 == 0x2d }) { return "invalid tag '\(t)'" }
        return nil
    }

    private static func isHexDigit(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46)
    }

    private static func isHex64<S: StringProtocol>(_ s: S) -> Bool {
        s.utf8.count == 64 && s.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }

    /// Only sha256 with 64 lowercase hex digits (what image-spec requires and bocker can verify).
    static func digestProblem(_ d: String) -> String? {
        if d.isEmpty { return "empty digest" }
        guard let colon = d.firstIndex(of: ":") else { return "invalid digest '\(d)'" }
        let alg = d[..<colon]
        let hex = d[d.index(after: colon)...]
        if alg != "sha256" {
            let validAlg = !alg.isEmpty && alg.utf8.allSatisfy { isLowerAlnum($0) || $0 == 0x2b || $0 == 0x2e || $0 == 0x5f || $0 == 0x2d }
            return validAlg ? "unsupported digest algorithm '\(alg)' (only sha256)" : "invalid digest '\(d)'"
        }
        if !isHex64(hex) { return "invalid digest '\(d)': sha256 needs 64 lowercase hex digits" }
        return nil
    }

    /// True for "sha256:<64 lowercase hex>", the only digests bocker accepts from a registry
    /// (they become file names, so nothing else may pass).
    public static func isValidDigest(_ d: String) -> Bool { digestProblem(d) == nil }
}

/// An OS/architecture/variant triple with Go's names (amd64, arm64/v8, arm/v7).
public struct Platform: Equatable, Sendable, CustomStringConvertible {
    public var os: String
    public var architecture: String
    public var variant: String?

    public init(os: String, architecture: String, variant: String? = nil) {
        let (a, v) = Platform.normalize(architecture.lowercased(), variant?.lowercased())
        self.os = os.lowercased()
        self.architecture = a
        self.variant = v
    }

    /// The machine bocker runs on.
    public static var host: Platform {
        #if arch(x86_64)
        return Platform(os: "linux", architecture: "amd64")
        #elseif arch(arm64)
        return Platform(os: "linux", architecture: "arm64", variant: "v8")
        #elseif arch(arm)
        return Platform(os: "linux", architecture: "arm", variant: "v7")
        #elseif arch(i386)
        return Platform(os: "linux", architecture: "386")
        #elseif arch(powerpc64le)
        return Platform(os: "linux", architecture: "ppc64le")
        #elseif arch(s390x)
        return Platform(os: "linux", architecture: "s390x")
        #elseif arch(riscv64)
        return Platform(os: "linux", architecture: "riscv64")
        #else
        var u = utsname()
        uname(&u)
        let machine = withUnsafeBytes(of: &u.machine) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        return Platform(os: "linux", architecture: machine)
        #endif
    }

    /// "linux/amd64", "linux/arm64/v8", "linux/arm/v7", "arm64" (OS defaults to linux).
    public static func parse(_ s: String) throws -> Platform {
        let parts = s.lowercased().split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard (1...3).contains(parts.count), !parts.contains(where: \.isEmpty),
              parts.allSatisfy({ $0.utf8.allSatisfy { (0x61...0x7a).contains($0) || (0x30...0x39).contains($0) || $0 == 0x5f || $0 == 0x2d } })
        else {
            throw BockerError(.invalidArgument, "invalid platform '\(s)': expected os/arch[/variant], e.g. linux/arm64/v8")
        }
        if parts.count == 1 {
            if parts[0] == "linux" { return .host }
            return Platform(os: "linux", architecture: parts[0])
        }
        return Platform(os: parts[0], architecture: parts[1], variant: parts.count == 3 ? parts[2] : nil)
    }

    /// containerd's normalisation: x86_64 → amd64, aarch64 → arm64 (variant v8 is arm64's only
    /// one, so it is made explicit), armhf → arm/v7, armel → arm/v6, bare arm → arm/v7.
    static func normalize(_ arch: String, _ variant: String?) -> (String, String?) {
        switch arch {
        case "x86_64", "x86-64", "amd64": return ("amd64", variant)
        case "aarch64", "arm64":
            return ("arm64", (variant == nil || variant == "8" || variant == "v8") ? "v8" : variant)
        case "armhf": return ("arm", "v7")
        case "armel": return ("arm", "v6")
        case "arm":
            if let v = variant { return ("arm", v.hasPrefix("v") ? v : "v" + v) }
            return ("arm", "v7")
        case "i386", "i686": return ("386", variant)
        default: return (arch, variant)
        }
    }

    public var description: String {
        os + "/" + architecture + (variant.map { "/" + $0 } ?? "")
    }

    /// How well an index entry's platform serves `self` (nil: not at all; lower is better):
    /// 0 for the same variant (or no variant to compare), then older arm variants (v7 runs v6, v5).
    func matchRank(_ candidate: Platform) -> Int? {
        guard candidate.os == os, candidate.architecture == architecture else { return nil }
        guard let want = variant, let have = candidate.variant, want != have else { return 0 }
        if architecture == "arm", let w = Int(want.dropFirst()), let h = Int(have.dropFirst()), h < w {
            return w - h
        }
        return nil
    }
}
