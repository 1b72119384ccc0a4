import Glibc
import Testing

/// The network configuration of the namespace the test process runs in (the machine's own):
/// links, addresses, routes, firewall rules and forwarding sysctls, normalised so that only a
/// real change makes two snapshots differ (no packet counters, no timestamps).
struct HostNetworkState: Equatable {
    var parts: [String: String]

    static func take() -> HostNetworkState {
        var parts: [String: String] = [:]
        func tool(_ key: String, _ argv: [String]) {
            let r = runTool(argv, timeout: 30)
            parts[key] = "exit \(r.status)\n" + normalise(r.stdout)
        }
        tool("ip link", ["ip", "-o", "link", "show"])
        tool("ip addr", ["ip", "-o", "addr", "show"])
        tool("ip route", ["ip", "route", "show", "table", "all"])
        tool("iptables-save", ["iptables-save"])
        tool("ip6tables-save", ["ip6tables-save"])
        tool("nft list ruleset", ["nft", "list", "ruleset"])
        for key in ["net/ipv4/ip_forward", "net/ipv4/conf/all/forwarding", "net/ipv4/conf/all/route_localnet",
                    "net/ipv6/conf/all/forwarding"] {
            parts["sysctl " + key] = Host.readFile("/proc/sys/" + key).map(trimmed) ?? "(unreadable)"
        }
        return HostNetworkState(parts: parts)
    }

    /// Drops `#` comment lines (iptables-save's timestamps) and zeroes packet/byte counters.
    private static func normalise(_ text: String) -> String {
        splitLines(text)
            .filter { !$0.hasPrefix("#") }
            .map { line in
                line.replacing(#/\[[0-9]+:[0-9]+\]/#, with: "[]")
                    .replacing(#/counter packets [0-9]+ bytes [0-9]+/#, with: "counter")
            }
            .joined(separator: "\n")
    }

    /// Human-readable differences (empty when equal).
    func differences(to other: HostNetworkState) -> [String] {
        var out: [String] = []
        for key in Set(parts.keys).union(other.parts.keys).sorted() where parts[key] != other.parts[key] {
            out.append("\(key) before:\n\(parts[key] ?? "(none)")\n\(key) after:\n\(other.parts[key] ?? "(none)")")
        }
        return out
    }
}

/// A private network namespace `bocker-e2e-net-XXXXXXXX` around a `BockerFixture`: every
/// bocker command of the fixture runs inside it (`nsenter --net=/run/netns/NAME -- bocker …`), so
/// bridges, veths, NAT and DNAT rules are made there and vanish with it. The machine's own
/// network state is compared before the test, at the end of the test body (while the namespace
/// still exists) and after the namespace is gone.
///
///     try NetworkFixture.with { n, f in
///         let img = try f.initImage()
///         let r = f.run(["run", img, "ping", "-c1", "-W2", "10.0.0.1"])
///         #expect(r.status == 0, "\(r)")
///     }
final class NetworkFixture: @unchecked Sendable {
    let f: BockerFixture
    let name: String
    var nsPath: String { "/run/netns/" + name }
    private var helpers: [ChildProcess] = []
    private var imageCount = 0

    private init(_ f: BockerFixture) throws {
        self.f = f
        name = "bocker-e2e-net-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let add = runTool(["ip", "netns", "add", name])
        guard add.status == 0 else { throw FixtureError(description: "ip netns add \(name) failed: \(add)") }
        let lo = runTool(["ip", "-n", name, "link", "set", "lo", "up"])
        guard lo.status == 0 else {
            runTool(["ip", "netns", "del", name])
            throw FixtureError(description: "ip -n \(name) link set lo up failed: \(lo)")
        }
        f.commandPrefix = ["nsenter", "--net=" + nsPath, "--"]
    }

    /// Runs `body` with a fresh bocker fixture whose commands run in a fresh network namespace.
    /// Cleanup, whatever happened: `bocker rm -f` of every container of the store (inside the
    /// namespace), the helper processes this fixture started, then `ip netns del`.
    static func with(driver: String = "overlay", sourceLocation: SourceLocation = #_sourceLocation,
                     _ body: (NetworkFixture, BockerFixture) throws -> Void) throws {
        let before = HostNetworkState.take()
        defer {
            let diff = before.differences(to: HostNetworkState.take())
            #expect(diff.isEmpty, "the machine's own network namespace changed (after cleanup):\n\(diff.joined(separator: "\n"))",
                    sourceLocation: sourceLocation)
        }
        try BockerFixture.with(driver: driver) { f in
            let n = try NetworkFixture(f)
            defer { n.tearDown() }
            try body(n, f)
            let diff = before.differences(to: HostNetworkState.take())
            #expect(diff.isEmpty, "the machine's own network namespace changed (during the test):\n\(diff.joined(separator: "\n"))",
                    sourceLocation: sourceLocation)
        }
    }

