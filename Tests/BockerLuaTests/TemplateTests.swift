import Testing
@testable import BockerLua

/// `bocker.template` (the Go-template subset behind every --format) and the parser's generated
/// help, tested through the host.
@Suite("bocker.template and generated help")
struct TemplateTests {
    func eval(_ code: String) throws -> (ok: Bool, value: String) {
        try HostFixture().eval("local t = require 'bocker.template'\nlocal cli = require 'bocker.cli'\n" + code)
    }

    static let value = """
        local v = { ID = "ps_1", Names = "web", N = 3, Empty = {}, Null = bocker.json.null,
          State = { Status = "running", Running = true },
          Config = { Env = { "A=1", "B=2" }, Labels = { y = "2", x = "1" } },
          NetworkSettings = { IPAddress = "10.0.0.2" } }
        """

    @Test("Go's actions, functions and printing rules", arguments: [
        ("{{.ID}} {{.State.Status}}", "ps_1 running"),
        ("{{.NetworkSettings.IPAddress}}", "10.0.0.2"),
        ("{{json .Config.Env}}", #"["A=1","B=2"]"#),
        ("{{json .State}}", #"{"Running":true,"Status":"running"}"#),
        ("{{range .Config.Env}}[{{.}}]{{end}}", "[A=1][B=2]"),
        ("{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}", "x=1;y=2;"),
        ("{{range .Empty}}x{{else}}none{{end}}", "none"),
        ("{{if .State.Running}}up{{else}}down{{end}}", "up"),
        ("{{if .Missing}}a{{else if eq .Names \"web\"}}b{{else}}c{{end}}", "b"),
        ("{{with .State}}{{.Status}}{{end}}", "running"),
        ("{{index .Config.Env 1}} {{index .Config.Labels \"y\"}}", "B=2 2"),
        ("{{join .Config.Env \", \"}}", "A=1, B=2"),
        ("{{upper .Names}} {{lower \"AB\"}} {{.Names | upper}} {{title \"a b\"}}", "WEB ab WEB A B"),
        ("{{len .Config.Env}} {{(index .Config.Env 0) | lower}}", "2 a=1"),
        ("{{.Missing}} {{.Null}}", "<no value> <nil>"),
        ("{{.Config.Env}} {{.Config.Labels}}", "[A=1 B=2] map[x:1 y:2]"),
        ("{{- \"a\" -}}   b", "ab"),
        ("{{if and .N (not .Missing)}}ok{{end}}", "ok"),
    ])
    func renders(template: String, expected: String) throws {
        let r = try eval(Self.value + "\nreturn t.compile([==[\(template)]==])(v)")
        #expect(r.ok, "\(r.value)")
        #expect(r.value == expected, "\(template)")
    }

    @Test("a bad template is one line naming the problem, exit status 125", arguments: [
        ("{{.X", "template: unclosed action"),
        ("{{if .X}}", "template: missing {{end}}"),
        ("{{end}}", "template: unexpected {{end}}"),
        ("{{nosuch .X}}", "template: function \"nosuch\" not defined"),
    ])
    func badTemplates(template: String, message: String) throws {
        let r = try eval("local ok, e = pcall(t.compile, [==[\(template)]==]) return tostring(ok) .. '|' .. e.message .. '|' .. e.status")
        #expect(r.value == "false|\(message)|125")
    }

    @Test("table: Docker's column names as the header, columns aligned as Docker's tabwriter")
    func tableDirective() throws {
        let r = try eval("""
            local lines = t.format_list("table {{.ID}}\\\\t{{.Names}}\\\\t{{.Status}}",
              { { ID = "ps_abc", Names = "a", Status = "Up 2 seconds" }, { ID = "ps_d", Names = "longername", Status = "Exited (0)" } })
            return table.concat(lines, "|")
            """)
        #expect(r.value == "CONTAINER ID   NAMES        STATUS|ps_abc         a            Up 2 seconds|ps_d           longername   Exited (0)")
        let plain = try eval("return table.concat(t.format_list('{{.ID}}\\\\t{{.Names}}', { { ID = 'x', Names = 'y' } }), '|')")
        #expect(plain.value == "x\ty")
        let json = try eval("return table.concat(t.format_list('json', { { ID = 'x' } }), '|')")
        #expect(json.value == #"{"ID":"x"}"#)
    }

    @Test("-dit, -dp 80:80, --flag=value, --flag value and -- in one parser")
    func combinedShortFlags() throws {
        let r = try eval("""
            local spec = { ["-d"] = { name = "d", kind = "flag" }, ["-i"] = { name = "i", kind = "flag" },
              ["-t"] = { name = "t", kind = "flag" }, ["-p"] = { name = "p", kind = "list" },
              ["--name"] = { name = "name", kind = "value" } }
            local o, rest = cli.parse({ "-dit", "-dp", "80:80", "--name", "a", "--name=b", "--", "-x" }, spec)
            return table.concat({ tostring(o.d), tostring(o.i), tostring(o.t), o.p[1], o.name, rest[1] }, " ")
            """)
        #expect(r.value == "true true true 80:80 b -x")
        let bad = try eval("""
            local ok, e = pcall(cli.parse, { "--foo" }, {}, "exec")
            return e.message .. "|" .. e.status
            """)
        #expect(bad.value == "unknown flag: --foo (see 'bocker help exec')|125")
    }

    @Test("the Options text lists every spelling of the parser table with its help")
    func optionsText() throws {
        let r = try eval("""
            return cli.options_text {
              ["-n"] = { name = "name", kind = "value", arg = "NAME", help = "name it" },
              ["--name"] = { name = "name", kind = "value" },
              ["--rm"] = { name = "rm", kind = "flag", help = "remove it" },
            }
            """)
        #expect(r.value == """
            Options:
              -h, --help        print this help
              -n, --name NAME   name it
                  --rm          remove it
            """)
    }
}
