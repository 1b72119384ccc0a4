import Glibc
import Testing

/// logs --since/--until/--tail/-t, exec -d/-e/--env-file/-w/-u, diff, system df, attach.
@Suite("Verbs: logs, exec, diff, system df, attach")
struct VerbsMiscTests {
    @Test("logs --since/--until (RFC 3339 from -t, Unix time, durations), --tail, -t")
    func logsWindow() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let r = f.run(["run", "--name", "talk", img, "sh", "-c", "echo one; sleep 1.1; echo two; echo err >&2"])
            #expect(r.status == 0, "\(r)")
            let t = f.run(["logs", "-t", "talk"])
            let stamped = t.stdoutLines
            #expect(stamped.count == 2, "\(t)")
            let first = String(stamped[0].split(separator: " ")[0]), second = String(stamped[1].split(separator: " ")[0])
            #expect(stamped[0].hasSuffix(" one") && stamped[1].hasSuffix(" two"), "\(t)")
            #expect(f.run(["logs", "--since", second, "talk"]).stdout == "two\n")
            #expect(f.run(["logs", "--until", first, "talk"]).stdout == "one\n")
            #expect(f.run(["logs", "--since", "1h", "talk"]).stdout == "one\ntwo\n")
            #expect(f.run(["logs", "--since", "0s", "talk"]).stdout == "")
            let unix = String(Int(WallClockHelper.now()) + 3600)
            #expect(f.run(["logs", "--since", unix, "talk"]).stdout == "")
            // --tail counts the lines of both streams, as Docker's.
            let tail = f.run(["logs", "--tail", "2", "talk"])
            #expect(tail.stdout == "two\n" && tail.stderr == "err\n", "\(tail)")
            let errs = f.run(["logs", "--since", second, "talk"])
            #expect(errs.stderr == "err\n", "\(errs)")
            let bad = f.run(["logs", "--since", "yesterday", "talk"])
            #expect(bad.status != 0 && bad.stderrLines.count == 1 && bad.stderr.contains("'yesterday' for since"), "\(bad)")
        }
    }

    @Test("exec -e, --env-file, -w, -u as Docker's docs write them; exec -d returns at once and the command runs")
    func execFlags() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            _ = f.run(["run", "-d", "--name", "ex", img, "sleep", "60"])
            let envFile = try f.writeFile("exec.env", "# comment\nA=1\n\nC=from-file\n")
            let r = f.run(["exec", "--env-file", envFile, "-e", "B=2", "-e", "C=from-flag", "-w", "/tmp", "-u", "1000:1000",
                           "ex", "sh", "-c", "echo $A $B $C $(pwd) $(id -u):$(id -g)"])
            #expect(r.status == 0 && r.stdout == "1 2 from-flag /tmp 1000:1000\n", "\(r)")
            let missing = f.run(["exec", "--env-file", f.tmp + "/nope.env", "ex", "true"])
            #expect(missing.status != 0 && missing.stderr.contains("nope.env"), "\(missing)")

            var t0 = timespec(), t1 = timespec()
            clock_gettime(CLOCK_MONOTONIC, &t0)
            let d = f.run(["exec", "-d", "ex", "sh", "-c", "sleep 2; echo done > /tmp/detached"])
            clock_gettime(CLOCK_MONOTONIC, &t1)
            #expect(d.status == 0 && d.stdout.isEmpty, "\(d)")
            #expect(t1.tv_sec - t0.tv_sec < 2, "exec -d waited for the command")
            var seen = false
            for _ in 0..<500 where !seen {
                seen = f.run(["exec", "ex", "cat", "/tmp/detached"]).stdout == "done\n"
                if !seen { usleep(20_000) }
            }
            #expect(seen, "the detached command never ran")
            let stopped = f.run(["exec", "-d", "nosuch", "true"])
            #expect(stopped.status != 0 && stopped.stderr.contains("nosuch"), "\(stopped)")
        }
    }

    @Test("diff lists exactly the added, changed and deleted paths", arguments: ["overlay", "copy"])
    func diff(driver: String) throws {
        try BockerFixture.with(driver: driver) { f in
            let img = try f.initImage()
            let r = f.run(["run", "--name", "d", img, "sh", "-c",
                           "mkdir /newdir && echo x > /newdir/f && echo changed >> /etc/passwd && rm /etc/group"])
            #expect(r.status == 0, "\(r)")
            let d = f.run(["diff", "d"])
            #expect(d.status == 0, "\(d)")
            #expect(d.stdoutLines == ["C /etc", "D /etc/group", "C /etc/passwd", "A /newdir", "A /newdir/f"], "\(d)")
            _ = f.run(["create", "--name", "clean", img, "true"])
            #expect(f.run(["diff", "clean"]).stdout == "")
        }
    }

    @Test("system df: images, containers and volumes, totals and the active ones")
    func systemDF() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            _ = f.run(["run", "-d", "--name", "up", "-v", "dfvol:/data", img, "sleep", "60"])
            _ = f.run(["create", img, "true"])
            _ = f.run(["volume", "create", "spare"])
            let r = f.run(["system", "df"])
            #expect(r.status == 0, "\(r)")
            #expect(r.stdoutLines.first.map(fields) == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"], "\(r)")
            let rows = f.run(["system", "df", "--format", "{{.Type}}|{{.TotalCount}}|{{.Active}}"]).stdoutLines
            #expect(rows == ["Images|1|1", "Containers|2|1", "Local Volumes|2|1", "Build Cache|0|0"], "\(rows)")
            let sizes = f.run(["system", "df", "--format", "{{.Size}}"]).stdoutLines
            #expect(sizes.first != "0B", "the image takes space: \(sizes)")
        }
    }

    @Test("attach shows a running container's output from now on and ends with its exit status")
    func attach() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            _ = f.run(["run", "-d", "--name", "a", img, "sh", "-c",
                       "echo early; while [ ! -e /tmp/stop ]; do echo tick; usleep 50000; done; echo bye; echo gone >&2; exit 4"])
            var early = false
            for _ in 0..<500 where !early {
                early = f.run(["logs", "a"]).stdout.hasPrefix("early\n")
                if !early { usleep(10_000) }
            }
            #expect(early)
            let p = try f.start(["attach", "a"])
            #expect(p.waitForStdout(containing: "tick", timeout: 30))
            let touch = f.run(["exec", "a", "touch", "/tmp/stop"], timeout: 90)
            #expect(touch.status == 0, "\(touch)")
            let r = p.finish(timeout: 30)
            #expect(r.status == 4, "\(r)")
            #expect(r.stdout.hasSuffix("bye\n") && !r.stdout.contains("early"), "\(r)")
            #expect(r.stderr == "gone\n", "\(r)")
            let stopped = f.run(["attach", "a"])
            #expect(stopped.status != 0 && stopped.stderr.contains("stopped container"), "\(stopped)")
        }
    }
}

enum WallClockHelper {
    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
