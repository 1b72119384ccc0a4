import Foundation
import Glibc
import Testing

/// A multi-stage Dockerfile with the instructions `bocker build` must handle, its context, and
/// what the built image prints.
private struct DemoProject {
    let dir: String
    static let dockerfile = """
        # syntax=docker/dockerfile:1
        ARG BASE
        FROM ${BASE} AS builder
        WORKDIR /src
        COPY src/ ./
        RUN ["/bin/sh", "-c", "cat /src/msg > /src/built.txt && echo built >> /src/built.txt"]

        FROM ${BASE}
        ARG GREETING=hi
        ENV APP_HOME=/app
        WORKDIR $APP_HOME
        COPY --from=builder /src/ /app/
        COPY top.txt ./
        COPY . /ctx/
        RUN echo "$GREETING" > /app/greeting
        USER nobody
        EXPOSE 8080 9090/udp
        LABEL org.example.name="demo app" version=1
        STOPSIGNAL SIGTERM
        ENTRYPOINT ["/bin/sh"]
        CMD ["/app/run.sh"]

        """

    init(_ f: BockerFixture) throws {
        dir = try f.context("proj", [
            "Dockerfile": Self.dockerfile,
            "src/run.sh": "echo \"$(cat /app/greeting) from app\"; cat /app/built.txt /app/top.txt; id -u\n",
            "src/msg": "message v1\n",
            "top.txt": "top v1\n",
            ".dockerignore": "node_modules\n*.log\n",
            "node_modules/big.js": "ignored\n",
            "debug.log": "ignored\n",
        ])
    }
}

/// Each "Step N/M : INSTRUCTION" of a classic build output and whether it came from the cache.
private func steps(_ out: String) -> [(String, Bool)] {
    let lines = out.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    var result: [(String, Bool)] = []
    for (i, l) in lines.enumerated() where l.hasPrefix("Step ") {
        let text = l.split(separator: ":", maxSplits: 1).last.map { String($0.dropFirst()) } ?? ""
        result.append((text, i + 1 < lines.count && lines[i + 1] == " ---> Using cache"))
    }
    return result
}

private func builtId(_ out: String) -> String? {
    splitLines(out).last { $0.hasPrefix("Successfully built ") }.map { String($0.dropFirst(19)) }
}

