import Glibc
import Testing

@Suite("run options: --env-file, -h, -u, --entrypoint, --init, -t")
struct LifecycleOptionsTests {
    @Test("--env-file: KEY=VALUE lines, # comments and blank lines skipped; -e still works")
    func envFile() throws {
        try LifecycleFixture.with { f in
            let img = try f.initImage()
            let file = try f.writeFile("app.env", "# a comment\n\nA=1\nB=two words\n# C=commented\nD=x=y\n")
            let r = f.run(["run", "--env-file", file, "-e", "E=5", img, "sh", "-c",
                           "echo \"$A|$B|${C-unset}|$D|$E\""])
            #expect(r.status == 0, "\(r)")
            #expect(r.stdoutLines == ["1|two words|unset|x=y|5"], "\(r)")
            let ids = Array(f.containerIds())
            _ = f.run(["rm"] + ids)
            f.expectLifecycleClean(removed: ids)
        }
    }

    @Test("-h sets the hostname inside; inspect shows it")
    func hostname() throws {
        try LifecycleFixture.with { f in
            let img = try f.initImage()
            let (r, rid) = f.runNew(["run", "-h", "myhost", img, "hostname"])
            #expect(r.status == 0, "\(r)")
            #expect(r.stdout == "myhost\n", "\(r)")
            let id = try #require(rid)
            #expect(lcString(try f.inspectOne(id), "Config", "Hostname") == "myhost")
            _ = f.run(["rm", id])
            f.expectLifecycleClean(removed: [id])
        }
    }

    @Test("-u USER and -u UID:GID; --entrypoint replaces the program")
    func userAndEntrypoint() throws {
        try LifecycleFixture.with { f in
            let img = try f.initImage()
            let (nobody, nid) = f.runNew(["run", "-u", "nobody", img, "sh", "-c", "id -u; id -g"])
            #expect(nobody.status == 0, "\(nobody)")
            #expect(nobody.stdoutLines == ["65534", "65534"], "\(nobody)")
            let id1 = try #require(nid)
            #expect(lcString(try f.inspectOne(id1), "Config", "User") == "nobody")
            let numeric = f.run(["run", "-u", "1000:1001", img, "sh", "-c", "id -u; id -g"])
            #expect(numeric.stdoutLines == ["1000", "1001"], "\(numeric)")
            let noUser = f.run(["run", "-u", "nosuchuser", img, "true"])
            #expect(noUser.status != 0, "\(noUser)")
            #expect(noUser.stderr.contains("unable to find user nosuchuser: no matching entries in passwd file"), "\(noUser)")
            let noGroup = f.run(["run", "-u", "nobody:nosuchgroup", img, "true"])
            #expect(noGroup.status != 0, "\(noGroup)")
            #expect(noGroup.stderr.contains("unable to find group nosuchgroup: no matching entries in group file"), "\(noGroup)")

            let (ep, eid) = f.runNew(["run", "--entrypoint", "echo", img, "hello", "world"])
            #expect(ep.status == 0, "\(ep)")
            #expect(ep.stdout == "hello world\n", "\(ep)")
            let id2 = try #require(eid)
            let cfg = try f.inspectOne(id2)
            #expect(String(describing: lcJSON(cfg, "Config", "Entrypoint") ?? "").contains("echo"), "\(cfg)")
            let ids = Array(f.containerIds())
            _ = f.run(["rm"] + ids)
            f.expectLifecycleClean(removed: ids)
        }
    }

    @Test("--init: PID 1 is bocker's init, which reaps orphans; no zombies")
    func initReaps() throws {
        try LifecycleFixture.with { f in
            let img = try f.initImage()
            // Without --init the command is PID 1; with it, it is not.
            let plain = f.run(["run", img, "sh", "-c", "echo $$"])
            #expect(plain.stdout == "1\n", "\(plain)")
            let withInit = f.run(["run", "--init", img, "sh", "-c", "echo $$; cat /proc/1/comm"])
            #expect(withInit.status == 0, "\(withInit)")
            #expect(withInit.stdoutLines.count == 2 && withInit.stdoutLines.first != "1", "\(withInit)")
            #expect(withInit.stdoutLines.last != "sh", "PID 1 is the shell under --init: \(withInit)")

            let zombies = f.run(["run", "--init", img, "sh", "-c", "sleep 0 & sleep 0 & wait; ps -o stat | grep -c Z"])
            #expect(zombies.stdout == "0\n", "\(zombies)")

            // An orphan (its parent subshell has exited) is re-parented to PID 1, the init, which
            // must reap it: wait inside the container (bounded, 10 s) for its /proc entry to go.
            let orphan = f.run(["run", "--init", img, "sh", "-c",
                                "(sleep 0 & echo $! > /tmp/pid); pid=$(cat /tmp/pid); i=0; "
                                + "while [ -e /proc/$pid ] && [ $i -lt 500 ]; do sleep 0.02; i=$((i+1)); done; "
                                + "if [ -e /proc/$pid ]; then echo left; grep State /proc/$pid/status; else echo reaped; fi"])
            #expect(orphan.status == 0, "\(orphan)")
            #expect(orphan.stdout == "reaped\n", "\(orphan)")

            // The init passes the exit code through.
            let code = f.run(["run", "--init", img, "sh", "-c", "exit 9"])
            #expect(code.status == 9, "\(code)")
            let ids = Array(f.containerIds())
            _ = f.run(["rm"] + ids)
            f.expectLifecycleClean(removed: ids)
        }
    }

    @Test("-t gives the container a pty: tty is /dev/pts/0 and stdin/stdout are terminals")
    func pty() throws {
        try LifecycleFixture.with { f in
            let img = try f.initImage()
            let inner = "tty; [ -t 0 ] && echo stdin-tty; [ -t 1 ] && echo stdout-tty; exit 0"
            let r = f.shell("script -qec \"$BOCKER run -t \(img) sh -c '\(inner)'\" /dev/null", timeout: 30)
            #expect(r.status == 0, "\(r)")
            let lines = splitLines(r.stdout.replacingOccurrences(of: "\r", with: ""))
            #expect(lines.contains("/dev/pts/0"), "\(r)")
            #expect(lines.contains("stdin-tty") && lines.contains("stdout-tty"), "\(r)")

            // Without -t there is no terminal, even when bocker itself runs on one.
            let notty = f.shell("script -qec \"$BOCKER run \(img) tty\" /dev/null", timeout: 30)
            #expect(notty.stdout.contains("not a tty"), "\(notty)")

            // Detached with -t: the log holds what it printed on its pty.
            let id = try f.runDetached(["-t", img, "sh", "-c", inner])
            #expect(f.waitExit(id) == 0)
            let logs = f.run(["logs", id])
            let logLines = splitLines(logs.stdout.replacingOccurrences(of: "\r", with: ""))
            #expect(logLines.contains("/dev/pts/0") && logLines.contains("stdin-tty"), "\(logs)")

            let ids = Array(f.containerIds())
            _ = f.run(["rm"] + ids)
            f.expectLifecycleClean(removed: ids)
        }
    }
}
