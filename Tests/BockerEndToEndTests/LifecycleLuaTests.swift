import Glibc
import Testing

/// Lines `KEY=VALUE` of a script's output (newlines in values written as \n).
private func keyed(_ text: String) -> [String: String] {
    var out: [String: String] = [:]
    for line in splitLines(text) {
        if let eq = line.firstIndex(of: "=") {
            out[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
    }
    return out
}

/// A Lua `show(key, value)` that prints `key=value` with newlines escaped.
private let luaShow = """
    local function show(k, v)
      local s = tostring(v):gsub("\\n", "\\\\n")
      print(k .. "=" .. s)
    end

    """

@Suite("Lua API of the lifecycle: start, exec capture, wait, stop, kill, inspect, volumes")
struct LifecycleLuaTests {
    @Test("Container: start, exec with capture, wait, logs, inspect")
    func containerLifecycle() throws {
        try LifecycleFixture.with { f in
            let img = try f.initImage()
            let path = try f.writeFile("life.lua", luaShow + """
                local c = bocker.container.create{ image = arg[1],
                  cmd = { "sh", "-c", "echo started; while [ ! -e /tmp/go ]; do sleep 0.05; done; exit 6" } }
                show("id", c.id)
                show("status0", c.status)
                c:start()
                show("status1", c:refresh().status)
                local code, out, err = c:exec({ "sh", "-c", "echo out; echo err >&2; exit 3" }, { capture = true })
                show("exec_code", code)
                show("exec_out", out)
                show("exec_err", err)
                show("go", (c:exec({ "touch", "/tmp/go" }, { capture = true })))
                show("wait", c:wait())
                local info = c:inspect()
                show("inspect_status", info.State.Status)
                show("inspect_code", info.State.ExitCode)
                show("inspect_id", info.Id)
                local text = {}
                for _, e in ipairs(c:logs()) do text[#text + 1] = e.text end
                show("logs", table.concat(text))

                """)
            let (r, rid) = f.runNew(["script", path, img], timeout: 60)
            #expect(r.status == 0, "\(r)")
            let id = try #require(rid, "\(r)")
            let v = keyed(r.stdout)
            #expect(v["id"] == id, "\(r)")
            #expect(v["status0"] == "created", "\(r)")
            #expect(v["status1"] == "running", "\(r)")
            #expect(v["exec_code"] == "3", "\(r)")
            #expect(v["exec_out"] == "out\\n", "\(r)")
            #expect(v["exec_err"] == "err\\n", "\(r)")
            #expect(v["go"] == "0", "\(r)")
            #expect(v["wait"] == "6", "\(r)")
            #expect(v["inspect_status"] == "exited", "\(r)")
            #expect(v["inspect_code"] == "6", "\(r)")
            #expect(v["inspect_id"] == id, "\(r)")
            #expect(v["logs"] == "started\\n", "\(r)")
            // Captured output goes to the script, not to bocker's own stdout.
            #expect(!r.stdout.contains("\nout\n") && !r.stderr.contains("err\n"), "\(r)")
            _ = f.run(["rm", id])
            f.expectLifecycleClean(removed: [id])
        }
    }

    @Test("Container: stop{timeout=} and kill(signal)")
    func stopAndKill() throws {
        try LifecycleFixture.with { f in
            let img = try f.initImage()
            let path = try f.writeFile("stopkill.lua", luaShow + """
                local a = bocker.container.create{ image = arg[1], cmd = { "sleep", "1000" } }
                local b = bocker.container.create{ image = arg[1], cmd = { "sleep", "1000" } }
                a:start()
                b:start()
                a:stop{ timeout = 1 }
                show("a_status", a:refresh().status)
                show("a_code", a.exit_code)
                b:kill("KILL")
                show("b_wait", b:wait())
                show("a_wait", a:wait())

                """)
            let (r, _) = f.runNew(["script", path, img], timeout: 60)
            #expect(r.status == 0, "\(r)")
            let v = keyed(r.stdout)
            #expect(v["a_status"] == "exited", "\(r)")
            #expect(v["a_code"] == "137", "\(r)")
            #expect(v["b_wait"] == "137", "\(r)")
            #expect(v["a_wait"] == "137", "\(r)")
            let ids = Array(f.containerIds())
            #expect(ids.count == 2)
            _ = f.run(["rm", "-f"] + ids)
            f.expectLifecycleClean(removed: ids)
        }
    }

    @Test("bocker.volume: create, list, get, remove")
    func volumes() throws {
        try LifecycleFixture.with { f in
            let path = try f.writeFile("vol.lua", luaShow + """
                local function names()
                  local out = {}
                  for _, v in ipairs(bocker.volume.list()) do
                    out[#out + 1] = type(v) == "string" and v or v.name
                  end
                  table.sort(out)
                  return table.concat(out, ",")
                end
                show("before", names())
                local v = bocker.volume.create{ name = "luavol" }
                show("created", type(v) == "string" and v or v.name)
                bocker.volume.create{ name = "other" }
                show("list", names())
                local g = bocker.volume.get("luavol")
                show("get", g.name)
                show("mountpoint", g.mountpoint)
                bocker.volume.remove("luavol")
                show("after", names())
                local ok, err = pcall(bocker.volume.get, "luavol")
                show("get_removed", ok)
                show("err_code", type(err) == "table" and err.code or err)

                """)
            let r = f.run(["script", path])
            #expect(r.status == 0, "\(r)")
            let v = keyed(r.stdout)
            #expect(v["before"] == "", "\(r)")
            #expect(v["created"] == "luavol", "\(r)")
            #expect(v["list"] == "luavol,other", "\(r)")
            #expect(v["get"] == "luavol", "\(r)")
            #expect(v["after"] == "other", "\(r)")
            #expect(v["get_removed"] == "false", "\(r)")
            #expect(v["err_code"] == "not_found", "\(r)")
            // The CLI sees what the API made.
            let ls = f.run(["volume", "ls"])
            #expect(ls.stdoutLines.dropFirst().map { fields($0).last ?? "" } == ["other"], "\(ls)")
        }
    }
}
