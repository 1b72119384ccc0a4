import Glibc
import Testing

@Suite("detached containers: run -d, start, stop, kill, wait, restart, names")
struct LifecycleDetachTests {
    @Test("run -d prints the id, returns while the container runs; output and exit code are kept", arguments: allDrivers)
    func detachSurvivesTheCLI(driver: String) throws {
        try LifecycleFixture.with(driver: driver) { f in
            let img = try f.initImage()
            let id = try f.runDetached([img] + lcUntilGo(exit: 5))

            // The CLI has gone; the container still runs.
            let st = f.state(id)
            #expect(lcString(st, "Status") == "running", "\(st)")
            #expect(lcBool(st, "Running") == true, "\(st)")
            let pid = try #require(lcInt(st, "Pid"), "State.Pid: \(st)")
            #expect(pid > 0 && Host.processExists(pid_t(pid)), "State.Pid \(pid) is not a live process")
            let ps = f.run(["ps"])
            let line = try #require(row(id, in: ps.stdout), "\(ps)")
            #expect(line.contains(" Up"), "ps status of a detached running container: \(line)")

            f.release(id)
            #expect(f.waitExit(id) == 5)

            let after = f.state(id)
            #expect(lcString(after, "Status") == "exited", "\(after)")
            #expect(lcBool(after, "Running") == false, "\(after)")
            #expect(lcInt(after, "ExitCode") == 5, "\(after)")
            let finished = lcString(after, "FinishedAt") ?? ""
            #expect(isRFC3339(finished), "FinishedAt: \(after)")
            // The monitor collected everything the container printed after the CLI had gone.
            let logs = f.run(["logs", id])
            #expect(logs.status == 0, "\(logs)")
            #expect(logs.stdout == "started\nfinished\n", "\(logs)")
            let ps2 = f.run(["ps"])
            let line2 = try #require(row(id, in: ps2.stdout), "\(ps2)")
            #expect(line2.contains("Exited (5)"), "\(line2)")

            let rm = f.run(["rm", id])
            #expect(rm.status == 0, "\(rm)")
            f.expectLifecycleClean(removed: [id])
        }
    }

    @Test("run -d inside $(…) returns at once: nothing left holds the CLI's stdout")
    func detachReleasesStdout() throws {
        try LifecycleFixture.with { f in
            let img = try f.initImage()
            let r = f.shell("id=$($BOCKER run -d \(img) sleep 1000) || exit 9; echo \"id=$id\"", timeout: 20)
            #expect(!r.timedOut, "id=$(bocker run -d …) hung: something kept the pipe open: \(r)")
            #expect(r.status == 0, "\(r)")
            let id = try #require(f.containerIds().first, "no container: \(r)")
            #expect(r.stdout == "id=\(id)\n", "\(r)")
            let kill = f.run(["kill", id])
            #expect(kill.status == 0, "\(kill)")
            #expect(f.waitExit(id) == 137)
            _ = f.run(["rm", id])
            f.expectLifecycleClean(removed: [id])
        }
    }

    @Test("run -d errors: unknown image 125, missing command 127, not executable 126; nothing left running")
    func detachErrors() throws {
        try LifecycleFixture.with { f in
            let img = try f.initImage()
            let before = f.storeListing()
            let unknown = f.run(["run", "-d", "img_000000000000", "true"])
            #expect(unknown.status == 125, "\(unknown)")
            #expect(unknown.stderrLines == ["No image named 'img_000000000000' exists"], "\(unknown)")
            #expect(unknown.stdout.isEmpty, "\(unknown)")
            #expect(f.containerIds().isEmpty, "a container was created")
            #expect(f.storeListing() == before, "the store changed")

            let missing = f.run(["run", "-d", img, "no-such-command-xyz"])
            #expect(missing.status == 127, "\(missing)")
            #expect(!missing.stderr.isEmpty, "no message: \(missing)")
            let notExec = f.run(["run", "-d", img, "/etc/passwd"])
            #expect(notExec.status == 126, "\(notExec)")
            #expect(!notExec.stderr.isEmpty, "no message: \(notExec)")

            let ids = Array(f.containerIds())
            for id in ids {
                let st = f.state(id)
                #expect(lcBool(st, "Running") == false, "\(id): \(st)")
                #expect([126, 127].contains(lcInt(st, "ExitCode") ?? -1), "\(id): \(st)")
                #expect(Host.processes(inContainer: id).isEmpty, "processes running in \(id)")
            }
            f.expectNoBockerLeft()
            let rm = f.run(["rm"] + ids)
            #expect(ids.isEmpty || rm.status == 0, "\(rm)")
            f.expectLifecycleClean(removed: ids)
        }
    }

