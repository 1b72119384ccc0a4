import Testing

/// Limits read back from cgroupfs after `run` (the directories stay until `rm`).
@Suite("cgroup limits")
struct CgroupTests {
    /// Runs `true` with the given bocker arguments before the image and returns the container id.
    private func runTrue(_ f: BockerFixture, _ img: String, options: [String] = [], global: [String] = [],
                         env: [String: String] = [:]) throws -> String {
        let (r, id) = f.runNew(global + ["run"] + options + [img, "true"], env: env)
        #expect(r.status == 0, "\(r)")
        return try #require(id, "no container created: \(r)")
    }

    private func expectLimits(_ f: BockerFixture, _ id: String, shares: Int, memoryMB: Int? = nil,
                              memoryBytes: Int? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(f.cgroupValue("cpu", id, "cpu.shares") == String(shares), sourceLocation: sourceLocation)
        let bytes = memoryBytes ?? (memoryMB ?? 512) * 1_000_000
        #expect(f.cgroupValue("memory", id, "memory.limit_in_bytes") == String(pageRounded(bytes)),
                "expected \(bytes) rounded down to the page size", sourceLocation: sourceLocation)
    }

    @Test("defaults: cpu.shares 512, memory 512 MB (×1000000), a pids.max; all gone after rm")
    func defaults() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let id = try runTrue(f, img)
            expectLimits(f, id, shares: 512, memoryMB: 512)
            let pidsMax = f.cgroupValue("pids", id, "pids.max")
            #expect(pidsMax.flatMap { Int($0) } != nil, "pids.max = \(pidsMax ?? "missing")")
            #expect(Host.isDirectory("/sys/fs/cgroup/devices/bocker/\(id)"), "no devices cgroup")
            let rm = f.run(["rm", id])
            #expect(rm.status == 0, "\(rm)")
            #expect(rm.stdoutLines == ["Removed: \(id)"], "\(rm)")
            for ctl in ["cpu", "cpuacct", "memory", "pids", "devices"] {
                #expect(!Host.exists("/sys/fs/cgroup/\(ctl)/bocker/\(id)"), "\(ctl) cgroup left")
            }
            f.expectNothingLeftBehind(removed: [id])
        }
    }

    @Test("BOCKER_CPU_SHARE and BOCKER_MEM_LIMIT as in the original")
    func environmentVariables() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let id = try runTrue(f, img, env: ["BOCKER_CPU_SHARE": "1024", "BOCKER_MEM_LIMIT": "256"])
            expectLimits(f, id, shares: 1024, memoryMB: 256)
            #expect(f.cgroupValue("memory", id, "memory.limit_in_bytes") == "256000000")
            _ = f.run(["rm", id])
            f.expectNothingLeftBehind(removed: [id])
        }
    }

    @Test("the original's --cpu_share=N and --mem_limit=N (MB)")
    func originalOptions() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let id = try runTrue(f, img, options: ["--cpu_share=1024", "--mem_limit=256"])
            expectLimits(f, id, shares: 1024, memoryMB: 256)
            // Options win over the environment.
            let id2 = try runTrue(f, img, options: ["--cpu_share=300"], env: ["BOCKER_CPU_SHARE": "1024"])
            expectLimits(f, id2, shares: 300, memoryMB: 512)
            _ = f.run(["rm", id, id2])
            f.expectNothingLeftBehind(removed: [id, id2])
        }
    }

    @Test("the original's global form: bocker --cpu_share=1024 run IMG true")
    func globalForm() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let id = try runTrue(f, img, global: ["--cpu_share=1024", "--mem_limit=128"])
            expectLimits(f, id, shares: 1024, memoryMB: 128)
            _ = f.run(["rm", id])
            f.expectNothingLeftBehind(removed: [id])
        }
    }

    @Test("Docker's -c/--cpu-shares, -m/--memory and --pids-limit")
    func dockerOptions() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let a = try runTrue(f, img, options: ["-c", "1024", "-m", "64m"])
            expectLimits(f, a, shares: 1024, memoryBytes: 64 * 1024 * 1024)
            let b = try runTrue(f, img, options: ["--cpu-shares", "2048", "--memory", "64m", "--pids-limit", "50"])
            expectLimits(f, b, shares: 2048, memoryBytes: 64 * 1024 * 1024)
            #expect(f.cgroupValue("pids", b, "pids.max") == "50")
            let c = try runTrue(f, img, options: ["--cpu-shares=768", "--memory=1g", "--pids-limit=7"])
            expectLimits(f, c, shares: 768, memoryBytes: 1024 * 1024 * 1024)
            #expect(f.cgroupValue("pids", c, "pids.max") == "7")
            _ = f.run(["rm", a, b, c])
            f.expectNothingLeftBehind(removed: [a, b, c])
        }
    }

    @Test("--pids-limit is enforced inside the container")
    func pidsLimitEnforced() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            // sh (1) + 3 sleeps fit in 5; the 6th process cannot be created.
            let (r, id) = f.runNew(["run", "--pids-limit", "5", img, "sh", "-c",
                                    "for i in 1 2 3 4 5 6 7 8; do sleep 1 & done; wait; echo finished"])
            let cid = try #require(id)
            #expect(r.stderr.contains("fork") || r.stderr.contains("resource") || r.stderr.contains("Resource"),
                    "no fork failure with pids.max 5: \(r)")
            _ = f.run(["rm", cid])
            f.expectNothingLeftBehind(removed: [cid])
        }
    }
}
