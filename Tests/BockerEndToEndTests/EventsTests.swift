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