    @Test("stop: TERM ends a container with --init (143); stop waits until it has stopped")
    func stopTerm() throws {
        try LifecycleFixture.with { f in
            let img = try f.initImage()
            let id = try f.runDetached(["--init", img, "sleep", "1000"])
            let stop = f.run(["stop", id])
            #expect(stop.status == 0, "\(stop)")
            #expect(stop.stdoutLines == [id], "\(stop)")
            // Once stop has returned the container is stopped and recorded.
            let st = f.state(id)
            #expect(lcString(st, "Status") == "exited", "\(st)")
            #expect(lcBool(st, "Running") == false, "\(st)")
            #expect(lcInt(st, "ExitCode") == 143, "\(st)")
            #expect(Host.processes(inContainer: id).isEmpty, "processes left after stop")
            #expect(f.waitExit(id) == 143)

            // A shell that handles TERM itself.
            let id2 = try f.runDetached([img, "sh", "-c",
                                         "trap 'exit 143' TERM; echo ready; while :; do sleep 0.1; done"])
            let (ready, why) = try f.waitForLog(id2, containing: "ready")
            try #require(ready, "\(why)")
            let stop2 = f.run(["stop", "-t", "5", id2])
            #expect(stop2.status == 0 && stop2.stdoutLines == [id2], "\(stop2)")
            #expect(lcInt(f.state(id2), "ExitCode") == 143)

            _ = f.run(["rm", id, id2])
            f.expectLifecycleClean(removed: [id, id2])
        }
    }

    @Test("stop -t 1: a container that ignores TERM is killed after the timeout (137)")
    func stopIgnoredTerm() throws {
        try LifecycleFixture.with { f in
            let img = try f.initImage()
            // PID 1 without a handler: the kernel drops TERM.
            let plain = try f.runDetached([img, "sleep", "1000"])
            // A shell that ignores TERM explicitly.
            let ignoring = try f.runDetached([img, "sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.1; done"])
            let (ready, why) = try f.waitForLog(ignoring, containing: "ready")
            try #require(ready, "\(why)")

            let stop = f.run(["stop", "-t", "1", plain, ignoring])
            #expect(stop.status == 0, "\(stop)")
            #expect(stop.stdoutLines == [plain, ignoring], "\(stop)")
            for id in [plain, ignoring] {
                let st = f.state(id)
                #expect(lcString(st, "Status") == "exited", "\(id): \(st)")
                #expect(lcInt(st, "ExitCode") == 137, "\(id): \(st)")
                #expect(Host.processes(inContainer: id).isEmpty, "processes left in \(id) after stop")
            }

            // stop of an exited container succeeds and changes nothing.
            let before = f.state(plain)
            let again = f.run(["stop", "-t", "1", plain])
            #expect(again.status == 0, "\(again)")
            let after = f.state(plain)
            #expect(lcInt(after, "ExitCode") == 137, "\(after)")
            #expect(lcString(after, "FinishedAt") == lcString(before, "FinishedAt"), "before \(before), after \(after)")
            #expect(lcString(after, "Status") == "exited", "\(after)")

            _ = f.run(["rm", plain, ignoring])
            f.expectLifecycleClean(removed: [plain, ignoring])
        }
    }

    @Test("kill: KILL by default, -s TERM / -s 15 / -s SIGUSR1; not running → one line, non-zero")
    func killSignals() throws {
        try LifecycleFixture.with { f in
            let img = try f.initImage()
            let a = try f.runDetached([img, "sleep", "1000"])
            let b = try f.runDetached(["--init", img, "sleep", "1000"])
            let c = try f.runDetached(["--init", img, "sleep", "1000"])
            let d = try f.runDetached([img, "sh", "-c",
                                       "trap 'echo usr1; exit 7' USR1; echo ready; while :; do sleep 0.1; done"])

            let k = f.run(["kill", a])
            #expect(k.status == 0, "\(k)")
            #expect(f.waitExit(a) == 137)

            let term = f.run(["kill", "-s", "TERM", b])
            #expect(term.status == 0, "\(term)")
            #expect(f.waitExit(b) == 143)
            let fifteen = f.run(["kill", "-s", "15", c])
            #expect(fifteen.status == 0, "\(fifteen)")
            #expect(f.waitExit(c) == 143)

            let (ready, why) = try f.waitForLog(d, containing: "ready")
            try #require(ready, "\(why)")
            let usr1 = f.run(["kill", "-s", "SIGUSR1", d])
            #expect(usr1.status == 0, "\(usr1)")
            #expect(f.waitExit(d) == 7)
            let logs = f.run(["logs", d])
            #expect(logs.stdout == "ready\nusr1\n", "\(logs)")

            let notRunning = f.run(["kill", a])
            #expect(notRunning.status != 0, "\(notRunning)")
            #expect(notRunning.allLines == ["Container '\(a)' is not running"], "\(notRunning)")
            #expect(lcInt(f.state(a), "ExitCode") == 137, "kill of an exited container changed it")

            _ = f.run(["rm", a, b, c, d])
            f.expectLifecycleClean(removed: [a, b, c, d])
        }
    }

