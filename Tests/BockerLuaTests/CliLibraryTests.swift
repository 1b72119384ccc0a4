import Testing
import Glibc
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

/// `bocker.text.columns`, the layout behind `cli.table`: the same text as the Lua loop it
/// replaced, numbers as tostring shows them, and a clear error (never a crash) for anything else.
@Suite("bocker.text.columns")
struct TextColumnsTests {
    /// The Lua layout it must match: every cell tostring'd, padded to its column, three apart.
    static let reference = """
        local function ref(headers, rows, gap)
          gap = gap or 3
          local widths = {}
          local all = { headers }
          for _, r in ipairs(rows) do all[#all + 1] = r end
          for _, r in ipairs(all) do
            for i, v in ipairs(r) do widths[i] = math.max(widths[i] or 0, #tostring(v)) end
          end
          local out = {}
          for _, r in ipairs(all) do
            local cells = {}
            for i, v in ipairs(r) do
              cells[i] = i < #r and (tostring(v) .. string.rep(" ", widths[i] - #tostring(v))) or tostring(v)
            end
            out[#out + 1] = table.concat(cells, string.rep(" ", gap)) .. "\\n"
          end
          return table.concat(out)
        end

        """

    @Test("random tables of strings and numbers lay out exactly as the Lua loop does, any row length, any gap")
    func matchesReference() throws {
        let r = try HostFixture().eval(Self.reference + """
            math.randomseed(7)
            local checked = 0
            for round = 1, 200 do
              local headers = {}
              for i = 1, math.random(0, 6) do headers[i] = ("H"):rep(math.random(0, 9)) end
              local rows = {}
              for k = 1, math.random(0, 30) do
                local row = {}
                for i = 1, math.random(0, 8) do
                  local pick = math.random(4)
                  row[i] = pick == 1 and math.random(-1000, 1000) or pick == 2 and math.random() * 1e6
                        or pick == 3 and "" or ("é x"):rep(math.random(0, 5))
                end
                rows[k] = row
              end
              local gap = round % 3 == 0 and math.random(0, 5) or nil
              local got = bocker.text.columns(headers, rows, gap)
              local want = ref(headers, rows, gap)
              if got ~= want then error(("round %d: %q ~= %q"):format(round, got, want)) end
              checked = checked + 1
            end
            return checked
            """)
        #expect(r.ok && r.value == "200", "\(r)")
    }

    @Test("tables, booleans and holes are refused by name; rows are read raw; the arguments are left as they were")
    func refusals() throws {
        let f = try HostFixture()
        let cases: [(String, String)] = [
            ("bocker.text.columns({'A'}, {{'x', {}}})", "row 1, column 2 is a table"),
            ("bocker.text.columns({'A'}, {{'x'}, {true}})", "row 2, column 1 is a boolean"),
            ("bocker.text.columns({'A', nil, 'C'}, {})", "headers, column"),
            ("bocker.text.columns({'A'}, {'x'})", "row 1 is not a table"),
            ("bocker.text.columns('A', {})", "headers and rows tables expected"),
        ]
        for (code, message) in cases {
            let r = f.eval("local ok, e = pcall(function() return \(code) end) return tostring(ok) .. ' ' .. tostring(e.message or e)")
            #expect(r.value.hasPrefix("false ") && r.value.contains(message), "\(code): \(r)")
        }
        // __index and __len on a row are not consulted; a number's __tostring (set by a script
        // with debug.setmetatable) neither; numbers stay numbers in the caller's rows.
        let raw = f.eval("""
            local row = setmetatable({ 'a', 5 }, { __index = function() error('no') end, __len = function() error('no') end })
            debug.setmetatable(0, { __tostring = function() error('no') end })
            local text = bocker.text.columns({ 'X', 'Y' }, { row })
            debug.setmetatable(0, nil)
            return text .. math.type(row[2])
            """)
        #expect(raw.ok && raw.value == "X   Y\na   5\ninteger", "\(raw)")
    }

    @Test("cli.table prints the same lines through it, and any other cell through the Lua loop")
    func cliTable() throws {
        let f = try HostFixture()
        let out = "/tmp/bocker-cli-table-\(getpid())"
        defer { unlink(out) }
        let r = f.eval("""
            local cli = require 'bocker.cli'
            local h = assert(io.open('\(out)', 'w'))
            io.output(h)
            cli.table({ 'ID', 'N' }, { { 'a', 1 }, { 'bbb', 22 } })
            cli.table({ 'ID', 'OK' }, { { 'a', true } })
            io.output(io.stdout)
            h:close()
            return assert(io.open('\(out)')):read('a')
            """)
        #expect(r.ok && r.value == "ID    N\na     1\nbbb   22\nID   OK\na    true\n", "\(r)")
    }
}
