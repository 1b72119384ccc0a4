import Testing
@testable import BockerLua

/// `bocker.dockerfile` (scripts/lib/bocker/dockerfile.lua): Dockerfiles read as Docker reads
/// them. The cases are the Dockerfile reference's examples and BuildKit's shell-lexer rules;
/// every error names the Dockerfile and the exact line.
@Suite("Dockerfile parser")
struct DockerfileParserTests {
    func eval(_ code: String) throws -> (ok: Bool, value: String) {
        try HostFixture().eval("local df = require 'bocker.dockerfile'\n" + Self.helpers + code)
    }

    /// Helpers for the checks: an instruction as one line of text, a parse error's message.
    static let helpers = #"""
        local function show(i)
          local t = { i.line .. "-" .. i.end_line, i.cmd, i.json and "json" or "shell" }
          local fl = {}
          for k, v in pairs(i.flags) do fl[#fl + 1] = k .. "=" .. tostring(v) end
          table.sort(fl)
          if #fl > 0 then t[#t + 1] = "{" .. table.concat(fl, ",") .. "}" end
          for _, a in ipairs(i.args) do t[#t + 1] = "[" .. a .. "]" end
          return table.concat(t, " ")
        end
        local function all(text)
          local out = {}
          for _, i in ipairs(df.parse(text).instructions) do out[#out + 1] = show(i) end
          return table.concat(out, "\n")
        end
        local function err(text, name)
          local ok, e = pcall(df.parse, text, name)
          if ok then return "no error" end
          return e
        end

        """#

    // BuildKit's variable substitution (its lexer tests, with PWD=/home SHELL=bash NULL="").
    @Test("variable substitution", arguments: [
        (#"hello"#, "hello"), (#"he'll'o"#, "hello"), (#"he'llo"#, "error"), (#"he\'llo"#, "he'llo"),
        (#"he\\'llo"#, "error"), (#"abc\tdef"#, "abctdef"), (#""abc\tdef""#, #"abc\tdef"#),
        (#""abc\\tdef""#, #"abc\tdef"#), (#"'abc\tdef'"#, #"abc\tdef"#), (#"hello\"#, "hello"),
        (#"hello\\"#, #"hello\"#), (#""hello"#, "error"), (#""hello\""#, "error"), (#""hel'lo""#, "hel'lo"),
        (#"'hello"#, "error"), (#"'hello\'"#, #"hello\"#), (#""''""#, "''"), (#"$."#, "$."), (#"he$1x"#, "hex"),
        (#"he$.x"#, "he$.x"), (#"he$pwd."#, "he."), (#"he$PWD"#, "he/home"), (#"he\$PWD"#, "he$PWD"),
        (#"he\\$PWD"#, #"he\/home"#), (#""he\$PWD""#, "he$PWD"), (#""he\\$PWD""#, #"he\/home"#),
        (#"\${}"#, "${}"), (#"he\${}xx"#, "he${}xx"), (#"${}"#, "error"), (#"he${}xx"#, "error"),
        (#"he${hi}xx"#, "hexx"), (#"he${PWD}"#, "he/home"), (#"he${.}"#, "error"),
        (#"he${XXX:-000}xx"#, "he000xx"), (#"he${PWD:-000}xx"#, "he/homexx"), (#"he${XXX:-$PWD}xx"#, "he/homexx"),
        (#"he${XXX:-${PWD:-yyy}}xx"#, "he/homexx"), (#"he${XXX:-${YYY:-yyy}}xx"#, "heyyyxx"),
        (#"he${XXX:YYY}"#, "error"), (#"he${XXX?}"#, "error"), (#"he${XXX:?}"#, "error"),
        (#"he${PWD?}"#, "he/home"), (#"he${NULL?}"#, "he"), (#"he${NULL:?}"#, "error"),
        (#"he${XXX:+${PWD}}xx"#, "hexx"), (#"he${PWD:+${SHELL}}xx"#, "hebashxx"), (#"he${PWD:+000}xx"#, "he000xx"),
        (#"he${NULL-x}"#, "he"), (#"he${NULL:-x}"#, "hex"), (#"he${NULL+x}"#, "hex"), (#"he${NULL:+x}"#, "he"),
        (#"'he${XX}'"#, "he${XX}"), (#""he${PWD}""#, "he/home"), (#""he'$PWD'""#, "he'/home'"),
        (#"'$PWD'"#, "$PWD"), (#"'\$PWD'"#, #"\$PWD"#), (#"'"hello"'"#, #""hello""#), (#"he${PWD"#, "error"),
        (#"he${PWD:=000}xx"#, "error"), (#"he${PWD:+${PWD}:}xx"#, "he/home:xx"), (#"he${XXX:-\$PWD:}xx"#, "he$PWD:xx"),
        (#"he${XXX:-\${PWD}z}xx"#, "he${PWDz}xx"), (#"안'녕'하세요"#, "안녕하세요"), (#"안녕${PWD}"#, "안녕/home"),
        (#"${aaa}}"#, "}"), (#"${aaa:-bbb {foo}"#, "bbb {foo"), (#"${aaa:-bbb ${foo}"#, "error"), (#"${:-bbb}"#, "error"),
        (#"$1${1:-bbb}$999aaa"#, "bbbaaa"), (#"$@@@"#, "@@"), (#"${$:-bbb}$0"#, "bbb"),
        (#"${F#*/}"#, "to/file.tar.gz"), (#"${F##*/}"#, "file.tar.gz"), (#"${F%.*}"#, "path/to/file.tar"),
        (#"${F%%.*}"#, "path/to/file"), (#"${F/to/TO}"#, "path/TO/file.tar.gz"), (#"${F//t/T}"#, "paTh/To/file.Tar.gz"),
        (#"${F#\x}"#, "error"),
    ])
    func substitution(source: String, expected: String) throws {
        let r = try eval("""
            local env = { PWD = "/home", SHELL = "bash", NULL = "", F = "path/to/file.tar.gz" }
            local ok, v = pcall(df.expand, [==[\(source)]==], env)
            return ok and v or "error"
            """)
        #expect(r.value == expected, "\(source)")
    }

    @Test("${VAR?msg} and ${VAR:?msg} fail with the message; used variables are reported")
    func requiredVariables() throws {
        let r = try eval("""
            local e1 = select(2, pcall(df.expand, "${VAR:?message here$ARG}", { VAR = "", ARG = "x" }))
            local e2 = select(2, pcall(df.expand, "${VAR?unset}", { ARG = "x" }))
            local v, used = df.expand("${VAR?unset}$ARG$NOPE", { VAR = "", ARG = "x" })
            local u = {}
            for k in pairs(used) do u[#u + 1] = k end
            table.sort(u)
            return e1 .. "|" .. e2 .. "|" .. v .. "|" .. table.concat(u, ",")
            """)
        #expect(r.value == #"failed to process "${VAR:?message here$ARG}": VAR: message herex|failed to process "${VAR?unset}": VAR: unset|x|ARG,VAR"#)
    }

    // Word splitting after substitution, quotes and escapes kept together (BuildKit's words test).
    @Test("word splitting", arguments: [
        ("hello", "hello"), ("hello${hi}bye", "hellohibye"), ("hello${space}bye", "helloabc,defbye"),
        (#"hello"${space}"bye"#, "helloabc  defbye"), (#"hello "${space}"bye"#, "hello,abc  defbye"),
        ("hello${leading}def", "hello,ab,cdef"), (#"hello"${leading}" def"#, "hello  ab c,def"),
        ("hello${trailing}d", "helloab,c,d"), (#"hello" there  ""#, "hello there  "), ("hello there     ", "hello,there"),
        (#"hello\ there"#, "hello there"), (#"hello" there"#, "error"), (#"hello\" there"#, #"hello",there"#),
        (#"hello"\\there""#, #"hello\there"#), (#"hello'\\there'"#, #"hello\\there"#), (#"hello'$there'"#, "hello$there"),
        (#"a "" b"#, "a,b"), ("80/tcp $PORTS", "80/tcp,443,8080/udp"),
    ])
    func words(source: String, expected: String) throws {
        let r = try eval("""
            local env = { hi = "hi", space = "abc  def", leading = "  ab c", trailing = "ab c   ", PORTS = "443 8080/udp" }
            local ok, w = pcall(df.words, [==[\(source)]==], env)
            return ok and table.concat(w, ",") or "error"
            """)
        #expect(r.value == expected, "\(source)")
    }

    @Test("the escape directive: backtick continues lines and escapes, \\ is a plain character (reference example)")
    func escapeDirective() throws {
        let r = try eval(#"""
            local d = df.parse("# escape=`\n\nFROM mcr.microsoft.com/windows/servercore\nCOPY testfile.txt c:\\\nRUN dir c:\\\nRUN echo a `\n  b`\n\n")
            local out = { d.escape }
            for _, i in ipairs(d.instructions) do out[#out + 1] = show(i) end
            return table.concat(out, "\n") .. "\n" .. all("FROM x\nRUN dir c:\\\n  next\n")
            """#)
        #expect(r.value == #"""
            `
            3-3 FROM shell [mcr.microsoft.com/windows/servercore]
            4-4 COPY shell [testfile.txt] [c:\]
            5-5 RUN shell [dir c:\]
            6-8 RUN shell [echo a   b]
            1-1 FROM shell [x]
            2-3 RUN shell [dir c:  next]
            """#, "\(r)")
    }

    @Test("directives: syntax ignored, only at the top, each once; comments and empty lines inside continuations")
    func directivesAndContinuations() throws {
        let r = try eval(#"""
            return all("# syntax=docker/dockerfile:1\n# ESCAPE = \\\n\nFROM a\n# escape=`\nRUN apt-get update \\\n  # a comment, dropped\n\n  && apt-get install -y \\\n    curl\nrun \\\n  [\"echo\", \"$HOME\"]\nCMD [ \"echo\", 'x' ]\n")
            """#)
        #expect(r.value == #"""
            4-4 FROM shell [a]
            6-10 RUN shell [apt-get update   && apt-get install -y     curl]
            11-12 RUN json [echo] [$HOME]
            13-13 CMD shell [[ "echo", 'x' ]]
            """#, "\(r)")
        let e = try eval(##"return err("# escape=`\n# escape=\\\nFROM a\n") .. "|" .. err("#escape=x\nFROM a\n")"##)
        #expect(e.value == "Dockerfile:2: only one escape parser directive can be used|Dockerfile:1: invalid escape token 'x' does not match ` or \\")
    }

    @Test("instructions and their arguments as Docker splits them")
    func instructionForms() throws {
        let r = try eval(#"""
            local d = df.parse([[
            ARG VERSION=3.20
            ARG EMPTY=
            ARG BARE
            FROM --platform=$BUILDPLATFORM alpine:${VERSION} AS Build
            ENV A=1 B="two words" C=a\ b
            ENV LEGACY some value here
            LABEL "com.example.vendor"="ACME Incorporated" version="1.0" \
                  description="This text illustrates \
            that label-values can span multiple lines."
            EXPOSE 80 443/udp
            VOLUME ["/data"]
            VOLUME /a /b
            USER 1000:1000
            WORKDIR /app
            STOPSIGNAL SIGTERM
            SHELL ["/bin/bash", "-c"]
            ENTRYPOINT ["/bin/app", "--serve"]
            CMD exec app -f
            COPY --chown=1000:1000 --chmod=755 --link ["a b", "c", "/dst/"]
            ADD --chown=app ./x.tar /opt/
            HEALTHCHECK --interval=5m --timeout=3s --start-period=1m30s --retries=3 CMD curl -f http://localhost/ || exit 1
            HEALTHCHECK NONE
            ONBUILD RUN --network=none echo triggered
            MAINTAINER someone@example.com
            RUN --network=host ["wget", "x"]
            ]])
            local out = {}
            for _, i in ipairs(d.instructions) do
              local extra = ""
              if i.pairs then
                local p = {}
                for _, kv in ipairs(i.pairs) do p[#p + 1] = kv.key .. "=" .. tostring(kv.value) end
                extra = " pairs:" .. table.concat(p, ";")
              end
              if i.cmd == "FROM" then extra = " image:" .. i.image .. " name:" .. i.name end
              if i.sources then
                local s = {}
                for _, x in ipairs(i.sources) do s[#s + 1] = x.path end
                extra = " sources:" .. table.concat(s, ";") .. " dest:" .. i.dest
              end
              if i.health then
                local h = i.health
                extra = " test:" .. table.concat(h.test, ";") .. (h.interval and (" " .. h.interval .. "/" .. h.timeout .. "/" .. h.start_period .. "/" .. h.retries) or "")
              end
              if i.trigger then extra = " trigger:" .. show(i.trigger) end
              if i.author then extra = " author:" .. i.author end
              out[#out + 1] = show(i) .. extra
            end
            return table.concat(out, "\n")
            """#)
        #expect(r.value == #"""
            1-1 ARG shell [VERSION=3.20] pairs:VERSION=3.20
            2-2 ARG shell [EMPTY=] pairs:EMPTY=
            3-3 ARG shell [BARE] pairs:BARE=nil
            4-4 FROM shell {platform=$BUILDPLATFORM} [alpine:${VERSION}] [AS] [Build] image:alpine:${VERSION} name:build
            5-5 ENV shell [A=1] [B="two words"] [C=a\ b] pairs:A=1;B="two words";C=a\ b
            6-6 ENV shell [LEGACY=some value here] pairs:LEGACY=some value here
            7-9 LABEL shell ["com.example.vendor"="ACME Incorporated"] [version="1.0"] [description="This text illustrates that label-values can span multiple lines."] pairs:"com.example.vendor"="ACME Incorporated";version="1.0";description="This text illustrates that label-values can span multiple lines."
            10-10 EXPOSE shell [80] [443/udp]
            11-11 VOLUME json [/data]
            12-12 VOLUME shell [/a] [/b]
            13-13 USER shell [1000:1000]
            14-14 WORKDIR shell [/app]
            15-15 STOPSIGNAL shell [SIGTERM]
            16-16 SHELL json [/bin/bash] [-c]
            17-17 ENTRYPOINT json [/bin/app] [--serve]
            18-18 CMD shell [exec app -f]
            19-19 COPY json {chmod=755,chown=1000:1000,link=true} [a b] [c] [/dst/] sources:a b;c dest:/dst/
            20-20 ADD shell {chown=app} [./x.tar] [/opt/] sources:./x.tar dest:/opt/
            21-21 HEALTHCHECK shell {interval=5m,retries=3,start-period=1m30s,timeout=3s} [CMD] [curl -f http://localhost/ || exit 1] test:CMD-SHELL;curl -f http://localhost/ || exit 1 300000000000/3000000000/90000000000/3
            22-22 HEALTHCHECK shell [NONE] test:NONE
            23-23 ONBUILD shell [RUN --network=none echo triggered] trigger:23-23 RUN shell {network=none} [echo triggered]
            24-24 MAINTAINER shell [someone@example.com] author:someone@example.com
            25-25 RUN json {network=host} [wget] [x]
            """#, "\(r)")
    }

    @Test("environment replacement: ENV and LABEL values see the variables set before their instruction (reference example)")
    func environmentReplacement() throws {
        // What a builder does with the parser's output: expand each key and value with the
        // environment before the instruction, then set them.
        let r = try eval(#"""
            local d = df.parse([[
            FROM busybox
            ARG abc=hello
            ENV FOO=/bar
            WORKDIR ${FOO}
            ADD . $FOO
            COPY \$FOO /quux
            ENV abc=bye def=$abc
            ENV ghi=$abc
            ENV spaced="a  b" legacy_${FOO}=x
            ]])
            local env, out = {}, {}
            for _, i in ipairs(d.instructions) do
              if i.cmd == "ARG" or i.cmd == "ENV" then
                local before = {}
                for k, v in pairs(env) do before[k] = v end
                for _, p in ipairs(i.pairs) do
                  local k = df.expand(p.key, before, { escape = d.escape })
                  env[k] = p.value and df.expand(p.value, before, { escape = d.escape }) or env[k]
                end
              elseif i.cmd ~= "FROM" then
                local words = {}
                for _, a in ipairs(i.args) do words[#words + 1] = (df.expand(a, env)) end
                out[#out + 1] = i.cmd .. " " .. table.concat(words, " ")
              end
            end
            local keys = {}
            for k in pairs(env) do keys[#keys + 1] = k end
            table.sort(keys)
            for _, k in ipairs(keys) do out[#out + 1] = k .. "=" .. env[k] end
            return table.concat(out, "\n")
            """#)
        #expect(r.value == """
            WORKDIR /bar
            ADD . /bar
            COPY $FOO /quux
            FOO=/bar
            abc=bye
            def=hello
            ghi=bye
            legacy_/bar=x
            spaced=a  b
            """, "\(r)")
    }

    @Test("heredocs: RUN and COPY, <<- strips tabs, quoted names do not expand, several on one line (reference examples)")
    func heredocs() throws {
        let r = try eval(#"""
            local d = df.parse("FROM debian\n" ..
              "RUN <<EOT bash\n  set -ex\n  apt-get update\nEOT\n" ..
              "RUN <<EOT\nmkdir -p foo/bar\nEOT\n" ..
              "RUN python3 <<EOF\n#!/usr/bin/env python\nprint(\"hello world\")\nEOF\n" ..
              "RUN <<FILE1 cat > file1 && <<FILE2 cat > file2\nI am\nfirst\nFILE1\nI am\nsecond\nFILE2\n" ..
              "COPY <<-EOT /script.sh\n\techo \"hello ${FOO}\"\n\tEOT\n" ..
              "COPY <<-\"EOT\" <<'B' plain.txt /dst/\n\t$X\nEOT\nb\nB\n" ..
              "RUN 3<<'E' cat <&3\nx\nE\n" ..
              "RUN <<EOF\n#!/bin/sh\necho shebang\nEOF\n" ..
              "ONBUILD RUN <<EOF\necho hi\nEOF\n" ..
              "RUN [\"echo\", \"<<EOF\"]\n")
            local out = {}
            for _, i in ipairs(d.instructions) do
              local t = { i.line .. "-" .. i.end_line, i.cmd }
              for _, h in ipairs(i.heredocs or {}) do
                t[#t + 1] = string.format("<%s expand=%s chomp=%s fd=%s %q>", h.name, h.expand, h.chomp, h.fd, h.body)
              end
              if i.cmd == "RUN" and not i.json then
                local cmd, file = df.shell_command(i)
                t[#t + 1] = file and ("file " .. file.name .. " " .. string.format("%q", file.data)) or string.format("sh %q", cmd)
              end
              for _, s in ipairs(i.sources or {}) do
                t[#t + 1] = s.path and ("path " .. s.path) or string.format("doc %s %q %s", s.heredoc, s.data, s.expand)
              end
              if i.trigger then t[#t + 1] = string.format("%q", i.args[1]) end
              out[#out + 1] = table.concat(t, " ")
            end
            return table.concat(out, "\n")
            """#)
        #expect(r.value == #"""
            1-1 FROM
            2-5 RUN <EOT expand=true chomp=false fd=nil "  set -ex\
              apt-get update\
            "> sh "<<EOT bash\
              set -ex\
              apt-get update\
            EOT"
            6-8 RUN <EOT expand=true chomp=false fd=nil "mkdir -p foo/bar\
            "> sh "mkdir -p foo/bar\
            "
            9-12 RUN <EOF expand=true chomp=false fd=nil "#!/usr/bin/env python\
            print(\"hello world\")\
            "> sh "python3 <<EOF\
            #!/usr/bin/env python\
            print(\"hello world\")\
            EOF"
            13-19 RUN <FILE1 expand=true chomp=false fd=nil "I am\
            first\
            "> <FILE2 expand=true chomp=false fd=nil "I am\
            second\
            "> sh "<<FILE1 cat > file1 && <<FILE2 cat > file2\
            I am\
            first\
            FILE1\
            I am\
            second\
            FILE2"
            20-22 COPY <EOT expand=true chomp=true fd=nil "echo \"hello ${FOO}\"\
            "> doc EOT "echo \"hello ${FOO}\"\
            " true
            23-27 COPY <EOT expand=false chomp=true fd=nil "$X\
            "> <B expand=false chomp=false fd=nil "b\
            "> doc EOT "$X\
            " false doc B "b\
            " false path plain.txt
            28-30 RUN <E expand=false chomp=false fd=3 "x\
            "> sh "3<<'E' cat <&3\
            x\
            E"
            31-34 RUN <EOF expand=true chomp=false fd=nil "#!/bin/sh\
            echo shebang\
            "> file EOF "#!/bin/sh\
            echo shebang\
            "
            35-37 ONBUILD <EOF expand=true chomp=false fd=nil "echo hi\
            "> "RUN <<EOF\
            echo hi\
            EOF"
            38-38 RUN
            """#, "\(r)")
    }

    @Test("a COPY heredoc's body expands as BuildKit's raw expansion does: quotes kept, \\$ escapes, unset is empty")
    func heredocBodyExpansion() throws {
        let r = try eval(#"""
            local d = df.parse("FROM a\nCOPY <<EOT /x\necho \"hello ${FOO}\" '$FOO' \\$FOO $NOPE.\nEOT\n")
            local s = d.instructions[2].sources[1]
            local plan = df.stages(d, {})
            return (df.expand(s.data, { FOO = "world" }, { skip_quotes = true, escape = plan.escape }))
            """#)
        #expect(r.value == #"echo "hello world" 'world' $FOO ."# + "\n", "\(r)")
    }

    @Test("parse errors name the Dockerfile and the instruction's first line", arguments: [
        ("FROM alpine\nRUN true\n\nRUNN echo hi\n", "Dockerfile:4: unknown instruction: RUNN (did you mean RUN?)"),
        ("FROM alpine\nworkdri /x\n", "Dockerfile:2: unknown instruction: workdri (did you mean workdir?)"),
        ("FROM alpine\nBOGUS x\n", "Dockerfile:2: unknown instruction: BOGUS"),
        ("FROM alpine\nRUN a \\\n  b\nCOPYY x y\n", "Dockerfile:4: unknown instruction: COPYY (did you mean COPY?)"),
        ("RUN echo\nFROM alpine\n", "Dockerfile:1: no build stage in current context"),
        ("", "Dockerfile: no build stage in current context"),
        ("# just a comment\n\nARG A=1\n", "Dockerfile: no build stage in current context"),
        ("FROM a\nCOPY --chwon=1 x y\n", "Dockerfile:2: unknown flag: --chwon (did you mean chmod?)"),
        ("FROM a\nCMD --foo x\n", "Dockerfile:2: unknown flag: --foo"),
        ("FROM a\nCOPY --exclude=*.md . /\n", "Dockerfile:2: COPY --exclude is not supported by bocker"),
        ("FROM a\nRUN --mount=type=cache,target=/x make\n", "Dockerfile:2: RUN --mount is not supported by bocker"),
        ("FROM a\nCOPY --from x y\n", "Dockerfile:2: missing a value on flag: --from"),
        ("FROM a\nCOPY --from=x --from=y a b\n", "Dockerfile:2: duplicate flag specified: --from"),
        ("FROM a\nCOPY --link=maybe a b\n", "Dockerfile:2: expecting boolean value for flag --link, not: maybe"),
        ("FROM a\nRUN --network=bogus x\n", "Dockerfile:2: invalid network mode \"bogus\""),
        ("FROM a\n\nCOPY onlyone\n", "Dockerfile:3: COPY requires at least two arguments, but only one was provided. Destination could not be determined"),
        ("FROM a\nCOPY x <<EOF\nz\nEOF\n", "Dockerfile:2: COPY cannot accept a heredoc as a destination"),
        ("FROM a\nRUN cat <<EOF\nnever closed\n", "Dockerfile:2: unterminated heredoc"),
        ("FROM a\nENV ONLYKEY\n", "Dockerfile:2: ENV must have two arguments"),
        ("FROM a\nENV A=1 B\n", "Dockerfile:2: Syntax error - can't find = in \"B\". Must be of the form: name=value"),
        ("FROM a\nLABEL =x\n", "Dockerfile:2: LABEL names can not be blank"),
        ("FROM a\nARG =x\n", "Dockerfile:2: ARG names can not be blank"),
        ("FROM a\nSHELL /bin/sh -c\n", "Dockerfile:2: SHELL requires the arguments to be in JSON form"),
        ("FROM a\nRUN [\"a\", 1]\n", "Dockerfile:2: when using JSON array syntax, arrays must be comprised of strings only"),
        ("FROM a b\n", "Dockerfile:1: FROM requires either one or three arguments"),
        ("FROM a AS 1st\n", "Dockerfile:1: invalid name for build stage: \"1st\", name can't start with a number or contain symbols"),
        ("FROM a\nUSER\n", "Dockerfile:2: USER requires exactly one argument"),
        ("FROM a\nEXPOSE\n", "Dockerfile:2: EXPOSE requires at least one argument"),
        ("FROM a\nVOLUME [\"\"]\n", "Dockerfile:2: VOLUME specified can not be an empty string"),
        ("FROM a\nHEALTHCHECK --interval=1x CMD true\n", "Dockerfile:2: time: unknown unit \"x\" in duration \"1x\""),
        ("FROM a\nHEALTHCHECK --timeout=10us CMD true\n", "Dockerfile:2: Interval \"timeout\" cannot be less than 1ms"),
        ("FROM a\nHEALTHCHECK --retries=-1 CMD true\n", "Dockerfile:2: --retries cannot be negative (-1)"),
        ("FROM a\nHEALTHCHECK CMD\n", "Dockerfile:2: Missing command after HEALTHCHECK CMD"),
        ("FROM a\nHEALTHCHECK NONE x\n", "Dockerfile:2: HEALTHCHECK NONE takes no arguments"),
        ("FROM a\nHEALTHCHECK PING x\n", "Dockerfile:2: Unknown type \"PING\" in HEALTHCHECK (try CMD)"),
        ("FROM a\nONBUILD FROM x\n", "Dockerfile:2: FROM isn't allowed as an ONBUILD trigger"),
        ("FROM a\nONBUILD ONBUILD RUN x\n", "Dockerfile:2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
        ("FROM a\nONBUILD RUNN x\n", "Dockerfile:2: unknown instruction: RUNN (did you mean RUN?)"),
        ("FROM a\nMAINTAINER\n", "Dockerfile:2: MAINTAINER requires exactly one argument"),
    ])
    func errors(text: String, message: String) throws {
        let r = try eval("return err([==[\(text)]==])")
        #expect(r.value == message)
    }

    @Test("the name given to parse (a -f path) prefixes errors")
    func errorName() throws {
        let r = try eval(#"return err("FROM a\n\n\nRUNN x", "build/app.Dockerfile")"#)
        #expect(r.value == "build/app.Dockerfile:4: unknown instruction: RUNN (did you mean RUN?)")
    }

    @Test("stages: global ARGs and --build-arg in FROM, AS names, COPY --from by name, index or image, targets")
    func stages() throws {
        let r = try eval(#"""
            local d = df.parse([[
            ARG GO=1.22
            ARG BASE=alpine
            ARG TAG
            ARG FULL=${BASE}:${TAG:-latest}
            FROM golang:${GO} AS builder
            RUN go build
            FROM --platform=$TARGETPLATFORM ${FULL} AS Final
            COPY --from=builder /out /app
            COPY --from=0 /out /app2
            COPY --from=busybox:1.36 /bin/busybox /bin/
            ARG TAG
            FROM final
            ]])
            local plan = df.stages(d, { GO = "1.23", TAG = "3.20", UNUSED = "x", HTTP_PROXY = "p" }, { platform = "linux/arm64/v8" })
            local out = {}
            local g = {}
            for k, v in pairs(plan.global_args) do g[#g + 1] = k .. "=" .. v end
            table.sort(g)
            out[1] = table.concat(g, " ")
            for _, s in ipairs(plan.stages) do
              local t = { s.index, tostring(s.name), s.from, tostring(s.platform), "from_stage=" .. tostring(s.from_stage),
                "needs=" .. table.concat(s.needs, ","), #s.instructions }
              for _, i in ipairs(s.instructions) do
                if i.from_stage or i.from_image then t[#t + 1] = (i.from_stage and ("stage" .. i.from_stage)) or ("image " .. i.from_image) end
              end
              out[#out + 1] = table.concat(t, " ")
            end
            out[#out + 1] = "unconsumed " .. table.concat(plan.unconsumed, ",")
            out[#out + 1] = df.find_stage(plan, "BUILDER").index .. df.find_stage(plan, "final").index
              .. df.find_stage(plan, "0").index .. df.find_stage(plan, 3).index .. df.find_stage(plan).index
            out[#out + 1] = select(2, pcall(df.find_stage, plan, "tset"))
            return table.concat(out, "\n")
            """#)
        #expect(r.value == """
            BASE=alpine FULL=alpine:3.20 GO=1.23 TAG=3.20
            1 builder golang:1.23 nil from_stage=nil needs= 1
            2 final alpine:3.20 linux/arm64/v8 from_stage=nil needs=1 4 stage1 stage1 image busybox:1.36
            3 nil final nil from_stage=2 needs=2 0
            unconsumed UNUSED
            12133
            target stage "tset" could not be found (stages: builder, final)
            """, "\(r)")
    }

    @Test("stage errors name their line", arguments: [
        ("FROM $NOPE\n", "Dockerfile:1: base name ($NOPE) should not be blank"),
        ("ARG V\nFROM alpine:${V:?required}\n", "Dockerfile:2: failed to process \"alpine:${V:?required}\": V: required"),
        ("FROM a AS x\nRUN true\nFROM b AS x\n", "Dockerfile:3: duplicate stage name \"x\""),
        ("FROM a AS x\nCOPY --from=x a b\n", "Dockerfile:2: circular dependency detected on stage: x"),
        ("FROM a AS x\nCOPY --from=y a b\nFROM b AS y\nCOPY --from=x a b\n", "Dockerfile:1: circular dependency detected on stage: x"),
        ("FROM a\nARG X=b\nCOPY --from=$X a b\n", "Dockerfile:3: variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround"),
        ("FROM a\nCOPY --from=5 a b\n", "Dockerfile:2: invalid stage index 5 in COPY --from"),
        ("FROM --platform=$NOPE a\n", "Dockerfile:1: empty platform value from expression $NOPE"),
    ])
    func stageErrors(text: String, message: String) throws {
        let r = try eval("local ok, e = pcall(df.stages, df.parse([==[\(text)]==]), {}) return ok and 'no error' or e")
        #expect(r.value == message)
    }

    @Test("a 20,000-line Dockerfile parses and plans in linear work (Lua VM instructions, not a clock)")
    func linear() throws {
        // Work is counted in VM instructions (debug.sethook's count hook), which a loaded
        // machine cannot change: twice the Dockerfile must cost about twice as much, where a
        // quadratic step would cost four times as much. Speed itself is for benchmarks.
        let r = try eval(#"""
            local function text(blocks)
              local parts = { "ARG V=1\nFROM alpine:$V AS base\n" }
              for n = 1, blocks do
                parts[#parts + 1] = "RUN echo " .. n .. " \\\n  && true\nENV K" .. n .. "=\"v " .. n .. "\"\nCOPY --chown=1:1 a" .. n .. " /x/\nLABEL a=b c=\"d e\"\n"
                parts[#parts + 1] = "RUN <<EOF\nline\nEOF\n"
              end
              return table.concat(parts)
            end
            local function cost(blocks)
              local t, count = text(blocks), 0
              debug.sethook(function() count = count + 1 end, "", 1000)
              local d = df.parse(t)
              local plan = df.stages(d, {})
              debug.sethook()
              return count, #d.instructions, #plan.stages[1].instructions
            end
            local small = cost(1250)
            local big, ins, planned = cost(2500)
            local ratio = big / small
            return ins .. " " .. planned .. " " .. (ratio < 2.5 and "linear" or ("ratio " .. ratio))
            """#)
        #expect(r.value == "12502 12500 linear", "\(r)")
    }
}
