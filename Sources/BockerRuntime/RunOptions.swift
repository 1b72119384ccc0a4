import Glibc
import BockerCore

/// One `--ulimit NAME=SOFT[:HARD]`: a resource limit set in the container's first process
/// before execve (inherited by everything it starts).
public struct Ulimit: Codable, Sendable, Equatable {
    public var name: String
    /// nil = unlimited.
    public var soft: UInt64?
    public var hard: UInt64?

    /// Docker's names and their RLIMIT_* numbers (asm-generic/resource.h, x86_64 and arm64).
    static let resources: [String: Int32] = [
        "cpu": 0, "fsize": 1, "data": 2, "stack": 3, "core": 4, "rss": 5, "nproc": 6, "nofile": 7,
        "memlock": 8, "as": 9, "locks": 10, "sigpending": 11, "msgqueue": 12, "nice": 13, "rtprio": 14,
        "rttime": 15,
    ]

    var resource: Int32 { Ulimit.resources[name] ?? -1 }

    public static func parse(_ s: String) throws -> Ulimit {
        func bad(_ why: String) -> BockerError { BockerError(.invalidArgument, "invalid --ulimit '\(s)': \(why)") }
        let kv = s.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard kv.count == 2, resources[kv[0]] != nil else {
            throw bad("use NAME=SOFT[:HARD] with NAME one of \(resources.keys.sorted().joined(separator: ", "))")
        }
        let parts = kv[1].split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        func value(_ t: String) throws -> UInt64? {
            if t == "-1" || t == "unlimited" { return nil }
            guard let n = UInt64(t) else { throw bad("'\(t)' is not a number (or unlimited, -1)") }
            return n
        }
        guard parts.count == 1 || parts.count == 2 else { throw bad("use NAME=SOFT[:HARD]") }
        let soft = try value(parts[0])
        let hard = parts.count == 2 ? try value(parts[1]) : soft
        if let h = hard, soft == nil || soft! > h { throw bad("the soft limit must not be above the hard limit") }
        return Ulimit(name: kv[0], soft: soft, hard: hard)
    }
}

/// One `--sysctl NAME=VALUE`. Only names the container's own namespaces scope are accepted
/// (Docker's list): net.* (with a network namespace of its own), kernel.shm*, kernel.msg*,
/// kernel.sem, fs.mqueue.* (with an IPC namespace of its own).
public struct Sysctl: Codable, Sendable, Equatable {
    public var name: String
    public var value: String

    static let ipcNames: Set<String> = ["kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
                                        "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"]

    var isNet: Bool { name.hasPrefix("net.") }
    var isIPC: Bool { Sysctl.ipcNames.contains(name) || name.hasPrefix("fs.mqueue.") }
    /// The file below /proc/sys.
    var path: String { String(name.map { $0 == "." ? "/" : $0 }) }

    public static func parse(_ s: String) throws -> Sysctl {
        let kv = s.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard kv.count == 2, !kv[0].isEmpty, kv[0].utf8.count < 200,
              kv[0].utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5f || $0 == 0x2e || $0 == 0x2d }),
              !kv[0].hasPrefix("."), !kv[0].hasSuffix("."), !kv[0].contains("..") else {
            throw BockerError(.invalidArgument, "invalid --sysctl '\(s)': use NAME=VALUE (net.ipv4.ip_forward=1)")
        }
        guard !kv[1].contains("\n"), !kv[1].contains("\0"), kv[1].utf8.count < 256 else {
            throw BockerError(.invalidArgument, "invalid --sysctl '\(s)': the value must be one line")
        }
        let c = Sysctl(name: kv[0], value: kv[1])
        guard c.isNet || c.isIPC else {
            throw BockerError(.invalidArgument, "sysctl '\(c.name)' is not namespaced: only net.*, kernel.shm*/msg*/sem and fs.mqueue.* can be set for one container")
        }
        return c
    }
}

/// Docker's run flags about a container's own files and first process, beyond security and
/// cgroup limits: extra /etc/hosts lines, resolv.conf settings, rlimits, namespaced sysctls,
/// the /dev/shm size, and the host namespaces it shares. Owns their parsing and validation and
/// what they make of the container's files.
public struct RunOptions: Codable, Sendable, Equatable {
    /// `--add-host NAME:IP` (IP may be `host-gateway`: the bridge's address, at each start).
    public var extraHosts: [String] = []
    public var dns: [String] = []
    public var dnsSearch: [String] = []
    public var dnsOptions: [String] = []
    public var ulimits: [Ulimit] = []
    public var sysctls: [Sysctl] = []
    /// `--shm-size` in bytes (nil: 64 MiB, Docker's default).
    public var shmSize: Int64?
    /// "host" shares the host's PID, UTS or IPC namespace; "container:<id>" (pid, ipc) joins
    /// that running container's; ipc also "private"/"shareable" (a new one) or "none" (a new
    /// one without /dev/shm); nil = a new one.
    public var pidMode: String?
    public var utsMode: String?
    public var ipcMode: String?

