import Glibc
import Testing

/// The seccomp filter, attacked from inside: a static C probe (Tests/Probes/seccomp_probe.c)
/// reports its seccomp mode and what the kernel answered to refused and ordinary calls.
@Suite("seccomp")
struct SeccompTests {
    /// An image of the busybox rootfs plus /probe, built with `cc -static` for this test.
    static func probeImage(_ f: BockerFixture) throws -> String {
        let dir = f.tmp + "/probe-rootfs"
        let cp = runTool(["cp", "-a", f.rootfs, dir])
        guard cp.status == 0 else { throw FixtureError(description: "cp: \(cp)") }
        let source = BockerFixture.packageRoot + "/Tests/Probes/seccomp_probe.c"
        let cc = runTool(["cc", "-static", "-O1", "-o", dir + "/probe", source])
        guard cc.status == 0 else { throw FixtureError(description: "cc -static \(source): \(cc)") }
        return try f.initImage(dir)
    }

    /// The probe's NAME=RESULT lines.
    static func results(_ r: RunResult) -> [String: String] {
        var out: [String: String] = [:]
        for line in r.stdoutLines {
            guard let eq = line.firstIndex(of: "=") else { continue }
            out[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
        return out
    }

    /// What Docker's default profile gives a container with the default capabilities.
    static func expectDefaultProfile(_ r: RunResult, pid1Filtered: Bool = true,
                                     sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(r.status == 0, "\(r)", sourceLocation: sourceLocation)
        let got = results(r)
        var want: [String: String] = [
            "seccomp": "2",
            "getpid": "ok", "open": "ok", "read": "ok", "fork": "ok", "personality_query": "ok",
            "keyctl": "EPERM", "add_key": "EPERM", "request_key": "EPERM", "mount": "EPERM", "bpf": "EPERM",
            "perf_event_open": "EPERM", "io_uring_setup": "EPERM", "personality_bsd": "EPERM",
            "clone3": "ENOSYS", "clone_newuts": "EPERM", "setns": "EPERM", "unshare_user": "EPERM",
        ]
        if pid1Filtered { want["pid1_seccomp"] = "2" }
        for (k, v) in want.sorted(by: { $0.key < $1.key }) {
            #expect(got[k] == v, "\(k): expected \(v), got \(got[k] ?? "nothing") in \(r)", sourceLocation: sourceLocation)
        }
    }

    @Test("run: Docker's default profile refuses keyrings, namespaces, mount, bpf, perf and io_uring; ordinary calls work")
    func defaultProfileRun() throws {
        try BockerFixture.with { f in
            let img = try SeccompTests.probeImage(f)
            SeccompTests.expectDefaultProfile(f.run(["run", "--rm", "--network", "none", img, "/probe"]))
            // Under --init: the command and the init (PID 1) are both filtered.
            SeccompTests.expectDefaultProfile(f.run(["run", "--rm", "--network", "none", "--init", img, "/probe"]))
            let withInit = f.run(["run", "--rm", "--network", "none", "--init", img, "sh", "-c", "cat /proc/1/comm; grep Seccomp: /proc/1/status"])
            #expect(withInit.stdoutLines.first == "bocker-init", "\(withInit)")
            #expect(withInit.stdoutLines.last.map(fields) == ["Seccomp:", "2"], "\(withInit)")
        }
    }

    @Test("exec: commands joining a running container are filtered the same way")
    func defaultProfileExec() throws {
        try BockerFixture.with { f in
            let img = try SeccompTests.probeImage(f)
            let (p, id) = try f.startWaiting(image: img, options: ["--network", "none"])
            let r = f.run(["exec", id, "/probe"])
            // PID 1 here is the container's own sh: filtered too.
            SeccompTests.expectDefaultProfile(r)
            _ = p.finish(timeout: 30)   // closes its stdin: `read` ends the container
            _ = f.run(["rm", id])
            f.expectNothingLeftBehind(removed: [id])
        }
    }
}
