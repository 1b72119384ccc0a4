import Glibc
import Testing

@Suite("run, ps and logs")
struct RunTests {
    @Test("run prints the container's output and exits with its exit code", arguments: allDrivers)
    func outputAndExitCode(driver: String) throws {
        try BockerFixture.with(driver: driver) { f in
            let img = try f.initImage()
            let (hello, id1) = f.runNew(["run", img, "echo", "hello"])
            #expect(hello.status == 0, "\(hello)")
            #expect(hello.stdout == "hello\n", "\(hello)")
            #expect(id1 != nil, "run did not create exactly one container")

            let (seven, id2) = f.runNew(["run", img, "sh", "-c", "exit 7"])
            #expect(seven.status == 7, "\(seven)")
            #expect(id2 != nil)
            #expect(id1 != id2)
            // The container id has the original's look.
            if let id1 { #expect(id1.wholeMatch(of: #/ps_[0-9a-f]{12}/#) != nil, "id \(id1)") }

            let ids = Array(f.containerIds())
            let rm = f.run(["rm"] + ids)
            #expect(rm.status == 0, "\(rm)")
            f.expectNothingLeftBehind(removed: ids)
        }
    }

    @Test("a file written in a container does not reach the image", arguments: allDrivers)
    func writesStayInTheContainer(driver: String) throws {
        try BockerFixture.with(driver: driver) { f in
            let img = try f.initImage()
            let touch = f.run(["run", img, "touch", "/new"])
            #expect(touch.status == 0, "\(touch)")
            let ls = f.run(["run", img, "ls", "/new"])
            #expect(ls.status != 0, "/new is visible in a fresh container of the image: \(ls)")
            // Deleting an image file in one container does not affect the next either.
            let rm = f.run(["run", img, "rm", "/etc/os-release"])
            #expect(rm.status == 0, "\(rm)")
            let cat = f.run(["run", img, "cat", "/etc/os-release"])
            #expect(cat.status == 0 && cat.stdout.contains("bocker busybox"), "\(cat)")
            // And the source directory of init is untouched.
            #expect(!Host.exists(f.rootfs + "/new"))
            #expect(Host.exists(f.rootfs + "/etc/os-release"))
            let ids = Array(f.containerIds())
            _ = f.run(["rm"] + ids)
            f.expectNothingLeftBehind(removed: ids)
        }
    }

    @Test("run of an unknown image: exit 125, message, nothing created")
    func unknownImage() throws {
        try BockerFixture.with { f in
            _ = try f.initImage()
            let before = f.storeListing()
            let r = f.run(["run", "img_000000000000", "true"])
            #expect(r.status == 125, "\(r)")
            #expect(r.stderrLines == ["No image named 'img_000000000000' exists"], "\(r)")
            #expect(r.stdout.isEmpty, "\(r)")
            #expect(f.containerIds().isEmpty, "a container was created")
            #expect(f.storeListing() == before, "the store changed")
        }
    }

    @Test("command not found exits 127, not executable exits 126")
    func execFailures() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let missing = f.run(["run", img, "no-such-command-xyz"])
            #expect(missing.status == 127, "\(missing)")
            #expect(!missing.stderr.isEmpty, "no message for a missing command: \(missing)")
            let notExec = f.run(["run", img, "/etc/passwd"])
            #expect(notExec.status == 126, "\(notExec)")
            let dir = f.run(["run", img, "/etc"])
            #expect(dir.status == 126, "\(dir)")
            let ids = Array(f.containerIds())
            _ = f.run(["rm"] + ids)
            f.expectNothingLeftBehind(removed: ids)
        }
    }

    @Test("one argument with shell syntax runs via /bin/sh -c; several are exec'd directly")
    func shellSyntax() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let shell = f.run(["run", img, "echo a && echo b"])
            #expect(shell.status == 0, "\(shell)")
            #expect(shell.stdout == "a\nb\n", "\(shell)")
            let direct = f.run(["run", img, "echo", "a && b"])
            #expect(direct.status == 0, "\(direct)")
            #expect(direct.stdout == "a && b\n", "\(direct)")
            let pipe = f.run(["run", img, "echo one two | wc -w"])
            #expect(trimmed(pipe.stdout) == "2", "\(pipe)")
            // A single word without shell syntax is a plain command.
            let plain = f.run(["run", img, "hostname"])
            #expect(plain.status == 0 && plain.stdout.hasPrefix("ps_"), "\(plain)")
        }
    }

    @Test("stdin is forwarded with -i and only with -i")
    func stdinForwarding() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let withI = f.run(["run", "-i", img, "cat"], stdin: "hello stdin\n")
            #expect(withI.status == 0, "\(withI)")
            #expect(withI.stdout == "hello stdin\n", "\(withI)")
            let without = f.run(["run", img, "cat"], stdin: "hello stdin\n", timeout: 30)
            #expect(!without.timedOut, "run without -i waited for stdin: \(without)")
            #expect(!without.stdout.contains("hello stdin"), "stdin forwarded without -i: \(without)")
        }
    }

    @Test("output is streamed live while the container runs")
    func liveOutput() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            // "ready" must arrive while the container is still blocked in `read`.
            let (p, id) = try f.startWaiting(image: img)
            #expect(!p.reapIfExited(), "bocker run exited before stdin was closed")
            p.write("go\n")
            let r = p.finish(timeout: 30)
            #expect(r.status == 0, "\(r)")
            #expect(r.stdout == "ready\n", "\(r)")
            _ = f.run(["rm", id])
            f.expectNothingLeftBehind(removed: [id])
        }
    }

    @Test("-e sets environment variables and -w the working directory")
    func envAndWorkdir() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let r = f.run(["run", "-e", "FOO=bar baz", "-e", "N=1", "-w", "/tmp", img, "sh", "-c", "echo \"$FOO\"; echo $N; pwd"])
            #expect(r.status == 0, "\(r)")
            #expect(r.stdout == "bar baz\n1\n/tmp\n", "\(r)")
            let noEnv = f.run(["run", img, "sh", "-c", "echo \"[$FOO]\"; pwd"])
            #expect(noEnv.stdout == "[]\n/\n", "\(noEnv)")
        }
    }

    @Test("ps lists running and exited containers with their command and status")
    func psStatus() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let (exited, exitedId) = f.runNew(["run", img, "sh", "-c", "exit 3"])
            #expect(exited.status == 3, "\(exited)")
            let eid = try #require(exitedId)
            let (p, rid) = try f.startWaiting(image: img)

            for args in [["ps"], ["ps", "-a"]] {
                let ps = f.run(args)
                #expect(ps.status == 0, "\(ps)")
                let header = try #require(ps.stdoutLines.first)
                #expect(Array(fields(header).prefix(2)) == ["CONTAINER_ID", "COMMAND"], "header: \(header)")
                let exitedRow = try #require(row(eid, in: ps.stdout), "no row for \(eid): \(ps)")
                #expect(exitedRow.contains("exit 3"), "command missing: \(exitedRow)")
                #expect(exitedRow.contains(#/Exited \(3\) .+ ago/#), "status (Docker style): \(exitedRow)")
                let runningRow = try #require(row(rid, in: ps.stdout), "no row for \(rid): \(ps)")
                #expect(runningRow.contains(" Up"), "status: \(runningRow)")
                #expect(!runningRow.contains("Exited"), "status: \(runningRow)")
                #expect(runningRow.contains("sh"), "command missing: \(runningRow)")
            }

            p.write("\n")
            let r = p.finish(timeout: 30)
            #expect(r.status == 0, "\(r)")
            let ps = f.run(["ps"])
            let after = try #require(row(rid, in: ps.stdout), "\(ps)")
            #expect(after.contains("Exited (0)"), "status after exit: \(after)")

            let rm = f.run(["rm", eid, rid])
            #expect(rm.status == 0, "\(rm)")
            let empty = f.run(["ps"])
            #expect(empty.stdoutLines.count == 1, "rows left after rm: \(empty)")
            f.expectNothingLeftBehind(removed: [eid, rid])
        }
    }

    @Test("logs replays stdout and stderr separately", arguments: allDrivers)
    func logs(driver: String) throws {
        try BockerFixture.with(driver: driver) { f in
            let img = try f.initImage()
            let (r, id) = f.runNew(["run", img, "sh", "-c", "echo out; echo err >&2; echo out2"])
            #expect(r.status == 0, "\(r)")
            #expect(r.stdout == "out\nout2\n", "\(r)")
            #expect(r.stderr.contains("err"), "stderr of run: \(r)")
            let cid = try #require(id)
            let logs = f.run(["logs", cid])
            #expect(logs.status == 0, "\(logs)")
            #expect(logs.stdout == "out\nout2\n", "\(logs)")
            #expect(logs.stderr == "err\n", "\(logs)")
            _ = f.run(["rm", cid])
            f.expectNothingLeftBehind(removed: [cid])
        }
    }

    @Test("logs of an unknown container")
    func logsUnknown() throws {
        try BockerFixture.with { f in
            let r = f.run(["logs", "ps_000000000000"])
            #expect(r.status != 0, "\(r)")
            #expect(r.allLines == ["No container named 'ps_000000000000' exists"], "\(r)")
        }
    }
}
