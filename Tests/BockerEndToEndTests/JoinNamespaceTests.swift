import Glibc
import Testing

/// `--network`, `--ipc` and `--pid container:NAME`: a new container joins a running one's
/// namespaces, and every way of asking for a target that is not there is refused with one
/// line, exit 125 and nothing made.
@Suite("run --network/--ipc/--pid container:NAME")
struct JoinNamespaceTests {
    /// `bocker run -d --name NAME IMG sh -c SCRIPT`; fails the test unless it starts.
    static func detached(_ f: BockerFixture, _ name: String, _ img: String, _ options: [String], _ script: String,
                         sourceLocation: SourceLocation = #_sourceLocation) throws {
        let r = f.run(["run", "-d", "--name", name] + options + [img, "sh", "-c", script])
        try #require(r.status == 0, "run -d \(name): \(r)", sourceLocation: sourceLocation)
    }

    /// Polls `exec NAME sh -c CHECK` until it exits 0 (bounded).
    static func waitInside(_ f: BockerFixture, _ name: String, _ check: String) -> Bool {
        for _ in 0..<300 {
            if f.run(["exec", name, "sh", "-c", check]).status == 0 { return true }
            usleep(20_000)
        }
        return false
    }

    static func inspect(_ f: BockerFixture, _ ref: String, _ format: String) -> String {
        trimmed(f.run(["inspect", "-f", format, ref]).stdout)
    }

    @Test("--network container:web reaches web's port on 127.0.0.1, sees its interfaces and hostname; -p refused")
    func network() throws {
        try NetworkFixture.with { n, f in
            let img = try f.initImage()
            try Self.detached(f, "web", img, [], "mkdir -p /www && echo hello-from-web > /www/index.html && exec httpd -f -p 8080 -h /www")
            try #require(Self.waitInside(f, "web", "wget -qO- http://127.0.0.1:8080/ >/dev/null"), "web never served")
            let webID = Self.inspect(f, "web", "{{.Id}}")
            let webDev = f.run(["exec", "web", "sh", "-c", "cut -d: -f1 /proc/net/dev | tail -n +3 | sort; ip -4 -o addr | awk '{print $2, $4}'"])
            let webHost = f.run(["exec", "web", "hostname"])
            let before = f.containerIds()
            let r = f.run(["run", "--name", "side", "--network", "container:web", img, "sh", "-c",
                           "wget -qO- http://127.0.0.1:8080/; echo @dev; cut -d: -f1 /proc/net/dev | tail -n +3 | sort; ip -4 -o addr | awk '{print $2, $4}'; echo @host; hostname; echo @links; readlink /proc/self/ns/net"])
            #expect(r.status == 0, "\(r)")
            let s = sections(r.stdout)
            #expect(r.stdout.hasPrefix("hello-from-web\n"), "the joined container did not reach web on 127.0.0.1: \(r)")
            #expect(s["dev"] == webDev.stdout, "interfaces differ:\n\(s["dev"] ?? "")vs web's\n\(webDev.stdout)")
            #expect(webDev.stdout.contains("eth0"), "web has no eth0: \(webDev)")
            #expect(s["host"] == webHost.stdout, "hostname \(s["host"] ?? "") vs web's \(webHost.stdout)")
            let side = f.containerIds().subtracting(before)
            #expect(side.count == 1)
            if let id = side.first {
                #expect(Self.inspect(f, id, "{{.HostConfig.NetworkMode}}") == "container:" + webID)
            }
            // No network of its own: no veth besides web's.
            #expect(n.vethLinks().count == 1, "veths: \(n.vethLinks())")

            // -p / -P with a joined network: refused, nothing made.
            for opts in [["-p", "8081:80"], ["-P", "--expose", "80"]] {
                let listing = f.storeListing()
                let p = f.run(["run", "--rm", "--network", "container:web"] + opts + [img, "true"])
                #expect(p.status == 125 && p.stderrLines.count == 1 && p.stderr.contains("port publishing"), "\(opts): \(p)")
                #expect(f.storeListing() == listing, "\(opts) left something behind")
            }
            let h = f.run(["run", "--rm", "--network", "container:web", "--hostname", "x", img, "true"])
            #expect(h.status == 125 && h.stderrLines.count == 1 && h.stderr.contains("--hostname"), "\(h)")
        }
    }

