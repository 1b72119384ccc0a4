import Glibc
import Testing

/// Docker's lifecycle verbs bocker lacked: create + start -a/-i, attach, rename, pause and
/// unpause, update, port, top, container prune.
@Suite("Verbs: create, start -a, attach, rename, pause, update, port, top, prune")
struct VerbsLifecycleTests {
    @Test("create takes run's options and makes a created container; start -a runs it attached with its exit status; start -ai feeds stdin")
    func createThenStartAttached() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let (c, id) = f.runNew(["create", "--name", "web", "-e", "GREETING=hello", "-w", "/tmp", img,
                                    "sh", "-c", "echo $GREETING from $(pwd); echo oops >&2; exit 3"])
            #expect(c.status == 0, "\(c)")
            #expect(c.stdout == (id ?? "?") + "\n", "\(c)")
            let st = f.run(["inspect", "-f", "{{.State.Status}}", "web"])
            #expect(st.stdout == "created\n", "\(st)")
            let a = f.run(["start", "-a", "web"])
            #expect(a.status == 3, "\(a)")
            #expect(a.stdout == "hello from /tmp\n" && a.stderr == "oops\n", "\(a)")
            // The same output is in the log, and the container is exited with the code.
            let logs = f.run(["logs", "web"])
            #expect(logs.stdout == "hello from /tmp\n", "\(logs)")
            #expect(f.run(["inspect", "-f", "{{.State.ExitCode}}", "web"]).stdout == "3\n")

            _ = f.run(["create", "-i", "--name", "cat", img, "cat"])
            let i = f.run(["start", "-ai", "cat"], stdin: "piped in\n")
            #expect(i.status == 0 && i.stdout == "piped in\n", "\(i)")
        }
    }

    @Test("create refuses run-only -d (125, nothing made) and a bad option value names it")
    func createBadInput() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let before = f.storeListing()
            let d = f.run(["create", "-d", img, "true"])
            #expect(d.status == 125 && d.stderr.hasPrefix("unknown flag: -d"), "\(d)")
            let m = f.run(["create", "--memory", "lots", img, "true"])
            #expect(m.status == 125 && m.stderrLines.count == 1 && m.stderr.contains("--memory"), "\(m)")
            #expect(f.storeListing() == before)
            let two = f.run(["start", "-a", "x", "y"])
            #expect(two.status != 0 && two.stderr.contains("multiple containers"), "\(two)")
        }
    }
}
