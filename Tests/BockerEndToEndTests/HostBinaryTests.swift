import Glibc
import Testing

/// The host's bocker binary as the probe must not reach it: device and inode (compared with
/// fstat inside the container) and its sha256.
private struct HostBinary {
    let dev: UInt64
    let ino: UInt64
    let sha256: String

    static func current() throws -> HostBinary {
        var st = stat()
        let path = Host.realPath(BockerFixture.binary)
        guard stat(path, &st) == 0 else { throw FixtureError(description: "stat \(path) failed") }
        let sum = runTool(["sha256sum", path])
        guard sum.status == 0, let hash = fields(sum.stdout).first else { throw FixtureError(description: "sha256sum: \(sum)") }
        return HostBinary(dev: UInt64(st.st_dev), ino: UInt64(st.st_ino), sha256: hash)
    }
}

/// Parses the probe's last line, "denied N reached N wrote N".
private func probeCounts(_ out: String) -> [String: Int]? {
    guard let line = splitLines(out).last(where: { $0.hasPrefix("denied ") }) else { return nil }
    let w = fields(line)
    guard w.count == 6 else { return nil }
    return [w[0]: Int(w[1]) ?? -1, w[2]: Int(w[3]) ?? -1, w[4]: Int(w[5]) ?? -1]
}

/// CVE-2019-5736: until it execs, a process that joins a container is a copy of the host's
/// bocker binary inside the container's PID namespace. A static probe in the container attacks
/// /proc/PID/exe of every process it sees (write open, O_PATH then reopen through
/// /proc/self/fd, now and after the joining process is gone); it must never reach the binary.
@Suite("the host's bocker binary is out of the container's reach")
struct HostBinaryTests {
    @Test("exec: joining processes are never reachable through /proc/PID/exe", arguments: ["0", "1000"])
    func execJoining(user: String) throws {
        try BockerFixture.with { f in
            let probe = try f.compileProbe(named: "exe_overwrite")
            let img = try f.imageWith([probe: "/probe"])
            let bin = try HostBinary.current()
            let before = f.containerIds()
            let p = try f.start(["run", "-i", "-u", user, img, "sh", "-c",
                                 "/probe \(bin.dev) \(bin.ino) & read line; touch /tmp/stop; wait"])
            try #require(p.waitForStdout(containing: "probe running", timeout: 30), "\(p.finish(timeout: 5))")
            let id = try #require(f.containerIds().subtracting(before).first)
            // A long PATH keeps each joining process a copy of bocker for a while longer (it
            // searches every entry before it finds /bin/true), so the probe does see them.
            let path = (0..<400).map { "/nonexistent/\($0)" }.joined(separator: ":") + ":/bin"
            for _ in 0..<60 {
                let r = f.run(["exec", "-u", user, "-e", "PATH=" + path, id, "true"])
                #expect(r.status == 0, "\(r)")
            }
            p.write("\n")
            let r = p.finish(timeout: 60)
            #expect(r.status == 0, "\(r)")
            let counts = try #require(probeCounts(r.stdout), "the probe did not report: \(r)")
            print("exe probe, user \(user): \(counts)")
            #expect(!r.stdout.contains("WROTE") && !r.stdout.contains("REACHED"), "\(r.stdout)")
            #expect(counts["reached"] == 0 && counts["wrote"] == 0, "\(r.stdout)")
            // The probe did race the joining processes: it was refused their exe at least once.
            #expect((counts["denied"] ?? 0) > 0, "the probe never saw a joining process: \(r.stdout)")
            #expect(try HostBinary.current().sha256 == bin.sha256, "the bocker binary changed")
            _ = f.run(["rm", id])
        }
    }

    @Test("--init: PID 1 (bocker's init) is never reachable through /proc/1/exe", arguments: ["0", "1000"])
    func initProcess(user: String) throws {
        try BockerFixture.with { f in
            let probe = try f.compileProbe(named: "exe_overwrite")
            let img = try f.imageWith([probe: "/probe"])
            let bin = try HostBinary.current()
            let before = f.containerIds()
            let p = try f.start(["run", "-i", "--init", "-u", user, img, "sh", "-c",
                                 "/probe \(bin.dev) \(bin.ino) & read line; touch /tmp/stop; wait"])
            try #require(p.waitForStdout(containing: "probe running", timeout: 30), "\(p.finish(timeout: 5))")
            let id = try #require(f.containerIds().subtracting(before).first)
            p.write("\n")
            let r = p.finish(timeout: 60)
            #expect(r.status == 0, "\(r)")
            let counts = try #require(probeCounts(r.stdout), "the probe did not report: \(r)")
            print("exe probe, user \(user): \(counts)")
            #expect(counts["reached"] == 0 && counts["wrote"] == 0, "\(r.stdout)")
            #expect((counts["denied"] ?? 0) > 0, "the probe never tried PID 1: \(r.stdout)")
            #expect(try HostBinary.current().sha256 == bin.sha256, "the bocker binary changed")
            _ = f.run(["rm", id])
        }
    }
}

/// The kernel clears PR_SET_PDEATHSIG when a process changes its uid or gid: a container
/// whose user is not root must still die with the bocker that runs it.
@Suite("a non-root container dies with its bocker")
struct DeathSignalTests {
    @Test("SIGKILL of the foreground bocker kills a -u 1000 container", arguments: [[], ["--init"]])
    func nonRootDiesWithBocker(extra: [String]) throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            // No -i and nothing written: the container must not end for any reason of its own
            // (EOF on stdin, SIGPIPE) once its bocker is gone.
            let before = f.containerIds()
            let p = try f.start(["run", "-u", "1000"] + extra + [img, "sh", "-c", "echo ready; while :; do sleep 1; done"])
            try #require(p.waitForStdout(containing: "ready", timeout: 30), "\(p.finish(timeout: 5))")
            let id = try #require(f.containerIds().subtracting(before).first)
            let pids = Host.processes(inContainer: id)
            try #require(!pids.isEmpty, "no process in container \(id)")
            // They do run as uid 1000 (the case where the kernel dropped the death signal).
            for pid in pids {
                let status = Host.readFile("/proc/\(pid)/status") ?? ""
                #expect(status.contains("\nUid:\t1000\t1000\t1000\t1000\n"), "process \(pid): \(status)")
            }
            p.signal(SIGKILL)
            let r = p.finish(timeout: 10, eofGrace: 1)
            #expect(r.status == 128 + SIGKILL, "\(r)")
            #expect(waitUntilGone(pids), "the container's processes \(pids) outlived their bocker")
            _ = f.run(["rm", "-f", id])
        }
    }
}
