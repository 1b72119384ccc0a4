import Glibc
import Testing
import Foundation

/// Container events: recorded as they happen, read in order, filtered, by scripts and by
/// `bocker events`.
@Suite("events")
struct EventsTests {
    @Test("a script sees create, start, die (with the exit code) and destroy, in order")
    func eventsInOrder() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let path = try f.writeFile("events.lua", """
                local since = bocker.now()
                local c = bocker.container.create{ image = arg[1], name = "evt", cmd = { "sh", "-c", "exit 3" } }
                c:start()
                c:wait{ timeout = 20 }
                c:remove()
                local other = bocker.container.create{ image = arg[1], cmd = { "true" } }
                other:remove()
                local seen = {}
                for e in bocker.events{ since = since, ["until"] = bocker.now(), filters = { container = "evt" } } do
                  seen[#seen + 1] = e.action .. (e.exit_code and ("(" .. e.exit_code .. ")") or "") .. ":" .. e.name
                end
                print(table.concat(seen, " "))
                -- Only die events, of any container.
                local dies = 0
                for e in bocker.events{ since = since, ["until"] = bocker.now(), filters = { event = { "die" } } } do dies = dies + 1 end
                print("dies=" .. dies)
                -- Waiting for an event that never comes ends with a timeout error.
                local ok, err = pcall(function() for e in bocker.events{ timeout = 0.3 } do end end)
                print("timeout=" .. err.code)
                """)
            let r = f.run(["script", path, img])
            #expect(r.status == 0, "\(r)")
            #expect(r.stdoutLines.first == "create:evt start:evt die(3):evt destroy:evt", "\(r)")
            #expect(r.stdoutLines.contains("dies=1"), "\(r)")
            #expect(r.stdoutLines.contains("timeout=timeout"), "\(r)")
        }
    }

    @Test("bocker events follows new events as they happen, in Docker's line format")
    func eventsCommandFollows() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            // --since now: what happens from here on, whenever the follower gets to read it.
            var ts = timespec()
            clock_gettime(CLOCK_REALTIME, &ts)
            let since = String(format: "%d.%09d", ts.tv_sec, ts.tv_nsec)
            let follower = try f.start(["events", "--since", since, "--filter", "event=start", "--filter", "event=die"])
            let (r, id) = f.runNew(["run", img, "sh", "-c", "exit 5"])
            #expect(r.status == 5, "\(r)")
            let cid = try #require(id)
            #expect(follower.waitForStdout(containing: " container die ", timeout: 20))
            follower.signal(SIGTERM)
            let out = follower.finish(timeout: 10)
            let lines = out.stdoutLines
            #expect(lines.count == 2, "\(out)")
            #expect(lines.first?.contains(" container start \(cid) (image=") == true, "\(lines)")
            #expect(lines.last?.contains(" container die \(cid) (exitCode=5, image=") == true, "\(lines)")
            #expect(lines.first?.hasPrefix("20") == true && lines.first?.split(separator: " ").first?.hasSuffix("Z") == true, "\(lines)")
            let bad = f.run(["events", "--filter", "colour=red"])
            #expect(bad.status != 0 && bad.stderr.contains("invalid filter 'colour=red'"), "\(bad)")
        }
    }
}

/// Ctrl-C during `bocker script`: waits end at once, pure Lua loops are interrupted, and what
/// the script started is stopped; exit status 130.
@Suite("interrupting a script")
struct ScriptInterruptTests {
    @Test("SIGINT during c:wait() stops the container the script started and exits 130")
    func interruptDuringWait() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let path = try f.writeFile("long.lua", """
                local c = bocker.container.create{ image = arg[1], name = "longrun", cmd = { "sleep", "600" } }
                c:start()
                print("started " .. c.id)
                io.stdout:flush()
                c:wait()
                print("not reached")
                """)
            let p = try f.start(["script", path, img])
            #expect(p.waitForStdout(containing: "started ", timeout: 30))
            p.signal(SIGINT)
            let r = p.finish(timeout: 30)
            #expect(r.status == 130, "\(r)")
            #expect(!r.stdout.contains("not reached"), "\(r)")
            #expect(r.stderr.contains("interrupted"), "\(r)")
            #expect(r.stderr.contains("stopped ps_"), "\(r)")
            let state = f.run(["ps", "-a"])
            #expect(state.stdout.contains("Exited"), "\(state)")
            _ = f.run(["rm", "-f", "longrun"])
        }
    }

    @Test("SIGINT interrupts a pure Lua loop; the script's own pcall sees code 'interrupted'")
    func interruptLuaLoop() throws {
        try BockerFixture.with { f in
            let path = try f.writeFile("spin.lua", """
                print("spinning")
                io.stdout:flush()
                local ok, err = pcall(function() while true do end end)
                print("caught " .. err.code)
                io.stdout:flush()
                """)
            let p = try f.start(["script", path])
            #expect(p.waitForStdout(containing: "spinning", timeout: 30))
            p.signal(SIGINT)
            let r = p.finish(timeout: 30)
            #expect(r.stdout.contains("caught interrupted"), "\(r)")
            #expect(r.status == 130, "\(r)")
        }
    }
}
