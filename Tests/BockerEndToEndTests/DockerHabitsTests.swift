import Foundation
import Glibc
import Testing

/// What a Docker user types without thinking: --help on every command, combined flags, id
/// prefixes, --format templates, version/info, and Docker's exit status for a bad flag.
@Suite("Docker habits: options, help, references, formats, version and info")
struct DockerHabitsTests {
    /// Every command's parser spellings, one "COMMAND[ SUB]<TAB>SPELLING" line each, read from
    /// the same tables the commands parse with.
    static let listSpellings = """
        for _, c in ipairs(bocker.commands()) do
          local cmd = bocker.load_command(c.name)
          print(c.name .. "\\t")
          for spelling in pairs(cmd.options or {}) do print(c.name .. "\\t" .. spelling) end
          for sub, spec in pairs(cmd.subcommands or {}) do
            print(c.name .. " " .. sub .. "\\t")
            for spelling in pairs(spec) do print(c.name .. " " .. sub .. "\\t" .. spelling) end
          end
        end
        """

    @Test("--help on every command and subcommand prints its usage and every option its parser takes")
    func helpForEveryCommand() throws {
        try BockerFixture.with { f in
            let script = try f.writeFile("spellings.lua", Self.listSpellings)
            let r = f.run(["script", script])
            #expect(r.status == 0, "\(r)")
            var spellings: [String: [String]] = [:]
            for line in r.stdoutLines {
                let parts = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
                spellings[parts[0], default: []] += parts.count > 1 && !parts[1].isEmpty ? [parts[1]] : []
            }
            for c in ["run", "exec", "ps", "images", "inspect", "logs", "rm", "network ls", "volume ls", "version", "info"] {
                #expect(spellings[c] != nil, "\(c) missing from the command list: \(r)")
            }
            #expect(spellings["run"]?.contains("--privileged") == true)
            for (command, options) in spellings where command != "help" {
                let words = command.split(separator: " ").map(String.init)
                let h = f.run(words + ["--help"])
                #expect(h.status == 0, "\(command) --help: \(h)")
                #expect(h.stdout.hasPrefix("Usage: bocker " + words[0]), "\(command) --help: \(h)")
                #expect(h.stderr.isEmpty, "\(command) --help: \(h)")
                for o in options {
                    // A spelling appears as a whole word: "-e," or "--env KEY=VALUE".
                    let found = h.stdoutLines.contains { line in
                        line.split(whereSeparator: { $0 == " " || $0 == "," }).contains { $0 == o }
                    }
                    #expect(found, "\(command) --help does not show \(o):\n\(h.stdout)")
                }
            }
            // -h is help too, except where the command gives it a meaning (run -h HOSTNAME).
            let ps = f.run(["ps", "-h"])
            #expect(ps.status == 0 && ps.stdout.contains("--filter"), "\(ps)")
            let help = f.run(["help", "exec"])
            #expect(help.stdout.contains("-t, --tty"), "\(help)")
        }
    }

