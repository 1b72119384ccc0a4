import Glibc
import Testing

@Suite("exec")
struct ExecTests {
    @Test("exec runs in a running container's namespaces and passes the exit code", arguments: allDrivers)
    func execInRunningContainer(driver: String) throws {
        try BockerFixture.with(driver: driver) { f in
            let img = try f.initImage()
            let (p, id) = try f.startWaiting(image: img, prelude: "echo marker > /tmp/marker; ")

            let host = f.run(["exec", id, "hostname"])
            #expect(host.status == 0, "\(host)")
            #expect(host.stdout == id + "\n", "\(host)")

            let ps = f.run(["exec", id, "ps"])
            #expect(ps.status == 0, "\(ps)")
            let pid1 = ps.stdoutLines.first { fields($0).first == "1" }
            #expect(pid1?.contains("sh") == true, "the container's pid 1 is not listed: \(ps)")
            // Only the container's processes: its sh and the exec'd ps (and at most a helper).
            #expect(ps.stdoutLines.dropFirst().count <= 3, "\(ps)")

            let file = f.run(["exec", id, "cat", "/tmp/marker"])
            #expect(file.stdout == "marker\n", "exec does not see the container's filesystem: \(file)")

            let code = f.run(["exec", id, "sh", "-c", "exit 4"])
            #expect(code.status == 4, "\(code)")

            // The running container is still fine.
            #expect(!p.reapIfExited(), "bocker run ended while exec ran")
            p.write("\n")
            let r = p.finish(timeout: 30)
            #expect(r.status == 0, "\(r)")

            let late = f.run(["exec", id, "true"])
            #expect(late.status != 0, "\(late)")
            #expect(late.allLines == ["Container '\(id)' exists but is not running"], "\(late)")

            let rm = f.run(["rm", id])
            #expect(rm.status == 0, "\(rm)")
            f.expectNothingLeftBehind(removed: [id])
        }
    }

    @Test("an exec'd process has the container's cgroups, capabilities and no_new_privs")
    func execConfinement() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let (p, id) = try f.startWaiting(image: img)
            let cg = f.run(["exec", id, "cat", "/proc/self/cgroup"])
            #expect(cg.status == 0, "\(cg)")
            for controller in ["cpu", "memory", "pids"] {
                let line = cg.stdoutLines.first { l in
                    let parts = l.split(separator: ":", maxSplits: 2).map(String.init)
                    return parts.count == 3 && parts[1].split(separator: ",").contains(Substring(controller))
                }
                #expect(line?.hasSuffix("/bocker/\(id)") == true, "\(controller): \(cg)")
            }
            let status = f.run(["exec", id, "cat", "/proc/self/status"])
            #expect(statusField("CapEff", in: status.stdout) == "00000000a80425fb", "\(status)")
            #expect(statusField("CapBnd", in: status.stdout) == "00000000a80425fb", "\(status)")
            #expect(statusField("NoNewPrivs", in: status.stdout) == "1", "\(status)")
            let root = f.run(["exec", id, "sh", "-c", "cat /etc/os-release; test -e \(BockerFixture.packageRoot)/Package.swift && echo host-visible; true"])
            #expect(root.stdout.contains("bocker busybox") && !root.stdout.contains("host-visible"), "\(root)")
            p.write("\n")
            _ = p.finish(timeout: 30)
            _ = f.run(["rm", id])
            f.expectNothingLeftBehind(removed: [id])
        }
    }

    @Test("exec into an unknown container")
    func execUnknown() throws {
        try BockerFixture.with { f in
            _ = try f.initImage()
            let before = f.storeListing()
            let r = f.run(["exec", "ps_000000000000", "true"])
            #expect(r.status != 0, "\(r)")
            #expect(r.allLines == ["No container named 'ps_000000000000' exists"], "\(r)")
            #expect(f.storeListing() == before)
        }
    }
}

/// CVE-2019-5736: a container must never reach the host's bocker binary through
/// /proc/PID/exe while `bocker exec` joins it.
@Suite("exec cannot reach the host binary")
struct ExecHostBinaryTests {
    @Test func procExeOfJoiningProcessIsUnreachable() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let before = try #require(Host.readFile(BockerFixture.binary), "cannot read \(BockerFixture.binary)")
            // A watcher inside the container scans every /proc/*/exe; any link that resolves to
            // a bocker binary, or any successful write through it, is written to /tmp/seen.
            let watcher = "( while :; do for e in /proc/[0-9]*/exe; do t=$(readlink $e 2>/dev/null); "
                + "case \"$t\" in *bocker*) echo \"$t\" >> /tmp/seen; "
                + "(echo x >> $e) 2>/dev/null && echo WROTE >> /tmp/seen;; esac; done; done ) & "
            let (p, id) = try f.startWaiting(image: img, prelude: watcher)
            for _ in 0..<25 {
                let r = f.run(["exec", id, "true"])
                #expect(r.status == 0, "\(r)")
            }
            let seen = f.run(["exec", id, "sh", "-c", "cat /tmp/seen 2>/dev/null; true"])
            #expect(seen.status == 0 && seen.stdout.isEmpty, "the container reached the host binary: \(seen.stdout)")
            let after = try #require(Host.readFile(BockerFixture.binary))
            #expect(after == before, "the bocker binary changed")
            _ = p.finish(timeout: 30, eofGrace: 5, closingStdin: true)
        }
    }
}
