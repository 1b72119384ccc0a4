import Testing

@Suite("Lua commands and scripts")
struct ScriptingTests {
    private let hello = """
        return {
          summary = "Say hi",
          usage = "bocker hello NAME",
          run = function(args) print("hi " .. args[1]) end,
        }

        """

    @Test("a NAME.lua in BOCKER_SCRIPT_PATH adds a command")
    func userCommand() throws {
        try BockerFixture.with { f in
            try f.writeFile("cmds/hello.lua", hello)
            let env = ["BOCKER_SCRIPT_PATH": f.tmp + "/cmds"]
            let r = f.run(["hello", "bob"], env: env)
            #expect(r.status == 0, "\(r)")
            #expect(r.stdout == "hi bob\n", "\(r)")

            let help = f.run(["help"], env: env)
            #expect(help.status == 0, "\(help)")
            let line = help.stdoutLines.first { fields($0).first == "hello" }
            #expect(line?.contains("Say hi") == true, "help does not list hello: \(help)")

            let usage = f.run(["help", "hello"], env: env)
            #expect(usage.status == 0, "\(usage)")
            #expect(usage.stdout.contains("bocker hello NAME"), "\(usage)")

            // Without the path the command does not exist.
            let gone = f.run(["hello", "bob"])
            #expect(gone.status != 0, "\(gone)")
        }
    }

    @Test("BOCKER_SCRIPT_PATH is colon-separated")
    func colonSeparatedPath() throws {
        try BockerFixture.with { f in
            try f.writeFile("second/hello.lua", hello)
            try Host.makeDirectory(f.tmp + "/first")
            let env = ["BOCKER_SCRIPT_PATH": "\(f.tmp)/first:\(f.tmp)/nonexistent:\(f.tmp)/second"]
            let r = f.run(["hello", "alice"], env: env)
            #expect(r.status == 0, "\(r)")
            #expect(r.stdout == "hi alice\n", "\(r)")
        }
    }

    @Test("a user script overrides a bundled command")
    func overrideBundled() throws {
        try BockerFixture.with { f in
            try f.writeFile("cmds/images.lua", """
                return {
                  summary = "Custom images",
                  usage = "bocker images",
                  run = function(args) print("custom images " .. #args) end,
                }

                """)
            let env = ["BOCKER_SCRIPT_PATH": f.tmp + "/cmds"]
            let r = f.run(["images"], env: env)
            #expect(r.status == 0, "\(r)")
            #expect(r.stdout == "custom images 0\n", "\(r)")
            let help = f.run(["help"], env: env)
            let line = help.stdoutLines.first { fields($0).first == "images" }
            #expect(line?.contains("Custom images") == true, "\(help)")
            #expect(help.stdoutLines.filter { fields($0).first == "images" }.count == 1, "\(help)")
        }
    }

    @Test("bocker script FILE sets arg like the lua interpreter")
    func scriptArgs() throws {
        try BockerFixture.with { f in
            let path = try f.writeFile("args.lua", """
                print(arg[0])
                print(arg[1], arg[2])
                print(#arg)

                """)
            let r = f.run(["script", path, "one", "two words"])
            #expect(r.status == 0, "\(r)")
            #expect(r.stdoutLines == [path, "one\ttwo words", "2"], "\(r)")
        }
    }

    @Test("finalizers of a script's and a user command's objects run as bocker exits (Lua's rule at close)")
    func finalizersRunAtExit() throws {
        try BockerFixture.with { f in
            let marks = f.tmp + "/marks"
            func gc(_ label: String) -> String {
                """
                setmetatable({}, { __gc = function()
                  local h = assert(io.open("\(marks)", "a")); h:write("\(label)\\n"); h:close()
                end })
                """
            }
            let path = try f.writeFile("gc.lua", gc("script") + "\nprint('done')\n")
            let r = f.run(["script", path])
            #expect(r.status == 0 && r.stdout == "done\n", "\(r)")
            try f.writeFile("cmds/gcmark.lua", "return { summary = 'x', run = function() \(gc("command")) end }\n")
            let c = f.run(["gcmark"], env: ["BOCKER_SCRIPT_PATH": f.tmp + "/cmds"])
            #expect(c.status == 0, "\(c)")
            #expect(Host.readFile(marks) == "script\ncommand\n")
        }
    }

