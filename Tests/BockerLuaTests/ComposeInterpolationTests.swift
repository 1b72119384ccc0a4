import Testing
@testable import BockerLua

/// bocker.compose.env and bocker.compose.check: compose's interpolation rules, .env files and
/// command splitting, as pure Lua (no containers).
@Suite("compose interpolation, .env and word splitting")
struct ComposeInterpolationTests {
    func eval(_ code: String) throws -> (ok: Bool, value: String) {
        let r = try HostFixture().eval("""
            local E = require "bocker.compose.env"
            local K = require "bocker.compose.check"
            local vars = { SET = "v", EMPTY = "", NESTED = "n" }
            local function get(k) return vars[k] end
            local warned = {}
            local function warn(k) warned[#warned + 1] = k end
            local function I(s) return E.interpolate(s, get, "services.x.image", warn) end
            local function err(f, ...) local ok, e = pcall(f, ...) return ok and "no error" or e.message end
            \(code)
            """)
        return (r.ok, r.value)
    }

    @Test func theOperators() throws {
        let r = try eval("""
            return table.concat({
              I("${SET}|$SET|${UNSET}|$$SET|$${SET}|a$$"),
              I("${SET:-d}|${EMPTY:-d}|${UNSET:-d}|${EMPTY-d}|${UNSET-d}"),
              I("${SET:+alt}|${EMPTY:+alt}|${EMPTY+alt}|${UNSET+alt}"),
              I("${UNSET:-${NESTED}-x}|${UNSET:-${ALSO:-deep}}"),
              I("${SET:?no}|${EMPTY?fine}"),
              table.concat(warned, ","),
            }, "\\n")
            """)
        #expect(r.ok, "\(r)")
        #expect(r.value == """
            v|v||$SET|${SET}|a$
            v|d|d||d
            alt||alt|
            n-x|deep
            v|
            UNSET
            """, "\(r)")
    }

    @Test func errorsNameThePath() throws {
        let r = try eval("""
            return table.concat({
              err(I, "${UNSET:?set it}"), err(I, "${EMPTY:?}"), err(I, "${UNSET?}"),
              err(I, "${SET"), err(I, "${1BAD}"), err(I, "cost: 5$"),
            }, "\\n")
            """)
        #expect(r.ok, "\(r)")
        #expect(r.value == """
            services.x.image: required variable UNSET is missing a value: set it
            services.x.image: required variable EMPTY is missing a value
            services.x.image: required variable UNSET is missing a value
            services.x.image: invalid interpolation format for '${SET': no closing '}'
            services.x.image: invalid interpolation format for '${1BAD}': '${1BAD}'
            services.x.image: invalid interpolation format for 'cost: 5$': a '$' must be followed by a name, '{' or '$' (write $$ for a $)
            """, "\(r)")
    }

    @Test func dotenvFiles() throws {
        let r = try eval("""
            local dir = bocker.fs.tempdir("dotenv")
            bocker.fs.write(dir .. "/.env", table.concat({
              "# a comment", "", "export A=1", "B = two words  # trailing comment", "C='literal ${A} $$'",
              [[D="quoted\\tand ${A}"]], "E=${B:-x}-${FROM_ENV}", "F=", "G=a=b",
            }, "\\n"))
            local v = E.read_dotenv(dir .. "/.env", function(k) return k == "FROM_ENV" and "env" or nil end)
            bocker.fs.write(dir .. "/bad.env", "OK=1\\nnot a line\\n")
            local e = err(E.read_dotenv, dir .. "/bad.env")
            local missing = E.read_dotenv(dir .. "/nope")
            bocker.fs.remove(dir)
            return table.concat({ v.A, v.B, v.C, v.D, v.E, "[" .. v.F .. "]", v.G, tostring(missing), (e:gsub("^.*/", "")) }, "|")
            """)
        #expect(r.ok, "\(r)")
        #expect(r.value == "1|two words|literal ${A} $$|quoted\tand 1|two words-env|[]|a=b|nil|bad.env: line 2: expected KEY=VALUE, got 'not a line'", "\(r)")
    }

    @Test func commandsSplitAsAShellWould() throws {
        let r = try eval("""
            local function show(s) return table.concat(K.shell_split(s, "p"), "¦") end
            return table.concat({
              show([[echo hello   world]]), show([[sh -c 'echo "$HOME"; exit 3']]), show([[a "b c" d\\ e "x\\"y" '']]),
              err(K.shell_split, [[echo 'open]], "services.w.command"),
            }, "\\n")
            """)
        #expect(r.ok, "\(r)")
        #expect(r.value == """
            echo¦hello¦world
            sh¦-c¦echo "$HOME"; exit 3
            a¦b c¦d e¦x"y¦
            services.w.command: unterminated quote in 'echo 'open'
            """, "\(r)")
    }
}
