import Testing
@testable import BockerLua

/// The bundled Lua library `bocker.cli` (option parsing and formats), tested through the host.
@Suite("bocker.cli library")
struct CliLibraryTests {
    func eval(_ code: String) throws -> (ok: Bool, value: String) {
        try HostFixture().eval("local cli = require 'bocker.cli'\n" + code)
    }

    let spec = """
        local spec = {
          ["-d"] = {name = "detach", kind = "flag"}, ["-i"] = {name = "i", kind = "flag"},
          ["-t"] = {name = "t", kind = "flag"}, ["--name"] = {name = "name", kind = "value"},
          ["-e"] = {name = "env", kind = "list"}, ["-m"] = {name = "memory", kind = "value"},
          ["--cpu_share"] = {name = "cpu_share", kind = "value"},
        }
        """

    @Test func parsesDockerAndOriginalForms() throws {
        let r = try eval(spec + """
            local o, rest = cli.parse({"-it", "--name=web", "-e", "A=1", "-eB=2", "-m64m", "--cpu_share=9", "img", "-d", "x"}, spec)
            return table.concat({tostring(o.i), tostring(o.t), o.name, table.concat(o.env, ";"), o.memory,
                                 o.cpu_share, tostring(o.detach), table.concat(rest, " ")}, "|")
            """)
        #expect(r.value == "true|true|web|A=1;B=2|64m|9|nil|img -d x")
    }

    @Test func doubleDashEndsOptions() throws {
        let r = try eval(spec + "local o, rest = cli.parse({'-d', '--', '-i'}, spec) return tostring(o.i) .. ' ' .. rest[1]")
        #expect(r.value == "nil -i")
    }

    @Test func badCommandLinesGiveOneClearLine() throws {
        let cases: [(String, String)] = [
            ("cli.parse({'--nope'}, spec, 'run')", "unknown flag: --nope (see 'bocker help run')"),
            ("cli.parse({'--name'}, spec)", "flag needs an argument: --name"),
            ("cli.parse({'-dx'}, spec)", "unknown flag: -dx"),
            ("cli.integer('abc', '--mem_limit')", "invalid value 'abc' for --mem_limit: expected a whole number"),
            ("cli.integer('', '--cpu_share')", "invalid value '' for --cpu_share: expected a whole number"),
            ("cli.integer('1e99', '--cpu_share')", "invalid value '1e99' for --cpu_share: expected a whole number"),
            ("cli.integer('1', '-c', 2, 10)", "invalid value '1' for -c: must be between 2 and 10"),
            ("cli.bytes('-1', '-m')", "invalid value '-1' for -m: expected a size such as 64m or 1g"),
            ("cli.bytes('12q', '-m')", "invalid value '12q' for -m: expected a size such as 64m or 1g"),
        ]
        for (call, message) in cases {
            let r = try eval(spec + "local ok, e = pcall(function() return \(call) end) return e.code .. ': ' .. e.message")
            #expect(r.value == "invalid_argument: " + message, "\(call)")
        }
    }

    @Test func sizesUseDockersBinaryUnits() throws {
        let r = try eval("return cli.bytes('512') .. ' ' .. cli.bytes('64m') .. ' ' .. cli.bytes('1g') .. ' ' .. cli.bytes('4K')")
        #expect(r.value == "512 67108864 1073741824 4096")
    }

    @Test func durationsReadLikeDockers() throws {
        let r = try eval("""
            local t = {}
            for _, s in ipairs {0.2, 1, 45, 90, 600, 3600, 7200, 86400 * 3, 86400 * 20, 86400 * 100, 86400 * 800} do
              t[#t + 1] = cli.duration(s)
            end
            return table.concat(t, ",")
            """)
        #expect(r.value == "Less than a second,1 second,45 seconds,2 minutes,10 minutes,About an hour,2 hours,3 days,2 weeks,3 months,2 years")
    }
}
