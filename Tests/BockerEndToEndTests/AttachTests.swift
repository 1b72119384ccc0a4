import Glibc
import Testing

/// stdin for detached containers: `create -i`/`run -di` keep it open in the monitor, `start -ai`
/// and `attach` feed it through the container's attach socket; EOF closes it, detaching or a
/// killed attacher leaves it open and the container running.
@Suite("attach: stdin, detach keys, signals")
struct AttachTests {
    /// The container's state as `inspect` reports it.
    private func status(_ f: BockerFixture, _ name: String) -> String {
        trimmed(f.run(["inspect", "-f", "{{.State.Status}}", name]).stdout)
    }

    /// `script -qec "bocker ARGS" /dev/null` with a stdin pipe kept open: bocker with a
    /// pseudo-terminal as its stdio and controlling terminal.
    private func underTerminal(_ f: BockerFixture, _ args: [String], before: String = "") throws -> ChildProcess {
        let command = before + (f.commandPrefix + [BockerFixture.binary] + args)
            .map { "'" + $0.replacing("'", with: "'\\''") + "'" }.joined(separator: " ")
        return try ChildProcess(argv: ["script", "-qec", command, "/dev/null"], environment: f.environment(),
                                stdin: nil, keepStdinOpen: true)
    }

    @Test("echo hello | start -ai runs cat created with -i: hello comes back, EOF ends it, exit 0; again with exit codes")
    func startInteractive() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            #expect(f.run(["create", "-i", "--name", "c", img, "cat"]).status == 0)
            #expect(f.run(["inspect", "-f", "{{.Config.OpenStdin}}", "c"]).stdout == "true\n")
            let r = f.run(["start", "-ai", "c"], stdin: "hello\n")
            #expect(r.status == 0 && r.stdout == "hello\n", "\(r)")
            #expect(status(f, "c") == "exited")
            // A second start gets a fresh stdin; the exit status is the container's.
            #expect(f.run(["create", "-i", "--name", "s", img, "sh", "-c", "read x; echo got=$x; exit 6"]).status == 0)
            let s = f.run(["start", "-ai", "s"], stdin: "one\n")
            #expect(s.status == 6 && s.stdout == "got=one\n", "\(s)")
            let again = f.run(["start", "-ai", "s"], stdin: "two\n")
            #expect(again.status == 6 && again.stdout == "got=two\n", "\(again)")
        }
    }

    @Test("attach to a running -di container: lines go in and come back, closing stdin ends it with its code")
    func attachSendsLines() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let d = f.run(["run", "-di", "--name", "echoer", img, "sh", "-c",
                           "while read l; do echo got:$l; done; echo closed >&2; exit 5"])
            #expect(d.status == 0, "\(d)")
            let p = try f.start(["attach", "echoer"])
            p.write("one\n")
            #expect(p.waitForStdout(containing: "got:one", timeout: 30))
            p.write("two\n")
            #expect(p.waitForStdout(containing: "got:two", timeout: 30))
            #expect(status(f, "echoer") == "running")
            let r = p.finish(timeout: 30)   // closes stdin: the container reads EOF
            #expect(r.status == 5 && r.stdout == "got:one\ngot:two\n" && r.stderr == "closed\n", "\(r)")
            #expect(f.run(["inspect", "-f", "{{.State.ExitCode}}", "echoer"]).stdout == "5\n")
        }
    }

    @Test("without -i: attach shows output, its closed stdin changes nothing, it ends with the container; start -ai feeds nothing")
    func attachWithoutStdin() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let d = f.run(["run", "-d", "--name", "out", img, "sh", "-c",
                           "while [ ! -e /tmp/stop ]; do echo tick; usleep 50000; done; read x; echo bye:$x; exit 3"])
            #expect(d.status == 0, "\(d)")
            let p = try f.start(["attach", "out"])
            p.write("ignored\n")
            p.closeStdin()
            #expect(p.waitForStdout(containing: "tick", timeout: 30))
            #expect(!p.reapIfExited(), "attach ended when its stdin closed")
            #expect(f.run(["exec", "out", "touch", "/tmp/stop"], timeout: 90).status == 0)
            let r = p.finish(timeout: 30)
            #expect(r.status == 3 && r.stdout.hasSuffix("bye:\n"), "\(r)")

            #expect(f.run(["create", "--name", "plain", img, "cat"]).status == 0)
            let s = f.run(["start", "-ai", "plain"], stdin: "not for it\n")
            #expect(s.status == 0 && s.stdout == "", "\(s)")
        }
    }

    @Test("an attacher killed with SIGKILL leaves the container running with its stdin open; a new attach works")
    func killedAttacher() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            #expect(f.run(["run", "-di", "--name", "k", img, "cat"]).status == 0)
            let p = try f.start(["attach", "k"])
            p.write("first\n")
            #expect(p.waitForStdout(containing: "first", timeout: 30))
            p.signal(SIGKILL)
            _ = p.finish(timeout: 10, closingStdin: false)
            #expect(status(f, "k") == "running")
            let again = f.run(["attach", "k"], stdin: "second\n")
            #expect(again.status == 0 && again.stdout == "second\n", "\(again)")
            #expect(status(f, "k") == "exited")
        }
    }

    @Test("a killed monitor's socket is replaced at the next start")
    func staleSocketRepaired() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let (c, id) = f.runNew(["run", "-di", "--name", "m", img, "cat"])
            try #require(c.status == 0, "\(c)")
            let dir = f.root + "/containers/" + (id ?? "?")
            let record = try #require(try? String(contentsOfFile: dir + "/container.json", encoding: .utf8))
            let after = record.split(separator: "\"monitorPid\"", maxSplits: 1).last ?? ""
            let monitor = try #require(Int32(String(after.drop { !$0.isNumber }.prefix { $0.isNumber })))
            #expect(access(dir + "/attach.sock", F_OK) == 0)
            kill(monitor, SIGKILL)
            let w = f.run(["wait", "m"])   // the container dies with its monitor
            #expect(w.status == 0, "\(w)")
            #expect(access(dir + "/attach.sock", F_OK) == 0, "the killed monitor's socket stays behind")
            let r = f.run(["start", "-ai", "m"], stdin: "hello\n")
            #expect(r.status == 0 && r.stdout == "hello\n", "\(r)")
        }
    }

    @Test("sig-proxy: SIGINT to attach reaches the container; --sig-proxy=false does not")
    func signalProxy() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let script = "trap 'echo caught; exit 9' INT; while true; do echo tick; usleep 50000; done"
            #expect(f.run(["run", "-d", "--name", "sig", img, "sh", "-c", script]).status == 0)
            let p = try f.start(["attach", "sig"])
            #expect(p.waitForStdout(containing: "tick", timeout: 30))
            p.signal(SIGINT)
            let r = p.finish(timeout: 30)
            #expect(r.status == 9 && r.stdout.hasSuffix("caught\n"), "\(r)")

            #expect(f.run(["run", "-d", "--name", "nosig", img, "sh", "-c", script]).status == 0)
            let q = try f.start(["attach", "--sig-proxy=false", "nosig"])
            #expect(q.waitForStdout(containing: "tick", timeout: 30))
            q.signal(SIGINT)
            let s = q.finish(timeout: 30)
            #expect(s.status != 0 && !s.stdout.contains("caught"), "\(s)")
            #expect(status(f, "nosig") == "running")
        }
    }

    @Test("under a terminal: Ctrl-P Ctrl-Q detaches from a -dit shell, which keeps running; --detach-keys too; its size reaches the pty; bad keys refused")
    func detachKeys() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            #expect(f.run(["run", "-dit", "--name", "sh", img, "sh"]).status == 0)
            let p = try underTerminal(f, ["attach", "sh"])
            p.write("echo hi-$((6*7))\r")
            #expect(p.waitForStdout(containing: "hi-42", timeout: 30))
            p.write("\u{10}\u{11}")
            let r = p.finish(timeout: 30, closingStdin: false)
            #expect(r.status == 0 && !r.timedOut, "\(r)")
            #expect(status(f, "sh") == "running")

            let q = try underTerminal(f, ["attach", "--detach-keys", "ctrl-a,d", "sh"])
            q.write("echo again-$((2+3))\r")
            #expect(q.waitForStdout(containing: "again-5", timeout: 30))
            q.write("\u{01}d")
            let s = q.finish(timeout: 30, closingStdin: false)
            #expect(s.status == 0 && !s.timedOut, "\(s)")
            #expect(status(f, "sh") == "running")

            // The terminal's size reaches the container's pty.
            let sized = try underTerminal(f, ["attach", "sh"], before: "stty rows 31 cols 97; ")
            sized.write("echo size=$(stty size | tr ' ' x)\r")
            #expect(sized.waitForStdout(containing: "size=31x97", timeout: 30), "\(sized.stdoutText)")
            sized.write("\u{10}\u{11}")
            #expect(sized.finish(timeout: 30, closingStdin: false).status == 0)

            let bad = f.run(["attach", "--detach-keys", "ctrl-1", "sh"])
            #expect(bad.status != 0 && bad.stderr.contains("detach keys"), "\(bad)")
        }
    }

    @Test("-a STREAM with -t: one stream, shown as stdout (-a stderr shows nothing)")
    func ttyStreams() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let out = f.run(["run", "--rm", "-t", "-a", "stdout", img, "sh", "-c", "echo out; echo err >&2"])
            #expect(out.status == 0 && out.stdout.contains("out") && out.stdout.contains("err"), "\(out)")
            let err = f.run(["run", "--rm", "-t", "-a", "stderr", img, "sh", "-c", "echo out; echo err >&2"])
            #expect(err.status == 0 && err.stdout == "" && err.stderr == "", "\(err)")
        }
    }

    @Test("input the container never reads does not stall it: its output keeps coming and it exits with its code")
    func unreadInputDoesNotStall() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let script = "i=0; while [ $i -lt 40 ]; do i=$((i+1)); echo tick$i; usleep 10000; done; exit 4"
            #expect(f.run(["create", "-i", "--name", "deaf", img, "sh", "-c", script]).status == 0)
            // 4 MB: far more than the pipe, the monitor's buffer and the socket hold.
            let input = String(repeating: String(repeating: "x", count: 1023) + "\n", count: 4096)
            let r = f.run(["start", "-ai", "deaf"], stdin: input, timeout: 60)
            #expect(r.status == 4 && r.stdout.hasSuffix("tick40\n") && !r.timedOut, "\(r.status) \(r.stderr)")
        }
    }

    @Test("several attachers at once: each one's input goes in, every one sees all the output")
    func severalAttachers() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            #expect(f.run(["run", "-di", "--name", "many", img, "cat"]).status == 0)
            // Each attacher shows output from when it attached: its own echo says it has.
            let a = try f.start(["attach", "many"])
            a.write("first-a\n")
            #expect(a.waitForStdout(containing: "first-a", timeout: 30))
            let b = try f.start(["attach", "many"])
            b.write("from-b\n")
            #expect(b.waitForStdout(containing: "from-b", timeout: 30) && a.waitForStdout(containing: "from-b", timeout: 30))
            a.write("from-a\n")
            #expect(a.waitForStdout(containing: "from-a", timeout: 30) && b.waitForStdout(containing: "from-a", timeout: 30))
            let ra = a.finish(timeout: 30)   // its EOF closes cat's stdin: both end with exit 0
            let rb = b.finish(timeout: 30)
            #expect(ra.status == 0 && rb.status == 0, "\(ra)\n\(rb)")
        }
    }

    @Test("--rm: start -a runs it in the foreground (output, exit code, then gone); attach still ends with its exit code")
    func startAttachedAutoRemove() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            #expect(f.run(["create", "--rm", "-i", "--name", "once", img, "sh", "-c", "read x; echo got=$x; exit 2"]).status == 0)
            let r = f.run(["start", "-ai", "once"], stdin: "in\n")
            #expect(r.status == 2 && r.stdout == "got=in\n", "\(r)")
            #expect(f.run(["inspect", "once"]).status != 0)

            // attach to a --rm container: its exit code, though the monitor removes it.
            #expect(f.run(["run", "-di", "--rm", "--name", "gone", img, "sh", "-c", "read x; echo got=$x; exit 3"]).status == 0)
            let a = f.run(["attach", "gone"], stdin: "v\n")
            #expect(a.status == 3 && a.stdout == "got=v\n", "\(a)")
        }
    }
}
