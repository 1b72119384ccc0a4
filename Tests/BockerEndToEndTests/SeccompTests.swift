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

    @Test("seccomp=unconfined (and --privileged): no filter, the refused calls reach the kernel; exec too")
    func unconfined() throws {
        try BockerFixture.with { f in
            let img = try SeccompTests.probeImage(f)
            let r = f.run(["run", "--rm", "--network", "none", "--security-opt", "seccomp=unconfined", img, "/probe"])
            #expect(r.status == 0, "\(r)")
            let got = SeccompTests.results(r)
            #expect(got["seccomp"] == "0", "\(r)")
            // The kernel answers now: a user namespace needs no capability, clone3 exists.
            #expect(got["unshare_user"] == "ok", "\(r)")
            #expect(got["clone3"] != "ENOSYS" && got["clone3"] != nil, "\(r)")
            #expect(got["personality_bsd"] == "ok", "\(r)")

            let (p, id) = try f.startWaiting(image: img, options: ["--network", "none", "--security-opt", "seccomp=unconfined"])
            let e = SeccompTests.results(f.run(["exec", id, "/probe"]))
            #expect(e["seccomp"] == "0" && e["unshare_user"] == "ok", "\(e)")
            _ = p.finish(timeout: 30)
            _ = f.run(["rm", id])

            let priv = SeccompTests.results(f.run(["run", "--rm", "--network", "none", "--privileged", img, "/probe"]))
            #expect(priv["seccomp"] == "0", "\(priv)")
        }
    }

    @Test("the profile follows the capabilities: --cap-add SYS_ADMIN allows namespaces, and clone3")
    func capabilityConditioned() throws {
        try BockerFixture.with { f in
            let img = try SeccompTests.probeImage(f)
            let r = f.run(["run", "--rm", "--network", "none", "--cap-add", "SYS_ADMIN", img, "/probe"])
            let got = SeccompTests.results(r)
            #expect(got["seccomp"] == "2", "\(r)")
            #expect(got["unshare_user"] == "ok", "\(r)")
            #expect(got["clone_newuts"] == "ok", "\(r)")
            #expect(got["clone3"] != "ENOSYS", "\(r)")
            #expect(got["keyctl"] == "EPERM", "no capability allows the keyring: \(r)")
        }
    }

    @Test("no-new-privileges=false: the filter is still loaded (before the capabilities go), for root and -u")
    func withoutNoNewPrivs() throws {
        try BockerFixture.with { f in
            let img = try SeccompTests.probeImage(f)
            for user in [[], ["-u", "1000:1000"]] {
                let r = f.run(["run", "--rm", "--network", "none", "--security-opt", "no-new-privileges=false"] + user + [img, "/probe"])
                let got = SeccompTests.results(r)
                #expect(got["no_new_privs"] == "0", "\(user): \(r)")
                #expect(got["seccomp"] == "2", "\(user): \(r)")
                #expect(got["uid"] == (user.isEmpty ? "0" : "1000"), "\(user): \(r)")
                #expect(got["keyctl"] == "EPERM" && got["unshare_user"] == "EPERM" && got["clone3"] == "ENOSYS", "\(user): \(r)")
            }
            let (p, id) = try f.startWaiting(image: img, options: ["--network", "none", "--security-opt", "no-new-privileges=false"])
            let e = SeccompTests.results(f.run(["exec", id, "/probe"]))
            #expect(e["seccomp"] == "2" && e["no_new_privs"] == "0" && e["add_key"] == "EPERM", "\(e)")
            _ = p.finish(timeout: 30)
            _ = f.run(["rm", id])
        }
    }

    @Test("a custom JSON profile is honoured: mkdir refused with EACCES, the rest allowed; exec uses it too")
    func customProfile() throws {
        try BockerFixture.with { f in
            let img = try SeccompTests.probeImage(f)
            let path = try f.writeFile("deny-mkdir.json", """
                {"defaultAction": "SCMP_ACT_ALLOW",
                 "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}
                """)
            let r = f.run(["run", "--rm", "--network", "none", "--security-opt", "seccomp=" + path, img, "/probe"])
            let got = SeccompTests.results(r)
            #expect(got["seccomp"] == "2", "\(r)")
            #expect(got["keyctl"] != "EPERM" || got["unshare_user"] == "ok", "the default profile is not applied: \(r)")
            let m = SeccompTests.results(f.run(["run", "--rm", "--network", "none", "--security-opt", "seccomp=" + path, img, "/probe", "mkdir"]))
            #expect(m["mkdir"] == "EACCES", "\(m)")
            // Without the profile the same mkdir works.
            let plain = SeccompTests.results(f.run(["run", "--rm", "--network", "none", img, "/probe", "mkdir"]))
            #expect(plain["mkdir"] == "ok", "\(plain)")

            let (p, id) = try f.startWaiting(image: img, options: ["--network", "none", "--security-opt", "seccomp=" + path])
            let e = SeccompTests.results(f.run(["exec", id, "/probe", "mkdir"]))
            #expect(e["mkdir"] == "EACCES", "\(e)")
            _ = p.finish(timeout: 30)
            _ = f.run(["rm", id])
        }
    }

    @Test("a malformed profile is refused with one line naming the file; no container is made")
    func badProfile() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let cases: [(String, String)] = [
                ("not-json.json", "{\"defaultAction\": "),
                ("bad-action.json", #"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_MAYBE"}]}"#),
                ("bad-op.json", #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ABOUT"}]}]}"#),
            ]
            let before = f.storeListing()
            for (name, text) in cases {
                let path = try f.writeFile(name, text)
                let r = f.run(["run", "--security-opt", "seccomp=" + path, img, "true"])
                #expect(r.status == 125, "\(name): \(r)")
                #expect(r.stderr.contains("seccomp profile \"\(path)\""), "\(name): \(r)")
                #expect(r.stderr.split(separator: "\n").count == 1, "\(name): \(r)")
            }
            #expect(f.run(["ps", "-a", "-q"]).stdout.isEmpty)
            #expect(f.storeListing() == before, "the store changed")
        }
    }
}
