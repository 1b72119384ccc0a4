import Glibc
import Testing
import Foundation

/// events.jsonl is rotated past its bound ($BOCKER_EVENTS_MAX_SIZE; one older generation is
/// kept as events.jsonl.1), and a reader that follows the log keeps its place across rotations.
@Suite("event log rotation")
struct EventRotationTests {
    @Test("a follower sees every event in order across several rotations; the log stays bounded")
    func followAcrossRotations() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let env = ["BOCKER_EVENTS_MAX_SIZE": "2k"]
            let follow = try f.writeFile("follow.lua", """
                local it = bocker.events{ filters = { event = "destroy" }, timeout = 120 }
                print("ready")
                io.stdout:flush()
                for e in it do
                  print(e.name)
                  io.stdout:flush()
                  if e.name == "n40" then break end
                end
                """)
            let follower = try f.start(["script", follow], env: env)
            #expect(follower.waitForStdout(containing: "ready", timeout: 30))
            let make = try f.writeFile("make.lua", """
                for i = 1, 40 do
                  bocker.container.create{ image = arg[1], name = "n" .. i, cmd = { "true" }, network = "none" }:remove()
                end
                """)
            let r = f.run(["script", make, img], env: env, timeout: 300)
            #expect(r.status == 0, "\(r)")
            let out = follower.finish(timeout: 60)
            #expect(out.status == 0, "\(out)")
            #expect(out.stdoutLines == ["ready"] + (1...40).map { "n\($0)" }, "\(out)")

            // Bounded: the current generation and one older one, each about the bound.
            let names = Host.listDirectory(f.root).filter { $0.hasPrefix("events") }.sorted()
            #expect(names == ["events.jsonl", "events.jsonl.1"], "\(names)")
            for n in names {
                var st = stat()
                #expect(stat(f.root + "/" + n, &st) == 0 && st.st_size <= 2048 + 400, "\(n): \(st.st_size) bytes")
            }
            // A reader from the start gets what is kept: a contiguous tail ending with n40, in order.
            let tail = try f.writeFile("tail.lua", """
                local names = {}
                for e in bocker.events{ since = 1, ["until"] = bocker.now(), filters = { event = "destroy" } } do names[#names + 1] = e.name end
                print(table.concat(names, " "))
                """)
            let t = f.run(["script", tail], env: env)
            let got = t.stdout.split(separator: " ").map { String($0).trimmingCharacters(in: .whitespacesAndNewlines) }
            let first = Int(got.first?.dropFirst() ?? "") ?? 0
            #expect(t.status == 0 && got.count >= 5 && got.count < 40, "\(t)")
            #expect(got == (first...40).map { "n\($0)" }, "\(t)")
        }
    }
}
