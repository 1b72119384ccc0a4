import Testing
import Glibc
@testable import BockerLua
import BockerCore

/// bocker.json, bocker.fs, bocker.env, bocker.log and durations, as scripts use them.
@Suite("script standard library")
struct StdlibTests {
    @Test func jsonRoundTripsNestedTables() throws {
        let f = try HostFixture()
        let r = f.eval("""
            local t = { name = "web", ports = { 80, 443 }, env = { A = "1", B = "x y" }, on = true,
                        ratio = 0.5, nested = { { a = { b = { "deep" } } } }, none = bocker.json.null }
            local back = bocker.json.decode(bocker.json.encode(t))
            assert(back.name == "web" and back.ports[1] == 80 and back.ports[2] == 443 and #back.ports == 2)
            assert(back.env.B == "x y" and back.on == true and back.ratio == 0.5)
            assert(back.nested[1].a.b[1] == "deep")
            assert(back.none == bocker.json.null)
            -- bocker.json(v) still encodes, as before
            assert(bocker.json({ 1, 2 }) == bocker.json.encode({ 1, 2 }))
            local arr = bocker.json.decode('[1, null, "x"]')
            return bocker.json.encode(back) .. "|" .. #arr .. "|" .. tostring(arr[2] == bocker.json.null)
            """)
        #expect(r.ok, "\(r)")
        #expect(r.value == #"{"env":{"A":"1","B":"x y"},"name":"web","nested":[{"a":{"b":["deep"]}}],"none":null,"on":true,"ports":[80,443],"ratio":0.5}|3|true"#, "\(r)")
    }

    @Test func jsonDecodeErrorsAreOneLine() throws {
        let f = try HostFixture()
        let r = f.eval("""
            local ok, err = pcall(bocker.json.decode, '{"a": [1, 2')
            return err.code .. "|" .. err.message
            """)
        #expect(r.value.hasPrefix("invalid_argument|bocker.json.decode: "), "\(r)")
        #expect(!r.value.contains("\n"), "\(r)")
    }

    @Test func fsHelpers() throws {
        let f = try HostFixture()
        let r = f.eval("""
            local d = bocker.fs.tempdir("stdlib")
            assert(bocker.fs.exists(d))
            bocker.fs.mkdir(d .. "/a/b/c")
            bocker.fs.write(d .. "/a/b/c/x.txt", "one")
            bocker.fs.write(d .. "/a/b/y.txt", "two")
            local g = bocker.fs.glob(d .. "/a/b/*.txt")
            local content = bocker.fs.read(d .. "/a/b/c/x.txt")
            local ok, err = pcall(bocker.fs.read, d .. "/missing")
            bocker.fs.remove(d)
            return #g .. "|" .. g[1]:sub(#d + 1) .. "|" .. content .. "|" .. tostring(ok) .. "|" .. tostring(bocker.fs.exists(d))
            """)
        #expect(r.ok, "\(r)")
        #expect(r.value == "1|/a/b/y.txt|one|false|false", "\(r)")
    }

    @Test func envWithDefault() throws {
        let f = try HostFixture()
        setenv("BOCKER_STDLIB_TEST", "set", 1)
        defer { unsetenv("BOCKER_STDLIB_TEST") }
        let r = f.eval("""
            return bocker.env("BOCKER_STDLIB_TEST", "d") .. "|" .. bocker.env("BOCKER_STDLIB_UNSET", "d") .. "|" .. tostring(bocker.env("BOCKER_STDLIB_UNSET"))
            """)
        #expect(r.value == "set|d|nil", "\(r)")
    }

    @Test func durations() {
        #expect(Durations.parse("1m30s") == 90)
        #expect(Durations.parse("500ms") == 0.5)
        #expect(Durations.parse("2h") == 7200)
        #expect(Durations.parse("1.5s") == 1.5)
        #expect(Durations.parse("10") == 10)
        #expect(Durations.parse("abc") == nil)
        #expect(Durations.parse("5x") == nil)
        #expect(Durations.parse("") == nil)
        #expect(Durations.parse("-1") == nil)
        #expect(Durations.format(90) == "1m30s")
        #expect(Durations.format(0.25) == "250ms")
    }

    @Test func unknownWaitOptionIsNamed() throws {
        let f = try HostFixture()
        let r = f.eval("""
            local ok, err = pcall(bocker.wait_any, {}, { timout = 1 })
            return err.message
            """)
        #expect(r.value == "bocker.wait_any: unknown option 'timout' (did you mean 'timeout'?)", "\(r)")
    }
}