    @Test("wait blocks until each container exits and prints each exit code")
    func waitSeveral() throws {
        try LifecycleFixture.with { f in
            let img = try f.initImage()
            let a = try f.runDetached([img] + lcUntilGo(exit: 3))
            let b = try f.runDetached([img] + lcUntilGo(exit: 4))
            let waiter = try f.start(["wait", a, b])

            f.release(a)
            #expect(f.waitExit(a) == 3)
            // b still runs, so the wait for both cannot have finished.
            #expect(!waiter.reapIfExited(), "wait returned while \(b) was running: \(waiter.stdoutText)")

            f.release(b)
            let r = waiter.finish(timeout: 30)
            #expect(r.status == 0, "\(r)")
            #expect(r.stdoutLines == ["3", "4"], "\(r)")

            // wait on an exited container returns at once.
            #expect(f.waitExit(b) == 4)
            _ = f.run(["rm", a, b])
            f.expectLifecycleClean(removed: [a, b])
        }
    }

    @Test("start runs created and exited containers detached; start of a running one changes nothing")
    func startContainers() throws {
        try LifecycleFixture.with { f in
            let img = try f.initImage()
            // An exited container, started again: its output is appended to the log.
            let (r, eid) = f.runNew(["run", img, "sh", "-c", "echo hi; exit 2"])
            #expect(r.status == 2, "\(r)")
            let exited = try #require(eid)
            let s1 = f.run(["start", exited])
            #expect(s1.status == 0, "\(s1)")
            #expect(s1.stdoutLines == [exited], "\(s1)")
            #expect(f.waitExit(exited) == 2)
            let logs = f.run(["logs", exited])
            #expect(logs.stdout == "hi\nhi\n", "\(logs)")

            // A created container.
            let created = try f.createContainer(image: img, cmd: lcUntilGo(exit: 6))
            #expect(lcString(f.state(created), "Status") == "created")
            let s2 = f.run(["start", created])
            #expect(s2.status == 0, "\(s2)")
            #expect(s2.stdoutLines == [created], "\(s2)")
            let st = f.state(created)
            #expect(lcString(st, "Status") == "running", "\(st)")
            let pid = lcInt(st, "Pid")

            // Already running: nothing happens, and that is not an error.
            let s3 = f.run(["start", created])
            #expect(s3.status == 0, "\(s3)")
            #expect(lcInt(f.state(created), "Pid") == pid, "start of a running container restarted it")

            f.release(created)
            #expect(f.waitExit(created) == 6)
            _ = f.run(["rm", exited, created])
            f.expectLifecycleClean(removed: [exited, created])
        }
    }

    @Test("restart = stop + start: runs again with a new process; RestartCount unchanged")
    func restart() throws {
        try LifecycleFixture.with { f in
            let img = try f.initImage()
            let id = try f.runDetached(["--init", img, "sleep", "1000"])
            let st0 = f.state(id)
            let pid0 = try #require(lcInt(st0, "Pid"), "\(st0)")

            let r = f.run(["restart", "-t", "5", id])
            #expect(r.status == 0, "\(r)")
            #expect(r.stdoutLines == [id], "\(r)")
            let st = f.state(id)
            #expect(lcString(st, "Status") == "running", "\(st)")
            #expect(lcBool(st, "Running") == true, "\(st)")
            let pid = try #require(lcInt(st, "Pid"), "\(st)")
            #expect(pid != pid0 && pid > 0, "Pid \(pid0) → \(pid)")
            #expect(!Host.processExists(pid_t(pid0)), "the first process \(pid0) survived restart")
            #expect(lcInt(st, "RestartCount") == 0, "RestartCount counts policy restarts only: \(st)")

            // It still runs with --init: stop gives 143.
            let stop = f.run(["stop", id])
            #expect(stop.status == 0, "\(stop)")
            #expect(lcInt(f.state(id), "ExitCode") == 143)
            _ = f.run(["rm", id])
            f.expectLifecycleClean(removed: [id])
        }
    }

