import Foundation
import Glibc
import Testing

/// Docker's run flags, each checked where it takes effect: inside the container (its files,
/// its limits, its namespaces) or in its cgroup, and each bad value refused with one line and
/// nothing made.
@Suite("run flags: hosts/DNS files, limits, ulimits, sysctls, /dev/shm, mounts, namespaces, attach")
struct RunFlagsTests {
    /// `bocker run --rm OPTIONS IMG sh -c SCRIPT`, expected to succeed; its stdout.
    static func inside(_ f: BockerFixture, _ img: String, _ options: [String], _ script: String,
                       sourceLocation: SourceLocation = #_sourceLocation) -> String {
        let r = f.run(["run", "--rm"] + options + [img, "sh", "-c", script])
        #expect(r.status == 0, "run \(options) sh -c '\(script)': \(r)", sourceLocation: sourceLocation)
        return r.stdout
    }

    /// A bad command line: exit 125, one line on stderr naming `what`, nothing made.
    static func refused(_ f: BockerFixture, _ img: String, _ options: [String], naming what: String,
                        sourceLocation: SourceLocation = #_sourceLocation) {
        let before = f.storeListing()
        let r = f.run(["run", "--rm"] + options + [img, "true"])
        #expect(r.status == 125, "\(options): \(r)", sourceLocation: sourceLocation)
        #expect(r.stderrLines.count == 1 && r.stderr.contains(what) && r.stdout.isEmpty, "\(options): \(r)", sourceLocation: sourceLocation)
        #expect(f.storeListing() == before, "\(options) left something behind", sourceLocation: sourceLocation)
    }

    @Test("--add-host (host-gateway = the bridge's address), --dns, --dns-search, --dns-option are in the container's files")
    func hostsAndDNS() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let out = Self.inside(f, img, ["--add-host", "db.local:10.1.2.3", "--add-host", "gw:host-gateway",
                                           "--add-host", "v6=fd00::1", "--dns", "9.9.9.9", "--dns", "1.1.1.1",
                                           "--dns-search", "example.com", "--dns-option", "ndots:2"],
                                  "cat /etc/hosts; echo ---; cat /etc/resolv.conf; echo ---; ip -4 route | awk '/default/ { print $3 }'")
            let parts = out.components(separatedBy: "---\n")
            #expect(parts.count == 3, "\(out)")
            guard parts.count == 3 else { return }
            let hosts = splitLines(parts[0]), resolv = splitLines(parts[1])
            let gateway = trimmed(parts[2])
            #expect(!gateway.isEmpty, "no default route inside: \(out)")
            #expect(hosts.contains("10.1.2.3\tdb.local"), "\(hosts)")
            #expect(hosts.contains("\(gateway)\tgw"), "host-gateway must be the bridge's address \(gateway): \(hosts)")
            #expect(hosts.contains("fd00::1\tv6"), "\(hosts)")
            #expect(resolv.filter { $0.hasPrefix("nameserver") } == ["nameserver 9.9.9.9", "nameserver 1.1.1.1"], "\(resolv)")
            #expect(resolv.contains("search example.com") && resolv.contains("options ndots:2"), "\(resolv)")
            // --network none: host-gateway is still the default bridge's address.
            let none = Self.inside(f, img, ["--network", "none", "--add-host", "gw:host-gateway"], "grep gw /etc/hosts")
            #expect(none == "\(gateway)\tgw\n", "\(none)")

