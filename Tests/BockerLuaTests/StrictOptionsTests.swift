import Testing
@testable import BockerLua

/// Option tables are read strictly (unknown keys are errors) and raw (a script's metamethods
/// never run inside a binding, so an erroring one cannot longjmp across Swift frames).
@Suite("strict, raw option tables")
struct StrictOptionsTests {
    @Test func unknownOptionIsNamedWithTheKeyMeant() throws {
        let f = try HostFixture()
        let r = f.eval("""
            local ok, err = pcall(bocker.container.create, { image = "img_x", memroy = 1 })
            assert(not ok)
            return err.code .. "|" .. err.message
            """)
        #expect(r.ok, "\(r)")
        #expect(r.value == "invalid_argument|bocker.container.create: unknown option 'memroy' (did you mean 'memory'?)")
    }

    @Test func unknownOptionFarFromAnyIsNamedAlone() throws {
        let f = try HostFixture()
        let r = f.eval("""
            local ok, err = pcall(bocker.volume.create, { colour = "blue" })
            return err.message
            """)
        #expect(r.value == "bocker.volume.create: unknown option 'colour'")
    }

    @Test func everyOptionTableIsChecked() throws {
        let f = try HostFixture()
        // Each function with an options table refuses a misspelled key before doing anything.
        let calls = [
            "bocker.network.create{ name = 'n1', subnett = '10.1.0.0/24' }",
            "bocker.image.pull('x:1', { platfrom = 'linux/amd64' })",
            "bocker.image.init('/nonexistent', { sorce = 'x' })",
            "bocker.image.remove('img_x', { forse = true })",
        ]
        for call in calls {
            let r = f.eval("local ok, err = pcall(function() return \(call) end); return tostring(ok) .. '|' .. (type(err) == 'table' and err.message or tostring(err))")
            #expect(r.value.hasPrefix("false|"), "\(call): \(r)")
            #expect(r.value.contains("unknown option"), "\(call): \(r)")
        }
    }

    @Test func wrongTypeNamesTheKeyAndTheTypeWanted() throws {
        let f = try HostFixture()
        let r = f.eval("""
            local ok, err = pcall(bocker.container.create, { image = "img_x", memory = "lots" })
            return err.message
            """)
        #expect(r.value == "option 'memory' must be an integer, got string")
    }

    @Test func nonStringKeysAreRefused() throws {
        let f = try HostFixture()
        let r = f.eval("""
            local ok, err = pcall(bocker.container.create, { "img_x" })
            return err.message
            """)
        #expect(r.value == "bocker.container.create: option names must be strings, got a number key")
    }

    @Test func metamethodsOfOptionTablesNeverRun() throws {
        let f = try HostFixture()
        // __index would supply 'image' if it were consulted; it raises instead. The binding must
        // read raw: the result is the ordinary "image is required" error, and the state is usable.
        let r = f.eval("""
            local calls = 0
            local opts = setmetatable({}, {
              __index = function() calls = calls + 1; error("index metamethod ran") end,
              __pairs = function() calls = calls + 1; error("pairs metamethod ran") end,
              __len = function() calls = calls + 1; error("len metamethod ran") end,
            })
            local ok, err = pcall(bocker.container.create, opts)
            local list = setmetatable({}, { __index = function() error("list index ran") end,
                                             __len = function() error("list len ran") end })
            local ok2, err2 = pcall(bocker.container.create, { image = "img_x", env = list })
            collectgarbage()
            return tostring(ok) .. "|" .. err.message .. "|" .. calls .. "|" .. tostring(ok2) .. "|" .. err2.message
            """)
        #expect(r.ok, "\(r)")
        #expect(r.value == "false|bocker.container.create: option 'image' is required|0|false|No image named 'img_x' exists", "\(r)")
    }

    @Test func erroringTostringAndGcAreOrdinaryLuaErrors() throws {
        let f = try HostFixture()
        let r = f.eval("""
            local weird = setmetatable({}, { __tostring = function() error("tostring ran") end })
            local ok, err = pcall(bocker.image.get, weird)
            setmetatable({}, { __gc = function() error("gc ran") end })
            collectgarbage(); collectgarbage()
            return tostring(ok) .. "|" .. err.message
            """)
        #expect(r.ok, "\(r)")
        #expect(r.value.hasPrefix("false|bad argument #1"), "\(r)")
    }
}
