import Glibc
import Testing

/// Restart policies, carried out by the monitor of a detached container.
@Suite("restart policies")
struct LifecyclePolicyTests {
    @Test("--restart on-failure:2: three runs in all, then exited with the last code, RestartCount 2")
    func onFailureMax() throws {
        try LifecycleFixture.with { f in
            let img = try f.initImage()
            let id = try f.runDetached(["--restart", "on-failure:2", img, "sh", "-c", "echo run; exit 3"])
            // wait returns only once the container is finally exited (no restart left).
            #expect(f.waitExit(id) == 3)
            let obj = try f.inspectOne(id)
            #expect(lcString(obj, "State", "Status") == "exited", "\(obj)")
            #expect(lcInt(obj, "State", "ExitCode") == 3, "\(obj)")
            #expect(lcInt(obj, "State", "RestartCount") == 2, "\(obj)")
            #expect(lcString(obj, "HostConfig", "RestartPolicy", "Name") == "on-failure", "\(obj)")
            #expect(lcInt(obj, "HostConfig", "RestartPolicy", "MaximumRetryCount") == 2, "\(obj)")
            let logs = f.run(["logs", id])
            #expect(logs.stdout == "run\nrun\nrun\n", "three runs, one log: \(logs)")
            let ps = f.run(["ps"])
            let line = try #require(row(id, in: ps.stdout), "\(ps)")
            #expect(line.contains("Exited (3)"), "\(line)")

            // Nothing restarts it any more: its monitor is gone and the record stays.
            f.expectNoBockerLeft()
            let again = try f.inspectOne(id)
            #expect(lcInt(again, "State", "RestartCount") == 2, "\(again)")
            #expect(lcString(again, "State", "Status") == "exited", "\(again)")
            _ = f.run(["rm", id])
            f.expectLifecycleClean(removed: [id])
        }
    }

    @Test("on-failure does not restart a success; --restart no (the default) never restarts")
    func noRestart() throws {
        try LifecycleFixture.with { f in
            let img = try f.initImage()
            let ok = try f.runDetached(["--restart", "on-failure", img, "sh", "-c", "echo run; exit 0"])
            let no = try f.runDetached(["--restart", "no", img, "sh", "-c", "echo run; exit 3"])
            let dflt = try f.runDetached([img, "sh", "-c", "echo run; exit 3"])
            #expect(f.waitExit(ok) == 0)
            #expect(f.waitExit(no) == 3)
            #expect(f.waitExit(dflt) == 3)
            f.expectNoBockerLeft()
            for id in [ok, no, dflt] {
                let obj = try f.inspectOne(id)
                #expect(lcInt(obj, "State", "RestartCount") == 0, "\(id): \(obj)")
                #expect(lcString(obj, "State", "Status") == "exited", "\(id): \(obj)")
                #expect(f.run(["logs", id]).stdout == "run\n", "\(id) ran more than once")
            }
            let noObj = try f.inspectOne(no)
            #expect(lcString(noObj, "HostConfig", "RestartPolicy", "Name") == "no", "\(noObj)")
            _ = f.run(["rm", ok, no, dflt])
            f.expectLifecycleClean(removed: [ok, no, dflt])
        }
    }

    @Test("always / unless-stopped: restarts after every exit until stop; then stays exited",
          arguments: ["always", "unless-stopped"])
    func restartUntilStopped(policy: String) throws {
        try LifecycleFixture.with { f in
            let img = try f.initImage()
            let id = try f.runDetached(["--restart", policy, img, "sh", "-c", "echo run; exit 0"])
            // The restarts happen in the background and no command waits for "N restarts": poll
            // inspect (bounded, 20 s) until the monitor has restarted it at least twice.
            var count = 0
            var polls = 0
            while count < 2 && polls < 1000 {
                count = lcInt(try f.inspectOne(id), "State", "RestartCount") ?? -1
                if count < 2 { usleep(20_000) }
                polls += 1
            }
            try #require(count >= 2, "RestartCount stayed \(count) with --restart \(policy)")

            let stop = f.run(["stop", "-t", "1", id])
            #expect(stop.status == 0, "\(stop)")
            #expect(stop.stdoutLines == [id], "\(stop)")
            let waited = f.run(["wait", id], timeout: 30)
            #expect(waited.status == 0 && !waited.timedOut, "wait after stop: \(waited)")
            // Once its monitor has gone nothing can start it again; then it must still be exited.
            f.expectNoBockerLeft()
            let after = try f.inspectOne(id)
            #expect(lcString(after, "State", "Status") == "exited", "\(after)")
            #expect(lcBool(after, "State", "Running") == false, "\(after)")
            #expect(Host.processes(inContainer: id).isEmpty, "processes in \(id) after stop")
            let ps = f.run(["ps", "-q", "--filter", "status=running"])
            #expect(!ps.stdoutLines.contains(id), "running after stop: \(ps)")
            _ = f.run(["rm", id])
            f.expectLifecycleClean(removed: [id])
        }
    }

    @Test("a bad restart policy: 125, one line, nothing created")
    func badPolicy() throws {
        try LifecycleFixture.with { f in
            let img = try f.initImage()
            let before = f.storeListing()
            for args in [["run", "-d", "--restart", "sometimes", img, "true"], ["run", "--restart", "sometimes", img, "true"]] {
                let r = f.run(args)
                #expect(r.status == 125, "\(r)")
                #expect(r.allLines.count == 1, "\(r)")
                #expect(f.containerIds().isEmpty, "a container was created")
                #expect(f.storeListing() == before, "the store changed")
            }
        }
    }
}
