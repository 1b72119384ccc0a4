import Glibc
import Testing

/// What happens when `bocker run` itself is killed.
@Suite("repair after a killed bocker")
struct RepairTests {
    @Test("kill -9 of bocker run: the container dies, ps shows it exited, rm cleans up", arguments: allDrivers)
    func killedRun(driver: String) throws {
        try BockerFixture.with(driver: driver) { f in
            let img = try f.initImage()
            let (p, id) = try f.startWaiting(image: img)
            let pidsDir = "/sys/fs/cgroup/pids/bocker/\(id)"
            let pids = Host.cgroupProcs(pidsDir)
            try #require(!pids.isEmpty, "no process in \(pidsDir)/cgroup.procs while the container runs")

            p.signal(SIGKILL)
            // Keep our end of its stdin open: EOF must not be what ends the container.
            let killed = p.finish(timeout: 30, eofGrace: 5, closingStdin: false)
            #expect(killed.status == 128 + SIGKILL, "\(killed)")

            let ps = f.run(["ps"])
            #expect(ps.status == 0, "\(ps)")
            let line = try #require(row(id, in: ps.stdout), "the container vanished from ps: \(ps)")
            #expect(!line.contains(" Up"), "still Up after its bocker was killed: \(line)")
            #expect(line.contains("Exited"), "status: \(line)")

            // After that bocker command the container's processes are gone.
            let left = Host.cgroupProcs(pidsDir)
            #expect(left.isEmpty, "processes left in \(pidsDir): \(left)")
            for pid in pids {
                let stillThere = Host.processExists(pid)
                    && (Host.readFile("/proc/\(pid)/cgroup")?.contains("/bocker/\(id)") ?? false)
                #expect(!stillThere, "container process \(pid) survived")
            }

            let rm = f.run(["rm", id])
            #expect(rm.status == 0, "\(rm)")
            #expect(rm.stdoutLines == ["Removed: \(id)"], "\(rm)")
            f.expectNothingLeftBehind(removed: [id])
        }
    }

    @Test("a killed run does not block other commands or new containers")
    func storeUsableAfterKill() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let (p, id) = try f.startWaiting(image: img)
            p.signal(SIGKILL)
            _ = p.finish(timeout: 30, eofGrace: 5, closingStdin: false)
            let (r, id2) = f.runNew(["run", img, "echo", "still works"], timeout: 30)
            #expect(r.status == 0 && r.stdout == "still works\n", "\(r)")
            let cid2 = try #require(id2)
            let logs = f.run(["logs", id])
            #expect(logs.status == 0, "\(logs)")
            #expect(logs.stdout == "ready\n", "logs of the killed container: \(logs)")
            let rm = f.run(["rm", id, cid2])
            #expect(rm.status == 0, "\(rm)")
            f.expectNothingLeftBehind(removed: [id, cid2])
        }
    }
}