@Suite("bocker build: Dockerfiles")
struct BuildDockerfileTests {
    @Test("a multi-stage Dockerfile builds, runs and has its config; unchanged it is all cache; one changed file re-runs from its step on")
    func multiStage() throws {
        try BockerFixture.with { f in
            let base = try f.initImage()
            let p = try DemoProject(f)
            let args = ["build", "--build-arg", "BASE=" + base, "--build-arg", "GREETING=hello", "-t", "demo:1", "-t", "demo:latest", p.dir]
            let b1 = f.run(args, timeout: 120)
            #expect(b1.status == 0, "\(b1)")
            let s1 = steps(b1.stdout)
            #expect(s1.count == 17 && s1.allSatisfy { !$0.1 }, "\(b1)")
            #expect(s1.first?.0 == "FROM ${BASE} AS builder", "\(b1)")
            #expect(b1.stdoutLines.suffix(2) == ["Successfully tagged demo:1", "Successfully tagged demo:latest"], "\(b1)")
            let id = try #require(builtId(b1.stdout), "\(b1)")

            let run = f.run(["run", "--rm", "demo:1"])
            #expect(run.status == 0 && run.stdout == "hello from app\nmessage v1\nbuilt\ntop v1\n65534\n", "\(run)")
            let ctx = f.run(["run", "--rm", "demo", "-c", "ls -A /ctx"])
            #expect(ctx.stdoutLines == [".dockerignore", "Dockerfile", "src", "top.txt"], "\(ctx)")

            let rec = try #require(f.imageRecord(id))
            let cfg = try #require(rec["config"] as? [String: Any])
            #expect((cfg["env"] as? [String])?.contains("APP_HOME=/app") == true, "\(cfg)")
            #expect(cfg["workingDir"] as? String == "/app")
            #expect(cfg["user"] as? String == "nobody")
            #expect(cfg["exposedPorts"] as? [String] == ["8080/tcp", "9090/udp"], "\(cfg)")
            #expect(cfg["labels"] as? [String: String] == ["org.example.name": "demo app", "version": "1"], "\(cfg)")
            #expect(cfg["stopSignal"] as? String == "SIGTERM")
            #expect(cfg["entrypoint"] as? [String] == ["/bin/sh"])
            #expect(cfg["cmd"] as? [String] == ["/app/run.sh"])
            let history = try #require(rec["history"] as? [[String: Any]])
            #expect(history.last?["createdBy"] as? String == "CMD [\"/app/run.sh\"]", "\(history)")
            #expect(history.last?["emptyLayer"] as? Bool == true)

            // Unchanged: every RUN and COPY from the cache, the same image.
            let b2 = f.run(args, timeout: 60)
            #expect(b2.status == 0, "\(b2)")
            let fs2 = steps(b2.stdout).filter { $0.0.hasPrefix("RUN") || $0.0.hasPrefix("COPY") }
            #expect(fs2.count == 6 && fs2.allSatisfy { $0.1 }, "\(b2)")
            #expect(builtId(b2.stdout) == id, "\(b2)")
            #expect(f.containerIds().isEmpty)

            // top.txt changes: the builder stage and COPY --from still come from the cache.
            try Host.writeFile(p.dir + "/top.txt", "top v2\n")
            let b3 = f.run(args, timeout: 120)
            #expect(b3.status == 0, "\(b3)")
            let cached = steps(b3.stdout).filter { $0.1 }.map(\.0)
            #expect(cached == ["COPY src/ ./", "RUN [\"/bin/sh\", \"-c\", \"cat /src/msg > /src/built.txt && echo built >> /src/built.txt\"]",
                               "COPY --from=builder /src/ /app/"], "\(b3)")
            let run3 = f.run(["run", "--rm", "demo:1"])
            #expect(run3.stdout == "hello from app\nmessage v1\nbuilt\ntop v2\n65534\n", "\(run3)")
        }
    }

    @Test("--target builds only that stage and what it needs; -f reads a Dockerfile outside the context; -q and --iidfile")
    func targetAndFile() throws {
        try BockerFixture.with { f in
            let base = try f.initImage()
            let p = try DemoProject(f)
            let df = try f.writeFile("elsewhere/Build.df", DemoProject.dockerfile)
            try Host.writeFile(p.dir + "/Dockerfile", "FROM nothing-here\n")   // not the one used
            let b = f.run(["build", "-f", df, "--target", "builder", "--build-arg", "BASE=" + base, "-t", "stage:1", p.dir])
            #expect(b.status == 0, "\(b)")
            #expect(steps(b.stdout).map(\.0) == ["FROM ${BASE} AS builder", "WORKDIR /src", "COPY src/ ./",
                                                 "RUN [\"/bin/sh\", \"-c\", \"cat /src/msg > /src/built.txt && echo built >> /src/built.txt\"]"], "\(b)")
            let r = f.run(["run", "--rm", "stage:1", "cat", "built.txt"])
            #expect(r.status == 0 && r.stdout == "message v1\nbuilt\n", "\(r)")

            let iid = f.tmp + "/iid"
            let q = f.run(["build", "-q", "--iidfile", iid, "-f", df, "--target", "builder", "--build-arg", "BASE=" + base, p.dir])
            #expect(q.status == 0 && q.stdoutLines.count == 1, "\(q)")
            #expect(Host.readFile(iid) == q.stdoutLines.first, "\(q)")

            let bad = f.run(["build", "-f", df, "--target", "nope", "--build-arg", "BASE=" + base, p.dir])
            #expect(bad.status != 0 && bad.stderr.contains("target stage \"nope\" could not be found"), "\(bad)")
        }
    }

    @Test("errors name the Dockerfile's line, exit non-zero, and leave nothing behind")
    func errors() throws {
        try BockerFixture.with { f in
            let base = try f.initImage()
            let ctx = try f.context("ctx", ["a.txt": "a\n"])
            func build(_ text: String) throws -> RunResult {
                try Host.writeFile(ctx + "/Dockerfile", text)
                return f.run(["build", "-t", "x", ctx])
            }
            let before = f.storeListing()
            let unknown = try build("FROM \(base)\n# comment\nRUNN echo hi\n")
            #expect(unknown.status != 0, "\(unknown)")
            #expect(unknown.stderrLines == ["Dockerfile:3: unknown instruction: RUNN (did you mean RUN?)"], "\(unknown)")
            #expect(f.storeListing() == before)

            let missing = try build("FROM \(base)\nCOPY nothere /x\n")
            #expect(missing.status != 0, "\(missing)")
            #expect(missing.stderrLines.count == 1 && missing.stderr.hasPrefix("Dockerfile:2: ") && missing.stderr.contains("nothere"), "\(missing)")

            let images = f.imageIds()
            let failing = try build("FROM \(base)\nCOPY a.txt /a.txt\nRUN echo partial > /p; exit 3\nRUN echo never\n")
            #expect(failing.status != 0, "\(failing)")
            #expect(failing.stderrLines == ["Dockerfile:3: The command '/bin/sh -c echo partial > /p; exit 3' returned a non-zero code: 3"], "\(failing)")
            #expect(!failing.stdout.contains("Step 4/4"), "\(failing)")
            #expect(f.containerIds().isEmpty, "\(f.containerIds())")
            #expect(f.imageIds() == images)
            #expect(Host.listDirectory(f.root + "/pending").isEmpty)
        }
    }

    @Test("the same image from a Dockerfile and from the equivalent Lua chain has the same layers")
    func dockerfileAndLuaAgree() throws {
        try BockerFixture.with { f in
            let base = try f.initImage()
            let ctx = try f.context("ctx", [
                "Dockerfile": "FROM \(base)\nWORKDIR /app\nCOPY src .\nRUN echo made > /app/made\nENV MODE=prod\nCMD [\"cat\", \"/app/made\"]\n",
                "src/a": "a\n", "src/b/c": "c\n",
            ])
            let b = f.run(["build", "-t", "fromdf:1", ctx])
            #expect(b.status == 0, "\(b)")
            let dfId = try #require(builtId(b.stdout), "\(b)")
            let r = try f.script("same.lua", """
                local hits = 0
                local img = bocker.build.from("\(base)", { context = "\(ctx)",
                    progress = function(e) if e.kind == "cached" then hits = hits + 1 end end })
                  :workdir("/app"):copy("src", "."):run("echo made > /app/made")
                  :env { MODE = "prod" }:cmd { "cat", "/app/made" }
                  :commit("fromlua:1")
                print(img.id, hits)
                """)
            #expect(r.status == 0, "\(r)")
            let luaId = try #require(r.stdout.split(separator: "\t").first.map(String.init))
            #expect(r.stdout.hasSuffix("\t2\n"), "every filesystem step a cache hit: \(r)")
            let dfLayers = f.imageRecord(dfId)?["layers"] as? [String]
            let luaLayers = f.imageRecord(luaId)?["layers"] as? [String]
            #expect(dfLayers != nil && dfLayers == luaLayers, "\(String(describing: dfLayers)) vs \(String(describing: luaLayers))")
            let run = f.run(["run", "--rm", "fromlua:1"])
            #expect(run.stdout == "made\n", "\(run)")
        }
    }

    @Test("a built image pushed to a registry is pulled by skopeo, unpacked by umoci and runs with the same output")
    func pushBuilt() throws {
        try BockerFixture.with { f in
            try TestRegistry.with(f) { reg in
                let base = try f.initImage()
                let p = try DemoProject(f)
                let name = "\(reg.host)/local/demo:1"
                let b = f.run(["build", "--build-arg", "BASE=" + base, "-t", name, p.dir], timeout: 120)
                #expect(b.status == 0, "\(b)")
                let here = f.run(["run", "--rm", name])
                #expect(here.status == 0, "\(here)")
                let push = f.run(["push", name], timeout: 120)
                #expect(push.status == 0, "\(push)")

                let oci = f.tmp + "/oci"
                let copy = runTool(f.commandPrefix + ["skopeo", "copy", "--src-tls-verify=false", "docker://" + name, "oci:" + oci + ":demo"])
                #expect(copy.status == 0, "\(copy)")
                let bundle = f.tmp + "/bundle"
                let unpack = runTool(["umoci", "unpack", "--image", oci + ":demo", bundle])
                #expect(unpack.status == 0, "\(unpack)")
                let config = try #require(Host.readFile(bundle + "/config.json"))
                let obj = try #require(try JSONSerialization.jsonObject(with: Data(config.utf8)) as? [String: Any])
                let process = try #require(obj["process"] as? [String: Any])
                let argv = try #require(process["args"] as? [String])
                #expect(argv == ["/bin/sh", "/app/run.sh"], "\(argv)")
                let user = try #require(process["user"] as? [String: Any])
                #expect(user["uid"] as? Int == 65534, "\(user)")
                let there = runTool(["chroot", "--userspec=65534:65534", bundle + "/rootfs"] + argv)
                #expect(there.status == 0 && there.stdout == here.stdout, "\(here)\n\(there)")
            }
        }
    }

    @Test("heredocs: COPY <<EOT writes the (expanded) body, RUN <<EOS runs the script")
    func heredocs() throws {
        try BockerFixture.with { f in
            let base = try f.initImage()
            let ctx = try f.context("hd", ["Dockerfile": """
                FROM \(base)
                ENV WHO=world
                COPY <<EOT /etc/greet.txt
                hello "${WHO}"
                EOT
                RUN <<EOS
                cat /etc/greet.txt > /etc/copy.txt
                echo second line >> /etc/copy.txt
                EOS
                CMD ["cat", "/etc/copy.txt"]

                """])
            let b = f.run(["build", "-t", "hd:1", ctx])
            #expect(b.status == 0, "\(b)")
            let r = f.run(["run", "--rm", "hd:1"])
            #expect(r.stdout == "hello \"world\"\nsecond line\n", "\(r)")
        }
    }
}
