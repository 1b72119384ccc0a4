import Glibc
import Testing

@Suite("memory and pids limits of running containers")
struct LifecycleLimitsTests {
    /// dd's 100 MB block buffer is really touched (read into), so it needs > 32 MB of memory.
    private let hog = ["dd", "if=/dev/zero", "of=/dev/null", "bs=100M", "count=1"]

    @Test("-m 32m and a memory hog: exit 137, State.OOMKilled true (foreground and detached)")
    func oomKilled() throws {
        try LifecycleFixture.with { f in
            let img = try f.initImage()
            let (fg, fgId) = f.runNew(["run", "-m", "32m", img] + hog)
            #expect(fg.status == 137, "\(fg)")
            let fid = try #require(fgId)
            let fst = f.state(fid)
            #expect(lcInt(fst, "ExitCode") == 137, "\(fst)")
            #expect(lcBool(fst, "OOMKilled") == true, "\(fst)")

            let did = try f.runDetached(["-m", "32m", img] + hog)
            #expect(f.waitExit(did) == 137)
            let dst = f.state(did)
            #expect(lcBool(dst, "OOMKilled") == true, "\(dst)")
            #expect(lcString(dst, "Status") == "exited", "\(dst)")

            // The same exit code from a kill is not an OOM kill.
            let killed = try f.runDetached(["-m", "32m", img, "sleep", "1000"])
            #expect(f.run(["kill", killed]).status == 0)
            #expect(f.waitExit(killed) == 137)
            let kst = f.state(killed)
            #expect(lcBool(kst, "OOMKilled") == false, "a killed container reads as OOM killed: \(kst)")
            // And a container that stays under its limit is not either.
            let (small, smallId) = f.runNew(["run", "-m", "32m", img, "dd", "if=/dev/zero", "of=/dev/null", "bs=1M", "count=4"])
            #expect(small.status == 0, "\(small)")
            let sid = try #require(smallId)
            #expect(lcBool(f.state(sid), "OOMKilled") == false)

            let ids = [fid, did, killed, sid]
            let rm = f.run(["rm"] + ids)
            #expect(rm.status == 0, "\(rm)")
            f.expectLifecycleClean(removed: ids)
        }
    }

    @Test("a fork bomb under --pids-limit 50 stops at the limit and the host can still fork")
    func pidsLimit() throws {
        try LifecycleFixture.with { f in
            let img = try f.initImage()
            // The bomb runs in a subshell, which dies at the first failed fork; the outer shell
            // then counts the container's processes with a glob (no fork needed).
            let bomb = "(i=0; while [ $i -lt 200 ]; do sleep 100 & i=$((i+1)); done) 2>/dev/null; "
                + "set -- /proc/[0-9]*; echo \"procs $#\""
            let (r, rid) = f.runNew(["run", "--pids-limit", "50", img, "sh", "-c", bomb], timeout: 60)
            #expect(r.status == 0, "\(r)")
            let id = try #require(rid)
            let line = try #require(r.stdoutLines.last { $0.hasPrefix("procs ") }, "\(r)")
            let n = try #require(Int(line.dropFirst("procs ".count)), "\(r)")
            #expect(n <= 52, "\(n) processes under --pids-limit 50")
            #expect(n >= 20, "only \(n) processes: the bomb did not get going: \(r)")
            #expect(f.cgroupValue("pids", id, "pids.max") == "50")
            let events = f.cgroupValue("pids", id, "pids.events") ?? ""
            #expect(events.hasPrefix("max ") && events != "max 0", "pids.events: \(events)")

            // The host still forks.
            let host = runTool(["/bin/sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do /bin/true & done; wait; echo ok"])
            #expect(host.status == 0 && host.stdout == "ok\n", "\(host)")

            let rm = f.run(["rm", id])
            #expect(rm.status == 0, "\(rm)")
            f.expectLifecycleClean(removed: [id])
        }
    }
}
