import Glibc
import Testing

/// `bocker stats` from real cgroups (v1 here, v2 in a private mount namespace) and a real
/// network namespace: the numbers of busy containers are plausible and non-zero.
@Suite("Verbs: stats", .serialized)
struct VerbsStatsTests {
    static let fieldsFormat = "{{.Name}}|{{.CPUPerc}}|{{.MemUsage}}|{{.MemPerc}}|{{.NetIO}}|{{.BlockIO}}|{{.PIDs}}"

    /// name → its fields, from `stats --no-stream --format fieldsFormat`.
    static func parse(_ r: RunResult) -> [String: [String]] {
        var out: [String: [String]] = [:]
        for line in r.stdoutLines {
            let p = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            if p.count == 7 { out[p[0]] = p }
        }
        return out
    }

    static func percent(_ s: String) -> Double { Double(s.dropLast()) ?? -1 }

    /// "20.5MiB" → bytes.
    static func bytes(_ s: String) -> Double {
        let units: [(String, Double)] = [("KiB", 1024), ("MiB", 1048576), ("GiB", 1073741824), ("kB", 1e3), ("MB", 1e6), ("GB", 1e9), ("B", 1)]
        for (u, m) in units where s.hasSuffix(u) { return (Double(s.dropLast(u.count)) ?? -1) * m }
        return -1
    }

    @Test("cgroup v1: CPU of a busy loop, memory held in /dev/shm against its limit, ping traffic, pids, and the default table")
    func v1Numbers() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            _ = f.run(["run", "-d", "--name", "busy", img, "sh", "-c", "while :; do :; done"])
            _ = f.run(["run", "-d", "--name", "mem", "-m", "256m", img, "sh", "-c",
                       "head -c 33554432 /dev/zero > /dev/shm/fill; sleep 1000 & sleep 1000 & sleep 1000 & ping -c 3 -i 0.2 10.0.0.1; echo pinged; wait"])
            _ = f.run(["create", "--name", "never", img, "true"])
            // The pings are done once "pinged" is logged.
            var logged = false
            for _ in 0..<300 where !logged {
                logged = f.run(["logs", "mem"]).stdout.contains("pinged")
                if !logged { usleep(20_000) }
            }
            #expect(logged, "the pings never finished")
            let r = f.run(["stats", "--no-stream", "--format", Self.fieldsFormat])
            #expect(r.status == 0, "\(r)")
            let rows = Self.parse(r)
            #expect(Set(rows.keys) == ["busy", "mem"], "only running containers by default: \(r)")
            let busy = try #require(rows["busy"], "\(r)")
            #expect(Self.percent(busy[1]) > 5, "a busy loop shows \(busy[1]) CPU")
            #expect(busy[6] == "1", "\(busy)")
            let m = try #require(rows["mem"], "\(r)")
            let usage = m[2].components(separatedBy: " / ")
            #expect(Self.bytes(usage[0]) >= 32 * 1048576, "32 MiB in /dev/shm, usage \(usage[0])")
            #expect(usage[1] == "256MiB", "limit \(m[2])")
            #expect(Self.percent(m[3]) >= 12.5 && Self.percent(m[3]) < 100, "\(m[3])")
            let net = m[4].components(separatedBy: " / ")
            #expect(Self.bytes(net[0]) > 0 && Self.bytes(net[1]) > 3 * 84, "ping traffic: \(m[4])")
            #expect((Int(m[6]) ?? 0) >= 4, "sh and three sleeps: \(m[6])")
            // -a adds the stopped one (zeros); the default output is Docker's table.
            let all = Self.parse(f.run(["stats", "-a", "--no-stream", "--format", Self.fieldsFormat]))
            #expect(all["never"]?[1] == "0.00%" && all["never"]?[6] == "0", "\(all)")
            let table = f.run(["stats", "--no-stream", "busy"])
            #expect(table.stdoutLines.first.map(fields) == ["CONTAINER", "ID", "NAME", "CPU", "%", "MEM", "USAGE", "/", "LIMIT",
                                                            "MEM", "%", "NET", "I/O", "BLOCK", "I/O", "PIDS"], "\(table)")
            #expect(table.stdoutLines.count == 2, "\(table)")
        }
    }

    @Test("cgroup v2 (cgroup2 mounted alone in a private mount namespace): CPU from cpu.stat, pids and memory of the processes")
    func v2Numbers() throws {
        let cg2 = try #require(hostCgroup2Mount(), "no cgroup2 mounted on this host")
        try BockerFixture.with { f in
            let img = try f.initImage()
            f.useCgroup2Only()
            defer {   // the test's v2 cgroups, seen from the host's view of the hierarchy
                for id in f.seenContainers.union(f.containerIds()) where id.hasPrefix("ps_") {
                    let dir = cg2 + "/bocker/" + id
                    for pid in Host.cgroupProcs(dir) { kill(pid, SIGKILL) }
                    var tries = 0
                    while rmdir(dir) != 0 && errno == EBUSY && tries < 100 { tries += 1; usleep(20_000) }
                }
            }
            let (r, id) = f.runNew(["run", "-d", "--name", "busy2", img, "sh", "-c", "sleep 1000 & while :; do :; done"])
            let cid = try #require(id, "\(r)")
            #expect(Host.isDirectory(cg2 + "/bocker/" + cid), "not a v2 cgroup")
            let s = f.run(["stats", "--no-stream", "--format", Self.fieldsFormat, "busy2"])
            #expect(s.status == 0, "\(s)")
            let row = try #require(Self.parse(s)["busy2"], "\(s)")
            #expect(Self.percent(row[1]) > 5, "a busy loop shows \(row[1]) CPU")
            #expect(row[6] == "2", "\(row)")
            let usage = row[2].components(separatedBy: " / ")
            #expect(Self.bytes(usage[0]) > 0 && Self.bytes(usage[1]) > 0, "\(row)")
            #expect(f.run(["rm", "-f", cid]).status == 0)
        }
    }

    @Test("on a terminal the table is redrawn until interrupted")
    func liveRefresh() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            _ = f.run(["run", "-d", "--name", "live", img, "sleep", "60"])
            let r = f.shell("timeout -k 2 3.5 script -qec \"$BOCKER stats\" /dev/null", timeout: 30)
            let frames = r.stdout.components(separatedBy: "\u{1b}[2J").count - 1
            #expect(frames >= 2, "\(frames) frames: \(r)")
            #expect(r.stdout.contains("live"), "\(r)")
        }
    }
}
