import Glibc
import Testing

/// Small Docker habits that were missing: update's values in inspect, paused containers in
/// info, exec -d reporting a command that cannot start, /etc/hostname in the container, and
/// update/rename surviving the container's exit.
@Suite("Docker habits: update in inspect, Paused in info, exec -d errors, /etc/hostname")
struct HabitGapsTests {
    static let limits = "{{.HostConfig.NanoCpus}} {{.HostConfig.Memory}} {{.HostConfig.CpuShares}} {{.HostConfig.PidsLimit}}"

    @Test("run --cpus and update --cpus/--memory/--cpu-shares/--pids-limit show in inspect's HostConfig (NanoCpus as Docker), and survive stop and start")
    func updateShowsInInspect() throws {
        try LifecycleFixture.with { f in
            let img = try f.initImage()
            let id = try f.runDetached(["--name", "lim", "--cpus", "0.5", "-m", "64m", "--cpuset-cpus", "0",
                                        "--memory-reservation", "32m", img, "sleep", "1000"])
            let first = f.run(["inspect", "-f", Self.limits + " {{.HostConfig.CpusetCpus}} {{.HostConfig.MemoryReservation}}", "lim"])
            #expect(first.stdout == "500000000 67108864 512 4096 0 33554432\n", "\(first)")
            let u = f.run(["update", "--cpus", "1.5", "--memory", "128m", "--cpu-shares", "300", "--pids-limit", "50", "lim"])
            #expect(u.status == 0 && u.stdout == "lim\n", "\(u)")
            let after = f.run(["inspect", "-f", Self.limits, "lim"])
            #expect(after.stdout == "1500000000 134217728 300 50\n", "\(after)")
            // The same values in the JSON, and in the cgroup.
            let obj = try f.inspectOne(id)
            #expect(lcInt(obj, "HostConfig", "NanoCpus") == 1_500_000_000, "\(obj)")
            #expect(lcInt(obj, "HostConfig", "CpuQuota") == 0 && lcInt(obj, "HostConfig", "CpuPeriod") == 0, "\(obj)")
            let dirs = Host.cgroupDirectories(forContainer: id)
            let quota = dirs.lazy.compactMap { Host.readFile($0 + "/cpu.cfs_quota_us").map(trimmed) }.first
                ?? dirs.lazy.compactMap { Host.readFile($0 + "/cpu.max").map(trimmed) }.first
            #expect(quota == "150000" || quota == "150000 100000", "\(String(describing: quota))")
            // --cpus 0 removes the quota: NanoCpus 0 again.
            #expect(f.run(["update", "--cpus", "0", "lim"]).status == 0)
            #expect(f.run(["inspect", "-f", "{{.HostConfig.NanoCpus}}", "lim"]).stdout == "0\n")
            // The record keeps an update and a rename made while it ran across a stop (its
            // monitor saves the exit) and a start.
            #expect(f.run(["update", "--cpus", "0.25", "lim"]).status == 0)
            #expect(f.run(["rename", "lim", "lim2"]).status == 0)
            #expect(f.run(["stop", "-t", "1", "lim2"]).status == 0)
            let stopped = f.run(["inspect", "-f", "{{.Name}} {{.State.Status}} " + Self.limits, id])
            #expect(stopped.stdout == "/lim2 exited 250000000 134217728 300 50\n", "\(stopped)")
            #expect(f.run(["start", "lim2"]).status == 0)
            let kept = f.run(["inspect", "-f", Self.limits, "lim2"])
            #expect(kept.stdout == "250000000 134217728 300 50\n", "\(kept)")
            _ = f.run(["rm", "-f", id])
            f.expectLifecycleClean(removed: [id])
        }
    }

    @Test("a container made without --name gets Docker's kind of name (adjective_surname): shown by ps, usable as a reference, never one in use; inspect's .Name is /NAME")
    func generatedNames() throws {
        try LifecycleFixture.with { f in
            let img = try f.initImage()
            let a = try f.runDetached([img, "sleep", "1000"])
            let b = try f.runDetached([img, "sleep", "1000"])
            let names = f.run(["ps", "--format", "{{.ID}} {{.Names}}"])
            #expect(names.status == 0, "\(names)")
            var byID: [String: String] = [:]
            for line in names.stdoutLines {
                let p = line.split(separator: " ").map(String.init)
                if p.count == 2 { byID[p[0]] = p[1] }
            }
            let na = try #require(byID[a], "\(names)"), nb = try #require(byID[b], "\(names)")
            for n in [na, nb] {
                let parts = n.split(separator: "_")
                #expect(parts.count == 2 && parts.allSatisfy { $0.allSatisfy { $0.isLowercase || $0.isNumber } }, "\(n)")
            }
            #expect(na != nb)
            #expect(f.run(["inspect", "-f", "{{.Name}}", a]).stdout == "/\(na)\n")
            // The name works wherever a container is named, and --name cannot take it.
            #expect(f.run(["stop", "-t", "1", nb]).stdout == "\(nb)\n")
            let clash = f.run(["create", "--name", na, img, "true"])
            #expect(clash.status != 0 && clash.stderr == "The container name '\(na)' is already in use\n", "\(clash)")
            _ = f.run(["rm", "-f", a, b])
            f.expectLifecycleClean(removed: [a, b])
        }
    }