    private func tearDown() {
        let ids = f.containerIds().sorted()
        if !ids.isEmpty { _ = f.run(["rm", "-f"] + ids, timeout: 30) }
        for h in helpers where !h.isReaped {
            h.signal(SIGKILL)
            _ = h.finish(timeout: 10, eofGrace: 1)
        }
        helpers = []
        runTool(["ip", "netns", "del", name])
    }

    // MARK: - Looking into the namespace

    /// Runs a host tool inside the namespace.
    @discardableResult
    func inNamespace(_ argv: [String], timeout: Double = 30) -> RunResult {
        runTool(["nsenter", "--net=" + nsPath, "--"] + argv, timeout: timeout)
    }

    /// Names of the namespace's links (`veth1@if2` → `veth1`), sorted.
    /// The kernel removes an exited container's veth pair asynchronously, with its namespace,
    /// a few milliseconds after its last process; this waits (up to 5 s) until no veth of a
    /// container that is not running is left, so comparisons never race with that teardown.
    func links() -> [String] {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        let deadline = Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9 + 5
        while true {
            let all = linkNames(inOneLineOutput: runTool(["ip", "-n", name, "-o", "link", "show"]).stdout)
            let stale = all.filter { $0.hasPrefix("bk") && $0.count == 14 && !runningVeths().contains($0) }
            clock_gettime(CLOCK_MONOTONIC, &ts)
            if stale.isEmpty || Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9 > deadline { return all }
            var pause = timespec(tv_sec: 0, tv_nsec: 2_000_000)
            nanosleep(&pause, nil)
        }
    }

    /// Host-side veth names of the containers the store says are running ("bk" + 12 hex).
    private func runningVeths() -> Set<String> {
        var out = Set<String>()
        for id in Host.listDirectory(f.root + "/containers") where id.hasPrefix("ps_") {
            if Host.readFile(f.root + "/containers/\(id)/container.json")?.contains("\"state\":\"running\"") == true {
                out.insert("bk" + id.dropFirst(3).prefix(12))
            }
        }
        return out
    }

    /// Names of the namespace's veth links (the host side of containers' interfaces).
    func vethLinks() -> [String] {
        linkNames(inOneLineOutput: runTool(["ip", "-n", name, "-o", "link", "show", "type", "veth"]).stdout)
    }

    /// The veth links left once the kernel has finished tearing down exited containers'
    /// namespaces: it removes their veth pairs asynchronously, a few milliseconds after the
    /// container's last process exits, so this waits (up to `timeout` seconds) for that.
    func vethLinksAfterTeardown(timeout: Double = 5) -> [String] {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        let deadline = Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9 + timeout
        while true {
            let left = vethLinks()
            clock_gettime(CLOCK_MONOTONIC, &ts)
            if left.isEmpty || Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9 > deadline { return left }
            var pause = timespec(tv_sec: 0, tv_nsec: 2_000_000)
            nanosleep(&pause, nil)
        }
    }

    /// The namespace's `iptables-save -t nat`.
    func natTable() -> RunResult {
        inNamespace(["iptables-save", "-t", "nat"])
    }

