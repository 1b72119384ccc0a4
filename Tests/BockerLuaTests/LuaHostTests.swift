import Testing
import Glibc
import CLua
@testable import BockerLua
import BockerCore

/// A Lua host on its own temporary state root, removed afterwards.
final class HostFixture {
    let dir: String
    let host: LuaHost

    init(commandDirs: [String] = []) throws {
        var template = Array("/tmp/bocker-luatest-XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else { throw BockerError.errno("mkdtemp") }
        dir = String(cString: p)
        host = LuaHost(commandDirs: commandDirs)
        host.stateRoot = StateRoot(path: dir + "/root")
    }

    deinit { try? FS.removeTree(dir) }

    /// Runs a chunk (named as a user script would be) and returns (ok, result or error text).
    func eval(_ code: String, name: String = "@test.lua") -> (ok: Bool, value: String) {
        let L = host.L
        do { try host.loadChunk(code, name: name) } catch { return (false, "\(error)") }
        let r = host.protectedCall(nargs: 0, nresults: 1)
        if !r.ok { return (false, r.message) }
        defer { clua_pop(L, 1) }
        var len = 0
        guard let s = luaL_tolstring(L, -1, &len) else { return (true, "") }
        let out = String(cString: s)
        clua_pop(L, 1)
        return (true, out)
    }

    func write(_ path: String, _ text: String) throws {
        try FS.makeDirectories(FS.parent(path))
        try FS.writeString(path, text)
    }
}

@Suite("Lua host and bindings")
struct LuaHostTests {
    @Test func apiErrorsAreTablesWithCodeAndMessage() throws {
        let f = try HostFixture()
        let r = f.eval("""
            local ok, err = pcall(bocker.image.get, "img_nope")
            assert(not ok)
            return err.code .. "|" .. err.message .. "|" .. type(err)
            """)
        #expect(r.ok)
        #expect(r.value == "not_found|No image named 'img_nope' exists|table")
    }

    @Test func uncaughtErrorNamesScriptAndLine() throws {
        let f = try HostFixture()
        let r = f.eval("local x = 1\nlocal y = 2\nbocker.image.get('ghost')\n", name: "@deploy.lua")
        #expect(!r.ok)
        #expect(r.value == "deploy.lua:3: No image named 'ghost' exists")
    }

    @Test func tostringOfAnErrorGivesWhereAndMessage() throws {
        let f = try HostFixture()
        let r = f.eval("""
            local ok, err = pcall(function() bocker.container.get("ps_none") end)
            return tostring(err)
            """, name: "@s.lua")
        #expect(r.value == "s.lua:1: No container named 'ps_none' exists")
    }

    @Test func badArgumentTypesAreClearErrors() throws {
        let f = try HostFixture()
        let r = f.eval("bocker.image.get({})")
        #expect(!r.ok)
        #expect(r.value.hasSuffix("bad argument #1 to 'bocker.image.get' (string expected, got table)"))
        let c = f.eval("local ok, e = pcall(bocker.container.create, {image = 'x', cmd = {1, {}}}) return e.code")
        #expect(c.value == "invalid_argument")
    }

    @Test func binaryChunksAreRefused() throws {
        let f = try HostFixture()
        #expect(throws: BockerError.self) {
            try f.host.loadChunk("\u{1B}Lua\u{54}\u{00}", name: "=bin")
        }
    }

    @Test func scriptErrorsMadeWithBockerErrorCarryStatus() throws {
        let f = try HostFixture()
        let r = f.eval("local e = bocker.error('in_use', 'busy', 3) return e.code .. e.message .. e.status .. tostring(e)")
        #expect(r.value == "in_usebusy3busy")
    }

    @Test func requireReturnsTheSameModules() throws {
        let f = try HostFixture()
        let r = f.eval("""
            return tostring(require("bocker") == bocker) .. tostring(require("bocker.image") == bocker.image)
              .. tostring(type(require("bocker.cli").parse))
            """)
        #expect(r.value == "truetruefunction")
        let missing = f.eval("require('bocker.nothing')")
        #expect(!missing.ok && missing.value.contains("no bundled module 'lib/bocker/nothing.lua'"))
    }

    @Test(.enabled(if: geteuid() == 0)) func imagesFromADirectory() throws {
        let f = try HostFixture()
        try f.write(f.dir + "/src/hello.txt", "hi\n")
        let r = f.eval("""
            local img = bocker.image.init("\(f.dir)/src")
            assert(img.id:match("^img_%x+$"), img.id)
            assert(#img.layers == 1)
            assert(bocker.image.get(img.id).id == img.id)
            assert(bocker.image.get("\(f.dir)/src").id == img.id)
            local list = bocker.image.list()
            collectgarbage()
            return #list .. " " .. img.source .. " " .. tostring(img):sub(1, 17)
            """)
        #expect(r.ok, "\(r.value)")
        #expect(r.value == "1 \(f.dir)/src bocker.Image(img_")
        let gone = f.eval("local ok, e = pcall(bocker.image.init, '\(f.dir)/nowhere') return e.message")
        #expect(gone.value == "No directory named '\(f.dir)/nowhere' exists")
    }

    @Test(.enabled(if: geteuid() == 0)) func containerOptionsAreChecked() throws {
        let f = try HostFixture()
        try f.write(f.dir + "/src/a", "a")
        let r = f.eval("""
            local img = bocker.image.init("\(f.dir)/src")
            local out = {}
            for _, opts in ipairs {
              {image = img.id, cmd = {"true"}, cpu_shares = 1},
              {image = img.id, cmd = {"true"}, memory = 1024},
              {image = img.id, cmd = {"true"}, env = {"NOEQUALS"}},
              {image = img.id, cmd = {"true"}, workdir = "relative"},
              {image = img.id},
              {image = "img_missing", cmd = {"true"}},
            } do
              local ok, e = pcall(bocker.container.create, opts)
              out[#out + 1] = ok and "ok" or e.code
            end
            return table.concat(out, ",") .. " " .. #bocker.container.list()
            """)
        #expect(r.value == "invalid_argument,invalid_argument,invalid_argument,invalid_argument,invalid_argument,not_found 0")
    }

    @Test func userCommandsOverrideBundledOnes() throws {
        let f = try HostFixture()
        let dir = f.dir + "/cmds"
        try f.write(dir + "/images.lua", "return { summary = 'mine', run = function() return 7 end }")
        try f.write(dir + "/hello.lua", "return { summary = 'Say hi', run = function(a) return #a end }")
        let host = LuaHost(commandDirs: [dir])
        host.stateRoot = StateRoot(path: f.dir + "/root")
        #expect(host.findCommand("images")?.origin == "user")
        #expect(host.findCommand("ps")?.origin == "bundled")
        #expect(host.runCommand("images", []) == 7)
        #expect(host.runCommand("hello", ["a", "b", "c"]) == 3)
        #expect(host.allCommands().map(\.name).contains("hello"))
        #expect(host.runCommand("no-such-command", []) == 1)
    }
}
