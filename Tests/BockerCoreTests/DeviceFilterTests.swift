import Testing
import Glibc
@testable import BockerCore
@testable import BockerCgroups
@testable import BockerRuntime

/// The device allow-list as rules and as a BPF program: encoding, and the real kernel loading,
/// attaching and enforcing it on a cgroup of the host's cgroup2 hierarchy.
@Suite("device rules and the v2 device program", .serialized)
struct DeviceFilterTests {
    @Test func defaultsAreTheV1ListBockerAlwaysWrote() {
        #expect(DeviceRule.defaults.map(\.description) == [
            "c *:* m", "b *:* m",
            "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
            "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm", "c 10:200 rwm",
        ])
        #expect(!DeviceRule.defaults.contains { $0.major == 10 && $0.minor == 229 }, "fuse must stay refused")
        #expect(DeviceRule.allowAll.description == "a *:* rwm")
    }

    @Test func accessLettersParseLikeDocker() throws {
        #expect(try DeviceRule.Access(letters: "rwm") == .all)
        #expect(try DeviceRule.Access(letters: "mr") == [.read, .mknod])
        #expect(try DeviceRule.Access(letters: "w").letters == "w")
        for bad in ["", "x", "rr", "rwmx", "RW"] {
            #expect(throws: BockerError.self) { try DeviceRule.Access(letters: bad) }
        }
    }

    @Test func instructionsAreEncodedAsTheKernelReadsThem() {
        // exit; r0 = 1; r2 = *(u32 *)(r1 + 4); if r4 != 8 goto +3
        #expect(DeviceFilter.insn(0x95) == 0x95)
        #expect(DeviceFilter.insn(0xb7, dst: 0, imm: 1) == 0x0000_0001_0000_00b7)
        #expect(DeviceFilter.insn(0x61, dst: 2, src: 1, off: 4) == 0x0000_0000_0004_1261)
        #expect(DeviceFilter.insn(0x55, dst: 4, off: 3, imm: 8) == 0x0000_0008_0003_0455)
        let p = DeviceFilter.program(for: [DeviceRule(.char, 1, 3, [.read])])
        // 6 loads, the rule (type, access: 3, major, minor, allow, exit), deny, exit.
        #expect(p.count == 6 + 8 + 2)
        // Each jump of the block skips to the instruction after the block's exit.
        let jumps = p[6..<12].filter { $0 & 0xff == 0x55 || $0 & 0xff == 0x5d }.map { Int16(truncatingIfNeeded: $0 >> 16) }
        #expect(jumps == [7, 4, 3, 2])
        #expect(p.suffix(2) == [DeviceFilter.insn(0xb7, dst: 0, imm: 0), DeviceFilter.insn(0x95)])
    }

    @Test func limitsFilledFromDefaultsAndEnvironment() throws {
        let d = try CgroupResources.defaults { _ in nil }
        #expect(d == CgroupResources(cpuShares: 512, memoryBytes: 512_000_000, pidsMax: 4096))
        let env = try CgroupResources.defaults { ["BOCKER_CPU_SHARE": "1024", "BOCKER_MEM_LIMIT": "256"][$0] }
        #expect(env.cpuShares == 1024 && env.memoryBytes == 256_000_000)
        #expect(throws: BockerError.self) { try CgroupResources.defaults { $0 == "BOCKER_CPU_SHARE" ? "lots" : nil } }
        #expect(throws: BockerError.self) { try CgroupResources.defaults { $0 == "BOCKER_MEM_LIMIT" ? "1" : nil } }
        let asked = CgroupResources(memoryBytes: 64 << 20)
        #expect(asked.controllersNeeded == ["memory"])
        let all = asked.filled(from: d)
        #expect(all == CgroupResources(cpuShares: 512, memoryBytes: 64 << 20, pidsMax: 4096))
        #expect(all.controllersNeeded == ["cpu", "memory", "pids"])
        #expect(all.dropping(["cpu", "pids"]) == asked)
        #expect(CgroupResources(pidsMax: 0).controllersNeeded.isEmpty, "no pids limit needs no controller")
    }

    @Test func deviceMappingsAreCheckedAgainstTheHost() throws {
        let null = try ContainerDevice.resolve(hostPath: "/dev/null", containerPath: "/dev/mynull", permissions: "rw")
        #expect(null.kind == .char && null.major == 1 && null.minor == 3)
        #expect(null.rule.description == "c 1:3 rw")
        var st = stat()
        #expect(stat("/dev/null", &st) == 0 && UInt64(st.st_rdev) == null.number)
        #expect(try ContainerDevice.resolve(hostPath: "/dev/zero", containerPath: nil, permissions: nil).containerPath == "/dev/zero")
        let refused: [(String, String?, String?)] = [
            ("/dev/no-such-device", nil, nil), ("/etc/hostname", nil, nil), ("/dev", nil, nil),
            ("/dev/null", "/etc/null", nil), ("/dev/null", "/dev/../etc/x", nil), ("/dev/null", "/dev/pts/9", nil),
            ("/dev/null", "/dev/x", "rwx"), ("dev/null", nil, nil),
        ]
        for (host, inside, perms) in refused {
            #expect(throws: BockerError.self, "\(host) \(inside ?? "") \(perms ?? "")") {
                try ContainerDevice.resolve(hostPath: host, containerPath: inside, permissions: perms)
            }
        }
    }

    /// The host's cgroup2 mount (/sys/fs/cgroup/unified on a hybrid host).
    static func cgroup2Mount() -> String? {
        guard let text = try? FS.readString("/proc/self/mountinfo") else { return nil }
        for line in text.split(separator: "\n") {
            let halves = line.split(separator: " - ")
            guard halves.count == 2, halves[1].hasPrefix("cgroup2 ") else { continue }
            return halves[0].split(separator: " ").dropFirst(4).first.map(String.init)
        }
        return nil
    }

    /// Runs `script` with /bin/sh after moving the shell into the cgroup `dir`; stdout+stderr.
    static func shell(in dir: String, _ script: String) -> String {
        let out = "/tmp/bocker-devfilter-\(getpid()).out"
        defer { unlink(out) }
        let cmd = "sh -c 'echo $$ > \(dir)/cgroup.procs && \(script)' > \(out) 2>&1"
        _ = system(cmd)
        return (try? FS.readString(out)) ?? ""
    }

    @Test func theKernelLoadsAttachesAndEnforcesTheProgram() throws {
        let root = try #require(DeviceFilterTests.cgroup2Mount(), "no cgroup2 mounted")
        let dir = root + "/bocker-devfilter-test-\(getpid())"
        #expect(mkdir(dir, 0o755) == 0)
        defer {
            // The shells have exited; the program goes with the directory.
            for _ in 0..<100 where rmdir(dir) != 0 && errno == EBUSY { usleep(20_000) }
            #expect(access(dir, F_OK) != 0, "\(dir) stayed")
        }
        // null and zero fully, full read-only; nothing else (random, urandom).
        try DeviceFilter.attach([DeviceRule(.char, 1, 3, .all), DeviceRule(.char, 1, 5, .all),
                                 DeviceRule(.char, 1, 7, [.read])], to: dir)
        #expect(DeviceFilter.attachedCount(dir) == 1)
        let ok = DeviceFilterTests.shell(in: dir, "head -c 2 /dev/zero | wc -c; echo x > /dev/null && echo null-ok; head -c 1 /dev/full | wc -c")
        #expect(ok.split(separator: "\n").map(String.init) == ["2", "null-ok", "1"], "\(ok)")
        let refused = DeviceFilterTests.shell(in: dir, "echo x > /dev/full; head -c 1 /dev/random; head -c 1 /dev/urandom")
        #expect(refused.ranges(of: "Operation not permitted").count == 3, "\(refused)")
        // Loading the default list, the allow-all rule and a --device rule works too.
        let second = root + "/bocker-devfilter-test-\(getpid())-2"
        #expect(mkdir(second, 0o755) == 0)
        defer { rmdir(second) }
        try DeviceFilter.attach(DeviceRule.defaults + [DeviceRule(.block, 8, nil, [.read]), DeviceRule.allowAll], to: second)
        try DeviceFilter.attach(DeviceRule.defaults, to: second)
        #expect(DeviceFilter.attachedCount(second) == 2)
        #expect(DeviceFilter.program(for: [DeviceRule.allowAll, DeviceRule(.char, 1, 3, .all)]).count == 6 + 2,
                "nothing after a rule that matches everything")
    }
}