    /// The `-A …` lines of the namespace's nat table.
    func natRules() -> [String] {
        splitLines(natTable().stdout).filter { $0.hasPrefix("-A ") }
    }

    /// nat rules that name `ip` as a whole address (10.0.0.2 does not match 10.0.0.23).
    func natRules(mentioning ip: String) -> [String] {
        natRules().filter { mentions($0, ip) }
    }

    /// `wget -qO- URL` (busybox) from inside the namespace, killed after `timeout` seconds.
    /// (Debian's busybox wget has no working -T: it segfaults on it.)
    func httpGet(_ url: String, timeout: Int = 5) -> RunResult {
        inNamespace(["/bin/busybox", "timeout", String(timeout), "/bin/busybox", "wget", "-qO-", url],
                    timeout: Double(timeout) + 10)
    }

    /// The contents of a sysctl file as seen from inside the namespace.
    func sysctl(_ key: String) -> String {
        trimmed(inNamespace(["cat", "/proc/sys/" + key]).stdout)
    }

    // MARK: - Processes

    /// Starts `bocker run -i OPTIONS IMAGE sh -c SCRIPT` in the background, waits until its
    /// stdout contains "ready" and returns it with the id of the one container it created. The
    /// script should print "ready" and then block on `read`; closing stdin (`finish`) ends it.
    func startContainer(_ image: String, options: [String] = [], script: String,
                        env: [String: String] = [:]) throws -> (ChildProcess, String) {
        let before = f.containerIds()
        let p = try f.start(["run", "-i"] + options + [image, "sh", "-c", script], env: env)
        guard p.waitForStdout(containing: "ready", timeout: 30) else {
            p.signal(SIGKILL)
            let r = p.finish(timeout: 10, eofGrace: 1)
            throw FixtureError(description: "the background container (\(options)) never printed 'ready': \(r)")
        }
        let new = f.containerIds().subtracting(before)
        guard new.count == 1, let id = new.first else {
            throw FixtureError(description: "expected exactly one new container, got \(new.sorted())")
        }
        return (p, id)
    }

    /// Starts `nc -l -p PORT` (busybox) inside the namespace and waits until the port listens.
    func listen(tcpPort port: Int) throws -> ChildProcess {
        let p = try ChildProcess(argv: ["nsenter", "--net=" + nsPath, "--", "/bin/busybox", "nc", "-l", "-p", String(port)],
                                 environment: environmentList(currentEnvironment()), stdin: nil, keepStdinOpen: true)
        helpers.append(p)
        // Poll the namespace's listening sockets until nc's appears (bounded; not a sleep).
        for _ in 0..<500 {
            let ss = inNamespace(["ss", "-Hltn", "sport = :\(port)"])
            if ss.stdout.contains(":\(port)") { return p }
            if p.reapIfExited() { break }
            usleep(10_000)
        }
        p.signal(SIGKILL)
        let r = p.finish(timeout: 10, eofGrace: 1)
        throw FixtureError(description: "nc -l -p \(port) never listened in \(name): \(r)")
    }

    // MARK: - Images

    /// An image made from a private copy of the busybox rootfs with `files` written (path
    /// relative to the root → contents) and `symlinks` made (path → target), replacing what was there.
    func makeImage(files: [String: String] = [:], symlinks: [String: String] = [:]) throws -> String {
        imageCount += 1
        let dir = f.tmp + "/image-src-\(imageCount)"
        let cp = runTool(["cp", "-a", f.rootfs, dir])
        guard cp.status == 0 else { throw FixtureError(description: "cp -a \(f.rootfs) \(dir) failed: \(cp)") }
        for (path, text) in files {
            let full = dir + "/" + path
            runTool(["mkdir", "-p", String(full[..<full.lastIndex(of: "/")!])])
            try Host.writeFile(full, text)
        }
        for (path, target) in symlinks {
            let full = dir + "/" + path
            runTool(["mkdir", "-p", String(full[..<full.lastIndex(of: "/")!])])
            runTool(["rm", "-f", full])
            guard symlink(target, full) == 0 else {
                throw FixtureError(description: "symlink \(target) \(full): \(String(cString: strerror(errno)))")
            }
        }
        return try f.initImage(dir)
    }
}