    @Test("info counts a paused container as Paused (not Running), in the text and in -f {{.ContainersPaused}}")
    func infoCountsPaused() throws {
        try LifecycleFixture.with { f in
            let img = try f.initImage()
            let a = try f.runDetached(["--name", "p1", img, "sleep", "1000"])
            let b = try f.runDetached(["--name", "p2", img, "sleep", "1000"])
            let (e, eid) = f.runNew(["run", img, "true"])
            #expect(e.status == 0, "\(e)")
            let exited = try #require(eid)
            #expect(f.run(["pause", "p1"]).status == 0)
            let info = f.run(["info"])
            for line in [" Containers: 3", "  Running: 1", "  Paused: 1", "  Stopped: 1"] {
                #expect(info.stdoutLines.contains(line), "\(line): \(info)")
            }
            // In Docker's order: Running, Paused, Stopped.
            let at = { (l: String) in info.stdoutLines.firstIndex(of: l) ?? -1 }
            #expect(at("  Running: 1") < at("  Paused: 1") && at("  Paused: 1") < at("  Stopped: 1"), "\(info)")
            let n = f.run(["info", "-f", "{{.ContainersRunning}}/{{.ContainersPaused}}/{{.ContainersStopped}}"])
            #expect(n.stdout == "1/1/1\n", "\(n)")
            #expect(f.run(["unpause", "p1"]).status == 0)
            #expect(f.run(["info", "-f", "{{.ContainersRunning}}/{{.ContainersPaused}}"]).stdout == "2/0\n")
            _ = f.run(["rm", "-f", a, b, exited])
            f.expectLifecycleClean(removed: [a, b, exited])
        }
    }

    @Test("exec -d: a command not found is 127, one that cannot run 126, a bad user or workdir 1, each one line; a good one returns once started")
    func execDetachedErrors() throws {
        try LifecycleFixture.with { f in
            let img = try f.initImage()
            let id = try f.runDetached(["--name", "ed", img, "sleep", "1000"])
            let monitors = Set(f.bockerProcesses())
            let cases: [([String], Int32, String)] = [
                (["nosuch"], 127, #"exec: "nosuch": executable file not found in $PATH"#),
                (["/etc"], 126, #"exec: "/etc": permission denied"#),
                (["-u", "nosuchuser", "true"], 1, "nosuchuser"),
                (["-w", "/nonexistent", "true"], 1, "/nonexistent"),
            ]
            for (args, status, message) in cases {
                let opts = args.first?.hasPrefix("-") == true ? Array(args.prefix(2)) : []
                let cmd = Array(args.dropFirst(opts.count))
                let r = f.run(["exec", "-d"] + opts + ["ed"] + cmd)
                #expect(r.status == status, "\(args): \(r)")
                #expect(r.stdout.isEmpty && r.stderrLines.count == 1 && r.stderr.contains(message), "\(args): \(r)")
            }
            // The background bockers of the failed execs are gone (only the monitor is left).
            var left: [pid_t] = []
            for _ in 0..<500 {
                left = f.bockerProcesses().filter { !monitors.contains($0) }
                if left.isEmpty { break }
                usleep(10_000)
            }
            #expect(left.isEmpty, "bocker processes of failed exec -d still running: \(left)")
            // A good one returns while its command runs, and the command did start.
            let ok = f.run(["exec", "-d", "ed", "sh", "-c", "touch /tmp/started; sleep 1000"])
            #expect(ok.status == 0 && ok.stdout.isEmpty && ok.stderr.isEmpty, "\(ok)")
            var started = false
            for _ in 0..<500 where !started {
                started = f.run(["exec", "ed", "test", "-e", "/tmp/started"]).status == 0
                if !started { usleep(10_000) }
            }
            #expect(started, "the detached command never ran")
            _ = f.run(["rm", "-f", id])
            f.expectLifecycleClean(removed: [id])
        }
    }

    @Test("/etc/hostname holds the container's hostname (its id, -h NAME, the host's with --uts host), as in Docker")
    func etcHostname() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let (r, id) = f.runNew(["run", img, "sh", "-c", "cat /etc/hostname; hostname"])
            let cid = try #require(id, "\(r)")
            #expect(r.status == 0 && r.stdout == "\(cid)\n\(cid)\n", "\(r)")
            let named = f.run(["run", "--rm", "-h", "box1", img, "cat", "/etc/hostname"])
            #expect(named.stdout == "box1\n", "\(named)")
            var u = utsname()
            uname(&u)
            let host = withUnsafeBytes(of: u.nodename) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            let shared = f.run(["run", "--rm", "--uts", "host", img, "cat", "/etc/hostname"])
            #expect(shared.stdout == host + "\n", "\(shared)")
            let none = f.run(["run", "--rm", "--network", "none", img, "cat", "/etc/hostname"])
            #expect(none.status == 0 && none.stdout.hasPrefix("ps_"), "\(none)")
            // Not a change of the container: diff and commit leave it out.
            let d = f.run(["diff", cid])
            #expect(!d.stdout.contains("hostname"), "\(d)")
            _ = f.run(["rm", cid])
        }
    }
}
