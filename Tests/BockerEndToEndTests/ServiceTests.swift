import Foundation
import Glibc
import Testing

/// Around the tool: shell completion generated from the option tables, and the systemd unit
/// that brings restartable containers back after a reboot.
@Suite("completion scripts and the systemd unit")
struct ServiceTests {
    /// Runs `bash -c SCRIPT` with the completion script at `path` sourced; its stdout.
    static func bash(_ path: String, _ script: String) -> RunResult {
        runTool(["bash", "-c", "source '\(path)' || exit 9\n" + script])
    }

    /// What `_bocker` offers for the words of a command line (the last one being completed).
    static func complete(_ path: String, _ words: [String]) -> [String] {
        let quoted = words.map { "'" + $0 + "'" }.joined(separator: " ")
        let r = bash(path, "COMP_WORDS=(\(quoted)); COMP_CWORD=\(words.count - 1); _bocker; printf '%s\\n' \"${COMPREPLY[@]}\"")
        return r.status == 0 ? r.stdoutLines.filter { !$0.isEmpty } : ["<bash failed: \(r)>"]
    }

    @Test("bocker completion bash is valid bash and completes commands, options and subcommands from the option tables")
    func bashCompletion() throws {
        try BockerFixture.with { f in
            let r = f.run(["completion", "bash"])
            #expect(r.status == 0 && r.stderr.isEmpty, "\(r)")
            let path = try f.writeFile("bocker.bash", r.stdout)
            let syntax = runTool(["bash", "-n", path])
            #expect(syntax.status == 0, "bash -n: \(syntax)")
            let registered = Self.bash(path, "complete -p bocker")
            #expect(registered.stdout.contains("complete -F _bocker bocker"), "\(registered)")

            #expect(Self.complete(path, ["bocker", "ru"]) == ["run"])
            #expect(Self.complete(path, ["bocker", "insp"]) == ["inspect"])
            // Options come from run's own table: --privileged, --pids-limit, the new run flags.
            let runOpts = Self.complete(path, ["bocker", "run", "--pri"])
            #expect(runOpts == ["--privileged"], "\(runOpts)")
            let pids = Self.complete(path, ["bocker", "run", "-d", "--pids"])
            #expect(pids == ["--pids-limit"], "\(pids)")
            #expect(Self.complete(path, ["bocker", "ps", "--fil"]) == ["--filter"])
            // A subcommand, and a subcommand's options.
            #expect(Self.complete(path, ["bocker", "system", "start-"]) == ["start-restartable"])
            #expect(Self.complete(path, ["bocker", "system", "install-service", "--pre"]) == ["--prefix"])
            // An option that takes a value completes file names, not options.
            let dir = try f.writeFile("envdir/some.env", "A=1\n")
            let files = Self.complete(path, ["bocker", "run", "--env-file", String(dir.dropLast(4))])
            #expect(files == [dir], "\(files)")
            // Nothing else: an option that no table has is never offered.
            #expect(Self.complete(path, ["bocker", "run", "--frobn"]).isEmpty)

            let bad = f.run(["completion", "fish"])
            #expect(bad.status != 0 && bad.stderrLines.count == 1 && bad.stdout.isEmpty, "\(bad)")
        }
    }

