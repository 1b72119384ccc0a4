import Testing
@testable import BockerLua
import BockerYAML

/// bocker.yaml over libyaml: what compose files use (anchors, aliases, merge keys, block
/// scalars, the 1.2 core schema), one-line errors with line and column, and the limits that
/// keep a hostile document from exhausting memory or the stack.
@Suite("bocker.yaml")
struct YAMLTests {
    @Test func anchorsAliasesAndMergeKeys() throws {
        let f = try HostFixture()
        let r = f.eval("""
            local t = bocker.yaml.decode([[
            x-common: &common
              restart: always
              environment: { A: "1", B: two }
            x-more: &more
              restart: "no"
              user: nobody
            services:
              web:
                <<: [*common, *more]
                restart: on-failure
                image: app
              db:
                <<: *common
                volumes: &vols [data, logs]
              cache:
                volumes: *vols
            ]])
            local w, d = t.services.web, t.services.db
            return table.concat({ w.restart, w.environment.B, w.user, w.image, d.restart, d.environment.A,
                                  t.services.cache.volumes[2], tostring(w["<<"]) }, "|")
            """)
        #expect(r.ok, "\(r)")
        // Own keys win over merged ones; the first merged mapping wins over the later ones.
        #expect(r.value == "on-failure|two|nobody|app|always|1|logs|nil", "\(r)")
    }

    @Test func scalarsFollowTheCoreSchema() throws {
        let f = try HostFixture()
        let r = f.eval("""
            local t = bocker.yaml.decode([[
            int: 42
            neg: -7
            hex: 0x1f
            float: 1.5
            exp: 1e3
            yes: yes
            bool: true
            null1: null
            null2: ~
            empty:
            quoted: "42"
            single: 'true'
            port: 8080:80
            version: 1.2.3
            tagged: !!int "12"
            str: !!str 12
            bang: ! 12
            literal: |
              one
                two
            folded: >
              three
              four
            keep: |+
              five

            strip: |-
              six
            ]])
            local function show(v)
              if v == bocker.yaml.null then return "null" end
              return math.type(v) or type(v)
            end
            return table.concat({ show(t.int) .. t.int, show(t.neg), t.hex, show(t.float), show(t.exp), t.yes, tostring(t.bool),
              show(t.null1), show(t.null2), show(t.empty), show(t.quoted), show(t.single), t.port, t.version, show(t.tagged), show(t.str), show(t.bang),
              t.literal, t.folded, t.keep, t.strip }, "|")
            """)
        #expect(r.ok, "\(r)")
        #expect(r.value == "integer42|integer|31|float|float|yes|true|null|null|null|string|string|8080:80|1.2.3|integer|string|string|one\n  two\n|three four\n|five\n\n|six", "\(r)")
    }

