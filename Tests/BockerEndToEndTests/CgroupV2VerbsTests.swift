import Glibc
import Testing

/// `run`, `stats` and `update` on a cgroup v2 host (cgroup2 mounted alone at /sys/fs/cgroup in a
/// private mount namespace). On this machine v1 holds cpu, memory and pids, so the v2 hierarchy
/// offers none of them (cgroup.controllers: hugetlb): a limit asked for is one clear error and
/// nothing is made; defaults give way with one warning. Where a controller is offered, the test
/// checks the real v2 file instead (cpu.max, memory.max).
@Suite("cgroup v2: run, stats and update with and without the controllers", .serialized)
struct CgroupV2VerbsTests {
    static func offered(_ cg2: String) -> Set<String> {
        Set((Host.readFile(cg2 + "/cgroup.controllers") ?? "").split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))
    }

    /// Removes the test's v2 cgroups from the host's view of the hierarchy, also after a failure.
    static func removeCgroups(_ f: BockerFixture, under cg2: String) {
        for id in f.seenContainers.union(f.containerIds()) where id.hasPrefix("ps_") {
            let dir = cg2 + "/bocker/" + id
            for pid in Host.cgroupProcs(dir) { kill(pid, SIGKILL) }
            var tries = 0
            while rmdir(dir) != 0 && errno == EBUSY && tries < 100 { tries += 1; usleep(20_000) }
        }
    }

    @Test("run without limits: one WARNING naming the missing controllers; stats shows what v2 gives; rm removes the cgroup")
    func runAndStats() throws {
        let cg2 = try #require(hostCgroup2Mount(), "no cgroup2 mounted on this host")
        let offered = Self.offered(cg2)
        try LifecycleFixture.with { f in
            let img = try f.initImage()
            f.useCgroup2Only()
            defer { Self.removeCgroups(f, under: cg2) }
            let (r, id) = f.runNew(["run", "-d", "--name", "v2", img, "sh", "-c", "sleep 1000 & sleep 1000 & wait"])
            let cid = try #require(id, "\(r)")
            #expect(r.status == 0 && r.stdout == cid + "\n", "\(r)")
            let missing = ["cpu", "memory", "pids"].filter { !offered.contains($0) }
            let warnings = r.stderrLines.filter { $0.hasPrefix("WARNING:") }
            if missing.isEmpty {
                #expect(warnings.isEmpty, "\(r)")
            } else {
                #expect(warnings.count == 1 && r.stderrLines.count == 1, "\(r)")
                for c in missing { #expect(warnings.first?.contains(c) == true, "\(c) not named: \(r)") }
                #expect(warnings.first?.contains("cgroup v2") == true, "\(r)")
            }
            #expect(Host.isDirectory(cg2 + "/bocker/" + cid), "no v2 cgroup for \(cid)")
            // The processes are there once sh has started both sleeps.
            var procs = 0
            for _ in 0..<500 where procs < 3 {
                procs = Host.cgroupProcs(cg2 + "/bocker/" + cid).count
                if procs < 3 { usleep(10_000) }
            }
            #expect(procs == 3, "sh and two sleeps: \(procs)")

            // stats: CPU from cpu.stat (always in v2); PIDS from pids.current, or without the
            // pids controller the processes of cgroup.procs; memory from memory.current, or
            // without the memory controller the processes' RSS, against the host's memory (no
            // limit exists: Docker shows the host's memory then too).
            let s = f.run(["stats", "--no-stream", "--format", VerbsStatsTests.fieldsFormat, "v2"])
            #expect(s.status == 0 && s.stderr.isEmpty, "\(s)")
            let row = try #require(VerbsStatsTests.parse(s)["v2"], "\(s)")
            #expect(row[1].hasSuffix("%") && VerbsStatsTests.percent(row[1]) >= 0, "\(row)")
            #expect(row[6] == "3", "\(row)")
            let usage = row[2].components(separatedBy: " / ")
            #expect(usage.count == 2 && VerbsStatsTests.bytes(usage[0]) > 0, "\(row)")
            if !offered.contains("memory") {
                let hostMemory = Double(sysconf(Int32(_SC_PHYS_PAGES))) * Double(sysconf(Int32(_SC_PAGESIZE)))
                let limit = VerbsStatsTests.bytes(usage[1])
                #expect(abs(limit - hostMemory) / hostMemory < 0.01, "the limit of no limit is the host's memory: \(row)")
            }
            let table = f.run(["stats", "--no-stream"])
            #expect(table.status == 0 && table.stdoutLines.count == 2 && table.stdoutLines[1].hasPrefix(cid), "\(table)")

            let rm = f.run(["rm", "-f", cid])
            #expect(rm.status == 0, "\(rm)")
            #expect(!Host.exists(cg2 + "/bocker/" + cid), "the v2 cgroup of \(cid) stayed after rm")
            f.expectLifecycleClean(removed: [cid])
        }
    }

    @Test("run --cpus 0.5 / -m 64m: cpu.max and memory.max with the controller; without it one line naming the limit and controller, nothing made")
    func runWithLimits() throws {
        let cg2 = try #require(hostCgroup2Mount(), "no cgroup2 mounted on this host")
        let offered = Self.offered(cg2)
        try LifecycleFixture.with { f in
            let img = try f.initImage()
            f.useCgroup2Only()
            defer { Self.removeCgroups(f, under: cg2) }
            let cases: [(args: [String], controller: String, flag: String, file: String, value: String)] = [
                (["--cpus", "0.5"], "cpu", "--cpus", "cpu.max", "50000 100000"),
                (["--cpus=.5", "-v", "v2vol:/data"], "cpu", "--cpus", "cpu.max", "50000 100000"),
                (["-m", "64m"], "memory", "--memory", "memory.max", "67108864"),
            ]
            for c in cases {
                let before = f.storeListing()
                let cgroupsBefore = Set(Host.listDirectory(cg2 + "/bocker"))
                let (r, id) = f.runNew(["run", "-d"] + c.args + [img, "sleep", "1000"])
                if offered.contains(c.controller) {
                    let cid = try #require(id, "\(c.args): \(r)")
                    #expect(Host.readFile(cg2 + "/bocker/" + cid + "/" + c.file).map(trimmed) == c.value, "\(c.args)")
                    _ = f.run(["rm", "-f", cid])
                    continue
                }
                #expect(r.status == 125, "\(c.args): \(r)")
                #expect(r.stderrLines.count == 1 && r.stdout.isEmpty, "\(c.args): \(r)")
                #expect(r.stderr.contains("(\(c.flag))") && r.stderr.contains("'\(c.controller)'") && r.stderr.contains("cgroup v2"),
                        "\(c.args): \(r)")
                #expect(id == nil && f.containerIds().isEmpty, "\(c.args) left a container")
                #expect(f.storeListing() == before, "\(c.args) changed the store")
                #expect(Set(Host.listDirectory(cg2 + "/bocker")) == cgroupsBefore, "\(c.args) left a cgroup")
            }
            f.expectLifecycleClean(removed: [])
        }
    }

    @Test("update --memory / --cpus / --pids-limit on v2: the v2 file with the controller; without it one line naming it, the container and its record unchanged")
    func update() throws {
        let cg2 = try #require(hostCgroup2Mount(), "no cgroup2 mounted on this host")
        let offered = Self.offered(cg2)
        try LifecycleFixture.with { f in
            let img = try f.initImage()
            f.useCgroup2Only()
            defer { Self.removeCgroups(f, under: cg2) }
            let cid = try f.runDetached(["--name", "upd", img, "sleep", "1000"])
            let dir = cg2 + "/bocker/" + cid
            let hostConfig = "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}}"
            let cases: [(args: [String], controller: String, flag: String, file: String, value: String)] = [
                (["--memory", "64m"], "memory", "--memory", "memory.max", "67108864"),
                (["--cpus", "0.5"], "cpu", "--cpus", "cpu.max", "50000 100000"),
                (["--pids-limit", "10"], "pids", "--pids-limit", "pids.max", "10"),
            ]
            for c in cases {
                let recorded = f.run(["inspect", "-f", hostConfig, "upd"]).stdout
                let files = Host.listDirectory(dir).sorted()
                let r = f.run(["update"] + c.args + ["upd"])
                if offered.contains(c.controller) {
                    #expect(r.status == 0, "\(c.args): \(r)")
                    #expect(Host.readFile(dir + "/" + c.file).map(trimmed) == c.value, "\(c.args)")
                    continue
                }
                #expect(r.status == 1 && r.stdout.isEmpty && r.stderrLines.count == 1, "\(c.args): \(r)")
                #expect(r.stderr.contains("(\(c.flag))") && r.stderr.contains("'\(c.controller)'") && r.stderr.contains("cgroup v2"),
                        "\(c.args): \(r)")
                #expect(f.run(["inspect", "-f", hostConfig, "upd"]).stdout == recorded, "\(c.args) changed the record")
                #expect(Host.listDirectory(dir).sorted() == files, "\(c.args) changed the cgroup")
            }
            // Still running, and still usable.
            let e = f.run(["exec", "upd", "echo", "alive"])
            #expect(e.status == 0 && e.stdout == "alive\n", "\(e)")
            _ = f.run(["rm", "-f", cid])
            #expect(!Host.exists(dir), "the v2 cgroup stayed after rm")
            f.expectLifecycleClean(removed: [cid])
        }
    }
}