    @Test("--ipc container:X shares X's IPC namespace (sysctls too) and /dev/shm; --ipc none has no /dev/shm")
    func ipc() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            try Self.detached(f, "holder", img, ["--network", "none", "--sysctl", "kernel.shmmni=1234"],
                              "echo from-holder > /dev/shm/token; exec sleep 1000")
            try #require(Self.waitInside(f, "holder", "test -f /dev/shm/token"))
            let holderNS = trimmed(f.run(["exec", "holder", "readlink", "/proc/self/ns/ipc"]).stdout)
            let out = f.run(["run", "--rm", "--network", "none", "--ipc", "container:holder", img, "sh", "-c",
                             "readlink /proc/self/ns/ipc; cat /proc/sys/kernel/shmmni; cat /dev/shm/token; echo from-joiner > /dev/shm/back"])
            #expect(out.status == 0, "\(out)")
            #expect(splitLines(out.stdout) == [holderNS, "1234", "from-holder"], "\(out)")
            #expect(trimmed(f.run(["exec", "holder", "cat", "/dev/shm/back"]).stdout) == "from-joiner")
            let own = trimmed(f.run(["run", "--rm", "--network", "none", img, "readlink", "/proc/self/ns/ipc"]).stdout)
            #expect(!own.isEmpty && own != holderNS)
            let holderID = Self.inspect(f, "holder", "{{.Id}}")
            let (c, id) = f.runNew(["create", "--network", "none", "--ipc", "container:holder", img, "true"])
            #expect(c.status == 0, "\(c)")
            if let id {
                #expect(Self.inspect(f, id, "{{.HostConfig.IpcMode}}") == "container:" + holderID)
                // Started once the target is gone: one line, exit 1 (as docker start), and it stays created.
                #expect(f.run(["stop", "-t", "1", "holder"]).status == 0)
                let s = f.run(["start", id])
                #expect(s.status == 1 && s.stderrLines.count == 1 && s.stderr.contains("non running container: holder"), "\(s)")
                #expect(Self.inspect(f, id, "{{.State.Status}}") == "created")
            }

