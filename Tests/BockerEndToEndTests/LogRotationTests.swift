import Glibc
import Testing

/// `--log-opt max-size=… --log-opt max-file=…`: the json-file log rotates as Docker's does, so a
/// container that floods its output keeps a bounded log; `logs` reads the rotated files in order.
@Suite("log rotation (--log-opt)")
struct LogRotationTests {
    private static func logFiles(_ f: BockerFixture, _ id: String) -> [String: Int] {
        let dir = f.root + "/containers/" + id
        var out: [String: Int] = [:]
        for name in Host.listDirectory(dir) where name.hasPrefix("container.log") {
            var st = stat()
            if lstat(dir + "/" + name, &st) == 0 { out[name] = Int(st.st_size) }
        }
        return out
    }

    @Test("a flood far over max-size × max-file stays under the cap; logs shows the newest lines in order")
    func floodStaysUnderCap() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            // 30,000 records of ~80 bytes: 2.4 MB against a cap of 3 × 64 KiB.
            let (r, id) = f.runNew(["run", "--log-opt", "max-size=64k", "--log-opt", "max-file=3", img, "sh", "-c",
                                    "i=0; while [ $i -lt 30000 ]; do echo line-$i; i=$((i+1)); done"], timeout: 120)
            #expect(r.status == 0, "\(r.stderr)")
            let cid = try #require(id)
            let files = Self.logFiles(f, cid)
            #expect(Set(files.keys) == ["container.log", "container.log.1", "container.log.2"], "\(files)")
            for (name, size) in files { #expect(size <= 64 << 10, "\(name): \(size) bytes") }
            #expect(files.values.reduce(0, +) <= 3 * (64 << 10))

            let logs = f.run(["logs", cid])
            #expect(logs.status == 0, "\(logs.stderr)")
            let lines = logs.stdoutLines
            #expect(lines.last == "line-29999", "\(lines.suffix(3))")
            // Oldest first, no gap, and more than the live file alone holds.
            let numbers = lines.compactMap { Int($0.dropFirst("line-".count)) }
            #expect(numbers.count == lines.count && numbers.count > 1000, "\(lines.count) lines")
            #expect(numbers == Array((numbers.first ?? 0)...(numbers.last ?? 0)), "lines out of order or missing")
            let tail = f.run(["logs", "-n", "3", cid])
            #expect(tail.stdoutLines == ["line-29997", "line-29998", "line-29999"], "\(tail)")
            let inspect = f.run(["inspect", cid])
            #expect(inspect.stdout.contains("\"max-size\": \"64k\"") && inspect.stdout.contains("\"max-file\": \"3\""), "\(inspect.stdout)")
            _ = f.run(["rm", cid])
        }
    }

    @Test("max-size alone: one file, emptied when full")
    func singleFile() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let (r, id) = f.runNew(["run", "--log-opt", "max-size=16k", img, "sh", "-c",
                                    "i=0; while [ $i -lt 5000 ]; do echo line-$i; i=$((i+1)); done"], timeout: 120)
            #expect(r.status == 0, "\(r.stderr)")
            let cid = try #require(id)
            let files = Self.logFiles(f, cid)
            #expect(Array(files.keys) == ["container.log"] && (files["container.log"] ?? .max) <= 16 << 10, "\(files)")
            let logs = f.run(["logs", cid])
            #expect(logs.stdoutLines.last == "line-4999", "\(logs.stdoutLines.suffix(2))")
            _ = f.run(["rm", cid])
        }
    }

    @Test("bad --log-opt values: one line, exit 125, nothing created", arguments: [
        (["--log-opt", "foo=bar"], "unknown log opt 'foo' for json-file log driver"),
        (["--log-opt", "max-size=lots"], "invalid max-size 'lots': expected a size such as 10m"),
        (["--log-opt", "max-file=3"], "max-file cannot be set without max-size"),
        (["--log-opt", "max-size=1m", "--log-opt", "max-file=0"], "invalid max-file '0': expected a whole number from 1 to 100"),
        (["--log-opt", "max-size"], "invalid log opt 'max-size': use KEY=VALUE"),
    ])
    func badLogOpts(args: [String], message: String) throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let before = f.storeListing()
            let r = f.run(["run"] + args + [img, "true"])
            #expect(r.status == 125 && r.allLines == [message], "\(r)")
            #expect(f.storeListing() == before)
        }
    }
}