    @Test("the bocker API is a global and a module")
    func apiAvailable() throws {
        try BockerFixture.with { f in
            let path = try f.writeFile("api.lua", """
                assert(type(bocker) == "table", "no global bocker")
                for _, m in ipairs({"image", "container", "cgroup"}) do
                  assert(type(bocker[m]) == "table", "bocker." .. m .. " missing")
                end
                local b = require "bocker"
                assert(type(b) == "table", "require 'bocker' gave " .. type(b))
                for _, m in ipairs({"image", "container", "cgroup"}) do
                  assert(type(b[m]) == "table", "require('bocker')." .. m .. " missing")
                end
                print("ok")

                """)
            let r = f.run(["script", path])
            #expect(r.status == 0, "\(r)")
            #expect(r.stdout == "ok\n", "\(r)")
        }
    }

    @Test("API errors are tables with code and message, usable with pcall")
    func apiErrors() throws {
        try BockerFixture.with { f in
            let path = try f.writeFile("errors.lua", """
                local ok, err = pcall(bocker.image.get, "img_nope")
                assert(not ok, "get of a missing image succeeded")
                assert(type(err) == "table", "error is a " .. type(err))
                assert(err.code == "not_found", "code " .. tostring(err.code))
                assert(type(err.message) == "string")
                assert(tostring(err) == err.message, "tostring " .. tostring(err))
                print(err.message)

                """)
            let r = f.run(["script", path])
            #expect(r.status == 0, "\(r)")
            #expect(r.stdout.contains("img_nope"), "the message should name the image: \(r)")
        }
    }

    @Test("a Lua error in a script prints one line with FILE:LINE: and exits non-zero")
    func scriptError() throws {
        try BockerFixture.with { f in
            let raised = try f.writeFile("deploy.lua", "local x = 1\nlocal y = 2\nerror(\"boom\")\n")
            let r = f.run(["script", raised])
            #expect(r.status != 0, "\(r)")
            #expect(r.stderrLines.count == 1, "\(r)")
            #expect(r.stderr.contains("deploy.lua:3:") && r.stderr.contains("boom"), "\(r)")

            let runtime = try f.writeFile("index.lua", "local t = nil\n\nprint(t.field)\n")
            let r2 = f.run(["script", runtime])
            #expect(r2.status != 0, "\(r2)")
            #expect(r2.stderrLines.count == 1, "\(r2)")
            #expect(r2.stderr.contains("index.lua:3:"), "\(r2)")

            let syntax = try f.writeFile("syntax.lua", "print('a')\nlocal = 3\n")
            let r3 = f.run(["script", syntax])
            #expect(r3.status != 0, "\(r3)")
            #expect(r3.stderrLines.count == 1, "\(r3)")
            #expect(r3.stderr.contains("syntax.lua:2:"), "\(r3)")
        }
    }

    @Test("a Lua error in a user command prints one line with FILE:LINE:")
    func commandError() throws {
        try BockerFixture.with { f in
            try f.writeFile("cmds/broken.lua", """
                return {
                  summary = "Broken",
                  usage = "bocker broken",
                  run = function(args)
                    error("it broke")
                  end,
                }

                """)
            let r = f.run(["broken"], env: ["BOCKER_SCRIPT_PATH": f.tmp + "/cmds"])
            #expect(r.status != 0, "\(r)")
            #expect(r.stderrLines.count == 1, "\(r)")
            #expect(r.stderr.contains("broken.lua:5:") && r.stderr.contains("it broke"), "\(r)")
        }
    }

    @Test("an uncaught API error in a script: one line, non-zero")
    func uncaughtApiError() throws {
        try BockerFixture.with { f in
            let path = try f.writeFile("uncaught.lua", "bocker.image.get(\"img_nope\")\nprint(\"not reached\")\n")
            let r = f.run(["script", path])
            #expect(r.status != 0, "\(r)")
            #expect(r.stderrLines.count == 1, "\(r)")
            #expect(r.stderr.contains("img_nope"), "\(r)")
            #expect(!r.stdout.contains("not reached"))
        }
    }

    @Test("bocker script of a missing file")
    func scriptMissing() throws {
        try BockerFixture.with { f in
            let r = f.run(["script", f.tmp + "/nope.lua"])
            #expect(r.status != 0, "\(r)")
            #expect(r.allLines.count == 1, "\(r)")
            #expect(r.allLines.first?.contains("nope.lua") == true, "\(r)")
        }
    }
}