            let none = f.run(["run", "--rm", "--network", "none", "--ipc", "none", img, "sh", "-c", "test -e /dev/shm && echo there || echo gone"])
            #expect(none.status == 0 && none.stdout == "gone\n", "\(none)")
            let shareable = f.run(["run", "--rm", "--network", "none", "--ipc", "shareable", img, "sh", "-c", "touch /dev/shm/x && echo ok"])
            #expect(shareable.status == 0 && shareable.stdout == "ok\n", "\(shareable)")
        }
    }

    @Test("--pid container:X sees X's processes and X's PID 1; X's PID 1 ending ends it")
    func pid() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            try Self.detached(f, "target", img, ["--network", "none"], "exec sleep 4321")
            try #require(Self.waitInside(f, "target", "true"))
            let out = f.run(["run", "--rm", "--network", "none", "--pid", "container:target", img, "sh", "-c",
                             "cat /proc/1/cmdline | tr '\\0' ' '; echo; ps -o pid,args | grep -c 'sleep 4321'; readlink /proc/self/ns/pid"])
            #expect(out.status == 0, "\(out)")
            let lines = splitLines(out.stdout)
            let targetNS = trimmed(f.run(["exec", "target", "readlink", "/proc/self/ns/pid"]).stdout)
            #expect(lines.count == 3 && lines[0].hasPrefix("sleep 4321") && lines[1] != "0" && lines[2] == targetNS, "\(out)")
            let targetID = Self.inspect(f, "target", "{{.Id}}")
            // A joined container lives only as long as the target's PID 1.
            try Self.detached(f, "joined", img, ["--network", "none", "--pid", "container:target"], "exec sleep 1000")
            #expect(Self.inspect(f, "joined", "{{.HostConfig.PidMode}}") == "container:" + targetID)
            let ps = f.run(["exec", "joined", "sh", "-c", "ps -o pid,args"])
            #expect(ps.stdout.contains("sleep 4321"), "\(ps)")
            // The monitor that cloned it went back to our PID namespace: every thread's
            // pid_for_children is ours (what it forks later, a restart included, is not in target's).
            let joinedID = Self.inspect(f, "joined", "{{.Id}}")
            let record = Host.readFile(f.root + "/containers/" + joinedID + "/container.json") ?? ""
            let monitor = record.range(of: "\"monitorPid\"").flatMap { r in
                Int(String(record[r.upperBound...].drop { $0 == ":" || $0 == " " }.prefix { $0.isNumber }))
            }
            try #require(monitor != nil, "no monitorPid in \(record)")
            var ours = [CChar](repeating: 0, count: 64)
            _ = readlink("/proc/self/ns/pid", &ours, 63)
            let tasks = Host.listDirectory("/proc/\(monitor!)/task")
            #expect(!tasks.isEmpty)
            for t in tasks {
                var link = [CChar](repeating: 0, count: 64)
                _ = readlink("/proc/\(monitor!)/task/\(t)/ns/pid_for_children", &link, 63)
                #expect(String(cString: link) == String(cString: ours), "monitor thread \(t) would fork into \(String(cString: link))")
            }
            // bocker's own later forks stay in the host's PID namespace (exec, another run).
            let own = f.run(["run", "--rm", "--network", "none", img, "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '"])
            #expect(own.stdout.hasPrefix("cat") || own.stdout.hasPrefix("sh"), "a later container is not PID 1 of its own: \(own)")
            let stop = f.run(["stop", "-t", "1", "target"])
            #expect(stop.status == 0, "\(stop)")
            var ended = false
            for _ in 0..<300 {
                if Self.inspect(f, "joined", "{{.State.Status}}") == "exited" { ended = true; break }
                usleep(20_000)
            }
            #expect(ended, "the joined container outlived the target's PID 1: \(Self.inspect(f, "joined", "{{.State.Status}}"))")
        }
    }

    @Test("a missing, stopped or --userns=auto target: one line, exit 125, nothing created")
    func refusals() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let c = f.run(["create", "--name", "stopped", "--network", "none", img, "true"])
            try #require(c.status == 0, "\(c)")
            for flag in ["--network", "--ipc", "--pid"] {
                for (target, words) in [("missing", "No container"), ("stopped", "non running container: stopped")] {
                    for verb in ["run", "create"] {
                        // (The store listing holds every container's directory, record and
                        // volumes; a container's cgroup is made only after its directory.)
                        let ids = f.containerIds(), listing = f.storeListing()
                        let net = flag == "--network" ? [] : ["--network", "none"]
                        let r = f.run([verb] + net + [flag, "container:" + target, img, "true"])
                        #expect(r.status == 125, "\(verb) \(flag) container:\(target): \(r)")
                        #expect(r.stderrLines.count == 1 && r.stderr.contains(words) && r.stdout.isEmpty, "\(verb) \(flag): \(r)")
                        #expect(f.containerIds() == ids && f.storeListing() == listing, "\(verb) \(flag) container:\(target) made something")
                    }
                }
            }
            // An --ipc none target has no /dev/shm to share.
            try Self.detached(f, "noshm", img, ["--network", "none", "--ipc", "none"], "exec sleep 1000")
            let ids = f.containerIds()
            let r = f.run(["run", "--rm", "--network", "none", "--ipc", "container:noshm", img, "true"])
            #expect(r.status == 125 && r.stderrLines.count == 1 && r.stderr.contains("no /dev/shm"), "\(r)")
            #expect(f.containerIds() == ids)
            // A target with a user namespace of its own is never joined (nor from one).
            let env = try UserNamespaceTests().subids(f)   // a test-only subuid file
            let m = f.run(["run", "-d", "--name", "mapped", "--network", "none", "--userns", "auto", img, "sleep", "1000"], env: env)
            try #require(m.status == 0, "\(m)")
            try Self.detached(f, "plain", img, ["--network", "none"], "exec sleep 1000")
            for (opts, target) in [([String](), "mapped"), (["--userns", "auto"], "plain")] {
                let ids = f.containerIds()
                let r = f.run(["run", "--rm", "--network", "none", "--pid", "container:" + target] + opts + [img, "true"], env: env)
                #expect(r.status == 125 && r.stderrLines.count == 1 && r.stderr.contains("userns"), "\(opts) → \(target): \(r)")
                #expect(f.containerIds() == ids)
            }
        }
    }
}
