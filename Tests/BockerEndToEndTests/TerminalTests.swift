import Glibc
import Testing

/// Without -t, nothing in a container reaches the terminal bocker was started from: each
/// container process leads its own session (no /dev/tty) and holds no descriptor of a tty, so
/// TIOCSTI (typing into the caller's shell; `dev.tty.legacy_tiocsti` is 1 here) fails everywhere.
@Suite("terminal: no shared terminal")
struct TerminalTests {
    /// `script -qec "<bocker ARGS>" /dev/null`: bocker started with a pseudo-terminal as its
    /// controlling terminal and stdio, as from an administrator's shell.
    private func underTerminal(_ f: BockerFixture, _ args: [String], input: String = "") -> RunResult {
        let words = f.commandPrefix + [BockerFixture.binary] + args
        let command = words.map(shellQuote).joined(separator: " ")
        do {
            let p = try ChildProcess(argv: ["script", "-qec", command, "/dev/null"], environment: f.environment(),
                                     stdin: input)
            return p.finish(timeout: 60)
        } catch {
            return RunResult(status: -1, stdout: "", stderr: "could not start script: \(error)")
        }
    }

    private func shellQuote(_ s: String) -> String {
        "'" + s.replacing("'", with: "'\\''") + "'"
    }

    private func expectConfined(_ r: RunResult, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(r.stdout.contains("devtty: ENXIO"), "\(what): /dev/tty must fail with ENXIO: \(r)", sourceLocation: sourceLocation)
        #expect(r.stdout.contains("RESULT: CONFINED"), "\(what): \(r)", sourceLocation: sourceLocation)
        #expect(r.status == 0, "\(what): \(r)", sourceLocation: sourceLocation)
    }

    @Test("the probe itself, under a pseudo-terminal, finds it (so the tests below can fail)")
    func probeSeesATerminal() throws {
        try BockerFixture.with { f in
            let dir = f.tmp + "/bin"
            try Host.makeDirectory(dir)
            try StaticProbe.build(StaticProbe.tty, name: "ttyprobe", into: dir, tmp: f.tmp)
            // --own-fds: outside a container the probe must not touch other processes' ttys.
            let r = runTool(["script", "-qec", dir + "/ttyprobe --own-fds", "/dev/null"], stdin: "")
            #expect(r.stdout.contains("devtty: opened (tiocsti WORKS)"), "\(r)")
            #expect(r.stdout.contains("RESULT: EXPOSED"), "\(r)")
        }
    }

    @Test("run, run -i, run --init: no /dev/tty, no tty fd, TIOCSTI fails, own session")
    func run() throws {
        try BockerFixture.with { f in
            let img = try StaticProbe.image(f, probes: ["ttyprobe": StaticProbe.tty])
            for opts in [[], ["-i"], ["--init"], ["-i", "--init"]] {
                expectConfined(underTerminal(f, ["run", "--rm"] + opts + [img, "/ttyprobe"]), "run \(opts)")
            }
        }
    }

    @Test("run -i under a terminal still passes typed input (through a pipe) and sees EOF")
    func runInteractiveInput() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let r = underTerminal(f, ["run", "--rm", "-i", img, "sh", "-c",
                                      "read x; echo got=$x; ls -l /proc/self/fd/0; read y || echo EOF"], input: "typed\n")
            #expect(r.status == 0, "\(r)")
            #expect(r.stdout.contains("got=typed"), "\(r)")
            #expect(r.stdout.contains("pipe:"), "stdin should be a pipe: \(r)")
        }
    }

    @Test("exec, exec -i: no /dev/tty, no tty fd, TIOCSTI fails, own session; input and output relayed")
    func exec() throws {
        try BockerFixture.with { f in
            let img = try StaticProbe.image(f, probes: ["ttyprobe": StaticProbe.tty])
            let d = f.run(["run", "-d", img, "sleep", "1000"])
            try #require(d.status == 0, "\(d)")
            let id = trimmed(d.stdout)
            for opts in [[], ["-i"]] {
                expectConfined(underTerminal(f, ["exec"] + opts + [id, "/ttyprobe"]), "exec \(opts)")
            }
            let io = underTerminal(f, ["exec", id, "sh", "-c", "read x; echo got=$x; echo to-stderr >&2; "
                                       + "ls -l /proc/self/fd/; exit 3"], input: "typed\n")
            #expect(io.status == 3, "exec's exit status through the relay: \(io)")
            #expect(io.stdout.contains("got=typed") && io.stdout.contains("to-stderr"), "\(io)")
            #expect(!io.stdout.contains("/dev/pts"), "a tty reached the exec'd command: \(io)")
            _ = f.run(["rm", "-f", id])
        }
    }
}