    @Test("--name works wherever an id does; a duplicate name is refused")
    func names() throws {
        try LifecycleFixture.with { f in
            let img = try f.initImage()
            let id = try f.runDetached(["--name", "web", img] + lcUntilGo(exit: 4))

            let obj = try f.inspectOne("web")
            #expect(lcString(obj, "Id") == id, "\(obj)")
            #expect(["web", "/web"].contains(lcString(obj, "Name") ?? ""), "Name: \(obj)")
            let ps = f.run(["ps"])
            let line = try #require(row(id, in: ps.stdout), "\(ps)")
            #expect(fields(line).last == "web", "NAMES column: \(line)")

            // Duplicate, detached and in the foreground: one line, 125, nothing created.
            let before = f.containerIds()
            for args in [["run", "-d", "--name", "web", img, "true"], ["run", "--name", "web", img, "true"]] {
                let dup = f.run(args)
                #expect(dup.status == 125, "\(dup)")
                #expect(dup.allLines == ["The container name 'web' is already in use"], "\(dup)")
                #expect(f.containerIds() == before, "a container was created by \(args)")
            }

            f.release("web")
            #expect(f.waitExit("web") == 4)
            let logs = f.run(["logs", "web"])
            #expect(logs.stdout == "started\nfinished\n", "\(logs)")

            let start = f.run(["start", "web"])
            #expect(start.status == 0, "\(start)")
            #expect(start.stdoutLines == ["web"] || start.stdoutLines == [id], "\(start)")
            #expect(lcBool(f.state("web"), "Running") == true)
            let kill = f.run(["kill", "web"])
            #expect(kill.status == 0, "\(kill)")
            #expect(f.waitExit("web") == 137)
            let stop = f.run(["stop", "web"])
            #expect(stop.status == 0, "\(stop)")

            let rm = f.run(["rm", "web"])
            #expect(rm.status == 0, "\(rm)")
            #expect(f.containerIds().isEmpty, "rm web left \(f.containerIds())")
            // The name is free again.
            let (again, id2) = f.runNew(["run", "--name", "web", img, "true"])
            #expect(again.status == 0, "\(again)")
            _ = f.run(["rm", "web"])
            f.expectLifecycleClean(removed: [id] + (id2.map { [$0] } ?? []))
        }
    }

    @Test("kill -9 of the monitor: the container dies with it, ps shows it exited, rm cleans up", arguments: allDrivers)
    func monitorKilled(driver: String) throws {
        try LifecycleFixture.with(driver: driver) { f in
            let img = try f.initImage()
            let id = try f.runDetached([img, "sh", "-c", "echo ready; while :; do sleep 0.1; done"])
            let st = f.state(id)
            let pid = pid_t(try #require(lcInt(st, "Pid"), "\(st)"))
            let monitor = try #require(Host.parentPid(of: pid), "no parent for the container's first process \(pid)")
            // Be sure it is a bocker process before killing it.
            try #require(monitor > 1, "the container's first process has parent \(monitor)")
            let exe = Host.executable(of: monitor) ?? "?"
            try #require(exe == Host.realPath(BockerFixture.binary),
                         "the parent \(monitor) of the container's first process runs \(exe), not bocker")
            let containerPids = Host.processes(inContainer: id)
            try #require(!containerPids.isEmpty)

            kill(monitor, SIGKILL)
            // SIGKILL is delivered asynchronously: wait (bounded) until the monitor has really
            // ended (gone or a zombie, its files closed) so that the next bocker sees it dead.
            var waited = 0
            while Host.processExists(monitor) && waited < 500 {
                usleep(10_000)
                waited += 1
            }
            try #require(!Host.processExists(monitor), "the monitor \(monitor) survived SIGKILL for 5 s")

            let ps = f.run(["ps"])
            #expect(ps.status == 0, "\(ps)")
            let line = try #require(row(id, in: ps.stdout), "the container vanished from ps: \(ps)")
            #expect(!line.contains(" Up"), "still Up after its monitor was killed: \(line)")
            #expect(line.contains("Exited"), "status: \(line)")
            // After that bocker command the container's processes are gone.
            for p in containerPids {
                let alive = Host.processExists(p) && (Host.readFile("/proc/\(p)/cgroup")?.contains("/bocker/\(id)") ?? false)
                #expect(!alive, "container process \(p) survived its monitor")
            }
            #expect(lcBool(f.state(id), "Running") == false)

            let rm = f.run(["rm", id])
            #expect(rm.status == 0, "\(rm)")
            f.expectLifecycleClean(removed: [id])
        }
    }
}
