import Glibc
import Testing

/// The blocking parts of the Lua API, driven by `bocker script`: every wait ends (by its
/// condition or its timeout), ports are picked and reachable, the first exit is found.
@Suite("Lua waits, readiness, ports")
struct ScriptWaitTests {
    /// Lines `KEY=VALUE` of a script's output.
    func keyed(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        for line in text.split(separator: "\n") {
            if let eq = line.firstIndex(of: "=") { out[String(line[..<eq])] = String(line[line.index(after: eq)...]) }
        }
        return out
    }

    @Test("c:wait{timeout=1} on a sleeping container raises timeout within about a second")
    func waitTimeout() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let path = try f.writeFile("wait.lua", """
                local c = bocker.container.create{ image = arg[1], cmd = { "sleep", "60" } }
                c:start()
                local t0 = bocker.now()
                local ok, err = pcall(c.wait, c, { timeout = 1 })
                print("ok=" .. tostring(ok))
                print("code=" .. err.code)
                print("message=" .. err.message)
                print("elapsed=" .. string.format("%.2f", bocker.now() - t0))
                local ok2, err2 = pcall(c.wait, c, { timeout = "250ms" })
                print("code2=" .. err2.code)
                c:remove{ force = true }
                """)
            let r = f.run(["script", path, img])
            #expect(r.status == 0, "\(r)")
            let v = keyed(r.stdout)
            #expect(v["ok"] == "false", "\(r)")
            #expect(v["code"] == "timeout", "\(r)")
            #expect(v["message"]?.hasPrefix("timed out after 1s waiting for container") == true, "\(r)")
            let elapsed = Double(v["elapsed"] ?? "") ?? 99
            #expect(elapsed >= 0.95 && elapsed < 3, "\(r)")
            #expect(v["code2"] == "timeout", "\(r)")
        }
    }

    @Test("c:wait_for{log=…} returns once the line appears, and fails fast when the container exits first")
    func waitForLog() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let path = try f.writeFile("ready.lua", """
                local c = bocker.container.create{ image = arg[1],
                  cmd = { "sh", "-c", "echo booting; while [ ! -e /tmp/go ]; do sleep 0.05; done; echo 'server ready on 8080'; sleep 60" } }
                c:start()
                -- Not ready yet: a short wait times out (the line is not there).
                local ok, err = pcall(c.wait_for, c, { log = "ready on [0-9]+", timeout = 0.5 })
                print("early=" .. tostring(ok) .. ":" .. err.code)
                c:exec({ "touch", "/tmp/go" }, { capture = true })
                c:wait_for{ log = "ready on [0-9]+", timeout = 20 }
                local seen = {}
                for _, e in ipairs(c:logs()) do seen[#seen + 1] = e.text end
                print("logs=" .. table.concat(seen):gsub("\\n", "|"))
                c:remove{ force = true }
                local d = bocker.container.create{ image = arg[1], cmd = { "sh", "-c", "echo bye; exit 4" } }
                d:start()
                local ok3, err3 = pcall(d.wait_for, d, { log = "never", timeout = 20 })
                print("exited=" .. err3.code)
                d:remove{ force = true }
                """)
            let r = f.run(["script", path, img])
            #expect(r.status == 0, "\(r)")
            let v = keyed(r.stdout)
            #expect(v["early"] == "false:timeout", "\(r)")
            #expect(v["logs"] == "booting|server ready on 8080|", "\(r)")
            #expect(v["exited"] == "invalid_state", "\(r)")
        }
    }

    @Test("ports = {\"80\"} picks a free host port; c:port gives it and a request through it reaches the container")
    func pickedPort() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let path = try f.writeFile("port.lua", """
                local c = bocker.container.create{ image = arg[1], ports = { "80", "0:81" },
                  cmd = { "sh", "-c", "mkdir -p /www && echo hello-from-container > /www/index.html && httpd -f -p 80 -h /www" } }
                c:start()
                c:wait_for{ port = 80, timeout = 20 }
                print("port=" .. c:port(80))
                print("port81=" .. c:port(81, "tcp"))
                print("ip=" .. tostring(c:ip()))
                local ok, err = pcall(c.port, c, 82)
                print("unpublished=" .. err.code)
                """)
            let r = f.run(["script", path, img])
            #expect(r.status == 0, "\(r)")
            let v = keyed(r.stdout)
            let port = try #require(Int(v["port"] ?? ""), "\(r)")
            let port81 = try #require(Int(v["port81"] ?? ""), "\(r)")
            #expect((32768...60999).contains(port) && (32768...60999).contains(port81) && port != port81, "\(r)")
            #expect(v["ip"]?.hasPrefix("10.") == true, "\(r)")
            #expect(v["unpublished"] == "not_found", "\(r)")
            // From the host side (the fixture's namespace), through the picked port on 127.0.0.1.
            let page = runTool(f.commandPrefix + ["curl", "-s", "--max-time", "10", "http://127.0.0.1:\(port)/"])
            #expect(page.stdout == "hello-from-container\n", "\(page)")
            let ps = f.run(["ps", "-q"])
            for id in ps.stdoutLines { _ = f.run(["rm", "-f", id]) }
        }
    }

    @Test("bocker.wait_any returns the container that exited first; with a timeout it raises")
    func waitAny() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let path = try f.writeFile("any.lua", """
                local slow = bocker.container.create{ image = arg[1], cmd = { "sleep", "60" } }
                local fast = bocker.container.create{ image = arg[1], cmd = { "sh", "-c", "while [ ! -e /tmp/go ]; do sleep 0.05; done; exit 7" } }
                slow:start(); fast:start()
                local ok, err = pcall(bocker.wait_any, { slow, fast }, { timeout = 0.3 })
                print("first=" .. err.code)
                fast:exec({ "touch", "/tmp/go" }, { capture = true })
                local c = bocker.wait_any({ slow, fast.id }, { timeout = 20 })
                print("winner=" .. (c.id == fast.id and "fast" or "slow"))
                print("code=" .. c.exit_code)
                slow:remove{ force = true }; fast:remove{ force = true }
                """)
            let r = f.run(["script", path, img])
            #expect(r.status == 0, "\(r)")
            let v = keyed(r.stdout)
            #expect(v["first"] == "timeout", "\(r)")
            #expect(v["winner"] == "fast", "\(r)")
            #expect(v["code"] == "7", "\(r)")
        }
    }

    @Test("c:exec{timeout=1} kills a command that runs too long, with what it started, and raises timeout")
    func execTimeout() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let path = try f.writeFile("exectimeout.lua", """
                local c = bocker.container.create{ image = arg[1], cmd = { "sleep", "60" } }
                c:start()
                local t0 = bocker.now()
                local ok, err = pcall(c.exec, c, { "sh", "-c", "sleep 300 & sleep 301" }, { capture = true, timeout = 1 })
                print("code=" .. err.code)
                print("elapsed=" .. string.format("%.2f", bocker.now() - t0))
                local _, out = c:exec({ "ps", "-o", "args" }, { capture = true, timeout = 10 })
                print("left=" .. (out:find("sleep 30[01]") and "yes" or "no"))
                local quick = c:exec({ "true" }, { timeout = "5s" })
                print("quick=" .. quick)
                c:remove{ force = true }
                """)
            let r = f.run(["script", path, img])
            #expect(r.status == 0, "\(r)")
            let v = keyed(r.stdout)
            #expect(v["code"] == "timeout", "\(r)")
            let elapsed = Double(v["elapsed"] ?? "") ?? 99
            #expect(elapsed >= 0.95 && elapsed < 5, "\(r)")
            #expect(v["left"] == "no", "\(r)")
            #expect(v["quick"] == "0", "\(r)")
        }
    }

    @Test("wait_for{http=…} waits for the right status; bocker.http.request GETs and POSTs")
    func httpReadiness() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            // httpd serves /ready only once the file exists; a CGI echoes what is posted.
            let path = try f.writeFile("http.lua", """
                local c = bocker.container.create{ image = arg[1], ports = { "8080" }, cmd = { "sh", "-c", [[
                  mkdir -p /www/cgi-bin
                  printf '#!/bin/sh\necho Content-Type: text/plain\necho\necho "got:$REQUEST_METHOD:$(cat)"\n' > /www/cgi-bin/echo
                  chmod +x /www/cgi-bin/echo
                  httpd -f -p 8080 -h /www ]] } }
                c:start()
                c:wait_for{ port = 8080, timeout = 20 }
                local ok, err = pcall(c.wait_for, c, { http = { port = 8080, path = "/ready", status = 200 }, timeout = 0.5 })
                print("early=" .. err.code)
                c:exec({ "sh", "-c", "echo ok > /www/ready" }, { capture = true })
                c:wait_for{ http = { port = 8080, path = "/ready" }, timeout = 20 }
                local url = "http://127.0.0.1:" .. c:port(8080)
                local r = bocker.http.request{ url = url .. "/ready" }
                print("get=" .. r.status .. ":" .. r.body:gsub("\\n", ""))
                local p = bocker.http.request{ url = url .. "/cgi-bin/echo", body = "hello", timeout = "5s" }
                print("post=" .. p.status .. ":" .. p.body:gsub("\\n", ""))
                local missing = bocker.http.request{ url = url .. "/nothing" }
                print("missing=" .. missing.status)
                local ok2, err2 = pcall(bocker.http.request, { url = "http://127.0.0.1:1/", timeout = 2 })
                print("refused=" .. err2.code)
                c:remove{ force = true }
                """)
            let r = f.run(["script", path, img])
            #expect(r.status == 0, "\(r)")
            let v = keyed(r.stdout)
            #expect(v["early"] == "timeout", "\(r)")
            #expect(v["get"] == "200:ok", "\(r)")
            #expect(v["post"] == "200:got:POST:hello", "\(r)")
            #expect(v["missing"] == "404", "\(r)")
            #expect(v["refused"] == "io", "\(r)")
        }
    }

    @Test("run -p 80 publishes on a picked port, shown by inspect")
    func cliPickedPort() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let (d, id) = f.runNew(["run", "-d", "-p", "127.0.0.1::80", img, "sleep", "60"])
            #expect(d.status == 0, "\(d)")
            let cid = try #require(id)
            let i = f.run(["inspect", cid])
            #expect(i.stdout.contains("\"HostIp\": \"127.0.0.1\"") || i.stdout.contains("\"HostIp\":\"127.0.0.1\""), "\(i)")
            #expect(!i.stdout.contains("\"HostPort\": \"0\""), "\(i)")
            _ = f.run(["rm", "-f", cid])
        }
    }
}