    @Test("bocker completion zsh is valid zsh and lists every command with its options")
    func zshCompletion() throws {
        try BockerFixture.with { f in
            let r = f.run(["completion", "zsh"])
            #expect(r.status == 0 && r.stderr.isEmpty, "\(r)")
            #expect(r.stdout.hasPrefix("#compdef bocker\n"), "\(r.stdout.prefix(200))")
            let path = try f.writeFile("_bocker", r.stdout)
            let syntax = runTool(["zsh", "-n", path])
            #expect(syntax.status == 0, "zsh -n: \(syntax)")
            #expect(r.stdout.contains("'run:Create a container from an image and run a command in it'"))
            #expect(r.stdout.contains("'--privileged:all capabilities, no seccomp filter, every device, writable /sys\\:'"), "zsh")
            // Every command of the table is there.
            let help = f.run(["help"]).stdoutLines
            let names = help.drop { $0 != "Commands:" }.dropFirst().filter { $0.hasPrefix("  ") }.compactMap {
                $0.split(separator: " ").first.map(String.init)
            }
            #expect(names.count > 20)
            for n in names { #expect(r.stdout.contains("    \(n)) opts=("), "zsh: no case for \(n)") }
        }
    }

    @Test("install-service writes the unit (ExecStart: this binary's start-restartable, this BOCKER_ROOT) under --prefix")
    func installService() throws {
        try BockerFixture.with { f in
            let prefix = f.tmp + "/units"
            #expect(mkdir(prefix, 0o755) == 0)
            let r = f.run(["system", "install-service", "--prefix", prefix])
            #expect(r.status == 0, "\(r)")
            #expect(r.stdout == prefix + "/bocker.service\n", "\(r)")
            let unit = try #require(Host.readFile(prefix + "/bocker.service"))
            let bin = Host.realPath(BockerFixture.binary)
            #expect(unit.contains("\nExecStart=\(bin) system start-restartable\n"), "\(unit)")
            #expect(unit.contains("\nEnvironment=BOCKER_ROOT=\(f.root)\n"), "\(unit)")
            #expect(unit.contains("\nWantedBy=multi-user.target\n") && unit.contains("\nType=oneshot\n"), "\(unit)")
            var st = stat()
            #expect(stat(prefix + "/bocker.service", &st) == 0 && st.st_mode & 0o777 == 0o644)
            // The shipped unit runs the same command.
            let shipped = try #require(Host.readFile(BockerFixture.packageRoot + "/contrib/bocker.service"))
            #expect(shipped.contains("\nExecStart=/usr/local/bin/bocker system start-restartable\n"))
            // Bad input: one line, nothing written.
            let missing = f.run(["system", "install-service", "--prefix", f.tmp + "/nope"])
            #expect(missing.status != 0 && missing.stderrLines.count == 1, "\(missing)")
            #expect(!FileManager.default.fileExists(atPath: f.tmp + "/nope"))
            let relative = f.run(["system", "install-service", "--prefix", prefix, "--bin", "bocker"])
            #expect(relative.status != 0 && relative.stderrLines.count == 1, "\(relative)")
        }
    }

    /// The record's monitorPid (the bocker that collects the container's output).
    static func monitorPid(_ f: BockerFixture, _ id: String) -> pid_t? {
        guard let text = Host.readFile(f.root + "/containers/\(id)/container.json"),
              let obj = parseJSON(text) as? [String: Any], let pid = lcInt(obj, "monitorPid") else { return nil }
        return pid_t(pid)
    }

    @Test("after a simulated reboot (monitors killed, records left running, cgroups gone) start-restartable brings back exactly always and not-stopped unless-stopped")
    func startRestartable() throws {
        try LifecycleFixture.with { f in
            let img = try f.initImage()
            var ids: [String: String] = [:]
            for (key, policy) in [("always", "always"), ("alwaysStopped", "always"), ("unless", "unless-stopped"),
                                  ("unlessStopped", "unless-stopped"), ("no", "no"), ("onFailure", "on-failure")] {
                ids[key] = try f.runDetached(["--restart", policy, img, "sleep", "1000"])
            }
            for key in ["alwaysStopped", "unlessStopped"] {
                let s = f.run(["stop", "-t", "0", ids[key]!])
                #expect(s.status == 0, "\(s)")
            }
            // The "reboot": every running container's monitor is killed (its container dies with
            // it, PR_SET_PDEATHSIG); the records still say running, the processes are gone.
            var pids: [pid_t] = []
            for key in ["always", "unless", "no", "onFailure"] {
                let id = ids[key]!
                let old = try f.inspectOne(id)
                let cpid = try #require(lcInt(old, "State", "Pid"))
                let mpid = try #require(Self.monitorPid(f, id))
                #expect(kill(mpid, SIGKILL) == 0)
                pids += [mpid, pid_t(cpid)]
            }
            #expect(waitUntilGone(pids), "the monitors and containers did not die")
            // After a reboot the cgroup filesystem is empty: the first one's cgroup goes too.
            for dir in Host.cgroupDirectories(forContainer: ids["always"]!) { #expect(rmdir(dir) == 0, "rmdir \(dir)") }
            #expect(Host.cgroupDirectories(forContainer: ids["always"]!).isEmpty)

            let r = f.run(["system", "start-restartable"])
            #expect(r.status == 0, "\(r)")
            #expect(Set(r.stdoutLines) == [ids["always"]!, ids["alwaysStopped"]!, ids["unless"]!], "\(r)")
            for key in ["always", "alwaysStopped", "unless"] {
                let c = try f.inspectOne(ids[key]!)
                #expect(lcString(c, "State", "Status") == "running", "\(key): \(c)")
                let pid = try #require(lcInt(c, "State", "Pid"))
                #expect(Host.processExists(pid_t(pid)), "\(key) is not really running")
            }
            for key in ["unlessStopped", "no", "onFailure"] {
                let c = try f.inspectOne(ids[key]!)
                #expect(lcString(c, "State", "Status") == "exited", "\(key): \(c)")
            }
            // The re-made cgroup has the limits again and holds the container.
            let dirs = Host.cgroupDirectories(forContainer: ids["always"]!)
            #expect(!dirs.isEmpty)
            let pidsMax = dirs.compactMap { Host.readFile($0 + "/pids.max") }.first.map(trimmed)
            #expect(pidsMax == "4096", "pids.max \(String(describing: pidsMax))")
            // Once they run, a second call starts nothing.
            let again = f.run(["system", "start-restartable"])
            #expect(again.status == 0 && again.stdout.isEmpty, "\(again)")
        }
    }
}
