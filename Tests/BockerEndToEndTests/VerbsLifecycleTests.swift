import Glibc
import Testing

/// Docker's lifecycle verbs bocker lacked: create + start -a/-i, attach, rename, pause and
/// unpause, update, port, top, container prune.
@Suite("Verbs: create, start -a, attach, rename, pause, update, port, top, prune")
struct VerbsLifecycleTests {
    @Test("create takes run's options and makes a created container; start -a runs it attached with its exit status; start -ai feeds stdin")
    func createThenStartAttached() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let (c, id) = f.runNew(["create", "--name", "web", "-e", "GREETING=hello", "-w", "/tmp", img,
                                    "sh", "-c", "echo $GREETING from $(pwd); echo oops >&2; exit 3"])
            #expect(c.status == 0, "\(c)")
            #expect(c.stdout == (id ?? "?") + "\n", "\(c)")
            let st = f.run(["inspect", "-f", "{{.State.Status}}", "web"])
            #expect(st.stdout == "created\n", "\(st)")
            let a = f.run(["start", "-a", "web"])
            #expect(a.status == 3, "\(a)")
            #expect(a.stdout == "hello from /tmp\n" && a.stderr == "oops\n", "\(a)")
            // The same output is in the log, and the container is exited with the code.
            let logs = f.run(["logs", "web"])
            #expect(logs.stdout == "hello from /tmp\n", "\(logs)")
            #expect(f.run(["inspect", "-f", "{{.State.ExitCode}}", "web"]).stdout == "3\n")

