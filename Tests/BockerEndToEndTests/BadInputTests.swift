import Testing

let builtinCommands = ["pull", "init", "images", "ps", "run", "exec", "logs", "commit", "rm", "rmi", "help"]

@Suite("help and bad input")
struct BadInputTests {
    @Test("bocker with no arguments prints the command list and exits 0")
    func noArguments() throws {
        try BockerFixture.with { f in
            let r = f.run([])
            #expect(r.status == 0, "\(r)")
            let firstWords = Set(r.stdoutLines.compactMap { fields($0).first })
            for c in builtinCommands {
                #expect(firstWords.contains(c), "\(c) missing from: \(r)")
            }
        }
    }

    @Test("help lists every command with a one-line summary")
    func help() throws {
        try BockerFixture.with { f in
            let r = f.run(["help"])
            #expect(r.status == 0, "\(r)")
            for c in builtinCommands {
                let line = r.stdoutLines.first { fields($0).first == c }
                #expect(line != nil, "help does not list \(c): \(r)")
                #expect((line.map(fields)?.count ?? 0) >= 2, "no summary for \(c): \(line ?? "")")
            }
        }
    }

    @Test("help run prints run's usage")
    func helpRun() throws {
        try BockerFixture.with { f in
            let r = f.run(["help", "run"])
            #expect(r.status == 0, "\(r)")
            #expect(r.stdout.contains("bocker run"), "\(r)")
        }
    }

    @Test("an unknown command: one line on stderr naming it, non-zero exit")
    func unknownCommand() throws {
        try BockerFixture.with { f in
            let r = f.run(["frobnicate"])
            #expect(r.status != 0, "\(r)")
            #expect(r.stderrLines.count == 1, "\(r)")
            #expect(r.stderr.contains("frobnicate"), "\(r)")
        }
    }

    @Test("bad run option values: one line naming the option, exit 125, nothing created",
          arguments: [
              (["--mem_limit=abc"], ["mem_limit"]),
              (["--memory=-1"], ["memory"]),
              (["-m", "lots"], ["-m", "memory"]),
              (["--cpu_share="], ["cpu_share"]),
              (["--cpu_share=abc"], ["cpu_share"]),
              (["--cpu-shares", "x"], ["cpu-shares"]),
              (["--pids-limit", "many"], ["pids-limit"]),
              (["--bogus-option"], ["bogus-option"]),
          ])
    func badRunOptions(options: [String], names: [String]) throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let before = f.storeListing()
            let r = f.run(["run"] + options + [img, "true"])
            #expect(r.status == 125, "\(r)")
            #expect(r.stderrLines.count == 1, "\(r)")
            #expect(names.contains { r.stderr.contains($0) }, "the message does not name \(names): \(r)")
            #expect(r.stdout.isEmpty, "\(r)")
            #expect(f.containerIds().isEmpty, "a container was created")
            #expect(f.storeListing() == before, "the store changed")
        }
    }

    @Test("-c without a value")
    func optionWithoutValue() throws {
        try BockerFixture.with { f in
            _ = try f.initImage()
            let before = f.storeListing()
            let r = f.run(["run", "-c"])
            #expect(r.status == 125, "\(r)")
            #expect(r.stderrLines.count == 1, "\(r)")
            #expect(r.stderr.contains("-c") || r.stderr.contains("cpu-shares"), "\(r)")
            #expect(f.storeListing() == before, "the store changed")
        }
    }

    @Test("missing arguments: one line, non-zero exit, no change to the store",
          arguments: [["init"], ["run"], ["exec"], ["exec", "ps_000000000000"], ["logs"], ["commit"],
                      ["commit", "ps_000000000000"], ["rm"], ["rmi"], ["script"]])
    func missingArguments(args: [String]) throws {
        try BockerFixture.with { f in
            _ = try f.initImage()
            let before = f.storeListing()
            let r = f.run(args)
            #expect(r.status != 0, "\(r)")
            #expect(r.allLines.count == 1, "\(r)")
            #expect(f.storeListing() == before, "the store changed")
        }
    }

    @Test("ids that are not safe path components are refused without touching the store",
          arguments: [["rm", "../images"], ["rmi", "../../etc"], ["logs", "../containers"],
                      ["exec", "..", "true"], ["run", "../img", "true"], ["commit", "..", "x"]])
    func pathTraversal(args: [String]) throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let before = f.storeListing()
            let r = f.run(args)
            #expect(r.status != 0, "\(r)")
            #expect(r.allLines.count == 1, "\(r)")
            #expect(f.storeListing() == before, "the store changed")
            #expect(row(img, in: f.run(["images"]).stdout) != nil)
        }
    }
}
