import BockerCore

/// A patch to an image config, as `commit --change` gives it (Dockerfile instructions CMD,
/// ENTRYPOINT, ENV, EXPOSE, LABEL, USER, WORKDIR, VOLUME, STOPSIGNAL, HEALTHCHECK, ONBUILD,
/// already parsed): nil / empty fields leave the config's value. Owns the rules of applying one
/// (Docker's builder's): ENV and LABEL add or override by name, EXPOSE and VOLUME add, CMD,
/// ENTRYPOINT, USER, STOPSIGNAL and HEALTHCHECK replace, a relative WORKDIR is taken from the
/// current one, and an ENTRYPOINT without a CMD clears the old CMD.
public struct ImageConfigChange: Equatable, Sendable {
    public var cmd: [String]?
    public var entrypoint: [String]?
    /// "KEY=VALUE" entries.
    public var env: [String] = []
    /// "PORT[/PROTO]" or "FIRST-LAST[/PROTO]".
    public var exposedPorts: [String] = []
    public var labels: [String: String] = [:]
    public var user: String?
    public var workingDir: String?
    public var volumes: [String] = []
    public var stopSignal: String?
    public var healthcheck: HealthcheckConfig?
    /// ONBUILD triggers ("RUN make"): added.
    public var onBuild: [String] = []

    public init() {}

    public var isEmpty: Bool { self == ImageConfigChange() }

    /// The config with this change applied; a malformed value is an error naming it.
    public func applied(to base: ImageConfig) throws -> ImageConfig {
        var c = base
        if let e = entrypoint {
            c.entrypoint = e.isEmpty ? nil : e
            if cmd == nil { c.cmd = nil }
        }
        if let x = cmd { c.cmd = x.isEmpty ? nil : x }
        if !env.isEmpty {
            var out = c.env ?? []
            for kv in env {
                guard let eq = kv.firstIndex(of: "="), eq != kv.startIndex else {
                    throw BockerError(.invalidArgument, "invalid environment variable '\(kv)' (use KEY=VALUE)")
                }
                let key = kv[..<eq]
                if let i = out.firstIndex(where: { $0.split(separator: "=", maxSplits: 1).first.map { $0 == key } ?? false }) {
                    out[i] = kv
                } else {
                    out.append(kv)
                }
            }
            c.env = out
        }
        if !exposedPorts.isEmpty {
            var ports = c.exposedPorts ?? []
            for p in try exposedPorts.flatMap(ExposedPort.expand) where !ports.contains(p) { ports.append(p) }
            c.exposedPorts = ports
        }
        if !labels.isEmpty {
            var l = c.labels ?? [:]
            for (k, v) in labels {
                guard !k.isEmpty else { throw BockerError(.invalidArgument, "invalid label: an empty name") }
                l[k] = v
            }
            c.labels = l
        }
        if let u = user { c.user = u.isEmpty ? nil : u }
        if let w = workingDir {
            guard !w.isEmpty else { throw BockerError(.invalidArgument, "WORKDIR needs a path") }
            c.workingDir = ExposedPort.clean(w.hasPrefix("/") ? w : (c.workingDir ?? "/") + "/" + w)
        }
        if !volumes.isEmpty {
            var v = c.volumes ?? []
            for path in volumes {
                guard path.hasPrefix("/"), !path.contains("\0") else {
                    throw BockerError(.invalidArgument, "invalid volume '\(path)': an absolute path in the container")
                }
                let p = ExposedPort.clean(path)
                guard p != "/" else { throw BockerError(.invalidArgument, "invalid volume '/': a volume cannot be the root") }
                if !v.contains(p) { v.append(p) }
            }
            c.volumes = v
        }
        if let s = stopSignal {
            guard !s.isEmpty else { throw BockerError(.invalidArgument, "STOPSIGNAL needs a signal") }
            c.stopSignal = s
        }
        if !onBuild.isEmpty { c.onBuild = (c.onBuild ?? []) + onBuild }
        if let h = healthcheck {
            guard let kind = h.test.first, ["CMD", "CMD-SHELL", "NONE"].contains(kind), kind == "NONE" || h.test.count > 1 else {
                throw BockerError(.invalidArgument, "invalid HEALTHCHECK test \(h.test): use [\"CMD\", arg...], [\"CMD-SHELL\", \"command\"] or [\"NONE\"]")
            }
            for (name, v) in [("interval", h.interval), ("timeout", h.timeout), ("start period", h.startPeriod),
                              ("start interval", h.startInterval)] {
                if let v, v < 0 { throw BockerError(.invalidArgument, "invalid HEALTHCHECK \(name): it must not be negative") }
            }
            if let r = h.retries, r < 0 { throw BockerError(.invalidArgument, "invalid HEALTHCHECK retries: it must not be negative") }
            c.healthcheck = h
        }
        return c
    }
}

/// Exposed ports as the image config keys them: "80/tcp".
public enum ExposedPort {
    /// "80", "80/udp", "8000-8010/tcp" → ["80/tcp"], …; anything else is an error naming it.
    public static func expand(_ spec: String) throws -> [String] {
        func bad(_ why: String) -> BockerError { BockerError(.invalidArgument, "invalid exposed port '\(spec)': \(why)") }
        var body = Substring(spec), proto = "tcp"
        if let slash = body.firstIndex(of: "/") {
            proto = body[body.index(after: slash)...].lowercased()
            body = body[..<slash]
            guard ["tcp", "udp", "sctp"].contains(proto) else { throw bad("protocol must be tcp, udp or sctp") }
        }
        let ends = body.split(separator: "-", omittingEmptySubsequences: false)
        guard ends.count == 1 || ends.count == 2 else { throw bad("use PORT[/PROTO] or FIRST-LAST[/PROTO]") }
        let nums = try ends.map { s -> Int in
            guard !s.isEmpty, s.utf8.count <= 5, s.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let n = Int(s) else {
                throw bad("'\(s)' is not a port number")
            }
            guard n >= 1 && n <= 65535 else { throw bad("\(n) is out of range (1-65535)") }
            return n
        }
        guard nums.first! <= nums.last! else { throw bad("the range ends before it starts") }
        return (nums.first!...nums.last!).map { "\($0)/\(proto)" }
    }

    /// The port and protocol of a normalised key ("80/tcp" → (80, "tcp")); nil if it is not one.
    public static func split(_ key: String) -> (port: Int, proto: String)? {
        let parts = key.split(separator: "/", maxSplits: 1)
        guard let n = parts.first.flatMap({ Int($0) }), n >= 1, n <= 65535 else { return nil }
        return (n, parts.count == 2 ? parts[1].lowercased() : "tcp")
    }

    /// An absolute path without empty, "." and ".." parts (".." stops at the root).
    public static func clean(_ path: String) -> String {
        var parts: [Substring] = []
        for p in path.split(separator: "/") where p != "." {
            if p == ".." { _ = parts.popLast() } else { parts.append(p) }
        }
        return "/" + parts.joined(separator: "/")
    }
}