    @Test("an unknown flag names it, one line, exit 125 (as Docker) and nothing is made",
          arguments: [["run", "--foo"], ["exec", "--foo"], ["ps", "--foo"], ["rm", "--foo"], ["exec", "-itz"]])
    func unknownFlag(args: [String]) throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let before = f.storeListing()
            let r = f.run(args + [img, "true"])
            #expect(r.status == 125, "\(r)")
            #expect(r.stderrLines.count == 1 && r.stdout.isEmpty, "\(r)")
            #expect(r.stderr.hasPrefix("unknown flag: " + args[1]), "\(r)")
            #expect(f.storeListing() == before)
        }
    }

    @Test("global options: --version, unknown ones are one line and non-zero, known settings still work")
    func globalOptions() throws {
        try BockerFixture.with { f in
            let v = f.run(["--version"])
            #expect(v.status == 0, "\(v)")
            #expect(v.stdout.wholeMatch(of: #/bocker version [0-9.]+, build [0-9a-f]{7}\n/#) != nil, "\(v)")
            let bad = f.run(["--frobnicate", "ps"])
            #expect(bad.status != 0 && bad.stdout.isEmpty && bad.stderrLines.count == 1, "\(bad)")
            #expect(bad.stderr.contains("--frobnicate"), "\(bad)")
            let badValue = f.run(["--frobnicate=1", "ps"])
            #expect(badValue.status != 0 && badValue.stderr.contains("--frobnicate"), "\(badValue)")
            // The original's settings and the documented ones still become BOCKER_* variables.
            let other = f.tmp + "/other-root"
            let images = f.run(["--root=" + other, "images"])
            #expect(images.status == 0 && FS_exists(other + "/images"), "\(images)")
            let help = f.run(["--help"])
            #expect(help.status == 0 && help.stdout.contains("Commands:"), "\(help)")
        }
    }

    @Test("version and info report this build and this host")
    func versionAndInfo() throws {
        try LifecycleFixture.with { f in
            let img = try f.initImage()
            let running = try f.runDetached(["--name", "habit-run", img, "sleep", "1000"])
            let (e, eid) = f.runNew(["run", img, "true"])
            #expect(e.status == 0, "\(e)")
            let exited = try #require(eid)

            let v = f.run(["version"])
            #expect(v.status == 0, "\(v)")
            let hostV2 = FS_exists("/sys/fs/cgroup/cgroup.controllers")
            for expected in ["Client:", "Runtime:", "Lua:             Lua 5.4", "Storage driver:  overlay",
                             "Cgroup version:  " + (hostV2 ? "2" : "1"), "Root dir:        " + f.root] {
                #expect(v.stdoutLines.contains { $0.trimmingCharacters(in: .whitespaces).hasPrefix(expected.trimmingCharacters(in: .whitespaces)) }, "\(expected): \(v)")
            }
            var u = utsname()
            uname(&u)
            let release = withUnsafeBytes(of: u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            #expect(v.stdout.contains(" Kernel:          " + release), "\(v)")

            let info = f.run(["info"])
            #expect(info.status == 0, "\(info)")
            for expected in [" Containers: 2", "  Running: 1", "  Stopped: 1", " Images: 1", " Storage Driver: overlay",
                             " Cgroup Version: " + (hostV2 ? "2" : "1"), " Kernel Version: " + release,
                             " CPUs: \(sysconf(Int32(_SC_NPROCESSORS_ONLN)))", " Bocker Root Dir: " + f.root] {
                #expect(info.stdoutLines.contains(expected), "\(expected): \(info)")
            }
            #expect(info.stdoutLines.contains("  seccomp") && info.stdoutLines.contains("   Profile: builtin"), "\(info)")
            let n = f.run(["info", "-f", "{{.ContainersRunning}}/{{.ContainersStopped}} {{.Driver}}"])
            #expect(n.stdout == "1/1 overlay\n", "\(n)")
            _ = f.run(["rm", "-f", running, exited])
            f.expectLifecycleClean(removed: [running, exited])
        }
    }

    @Test("containers and images by unique id prefix (with or without ps_/img_) or name; an ambiguous prefix lists the matches")
    func references() throws {
        try LifecycleFixture.with { f in
            let img = try f.initImage()
            let imgPrefix = String(img.dropFirst(4).prefix(6))
            let id = try f.runDetached(["--name", "habit", img, "sh", "-c", "echo hello; sleep 1000"])
            let bare = String(id.dropFirst(3).prefix(5))
            let withKind = String(id.prefix(8))
            #expect(f.waitExitless(id, log: "hello"))

            let logs = f.run(["logs", bare])
            #expect(logs.status == 0 && logs.stdout == "hello\n", "\(logs)")
            let exec = f.run(["exec", withKind, "hostname"])
            #expect(exec.status == 0 && exec.stdout == id + "\n", "\(exec)")
            let inspect = f.run(["inspect", "-f", "{{.Id}}", bare])
            #expect(inspect.stdout == id + "\n", "\(inspect)")
            let byName = f.run(["inspect", "-f", "{{.Id}}", "habit"])
            #expect(byName.stdout == id + "\n", "\(byName)")
            // An image by prefix: run, and images --filter.
            let run = f.run(["run", "--rm", imgPrefix, "true"])
            #expect(run.status == 0, "\(run)")
            let rm = f.run(["rm", "-f", bare])
            #expect(rm.status == 0, "\(rm)")
            #expect(!f.containerIds().contains(id), "rm by prefix did not remove \(id)")
            let gone = f.run(["logs", bare])
            #expect(gone.status == 1 && gone.stderr == "No container named '\(bare)' exists\n", "\(gone)")

            // Two containers whose ids start with the same digit (pigeonhole: at most 17 tries).
            let script = try f.writeFile("twins.lua", """
                local seen = {}
                for _ = 1, 17 do
                  local c = bocker.container.create { image = arg[1], cmd = { "true" } }
                  local d = c.id:sub(4, 4)
                  if seen[d] then print(d, seen[d], c.id) return end
                  seen[d] = c.id
                end
                """)
            let twins = f.run(["script", script, img])
            let parts = (twins.stdoutLines.first ?? "").split(separator: "\t").map(String.init)
            try #require(parts.count == 3, "\(twins)")
            let (digit, a, b) = (parts[0], parts[1], parts[2])
            for args in [["inspect", digit], ["rm", "ps_" + digit], ["logs", digit], ["exec", digit, "true"]] {
                let amb = f.run(args)
                #expect(amb.status != 0, "\(args): \(amb)")
                #expect(amb.stderrLines.count == 1, "\(args): \(amb)")
                #expect(amb.stderr.contains("Ambiguous container reference") && amb.stderr.contains(a) && amb.stderr.contains(b),
                        "\(args): \(amb)")
            }
            #expect(f.containerIds().contains(a) && f.containerIds().contains(b), "an ambiguous rm removed something")
            // The full id still works, and so does a longer, unique prefix.
            let one = f.run(["inspect", "-f", "{{.State.Status}}", a])
            #expect(one.stdout == "created\n", "\(one)")
            let all = Array(f.containerIds())
            _ = f.run(["rm"] + all)
            f.expectLifecycleClean(removed: all + [id])
        }
    }

    @Test("--format: inspect -f, ps --format (plain, table, json), images/network/volume ls --format; ps -n/-l/--filter")
    func formats() throws {
        try LifecycleFixture.with { f in
            let img = try f.initImage()
            let running = try f.runDetached(["--name", "fmt-run", "-e", "HABIT=1", "-l", "tier=web", img, "sleep", "1000"])
            let (e, eid) = f.runNew(["run", "--name", "fmt-exit", img, "true"])
            #expect(e.status == 0, "\(e)")
            let exited = try #require(eid)

            let state = f.run(["inspect", "-f", "{{.State.Status}}", running, exited])
            #expect(state.stdout == "running\nexited\n", "\(state)")
            let env = f.run(["inspect", "--format", "{{range .Config.Env}}{{if eq . \"HABIT=1\"}}found{{end}}{{end}} {{json .Config.Env}}", running])
            #expect(env.stdout.hasPrefix("found [\""), "\(env)")
            let ip = f.run(["inspect", "-f", "{{.NetworkSettings.IPAddress}}", running])
            #expect(ip.stdout.wholeMatch(of: #/10\.0\.0\.[0-9]+\n/#) != nil, "\(ip)")
            let bad = f.run(["inspect", "-f", "{{.State.Status", running])
            #expect(bad.status != 0 && bad.stderrLines.count == 1 && bad.stderr.contains("template"), "\(bad)")

            let names = f.run(["ps", "--format", "{{.Names}}"])
            #expect(names.stdoutLines.sorted() == ["fmt-exit", "fmt-run"], "\(names)")
            let table = f.run(["ps", "--format", #"table {{.ID}}\t{{.Status}}"#])
            #expect(table.status == 0, "\(table)")
            let header = table.stdoutLines.first ?? ""
            #expect(header.wholeMatch(of: #/CONTAINER ID +STATUS/#) != nil, "\(table)")
            let runRow = table.stdoutLines.first { $0.hasPrefix(running) } ?? ""
            #expect(runRow.wholeMatch(of: #/ps_[0-9a-f]{12} {3}Up .*/#) != nil, "\(table)")
            let upper = f.run(["ps", "--format", "{{upper .Names}}:{{.State}}", "--filter", "label=tier=web"])
            #expect(upper.stdout == "FMT-RUN:running\n", "\(upper)")
            let latest = f.run(["ps", "-l", "-q"])
            #expect(latest.stdoutLines == [exited], "\(latest)")
            let last2 = f.run(["ps", "-n", "2", "--format", "{{.ID}}"])
            #expect(last2.stdoutLines == [exited, running], "\(last2)")
            let ancestor = f.run(["ps", "-q", "--filter", "ancestor=" + img, "--filter", "status=exited"])
            #expect(ancestor.stdoutLines == [exited], "\(ancestor)")
            let net = f.run(["ps", "-q", "--filter", "network=none"])
            #expect(net.stdoutLines.isEmpty, "\(net)")
            let noTrunc = f.run(["ps", "--no-trunc", "-q", "--filter", "name=fmt-run"])
            #expect(noTrunc.stdoutLines == [running], "\(noTrunc)")

            let images = f.run(["images", "--format", "{{.ID}} {{.Source}}"])
            #expect(images.stdout == "\(img) \(f.rootfs)\n", "\(images)")
            let imagesTable = f.run(["images", "--format", #"table {{.ID}}\t{{.Source}}"#])
            #expect(imagesTable.stdoutLines.first?.wholeMatch(of: #/IMAGE ID +SOURCE/#) != nil, "\(imagesTable)")
            let q = f.run(["images", "-q", "--filter", "dangling=false"])
            #expect(q.stdoutLines == [img], "\(q)")
            let none = f.run(["images", "-q", "--filter", "reference=nosuch*"])
            #expect(none.stdout.isEmpty && none.status == 0, "\(none)")
            let nets = f.run(["network", "ls", "--format", "{{.Name}} {{.Driver}}"])
            #expect(nets.stdoutLines.contains("bridge bridge"), "\(nets)")
            _ = f.run(["volume", "create", "habitvol"])
            let vols = f.run(["volume", "ls", "--format", "{{.Name}}:{{.Driver}}"])
            #expect(vols.stdout == "habitvol:local\n", "\(vols)")
            _ = f.run(["volume", "rm", "habitvol"])

            // The seed's default columns are unchanged.
            let ps = f.run(["ps"])
            #expect(ps.stdoutLines.first?.wholeMatch(of: #/CONTAINER_ID +COMMAND +IMAGE +CREATED +STATUS +PORTS +NAMES/#) != nil, "\(ps)")
            _ = f.run(["rm", "-f", running, exited])
            f.expectLifecycleClean(removed: [running, exited])
        }
    }

    @Test("exec -it under a terminal: the command gets a pty of the container's own")
    func execInteractiveTTY() throws {
        try LifecycleFixture.with { f in
            let img = try f.initImage()
            let id = try f.runDetached(["--name", "habit-tty", img, "sleep", "1000"])
            let inner = "tty; [ -t 0 ] && echo stdin-tty; [ -t 1 ] && echo stdout-tty; exit 3"
            let r = f.shell("script -qec \"$BOCKER exec -it habit-tty sh -c '\(inner)'\" /dev/null", timeout: 30)
            let lines = splitLines(r.stdout.replacingOccurrences(of: "\r", with: ""))
            // The container's own pty (its devpts numbers from 0; the container's pid 1 has none).
            // (script(1) may put a ^@ the pty echoes in front of it.)
            #expect(lines.contains { $0.hasSuffix("/dev/pts/0") }, "\(r)")
            #expect(lines.contains("stdin-tty") && lines.contains("stdout-tty"), "\(r)")
            // Without -t: a pipe, not the caller's terminal.
            let notty = f.shell("script -qec \"$BOCKER exec -i habit-tty tty\" /dev/null", timeout: 30)
            #expect(notty.stdout.contains("not a tty"), "\(notty)")
            // The exit status comes through -t too.
            let code = f.run(["exec", "-t", "habit-tty", "sh", "-c", "exit 3"])
            #expect(code.status == 3, "\(code)")
            let dit = f.run(["exec", "-i", "-e", "X=1", habitPrefix(id), "sh", "-c", "echo $X"])
            #expect(dit.stdout == "1\n", "\(dit)")
            _ = f.run(["rm", "-f", id])
            f.expectLifecycleClean(removed: [id])
        }
    }
}

private func habitPrefix(_ id: String) -> String { String(id.prefix(9)) }

private func FS_exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

extension BockerFixture {
    /// Waits (through `logs -f`) until the container has printed `log`.
    func waitExitless(_ id: String, log: String) -> Bool {
        (try? waitForLog(id, containing: log).0) ?? false
    }
}