            _ = f.run(["create", "-i", "--name", "cat", img, "cat"])
            let i = f.run(["start", "-ai", "cat"], stdin: "piped in\n")
            #expect(i.status == 0 && i.stdout == "piped in\n", "\(i)")
        }
    }

    @Test("create refuses run-only -d (125, nothing made) and a bad option value names it")
    func createBadInput() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let before = f.storeListing()
            let d = f.run(["create", "-d", img, "true"])
            #expect(d.status == 125 && d.stderr.hasPrefix("unknown flag: -d"), "\(d)")
            let m = f.run(["create", "--memory", "lots", img, "true"])
            #expect(m.status == 125 && m.stderrLines.count == 1 && m.stderr.contains("--memory"), "\(m)")
            #expect(f.storeListing() == before)
            let two = f.run(["start", "-a", "x", "y"])
            #expect(two.status != 0 && two.stderr.contains("multiple containers"), "\(two)")
        }
    }

    /// A detached counter: `/tmp/count` goes up about every 10 ms.
    static let counter = ["sh", "-c", "i=0; while true; do i=$((i+1)); echo $i > /tmp/count; usleep 10000; done"]

    /// Waits (bounded) until `cond` holds, re-checking on a short tick: for effects with no
    /// event to wait on (a frozen counter resuming).
    static func eventually(_ seconds: Double = 10, _ cond: () -> Bool) -> Bool {
        var left = Int(seconds * 100)
        while left > 0 { if cond() { return true }; usleep(10_000); left -= 1 }
        return cond()
    }

    @Test("pause freezes a counting process (ps '(Paused)', inspect 'paused', exec refused, events); unpause lets it count again")
    func pauseUnpause() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let r = f.run(["run", "-d", "--name", "count", img] + Self.counter)
            #expect(r.status == 0, "\(r)")
            let pid = trimmed(f.run(["inspect", "-f", "{{.State.Pid}}", "count"]).stdout)
            let file = "/proc/\(pid)/root/tmp/count"
            #expect(Self.eventually { (Int(trimmed(Host.readFile(file) ?? "")) ?? 0) > 2 }, "the counter never counted")
            let p = f.run(["pause", "count"])
            #expect(p.status == 0 && p.stdout == "count\n", "\(p)")
            let frozenAt = Host.readFile(file)
            usleep(300_000)   // a live counter would have moved ~30 times meanwhile
            #expect(Host.readFile(file) == frozenAt, "the counter moved while paused")
            #expect(f.run(["inspect", "-f", "{{.State.Status}} {{.State.Running}} {{.State.Paused}}", "count"]).stdout == "paused true true\n")
            let ps = f.run(["ps", "--format", "{{.Status}}|{{.State}}"])
            #expect(ps.stdout.wholeMatch(of: #/Up .+ \(Paused\)\|paused\n/#) != nil, "\(ps)")
            #expect(f.run(["ps", "-q", "--filter", "status=paused"]).stdoutLines.count == 1)
            let e = f.run(["exec", "count", "true"])
            #expect(e.status != 0 && e.stderr.contains("paused"), "\(e)")
            let again = f.run(["pause", "count"])
            #expect(again.status != 0 && again.stderr.contains("already paused"), "\(again)")
            #expect(f.run(["unpause", "count"]).status == 0)
            #expect(Self.eventually { Host.readFile(file) != frozenAt }, "the counter did not resume")
            #expect(f.run(["inspect", "-f", "{{.State.Status}}", "count"]).stdout == "running\n")
            let un = f.run(["unpause", "count"])
            #expect(un.status != 0 && un.stderr.contains("not paused"), "\(un)")
            let ev = f.run(["events", "--since", "1h", "--until", "0s", "--filter", "container=count", "--format", "json"])
            let actions = ev.stdoutLines.compactMap { $0.firstMatch(of: #/"Action":"([a-z]+)"/#).map { String($0.1) } }
            #expect(actions.filter { $0 == "pause" || $0 == "unpause" } == ["pause", "unpause"], "\(ev)")
            // A paused container still stops (the freezer lets go) and is no longer paused.
            _ = f.run(["pause", "count"])
            #expect(f.run(["stop", "-t", "1", "count"]).status == 0)
            #expect(f.run(["inspect", "-f", "{{.State.Status}} {{.State.Paused}}", "count"]).stdout == "exited false\n")
        }
    }

    @Test("update changes the live cgroup's memory, CPU shares, CPU quota and pids limit, and the record")
    func updateLimits() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            _ = f.run(["run", "-d", "--name", "u", img, "sleep", "60"])
            let id = trimmed(f.run(["inspect", "-f", "{{.Id}}", "u"]).stdout)
            let r = f.run(["update", "--memory", "100m", "--cpu-shares", "300", "--cpus", "0.5", "--pids-limit", "50", "u"])
            #expect(r.status == 0 && r.stdout == "u\n", "\(r)")
            let dirs = Host.cgroupDirectories(forContainer: id)
            func value(_ file: String) -> String? {
                dirs.lazy.compactMap { Host.readFile($0 + "/" + file).map(trimmed) }.first
            }
            if let v2 = value("memory.max") {
                #expect(v2 == "104857600")
                #expect(value("cpu.max") == "50000 100000")
                #expect(value("pids.max") == "50")
            } else {
                #expect(value("memory.limit_in_bytes") == "104857600")
                #expect(value("cpu.shares") == "300")
                #expect(value("cpu.cfs_quota_us") == "50000" && value("cpu.cfs_period_us") == "100000")
                #expect(value("pids.max") == "50")
            }
            let i = f.run(["inspect", "-f", "{{.HostConfig.Memory}} {{.HostConfig.CpuShares}} {{.HostConfig.PidsLimit}}", "u"])
            #expect(i.stdout == "104857600 300 50\n", "\(i)")
            let bad = f.run(["update", "--memory", "1k", "u"])
            #expect(bad.status != 0 && bad.stderrLines.count == 1 && bad.stderr.contains("memory"), "\(bad)")
            let none = f.run(["update", "u"])
            #expect(none.status != 0 && none.stderr.contains("at least one"), "\(none)")
        }
    }

    @Test("rename: new name everywhere, old name gone, taken name refused, rename event")
    func rename() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            _ = f.run(["create", "--name", "old", img, "true"])
            _ = f.run(["create", "--name", "other", img, "true"])
            #expect(f.run(["rename", "old", "new"]).status == 0)
            #expect(f.run(["inspect", "-f", "{{.Name}}", "new"]).stdout == "/new\n")
            #expect(f.run(["inspect", "old"]).status != 0)
            let taken = f.run(["rename", "new", "other"])
            #expect(taken.status != 0 && taken.stderr.contains("already in use"), "\(taken)")
            let bad = f.run(["rename", "new", "bad/name"])
            #expect(bad.status != 0 && bad.stderr.contains("invalid container name"), "\(bad)")
            // On a user network the peers find it by its new name.
            #expect(f.run(["network", "create", "renamenet"]).status == 0)
            _ = f.run(["run", "-d", "--name", "peer", "--network", "renamenet", img, "sleep", "60"])
            _ = f.run(["run", "-d", "--name", "first", "--network", "renamenet", img, "sleep", "60"])
            #expect(f.run(["rename", "first", "second"]).status == 0)
            let hosts = f.run(["exec", "peer", "cat", "/etc/hosts"])
            #expect(hosts.stdoutLines.contains { fields($0).contains("second") }, "\(hosts)")
            #expect(!hosts.stdoutLines.contains { fields($0).contains("first") }, "\(hosts)")
            let ev = f.run(["events", "--since", "1h", "--until", "0s", "--filter", "event=rename", "--format", "json"])
            #expect(ev.status == 0 && ev.stdoutLines.count == 2 && ev.stdout.contains(#""name":"new""#), "\(ev)")
        }
    }

    @Test("port lists Docker's lines (random host ports resolved) and one mapping; top shows the container's processes with ps options")
    func portAndTop() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            _ = f.run(["run", "-d", "--name", "web", "-p", "8080:80", "-p", "127.0.0.1::53/udp", img, "sleep", "60"])
            let p = f.run(["port", "web"])
            #expect(p.status == 0, "\(p)")
            #expect(p.stdoutLines.first == "80/tcp -> 0.0.0.0:8080", "\(p)")
            #expect(p.stdoutLines.last?.wholeMatch(of: #/53/udp -> 127\.0\.0\.1:[0-9]+/#) != nil, "\(p)")
            #expect(f.run(["port", "web", "80/tcp"]).stdout == "0.0.0.0:8080\n")
            let missing = f.run(["port", "web", "81"])
            #expect(missing.status != 0 && missing.stderr.contains("No public port '81/tcp'"), "\(missing)")

            let pid = trimmed(f.run(["inspect", "-f", "{{.State.Pid}}", "web"]).stdout)
            let t = f.run(["top", "web"])
            #expect(t.status == 0, "\(t)")
            #expect(t.stdoutLines.first.map(fields)?.contains("PID") == true, "\(t)")
            #expect(t.stdoutLines.count == 2 && t.stdoutLines[1].contains("sleep 60"), "\(t)")
            #expect(fields(t.stdoutLines[1]).contains(pid), "\(t)")
            let o = f.run(["top", "web", "-o", "pid,comm"])
            #expect(o.stdoutLines.map(fields) == [["PID", "COMMAND"], [pid, "sleep"]], "\(o)")
            let noPid = f.run(["top", "web", "-o", "comm"])
            #expect(noPid.status != 0 && noPid.stderr.contains("PID"), "\(noPid)")
        }
    }

    @Test("container prune removes every stopped container and keeps running ones")
    func containerPrune() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let (_, created) = f.runNew(["create", img, "true"])
            let (_, exited) = f.runNew(["run", img, "true"])
            _ = f.run(["run", "-d", "--name", "live", img, "sleep", "60"])
            let r = f.run(["container", "prune", "-f"])
            #expect(r.status == 0, "\(r)")
            #expect(r.stdout.hasPrefix("Deleted Containers:\n"), "\(r)")
            #expect(Set(r.stdoutLines.filter { $0.hasPrefix("ps_") }) == Set([created, exited].compactMap { $0 }), "\(r)")
            #expect(r.stdoutLines.last?.hasPrefix("Total reclaimed space: ") == true, "\(r)")
            #expect(f.run(["ps", "-q"]).stdoutLines.count == 1)
            #expect(f.run(["container", "ls", "--format", "{{.Names}}"]).stdout == "live\n")
        }
    }
}
