import Glibc
import Testing

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