    public init() {}

    public var isDefault: Bool { self == RunOptions() }

    static func isAddress(_ s: String) -> Bool {
        var buf = [UInt8](repeating: 0, count: 16)
        return inet_pton(AF_INET, s, &buf) == 1 || inet_pton(AF_INET6, s, &buf) == 1
    }

    static func isDomain(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 253 && s.utf8.allSatisfy {
            ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2d || $0 == 0x2e || $0 == 0x5f
        }
    }

    /// `--add-host NAME:IP` or `NAME=IP` (Docker takes both), checked; stored as NAME:IP.
    public static func parseHost(_ s: String) throws -> String {
        let sep = s.firstIndex(of: "=") ?? s.firstIndex(of: ":")
        guard let i = sep else { throw BockerError(.invalidArgument, "invalid --add-host '\(s)': use NAME:IP") }
        let name = String(s[..<i]), ip = String(s[s.index(after: i)...])
        guard isDomain(name) else { throw BockerError(.invalidArgument, "invalid --add-host '\(s)': '\(name)' is not a host name") }
        guard ip == "host-gateway" || isAddress(ip) else {
            throw BockerError(.invalidArgument, "invalid --add-host '\(s)': '\(ip)' is not an IP address (or host-gateway)")
        }
        return name + ":" + ip
    }

    /// Checks every setting against the container's network mode, and the modes themselves.
    public func validate(network: String, hostname: String?) throws {
        for d in dns where !RunOptions.isAddress(d) {
            throw BockerError(.invalidArgument, "invalid --dns '\(d)': not an IP address")
        }
        for d in dnsSearch where !RunOptions.isDomain(d) {
            throw BockerError(.invalidArgument, "invalid --dns-search '\(d)': not a domain name")
        }
        for o in dnsOptions where o.isEmpty || !o.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) {
            throw BockerError(.invalidArgument, "invalid --dns-option '\(o)': one word such as ndots:2")
        }
        if let m = pidMode, m != "host" && !m.hasPrefix("container:") {
            throw BockerError(.invalidArgument, "invalid --pid '\(m)': use host or container:NAME")
        }
        if let m = utsMode, m != "host" { throw BockerError(.invalidArgument, "invalid --uts '\(m)': only host is supported") }
        if let m = ipcMode, !["host", "private", "shareable", "none"].contains(m) && !m.hasPrefix("container:") {
            throw BockerError(.invalidArgument, "invalid --ipc '\(m)': use private (the default), shareable, none, host or container:NAME")
        }
        if network.hasPrefix("container:") {
            // Docker's rule: the network, hostname and DNS are the other container's.
            for (flag, set) in [("--hostname", hostname != nil), ("--dns", !dns.isEmpty), ("--dns-search", !dnsSearch.isEmpty),
                                ("--dns-option", !dnsOptions.isEmpty), ("--add-host", !extraHosts.isEmpty)] where set {
                throw BockerError(.invalidArgument, "conflicting options: \(flag) and --network container:")
            }
        }
        if utsMode == "host" && hostname != nil {
            throw BockerError(.invalidArgument, "conflicting options: --hostname and --uts host")
        }
        if let s = shmSize, s <= 0 {
            throw BockerError(.invalidArgument, "invalid --shm-size \(s): must be greater than 0")
        }
        if let m = ipcMode, m == "host" || m == "none" || m.hasPrefix("container:"), shmSize != nil {
            throw BockerError(.invalidArgument, "conflicting options: --shm-size and --ipc \(m) (\(m == "none" ? "no" : "another") /dev/shm)")
        }
        for c in sysctls {
            if c.isNet && (network == "host" || network.hasPrefix("container:")) {
                throw BockerError(.invalidArgument, "sysctl '\(c.name)' is not allowed with --network \(network): the namespace is not its own")
            }
            if c.isIPC, let m = ipcMode, m == "host" || m.hasPrefix("container:") {
                throw BockerError(.invalidArgument, "sysctl '\(c.name)' is not allowed with --ipc \(m): the namespace is not its own")
            }
        }
    }

    /// The /etc/hosts lines `--add-host` adds, `host-gateway` as `gateway`.
    func hostsLines(gateway: String) -> String {
        extraHosts.map { h -> String in
            let i = h.firstIndex(of: ":")!
            let ip = String(h[h.index(after: i)...])
            return (ip == "host-gateway" ? gateway : ip) + "\t" + h[..<i] + "\n"
        }.joined()
    }

    /// resolv.conf with `--dns`, `--dns-search` and `--dns-option` in place of the host's
    /// nameserver, search/domain and options lines (each only when given).
    func resolvConf(_ base: String) -> String {
        if dns.isEmpty && dnsSearch.isEmpty && dnsOptions.isEmpty { return base }
        var lines = base.split(separator: "\n").map(String.init).filter { line in
            let word = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).first.map(String.init) ?? ""
            if !dns.isEmpty && word == "nameserver" { return false }
            if !dnsSearch.isEmpty && (word == "search" || word == "domain") { return false }
            if !dnsOptions.isEmpty && word == "options" { return false }
            return true
        }
        lines += dns.map { "nameserver " + $0 }
        if !dnsSearch.isEmpty { lines.append("search " + dnsSearch.joined(separator: " ")) }
        if !dnsOptions.isEmpty { lines.append("options " + dnsOptions.joined(separator: " ")) }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The --ulimit values as (resource, soft, hard): the first process's and every exec'd one's.
    var rlimits: [(Int32, UInt64, UInt64)] { ulimits.map { bk_rlimit_value($0.resource, $0.soft, $0.hard) } }

    /// What the container's first process gets: rlimits, sysctls, /dev/shm, shared namespaces.
    func apply(to spec: inout ProcessSpec) {
        spec.rlimits = rlimits
        spec.sysctls = sysctls.map { ($0.path, $0.value) }
        if let s = shmSize { spec.shmOptions = "mode=1777,size=\(s)" }
        spec.hostPID = pidMode == "host"
        spec.hostUTS = utsMode == "host"
        spec.hostIPC = ipcMode == "host"
        spec.noShm = ipcMode == "none"
    }
}

