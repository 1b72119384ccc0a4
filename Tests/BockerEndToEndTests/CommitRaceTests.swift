import Glibc
import Testing

/// `commit` copies a running container's files with a path-walking copy (cp): if the
/// container swaps a directory for a symlink to a host path halfway through, the copy would
/// read host files into the image. The container is frozen while it is copied (as Docker
/// pauses it), so the swap cannot happen mid-copy.
@Suite("commit never copies host files through a container's symlinks")
struct CommitRaceTests {
    @Test("a directory swapped for a symlink to a host path in a loop during commit", arguments: ["overlay", "copy"])
    func symlinkSwapDuringCommit(driver: String) throws {
        try BockerFixture.with(driver: driver) { f in
            let probe = try f.compileProbe(named: "swap_loop")
            let img = try f.imageWith([probe: "/swap"])
            // The host directory the container points at: the same file names as its own
            // directory, with content found nowhere else.
            let secret = "HOSTSECRET-" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
            let hostDir = f.tmp + "/hostdir"
            try Host.makeDirectory(hostDir)
            for i in 0..<200 { try Host.writeFile(hostDir + "/f\(i)", secret + "\n") }
            let before = f.containerIds()
            let p = try f.start(["run", img, "/swap", hostDir])
            try #require(p.waitForStdout(containing: "ready", timeout: 30), "\(p.finish(timeout: 5))")
            let id = try #require(f.containerIds().subtracting(before).first)
            for n in 0..<15 {
                let c = f.run(["commit", id, "snap\(n)"], timeout: 60)
                #expect(c.status == 0, "\(c)")
            }
            let leaked = runTool(["grep", "-rl", secret, f.root + "/layers"])
            #expect(leaked.stdout.isEmpty, "host files were committed: \(leaked.stdout)")
            // The container was thawed after each commit: it still runs and can be joined.
            let e = f.run(["exec", id, "true"], timeout: 30)
            #expect(e.status == 0, "\(e)")
            let st = Host.cgroupDirectories(forContainer: id).filter { $0.contains("/freezer/") }
            for dir in st { #expect(Host.readFile(dir + "/freezer.state")?.hasPrefix("THAWED") == true, "\(dir)") }
            let rm = f.run(["rm", "-f", id])
            #expect(rm.status == 0, "\(rm)")
            _ = p.finish(timeout: 30, eofGrace: 1)
        }
    }
}

/// A commit killed while the container is frozen must not leave it unstoppable.
@Suite("a commit killed halfway")
struct CommitKilledFrozenTests {
    @Test("kill -9 during commit of a running container: stop still ends it")
    func stopAfterKilledCommit() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let before = f.containerIds()
            let p = try f.start(["run", img, "sh", "-c", "trap 'exit 7' TERM; echo ready; while :; do sleep 1; done"])
            try #require(p.waitForStdout(containing: "ready", timeout: 30), "\(p.finish(timeout: 5))")
            let id = try #require(f.containerIds().subtracting(before).first)
            let c = f.run(["commit", id, "snap"], env: ["BOCKER_FAULT": "commit.layer"])
            #expect(c.status == 128 + SIGKILL, "\(c)")
            let freezer = Host.cgroupDirectories(forContainer: id).first { $0.contains("/freezer/") }
            let dir = try #require(freezer, "no freezer cgroup for \(id)")
            // The scenario is real: the killed commit left the container frozen.
            #expect(Host.readFile(dir + "/freezer.state")?.hasPrefix("FROZEN") == true)
            let stop = f.run(["stop", id], timeout: 30)
            #expect(stop.status == 0, "\(stop)")
            let r = p.finish(timeout: 30)
            #expect(r.status == 7, "the container did not get its SIGTERM: \(r)")
            _ = f.run(["rm", id])
        }
    }

    @Test("kill -9 during commit: the next bocker thaws the container, which runs on")
    func repairThaws() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let d = f.run(["run", "-d", img, "sh", "-c", "while :; do sleep 1; done"])
            let id = d.stdoutLines.first ?? ""
            try #require(d.status == 0 && !id.isEmpty, "\(d)")
            let c = f.run(["commit", id, "snap"], env: ["BOCKER_FAULT": "commit.layer"])
            #expect(c.status == 128 + SIGKILL, "\(c)")
            let dir = try #require(Host.cgroupDirectories(forContainer: id).first { $0.contains("/freezer/") })
            #expect(Host.readFile(dir + "/freezer.state")?.hasPrefix("FROZEN") == true)
            // Any bocker command repairs first: the freeze marker's owner is dead.
            let ps = f.run(["ps"])
            #expect(ps.status == 0, "\(ps)")
            #expect(Host.readFile(dir + "/freezer.state")?.hasPrefix("THAWED") == true)
            let e = f.run(["exec", id, "true"], timeout: 30)
            #expect(e.status == 0, "\(e)")
            _ = f.run(["rm", "-f", id])
        }
    }

    @Test("commit of a paused container leaves it paused")
    func pausedStaysPaused() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let d = f.run(["run", "-d", img, "sh", "-c", "while :; do sleep 1; done"])
            let id = d.stdoutLines.first ?? ""
            try #require(d.status == 0 && !id.isEmpty, "\(d)")
            #expect(f.run(["pause", id]).status == 0)
            let c = f.run(["commit", id, "snap"], timeout: 60)
            #expect(c.status == 0, "\(c)")
            let dir = try #require(Host.cgroupDirectories(forContainer: id).first { $0.contains("/freezer/") })
            #expect(Host.readFile(dir + "/freezer.state")?.hasPrefix("FROZEN") == true)
            let st = f.run(["inspect", "-f", "{{.State.Status}}", id])
            #expect(st.stdout == "paused\n", "\(st)")
            #expect(f.run(["unpause", id]).status == 0)
            _ = f.run(["rm", "-f", id])
        }
    }
}