            Self.refused(f, img, ["--add-host", "nocolon"], naming: "nocolon")
            Self.refused(f, img, ["--add-host", "x:999.1.1.1"], naming: "999.1.1.1")
            Self.refused(f, img, ["--dns", "not-an-ip"], naming: "not-an-ip")
            Self.refused(f, img, ["--dns-search", "bad domain"], naming: "bad domain")
        }
    }

    /// The container's directory in the v1 hierarchy (or the v2 directory) holding `file`.
    static func cgroupFile(_ id: String, _ file: String) -> String? {
        Host.cgroupDirectories(forContainer: id).map { $0 + "/" + file }.first { Host.readFile($0) != nil }
            .flatMap(Host.readFile).map(trimmed)
    }

    @Test("--cpus sets a CFS quota that throttles a busy loop; --cpuset-cpus shows in Cpus_allowed_list")
    func cpuLimits() throws {
        try LifecycleFixture.with { f in
            let img = try f.initImage()
            let (r, id) = f.runNew(["run", "--cpus", "0.01", img, "sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done"], timeout: 120)
            #expect(r.status == 0, "\(r)")
            let cid = try #require(id)
            if let quota = Self.cgroupFile(cid, "cpu.cfs_quota_us") {
                #expect(quota == "1000" && Self.cgroupFile(cid, "cpu.cfs_period_us") == "100000", "quota \(quota)")
                let stat = Self.cgroupFile(cid, "cpu.stat") ?? ""
                let throttled = splitLines(stat).first { $0.hasPrefix("nr_throttled ") }.flatMap { Int($0.split(separator: " ")[1]) } ?? 0
                #expect(throttled > 0, "a busy loop under --cpus 0.01 (1 ms per 100 ms) was never throttled: \(stat)")
            } else {
                #expect(Self.cgroupFile(cid, "cpu.max") == "1000 100000")
            }
            let cpus = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
            let last = cpus - 1
            let out = Self.inside(f, img, ["--cpuset-cpus", "\(last)"], "grep Cpus_allowed_list /proc/self/status")
            #expect(out == "Cpus_allowed_list:\t\(last)\n", "\(out)")
            // The container cannot widen it: taskset/sched_setaffinity stays inside the set.
            Self.refused(f, img, ["--cpuset-cpus", "\(cpus + 7)"], naming: "--cpuset-cpus")
            Self.refused(f, img, ["--cpuset-cpus", "0-x"], naming: "--cpuset-cpus")
            Self.refused(f, img, ["--cpus", "0"], naming: "--cpus")
            Self.refused(f, img, ["--cpus", "lots"], naming: "--cpus")
        }
    }

    @Test("--memory-swap and --memory-reservation reach the memory cgroup; inconsistent values are refused")
    func memoryLimits() throws {
        try LifecycleFixture.with { f in
            let img = try f.initImage()
            let id = try f.runDetached(["-m", "64m", "--memory-swap", "128m", "--memory-reservation", "32m", img, "sleep", "1000"])
            if Host.readFile("/sys/fs/cgroup/memory/memory.limit_in_bytes") != nil {
                #expect(Self.cgroupFile(id, "memory.memsw.limit_in_bytes") == "134217728")
                #expect(Self.cgroupFile(id, "memory.soft_limit_in_bytes") == "33554432")
            } else {
                #expect(Self.cgroupFile(id, "memory.swap.max") == "67108864")
                #expect(Self.cgroupFile(id, "memory.low") == "33554432")
            }
            Self.refused(f, img, ["--memory-swap", "128m"], naming: "--memory-swap")
            Self.refused(f, img, ["-m", "64m", "--memory-swap", "32m"], naming: "--memory-swap")
            Self.refused(f, img, ["-m", "64m", "--memory-reservation", "128m"], naming: "--memory-reservation")
        }
    }

    @Test("--ulimit is set before the command (ulimit -n, -Hn, core) and exec'd commands; the container cannot raise it")
    func ulimits() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let out = Self.inside(f, img, ["--ulimit", "nofile=1024:2048", "--ulimit", "core=0"],
                                  "ulimit -n; ulimit -Hn; ulimit -c; grep 'Max open files' /proc/self/limits")
            let lines = splitLines(out)
            #expect(lines.prefix(3) == ["1024", "2048", "0"], "\(out)")
            #expect(lines.last?.split(separator: " ", omittingEmptySubsequences: true).prefix(6).joined(separator: " ") == "Max open files 1024 2048 files", "\(out)")
            // Attack: raising the hard limit needs CAP_SYS_RESOURCE, which the container lacks.
            let raise = f.run(["run", "--rm", "--ulimit", "nofile=1024:2048", img, "sh", "-c", "ulimit -Hn 4096 && echo raised; ulimit -Hn"])
            #expect(!raise.stdout.contains("raised") && raise.stdout.hasSuffix("2048\n"), "\(raise)")
            // exec'd commands are held to the container's limits too (the attack: a process
            // exec'd into the container would otherwise get bocker's own, higher limits).
            let d = f.run(["run", "-d", "--ulimit", "nofile=1024:2048", "--ulimit", "nproc=300:400", img, "sleep", "1000"])
            #expect(d.status == 0, "\(d)")
            let id = d.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let exec = f.run(["exec", id, "sh", "-c", "ulimit -n; ulimit -Hn; ulimit -u; ulimit -Hn 4096 && echo raised"])
            #expect(splitLines(exec.stdout) == ["1024", "2048", "300"], "\(exec)")
            let rm = f.run(["rm", "-f", id])
            #expect(rm.status == 0, "\(rm)")
            Self.refused(f, img, ["--ulimit", "frobs=1"], naming: "frobs")
            Self.refused(f, img, ["--ulimit", "nofile=2048:1024"], naming: "nofile")
            Self.refused(f, img, ["--ulimit", "nofile=many"], naming: "many")
        }
    }

    @Test("--shm-size sizes /dev/shm (default 64m) and writing past it fails")
    func shmSize() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let size = Self.inside(f, img, ["--shm-size", "1m"], "df -k /dev/shm | awk 'NR == 2 { print $2 }'")
            #expect(size == "1024\n", "\(size)")
            let fallback = Self.inside(f, img, [], "df -k /dev/shm | awk 'NR == 2 { print $2 }'")
            #expect(fallback == "65536\n", "\(fallback)")
            let fill = f.run(["run", "--rm", "--shm-size", "1m", img, "sh", "-c", "dd if=/dev/zero of=/dev/shm/x bs=1024 count=2048 2>&1; echo rc=$?"])
            #expect(fill.stdout.contains("rc=1") && fill.stdout.contains("No space left"), "\(fill)")
            Self.refused(f, img, ["--shm-size", "huge"], naming: "--shm-size")
        }
    }

    @Test("--sysctl sets namespaced values inside only (the host's stay), refuses the others with one line")
    func sysctls() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let hostPort = Host.readFile("/proc/sys/net/ipv4/ip_unprivileged_port_start").map(trimmed)
            let hostShm = Host.readFile("/proc/sys/kernel/shmmni").map(trimmed)
            let out = Self.inside(f, img, ["--sysctl", "net.ipv4.ip_unprivileged_port_start=80", "--sysctl", "kernel.shmmni=1234",
                                           "--sysctl", "fs.mqueue.msg_max=20"],
                                  "cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/kernel/shmmni /proc/sys/fs/mqueue/msg_max")
            #expect(out == "80\n1234\n20\n", "\(out)")
            #expect(Host.readFile("/proc/sys/net/ipv4/ip_unprivileged_port_start").map(trimmed) == hostPort)
            #expect(Host.readFile("/proc/sys/kernel/shmmni").map(trimmed) == hostShm)
            // Attack: the container cannot change them itself (/proc/sys is read-only).
            let write = f.run(["run", "--rm", img, "sh", "-c", "echo 77 > /proc/sys/kernel/shmmni && echo wrote"])
            #expect(!write.stdout.contains("wrote"), "\(write)")
            Self.refused(f, img, ["--sysctl", "vm.swappiness=10"], naming: "vm.swappiness")
            Self.refused(f, img, ["--sysctl", "kernel.hostname=x"], naming: "kernel.hostname")
            Self.refused(f, img, ["--network", "host", "--sysctl", "net.ipv4.ip_forward=1"], naming: "net.ipv4.ip_forward")
            Self.refused(f, img, ["--ipc", "host", "--sysctl", "kernel.shmmni=1"], naming: "kernel.shmmni")
            Self.refused(f, img, ["--sysctl", "noequals"], naming: "noequals")
        }
    }

    @Test("--pid host sees the host's processes, --uts host the host's name, --ipc host the host's IPC namespace")
    func hostNamespaces() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let me = getpid()
            let seen = Self.inside(f, img, ["--pid", "host"], "test -d /proc/\(me) && echo seen; cat /proc/\(me)/comm")
            #expect(seen.hasPrefix("seen\n"), "--pid host does not see pid \(me): \(seen)")
            let own = Self.inside(f, img, [], "test -d /proc/\(me) && echo seen; echo done")
            #expect(own == "done\n" || me == 1, "a private PID namespace saw pid \(me): \(own)")

            var name = [CChar](repeating: 0, count: 256)
            gethostname(&name, name.count)
            let host = String(cString: name)
            #expect(Self.inside(f, img, ["--uts", "host"], "hostname") == host + "\n")
            #expect(Self.inside(f, img, [], "hostname") != host + "\n")
            gethostname(&name, name.count)
            #expect(String(cString: name) == host, "the host's name changed")

            var link = [CChar](repeating: 0, count: 256)
            let n = readlink("/proc/self/ns/ipc", &link, link.count - 1)
            let hostIPC = n > 0 ? String(cString: link) : "?"
            let ipc = trimmed(Self.inside(f, img, ["--ipc", "host"], "readlink /proc/self/ns/ipc"))
            #expect(ipc == hostIPC, "\(ipc) vs \(hostIPC)")
            let privateIPC = trimmed(Self.inside(f, img, [], "readlink /proc/self/ns/ipc"))
            #expect(privateIPC != ipc, "the default IPC namespace is the host's")

            Self.refused(f, img, ["--uts", "host", "--hostname", "x"], naming: "--hostname")
            Self.refused(f, img, ["--pid", "container:x"], naming: "--pid")
            Self.refused(f, img, ["--ipc", "bogus"], naming: "--ipc")
        }
    }

    @Test("--mount: bind readonly (writes refused), tmpfs with size and mode, volume; unsupported keys refused")
    func mounts() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let data = try f.writeFile("data/hello.txt", "hello\n")
            let dir = String(data.dropLast("/hello.txt".count))
            let ro = f.run(["run", "--rm", "--mount", "type=bind,source=\(dir),target=/data,readonly", img,
                            "sh", "-c", "cat /data/hello.txt; touch /data/new && echo wrote; echo x >> /data/hello.txt && echo appended; true"])
            #expect(ro.status == 0 && ro.stdout == "hello\n", "\(ro)")
            #expect(!FileManager.default.fileExists(atPath: dir + "/new") && Host.readFile(data) == "hello\n")
            let rw = Self.inside(f, img, ["--mount", "type=bind,src=\(dir),dst=/data"], "echo new > /data/made; cat /data/hello.txt")
            #expect(rw == "hello\n" && Host.readFile(dir + "/made") == "new\n", "\(rw)")
            let t = Self.inside(f, img, ["--mount", "type=tmpfs,destination=/t,tmpfs-size=1m,tmpfs-mode=700"],
                                "stat -c %a /t; df -k /t | awk 'NR == 2 { print $2 }'")
            #expect(t == "700\n1024\n", "\(t)")
            let v1 = Self.inside(f, img, ["--mount", "type=volume,source=flagvol,target=/v"], "echo kept > /v/f")
            #expect(v1.isEmpty)
            let v2 = Self.inside(f, img, ["--mount", "source=flagvol,target=/v,ro"], "cat /v/f; touch /v/g && echo wrote; true")
            #expect(v2 == "kept\n", "\(v2)")
            _ = f.run(["volume", "rm", "flagvol"])

            Self.refused(f, img, ["--mount", "type=bind,source=\(dir),target=/d,bind-propagation=shared"], naming: "bind-propagation")
            Self.refused(f, img, ["--mount", "type=bind,source=\(dir),target=/d,frob=1"], naming: "frob")
            Self.refused(f, img, ["--mount", "type=bind,source=\(dir)"], naming: "target")
            Self.refused(f, img, ["--mount", "type=bind,source=/no/such/dir,target=/d"], naming: "/no/such/dir")
            Self.refused(f, img, ["--mount", "type=tmpfs,target=/t,tmpfs-size=lots"], naming: "tmpfs-size")
        }
    }

    @Test("--cidfile gets the id; an existing one is refused before anything is made")
    func cidfile() throws {
        try LifecycleFixture.with { f in
            let img = try f.initImage()
            let path = f.tmp + "/cid"
            let id = try f.runDetached(["--cidfile", path, img, "sleep", "1000"])
            #expect(Host.readFile(path) == id)
            let before = f.storeListing()
            let again = f.run(["run", "-d", "--cidfile", path, img, "sleep", "1000"])
            #expect(again.status == 125 && again.stderrLines.count == 1 && again.stderr.contains(path), "\(again)")
            #expect(f.storeListing() == before)
        }
    }

    @Test("-a stdout / -a stderr show only that stream (the log keeps both); -a with -d is refused")
    func attachStreams() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let script = "echo out; echo err >&2"
            let (o, id) = f.runNew(["run", "-a", "stdout", img, "sh", "-c", script])
            #expect(o.status == 0 && o.stdout == "out\n" && o.stderr.isEmpty, "\(o)")
            let logs = f.run(["logs", try #require(id)])
            #expect(logs.stdout == "out\n" && logs.stderr == "err\n", "\(logs)")
            let e = f.run(["run", "--rm", "--attach", "stderr", img, "sh", "-c", script])
            #expect(e.status == 0 && e.stdout.isEmpty && e.stderr == "err\n", "\(e)")
            let both = f.run(["run", "--rm", "-a", "stdout", "-a", "stderr", img, "sh", "-c", script])
            #expect(both.stdout == "out\n" && both.stderr == "err\n", "\(both)")
            Self.refused(f, img, ["-d", "-a", "stdout"], naming: "-a")
            Self.refused(f, img, ["-a", "stdfoo"], naming: "stdfoo")
        }
    }

    /// A foreground run whose command prints "ready", exits 3 on SIGTERM (printing "got"), and
    /// otherwise waits for /tmp/go and prints "nosignal".
    static let trapScript = "trap 'echo got; exit 3' TERM; echo ready; while [ ! -e /tmp/go ]; do sleep 0.05; done; echo nosignal"

    @Test("--sig-proxy: by default SIGTERM to bocker reaches the container; with --sig-proxy=false it does not")
    func sigProxy() throws {
        try LifecycleFixture.with { f in
            let img = try f.initImage()
            let p = try f.start(["run", img, "sh", "-c", Self.trapScript])
            #expect(p.waitForStdout(containing: "ready", timeout: 30))
            p.signal(SIGTERM)
            let r = p.finish(timeout: 30)
            #expect(r.status == 3 && r.stdout.contains("got"), "\(r)")

            let before = f.containerIds()
            let q = try f.start(["run", "--sig-proxy=false", img, "sh", "-c", Self.trapScript])
            #expect(q.waitForStdout(containing: "ready", timeout: 30))
            let id = try #require(f.containerIds().subtracting(before).first)
            q.signal(SIGTERM)
            q.signal(SIGINT)
            f.release(id)
            let s = q.finish(timeout: 30)
            #expect(s.status == 0 && s.stdout.contains("nosignal") && !s.stdout.contains("got"), "\(s)")
        }
    }
}