/// (resource, soft, hard) with nil = RLIM_INFINITY.
func bk_rlimit_value(_ resource: Int32, _ soft: UInt64?, _ hard: UInt64?) -> (Int32, UInt64, UInt64) {
    (resource, soft ?? UInt64.max, hard ?? UInt64.max)
}

extension RunOptions {
    /// As stored in container.json (only what is set).
    var json: JSONValue {
        func a(_ v: [String]) -> JSONValue? { v.isEmpty ? nil : .array(v.map { .string($0) }) }
        var f: [(String, JSONValue?)] = [
            ("dns", a(dns)), ("dnsOptions", a(dnsOptions)), ("dnsSearch", a(dnsSearch)), ("extraHosts", a(extraHosts)),
            ("ipcMode", ipcMode.map { .string($0) }), ("pidMode", pidMode.map { .string($0) }),
            ("shmSize", shmSize.map { .int(Int($0)) }),
        ]
        f.append(("sysctls", sysctls.isEmpty ? nil : .array(sysctls.map { .object([("name", .string($0.name)), ("value", .string($0.value))]) })))
        f.append(("ulimits", ulimits.isEmpty ? nil : .array(ulimits.map { u in
            .object([("hard", u.hard.map { .int(Int(clamping: $0)) } ?? .int(-1)), ("name", .string(u.name)),
                     ("soft", u.soft.map { .int(Int(clamping: $0)) } ?? .int(-1))]) })))
        f.append(("utsMode", utsMode.map { .string($0) }))
        return .object(f.compactMap { k, v in v.map { (k, $0) } })
    }

    init(json j: JSONValue) {
        dns = j["dns"]?.strings ?? []
        dnsOptions = j["dnsOptions"]?.strings ?? []
        dnsSearch = j["dnsSearch"]?.strings ?? []
        extraHosts = j["extraHosts"]?.strings ?? []
        ipcMode = j["ipcMode"]?.string
        pidMode = j["pidMode"]?.string
        utsMode = j["utsMode"]?.string
        shmSize = j["shmSize"]?.int.map(Int64.init)
        sysctls = j["sysctls"]?.array?.compactMap { s in
            s["name"]?.string.flatMap { n in s["value"]?.string.map { Sysctl(name: n, value: $0) } }
        } ?? []
        ulimits = j["ulimits"]?.array?.compactMap { u in
            guard let n = u["name"]?.string, let s = u["soft"]?.int, let h = u["hard"]?.int else { return nil }
            return Ulimit(name: n, soft: s < 0 ? nil : UInt64(s), hard: h < 0 ? nil : UInt64(h))
        } ?? []
    }
}

/// How a foreground `run` is attached (`-a`, `--sig-proxy`): which of the container's output
/// streams it shows (both always go to the log) and whether it forwards signals.
public struct AttachOptions: Sendable {
    public var stdout = true
    public var stderr = true
    /// Forward SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 to the container (default);
    /// false: they are ignored.
    public var sigProxy = true

    public init(stdout: Bool = true, stderr: Bool = true, sigProxy: Bool = true) {
        self.stdout = stdout
        self.stderr = stderr
        self.sigProxy = sigProxy
    }
}