// MARK: - Parsing

/// Link names of `ip -o link` output (iproute2 or busybox): `5: veth1@if4: <…>` → `veth1`.
func linkNames(inOneLineOutput text: String) -> [String] {
    splitLines(text).compactMap { line -> String? in
        let f = fields(line)
        guard f.count >= 2, f[0].hasSuffix(":") else { return nil }
        var n = f[1]
        if n.hasSuffix(":") { n.removeLast() }
        if let at = n.firstIndex(of: "@") { n = String(n[..<at]) }
        return n
    }.sorted()
}

/// The first `inet A.B.C.D/N` of `ip addr` output: ("A.B.C.D", N).
func firstInet(in text: String) -> (ip: String, prefix: Int)? {
    guard let m = text.firstMatch(of: #/inet ([0-9]+\.[0-9]+\.[0-9]+\.[0-9]+)/([0-9]+)/#) else { return nil }
    return (String(m.1), Int(m.2) ?? -1)
}

/// Every `inet A.B.C.D` address in a text, in order.
func allInets(in text: String) -> [String] {
    text.matches(of: #/inet ([0-9]+\.[0-9]+\.[0-9]+\.[0-9]+)/#).map { String($0.1) }
}

/// The first `link/ether xx:xx:…` of `ip link` output.
func firstMAC(in text: String) -> String? {
    text.firstMatch(of: #/link/ether ([0-9a-fA-F:]{17})/#).map { String($0.1).lowercased() }
}

/// `02:42:` and the address's four bytes in hex: 10.0.0.2 → 02:42:0a:00:00:02.
func expectedMAC(for ip: String) -> String {
    let bytes = ip.split(separator: ".").compactMap { UInt8($0) }
    return (["02", "42"] + bytes.map { b in
        let h = String(b, radix: 16)
        return h.count == 1 ? "0" + h : h
    }).joined(separator: ":")
}

/// True when `line` names `ip` as a whole address (10.0.0.2 in "10.0.0.2:80" or "10.0.0.2/32",
/// not in "10.0.0.23").
func mentions(_ line: String, _ ip: String) -> Bool {
    line.matches(of: #/[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+/#).contains { String($0.0) == ip }
}

/// The sections of an output whose parts were separated by lines `@NAME`.
func sections(_ text: String) -> [String: String] {
    var out: [String: String] = [:]
    var current = ""
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
        if line.hasPrefix("@") { current = String(line.dropFirst()); out[current] = ""; continue }
        out[current, default: ""] += line + "\n"
    }
    return out
}

/// Parses "A.B.C.D/N" into (network address as UInt32, prefix length).
func parseCIDR(_ s: String) -> (UInt32, Int)? {
    let parts = s.split(separator: "/")
    guard parts.count == 2, let n = Int(parts[1]), (0...32).contains(n) else { return nil }
    let octets = parts[0].split(separator: ".").compactMap { UInt32($0) }
    guard octets.count == 4, octets.allSatisfy({ $0 <= 255 }) else { return nil }
    let addr = octets.reduce(0) { $0 << 8 | $1 }
    let mask: UInt32 = n == 0 ? 0 : ~UInt32(0) << UInt32(32 - n)
    return (addr & mask, n)
}

/// Whether two CIDR blocks share an address.
func cidrsOverlap(_ a: String, _ b: String) -> Bool {
    guard let (na, la) = parseCIDR(a), let (nb, lb) = parseCIDR(b) else { return false }
    let l = min(la, lb)
    let mask: UInt32 = l == 0 ? 0 : ~UInt32(0) << UInt32(32 - l)
    return na & mask == nb & mask
}

/// The text of a page served in the port and name-resolution tests.
let webPage = "hello from a bocker container over the network\n"
