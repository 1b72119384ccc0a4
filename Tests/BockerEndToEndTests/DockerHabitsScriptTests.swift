import Glibc
import Testing

/// Issue 15's "done when": Tests/scripts/docker-habits.sh — every Docker habit typed as Docker's
/// documentation writes it, each checked — passes end to end, with `bocker` on PATH meaning this
/// build in this test's state root and network namespace.
@Suite("Docker habits: the script of habits, end to end")
struct DockerHabitsScriptTests {
    static let script = BockerFixture.packageRoot + "/Tests/scripts/docker-habits.sh"

    /// How many habits the script declares (its `habit "…"` lines): what it must report passed.
    static func habitCount() throws -> Int {
        let text = try #require(Host.readFile(script), "cannot read \(script)")
        return text.split(separator: "\n").filter { $0.hasPrefix("habit \"") }.count
    }

    @Test("docker-habits.sh passes: every habit's command and check, ending with 'N habits passed'")
    func script() throws {
        let expected = try Self.habitCount()
        #expect(expected >= 25, "the script lost habits: \(expected)")
        try LifecycleFixture.with { f in
            let img = try f.initImage()
            // `bocker` as a user types it: this build, in the fixture's own network namespace
            // (and, through the environment, its state root).
            let bin = f.tmp + "/bin"
            try Host.makeDirectory(bin)
            let prefix = (f.commandPrefix + [BockerFixture.binary]).map { "'\($0)'" }.joined(separator: " ")
            try f.writeFile("bin/bocker", "#!/bin/sh\nexec \(prefix) \"$@\"\n")
            chmod(bin + "/bocker", 0o755)
            let r = f.shell("PATH='\(bin)':\"$PATH\" bash '\(Self.script)' '\(img)'", timeout: 300)
            #expect(r.status == 0, "\(r)")
            #expect(!r.stderr.contains("FAILED"), "\(r)")
            #expect(r.stdoutLines.last == "\(expected) habits passed", "\(r)")
            // It cleans up after itself: no running container, no work directory of its own.
            let running = f.run(["ps", "-q", "--filter", "status=running"])
            #expect(running.stdout.isEmpty, "\(running)")
        }
    }

    @Test("a habit that fails is named, with a non-zero exit status (the script can fail)")
    func scriptCanFail() throws {
        try LifecycleFixture.with { f in
            let img = try f.initImage()
            let bin = f.tmp + "/bin"
            try Host.makeDirectory(bin)
            let prefix = (f.commandPrefix + [BockerFixture.binary]).map { "'\($0)'" }.joined(separator: " ")
            // A bocker whose `port` prints a wrong mapping: the port habit must fail, by name.
            try f.writeFile("bin/bocker", """
                #!/bin/sh
                if [ "$1" = port ]; then echo "80/tcp -> 0.0.0.0:1"; exit 0; fi
                exec \(prefix) "$@"

                """)
            chmod(bin + "/bocker", 0o755)
            let r = f.shell("PATH='\(bin)':\"$PATH\" bash '\(Self.script)' '\(img)'", timeout: 300)
            #expect(r.status == 1, "\(r)")
            #expect(r.stderr.contains("FAILED habit") && r.stderr.contains("(docker port web"), "\(r)")
            #expect(!r.stdout.contains("habits passed"), "\(r)")
        }
    }
}
