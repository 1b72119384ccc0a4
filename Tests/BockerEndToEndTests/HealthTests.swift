import Glibc
import Testing
import Foundation

/// Healthchecks run by the container's monitor: the check runs inside the container on its
/// schedule, State.Health and `health_status` events follow it, `wait_for{health = true}` waits
/// on it, and `--no-healthcheck` turns an image's check off. Every wait is on state or events.
@Suite("healthchecks")
struct HealthTests {
    /// Gives the stored image a healthcheck in its config (what a pulled image with a
    /// HEALTHCHECK carries).
    static func giveImageHealthcheck(_ f: BockerFixture, _ img: String, _ json: String) throws {
        let path = f.root + "/images/\(img).json"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.contains("\"config\":{}"), "\(text)")
        try Host.writeFile(path, text.replacingOccurrences(of: "\"config\":{}", with: "\"config\":{\"healthcheck\":\(json)}"))
    }

    @Test("a passing check makes the container healthy: c.health, wait_for, State.Health, ps --format (the default ps unchanged)")
    func healthyTransition() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let path = try f.writeFile("healthy.lua", """
                local c = bocker.container.create{ image = arg[1], name = "hok", network = "none", cmd = { "sleep", "600" },
                  healthcheck = { test = "echo fine", interval = "100ms" } }
                print("before=" .. tostring(c.health))
                c:start()
                c:wait_for{ health = true, timeout = 20 }
                print("health=" .. c.health)
                local h = c:inspect().State.Health
                print("status=" .. h.Status .. " streak=" .. h.FailingStreak .. " code=" .. h.Log[1].ExitCode .. " out=" .. h.Log[1].Output:gsub("\\n", "|"))
                print("times=" .. tostring(h.Log[1].Start <= h.Log[1].End))
                """)
            let r = f.run(["script", path, img])
            #expect(r.status == 0, "\(r)")
            #expect(r.stdoutLines == ["before=nil", "health=healthy", "status=healthy streak=0 code=0 out=fine|", "times=true"], "\(r)")
            let ps = f.run(["ps", "--format", "{{.Names}}: {{.Status}}"])
            #expect(ps.stdoutLines.count == 1 && ps.stdout.hasPrefix("hok: Up ") && ps.stdout.hasSuffix(" (healthy)\n"), "\(ps)")
            let plain = f.run(["ps"])
            #expect(plain.status == 0 && !plain.stdout.contains("health"), "\(plain)")
            #expect(plain.stdoutLines.first == "CONTAINER_ID      COMMAND     IMAGE   CREATED         STATUS        PORTS   NAMES"
                        || plain.stdoutLines.first?.hasPrefix("CONTAINER_ID") == true, "\(plain)")
            let insp = f.run(["inspect", "-f", "{{.State.Health.Status}}", "hok"])
            #expect(insp.stdout == "healthy\n", "\(insp)")
            #expect(f.run(["rm", "-f", "hok"]).status == 0)
        }
    }

    @Test("a failing check makes it unhealthy after its retries, with the checks in State.Health.Log (the last five)")
    func unhealthyAfterRetries() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let path = try f.writeFile("unhealthy.lua", """
                local c = bocker.container.create{ image = arg[1], network = "none", cmd = { "sleep", "600" },
                  healthcheck = { test = { "CMD-SHELL", "echo nope >&2; exit 3" }, interval = 0.05, retries = 2 } }
                c:start()
                local ok, err = pcall(c.wait_for, c, { health = true, timeout = 20 })
                print("raised=" .. err.code)
                print("named=" .. tostring(err.message:find("unhealthy after 2 failed checks", 1, true) ~= nil))
                print("said=" .. tostring(err.message:find("exit code 3: nope", 1, true) ~= nil))
                local h = c:inspect().State.Health
                print("status=" .. h.Status .. " streak=" .. h.FailingStreak .. " entries=" .. #h.Log)
                print("entry=" .. h.Log[1].ExitCode .. ":" .. h.Log[1].Output:gsub("\\n", "|"))
                -- The log keeps the last five checks while the streak goes on.
                local deadline = bocker.now() + 20
                while c:inspect().State.Health.FailingStreak < 7 and bocker.now() < deadline do bocker.sleep(0.05) end
                h = c:inspect().State.Health
                print("later streak>=7=" .. tostring(h.FailingStreak >= 7) .. " entries=" .. #h.Log)
                c:remove{ force = true }
                """)
            let r = f.run(["script", path, img])
            #expect(r.status == 0, "\(r)")
            #expect(r.stdoutLines == ["raised=invalid_state", "named=true", "said=true", "status=unhealthy streak=2 entries=2",
                                      "entry=3:nope|", "later streak>=7=true entries=5"], "\(r)")
        }
    }

    @Test("a check that hangs is killed at its timeout and counts as a failure; nothing of it is left in the container")
    func hungCheckKilled() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            // The first check hangs (sleep 100); later ones fail at once, so the container's
            // processes can be looked at without a check in flight that hangs.
            let path = try f.writeFile("hang.lua", """
                local c = bocker.container.create{ image = arg[1], network = "none", cmd = { "sleep", "600" },
                  healthcheck = { test = "if [ -f /tmp/hung ]; then exit 1; fi; touch /tmp/hung; exec sleep 100",
                                  interval = 0.05, timeout = "300ms", retries = 2 } }
                c:start()
                local ok, err = pcall(c.wait_for, c, { health = true, timeout = 20 })
                print("raised=" .. err.code)
                local h = c:inspect().State.Health
                local first = h.Log[1]
                print("first=" .. first.ExitCode .. ":" .. first.Output)
                print("second=" .. h.Log[2].ExitCode)
                print("status=" .. h.Status)
                -- One line per process; a check running right now has "exec sleep 100" in its
                -- sh command line, so only a process that IS "sleep 100" counts.
                local code, out = c:exec({ "sh", "-c", "for f in /proc/[0-9]*/cmdline; do tr '\\\\0' ' ' < $f; echo; done" }, { capture = true })
                out = "\\n" .. out
                print("hung-left=" .. tostring(out:find("\\nsleep 100 ", 1, true) ~= nil))
                print("main=" .. tostring(out:find("\\nsleep 600 ", 1, true) ~= nil))
                c:remove{ force = true }
                """)
            let r = f.run(["script", path, img])
            #expect(r.status == 0, "\(r)")
            #expect(r.stdoutLines == ["raised=invalid_state", "first=-1:Health check exceeded timeout (300ms)", "second=1",
                                      "status=unhealthy", "hung-left=false", "main=true"], "\(r)")
        }
    }

    @Test("health_status events arrive in order as the status changes")
    func eventsInOrder() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let path = try f.writeFile("events.lua", """
                local since = bocker.now()
                local c = bocker.container.create{ image = arg[1], network = "none", cmd = { "sleep", "600" },
                  healthcheck = { test = "test -f /tmp/ok", interval = 0.05, retries = 1 } }
                c:start()
                local seen = {}
                for e in bocker.events{ since = since, filters = { container = c.id, event = "health_status" }, timeout = 20 } do
                  seen[#seen + 1] = e.action
                  if #seen == 1 then c:exec{ "touch", "/tmp/ok" }
                  elseif #seen == 2 then c:exec{ "rm", "/tmp/ok" }
                  else break end
                end
                print(table.concat(seen, ","))
                c:remove{ force = true }
                """)
            let r = f.run(["script", path, img])
            #expect(r.status == 0, "\(r)")
            #expect(r.stdoutLines == ["health_status: unhealthy,health_status: healthy,health_status: unhealthy"], "\(r)")
            let ev = f.run(["events", "--since", "1h", "--until", String(Int(Date().timeIntervalSince1970) + 1), "--filter", "event=health_status"])
            #expect(ev.stdoutLines.count == 3 && ev.stdoutLines[1].contains(" container health_status: healthy "), "\(ev)")
        }
    }

    @Test("the image's healthcheck runs unless --no-healthcheck (or healthcheck = false); the flags are checked")
    func imageCheckAndNoHealthcheck() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            try HealthTests.giveImageHealthcheck(f, img, #"{"test":["CMD-SHELL","exit 1"],"interval":50000000,"retries":1}"#)
            let on = f.run(["run", "-d", "--name", "inherits", "--network", "none", img, "sleep", "600"])
            #expect(on.status == 0, "\(on)")
            let off = f.run(["run", "-d", "--name", "disabled", "--no-healthcheck", "--network", "none", img, "sleep", "600"])
            #expect(off.status == 0, "\(off)")
            // The container's own settings over the image's command: a passing check of its own.
            let own = f.run(["run", "-d", "--name", "own", "--health-cmd", "true", "--health-interval", "50ms", "--network", "none", img, "sleep", "600"])
            #expect(own.status == 0, "\(own)")
            let path = try f.writeFile("image.lua", """
                local ok, err = pcall(function() bocker.container.get("inherits"):wait_for{ health = true, timeout = 20 } end)
                print("inherits=" .. err.code .. ":" .. tostring(bocker.container.get("inherits").health))
                ok, err = pcall(function() bocker.container.get("disabled"):wait_for{ health = true, timeout = 20 } end)
                print("disabled=" .. err.code .. ":" .. tostring(bocker.container.get("disabled").health))
                print("disabled-inspect=" .. tostring(bocker.container.get("disabled"):inspect().State.Health))
                bocker.container.get("own"):wait_for{ health = true, timeout = 20 }
                print("own=" .. bocker.container.get("own").health)
                local c = bocker.container.create{ image = arg[1], network = "none", cmd = { "true" }, healthcheck = false }
                print("lua-false=" .. tostring(c:inspect().State.Health))
                c:remove()
                """)
            let r = f.run(["script", path, img])
            #expect(r.status == 0, "\(r)")
            #expect(r.stdoutLines == ["inherits=invalid_state:unhealthy", "disabled=invalid_argument:nil", "disabled-inspect=nil",
                                      "own=healthy", "lua-false=nil"], "\(r)")
            #expect(f.run(["rm", "-f", "inherits", "disabled", "own"]).status == 0)
            // Bad flags: one line naming the flag, 125, nothing made.
            let before = f.containerIds()
            for (args, text) in [(["--no-healthcheck", "--health-cmd", "true"], "--no-healthcheck conflicts with --health-* options"),
                                 (["--health-interval", "soon"], "invalid --health-interval 'soon'"),
                                 (["--health-timeout", "500us"], "Timeout in Healthcheck cannot be less than 1ms"),
                                 (["--health-retries", "x"], "--health-retries")] {
                let bad = f.run(["run"] + args + [img, "true"])
                #expect(bad.status == 125 && bad.stderr.contains(text) && splitLines(bad.stderr).count == 1, "\(args): \(bad)")
            }
            #expect(f.containerIds() == before)
        }
    }

    @Test("wait_for{health = true} raises when the container exits before it is healthy, and after its timeout")
    func waitForRaises() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let path = try f.writeFile("exits.lua", """
                local c = bocker.container.create{ image = arg[1], network = "none", cmd = { "sleep", "600" },
                  healthcheck = { test = "exit 1", interval = "1h" } }
                c:start()
                local ok, err = pcall(c.wait_for, c, { health = true, timeout = 0.3 })
                print("timeout=" .. err.code .. ":" .. c.health)
                c:kill()
                ok, err = pcall(c.wait_for, c, { health = true, timeout = 20 })
                print("exited=" .. err.code)
                local plain = bocker.container.create{ image = arg[1], network = "none", cmd = { "sleep", "600" } }
                plain:start()
                ok, err = pcall(plain.wait_for, plain, { health = true, timeout = 20 })
                print("none=" .. err.code .. ":" .. tostring(plain.health))
                plain:remove{ force = true }
                c:remove{ force = true }
                """)
            let r = f.run(["script", path, img])
            #expect(r.status == 0, "\(r)")
            #expect(r.stdoutLines == ["timeout=timeout:starting", "exited=invalid_state", "none=invalid_argument:nil"], "\(r)")
        }
    }

    @Test("a project's healthcheck is the container's own: the runtime runs it, up waits on it, ps shows it")
    func projectUsesRuntimeHealth() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let script = try f.writeFile("deploy.lua", """
                local project = require "bocker.project"
                local p = project.new { name = "hp" }
                p:service "web" { image = "\(img)", command = "sleep 600", network = "none",
                                  healthcheck = { test = { "CMD", "true" }, interval = 0.05 } }
                return p:main(arg)

                """)
            let up = f.run(["script", script, "up"])
            #expect(up.status == 0 && up.stdoutLines.contains("Container hp-web-1  Healthy"), "\(up)")
            let insp = f.run(["inspect", "-f", "{{.State.Health.Status}} {{.State.Health.FailingStreak}}", "hp-web-1"])
            #expect(insp.stdout == "healthy 0\n", "\(insp)")
            let ps = f.run(["ps", "--format", "{{.Status}}"])
            #expect(ps.stdout.hasSuffix(" (healthy)\n"), "\(ps)")
            #expect(f.run(["script", script, "down"]).status == 0)
            #expect(f.containerIds().isEmpty)
        }
    }

    @Test("an attached run container is checked too: the check runs inside it while it runs in the foreground")
    func attachedRunIsChecked() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            // The container waits for a file only its healthcheck makes.
            let r = f.run(["run", "--network", "none", "--health-cmd", "touch /tmp/checked", "--health-interval", "50ms",
                           img, "sh", "-c", "while [ ! -f /tmp/checked ]; do :; done; echo seen"], timeout: 60)
            #expect(r.status == 0 && r.stdout == "seen\n", "\(r)")
        }
    }
}