    @Test func errorsNameLineAndColumn() throws {
        let f = try HostFixture()
        let r = f.eval("""
            local out = {}
            for _, text in ipairs {
              "services:\\n  web:\\n    image: [a, b\\n",
              "a: 1\\nb: 2\\na: 3\\n",
              "a:\\n  - b\\n c: d\\n",
              "x: *nope\\n",
              "a: b: c\\n",
              "a: !reset null\\n",
              "a: !!int twelve\\n",
              "? [a, b]\\n: c\\n",
            } do
              local ok, err = pcall(bocker.yaml.decode, text)
              out[#out + 1] = tostring(ok) .. " " .. err.code .. " " .. err.message
            end
            return table.concat(out, "\\n")
            """)
        #expect(r.ok, "\(r)")
        let lines = r.value.split(separator: "\n").map(String.init)
        #expect(lines.count == 8, "\(r)")
        for l in lines { #expect(l.hasPrefix("false invalid_argument yaml: line "), "\(l)") }
        #expect(lines[0].contains("yaml: line 4, column 1:"), "\(lines[0])")
        #expect(lines[1] == #"false invalid_argument yaml: line 3, column 1: mapping key "a" already defined at line 1"#, "\(lines[1])")
        #expect(lines[2].contains("line 3, column 2"), "\(lines[2])")
        #expect(lines[3].contains("line 1, column 4") && lines[3].contains("undefined alias"), "\(lines[3])")
        #expect(lines[4].contains("line 1, column 5") && lines[4].contains("mapping values are not allowed"), "\(lines[4])")
        #expect(lines[5] == "false invalid_argument yaml: line 1, column 4: the tag !reset is not supported", "\(lines[5])")
        #expect(lines[6] == "false invalid_argument yaml: line 1, column 4: 'twelve' is not a valid !!int", "\(lines[6])")
        #expect(lines[7] == "false invalid_argument yaml: line 1, column 3: a mapping key must be a scalar", "\(lines[7])")
    }

    @Test("a billion-laughs document and a recursive alias are refused, not expanded")
    func aliasBombsAreRefused() throws {
        var bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for i in 1...9 { bomb += "a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]\n" }
        #expect(throws: (any Error).self) { try YAML.decode(bomb) }
        do { _ = try YAML.decode(bomb) } catch { #expect("\(error)".contains("more than 100000 values"), "\(error)") }
        do { _ = try YAML.decode("a: &a [*a]\n"); Issue.record("a recursive alias decoded") } catch {
            #expect("\(error)".contains("line 1, column 8: found undefined alias 'a'"), "\(error)")
        }
        // Deep nesting without aliases is refused too, before the stack is.
        do { _ = try YAML.decode(String(repeating: "[", count: 300)); Issue.record("300 levels decoded") } catch {
            #expect("\(error)".contains("nested more than 256 deep"), "\(error)")
        }
    }

    @Test func encodeRoundTripsAndQuotesWhatWouldChangeType() throws {
        let f = try HostFixture()
        let r = f.eval("""
            local v = { name = "web", ports = { "8080:80", "22:22" }, n = 3, ratio = 0.25, on = true, off = "no",
                        text = "line one\\nline two\\n", num = "42", empty = "", none = bocker.yaml.null,
                        nested = { { a = { "deep" } } }, map = {}, colon = "a: b", hash = "x #y" }
            local text = bocker.yaml.encode(v)
            local back = bocker.yaml.decode(text)
            assert(back.name == "web" and back.ports[1] == "8080:80" and back.ports[2] == "22:22")
            assert(back.n == 3 and math.type(back.n) == "integer" and back.ratio == 0.25 and back.on == true)
            assert(back.off == "no" and back.num == "42" and back.empty == "" and back.none == bocker.yaml.null)
            assert(back.text == "line one\\nline two\\n" and back.nested[1].a[1] == "deep")
            assert(back.colon == "a: b" and back.hash == "x #y")
            local docs = bocker.yaml.decode_all("a: 1\\n---\\nb: 2\\n---\\n")
            return text .. "|" .. #docs .. "|" .. docs[2].b
            """)
        #expect(r.ok, "\(r)")
        #expect(r.value.contains("num: \"42\""), "\(r)")
        #expect(r.value.contains("\"off\": \"no\""), "\(r)")   // YAML 1.1 readers take off/no as booleans
        #expect(r.value.contains("- \"22:22\""), "\(r)")
        #expect(r.value.contains("text: |\n  line one\n  line two\n"), "\(r)")
        #expect(r.value.contains("map: {}"), "\(r)")
        #expect(r.value.hasSuffix("|3|2"), "\(r)")   // the trailing --- starts a third, empty document
    }

    @Test func badArgumentsAreOneLine() throws {
        let f = try HostFixture()
        let r = f.eval("""
            local ok1, e1 = pcall(bocker.yaml.decode, {})
            local ok2, e2 = pcall(bocker.yaml.encode, { f = print })
            return e1.message .. "|" .. e2.message
            """)
        #expect(r.value == "bad argument #1 to 'bocker.yaml.decode' (string expected, got table)|bocker.yaml.encode: cannot encode a function", "\(r)")
    }
}
