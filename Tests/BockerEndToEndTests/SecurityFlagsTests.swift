import Glibc
import Testing

/// `--cap-add`, `--cap-drop`, `--read-only`, `--privileged` and `--security-opt`, each checked
/// from inside the container by trying what it should (not) allow.
@Suite("run's security flags")
struct SecurityFlagsTests {
    /// The value of a `Name:\tvalue` line of /proc/self/status in `text`.
    func statusField(_ text: String, _ name: String) -> String? {
        text.split(separator: "\n").first { $0.hasPrefix(name + ":") }
            .map { String($0.dropFirst(name.count + 1).drop { $0 == " " || $0 == "\t" }) }
    }

    @Test("--cap-drop ALL leaves no effective capability: chown and mknod fail as root")
    func capDropAll() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let r = f.run(["run", "--cap-drop", "ALL", img, "sh", "-c",
                           "cat /proc/self/status; touch /f; chown 1:1 /f && echo chown-worked; mknod /n c 1 3 && echo mknod-worked; echo end"])
            #expect(r.status == 0, "\(r)")
            #expect(statusField(r.stdout, "CapEff") == "0000000000000000", "\(r)")
            #expect(statusField(r.stdout, "CapBnd") == "0000000000000000", "\(r)")
            #expect(!r.stdout.contains("chown-worked"), "\(r)")
            #expect(!r.stdout.contains("mknod-worked"), "\(r)")
            #expect(r.stdout.hasSuffix("end\n"), "\(r)")
            // The default keeps CAP_CHOWN: the same chown works (the check above can fail).
            let d = f.run(["run", img, "sh", "-c", "touch /f; chown 1:1 /f && echo chown-worked"])
            #expect(d.stdout == "chown-worked\n", "\(d)")
        }
    }

    @Test("--cap-add adds exactly that capability; --cap-drop removes one of the defaults")
    func capAddDrop() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let dflt = f.run(["run", img, "grep", "CapEff", "/proc/self/status"])
            #expect(statusField(dflt.stdout, "CapEff") == "00000000a80425fb", "\(dflt)")
            // NET_ADMIN is 12, CHOWN is 0.
            let r = f.run(["run", "--cap-add", "NET_ADMIN", "--cap-drop=chown", img, "grep", "CapEff", "/proc/self/status"])
            #expect(r.status == 0, "\(r)")
            #expect(statusField(r.stdout, "CapEff") == hex16((UInt64(0xa80425fb) | (1 << 12)) & ~UInt64(1)), "\(r)")
            // With NET_ADMIN the container may change its own network (it could not before).
            let before = f.run(["run", "--network", "none", img, "ip", "link", "set", "lo", "mtu", "1280"])
            #expect(before.status != 0, "\(before)")
            let after = f.run(["run", "--network", "none", "--cap-add", "CAP_NET_ADMIN", img, "ip", "link", "set", "lo", "mtu", "1280"])
            #expect(after.status == 0, "\(after)")
        }
    }

    @Test("--read-only refuses writes to / but not to --tmpfs mounts, /dev/shm or volumes")
    func readOnly() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let r = f.run(["run", "--read-only", "--tmpfs", "/tmp", "-v", "data:/data", img, "sh", "-c",
                           "echo x > /root/x && echo root-written; echo y > /tmp/y && echo tmp-ok; echo z > /dev/shm/z && echo shm-ok; echo v > /data/v && echo volume-ok"])
            #expect(r.status == 0, "\(r)")
            #expect(!r.stdout.contains("root-written"), "\(r)")
            #expect(r.stderr.contains("Read-only file system"), "\(r)")
            #expect(r.stdout == "tmp-ok\nshm-ok\nvolume-ok\n", "\(r)")
            // Without the flag the same write works.
            let w = f.run(["run", img, "sh", "-c", "echo x > /root/x && echo root-written"])
            #expect(w.stdout == "root-written\n", "\(w)")
        }
    }

    @Test("--privileged: every capability, a writable /sys, nothing masked")
    func privileged() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let r = f.run(["run", "--privileged", img, "sh", "-c",
                           "grep CapEff /proc/self/status; grep ' /sys ' /proc/mounts; grep -c . /proc/timer_list >/dev/null && echo timer-list-readable"])
            #expect(r.status == 0, "\(r)")
            // Every capability bocker itself has (this test runs with bocker's bounding set).
            let mine = statusField(String(decoding: try FS_read("/proc/self/status"), as: UTF8.self), "CapBnd")
            #expect(mine != nil && statusField(r.stdout, "CapEff") == mine, "\(r)")
            let sysLine = try #require(r.stdoutLines.first { $0.contains(" /sys ") }, "\(r)")
            #expect(sysLine.split(separator: " ")[3].split(separator: ",").first == "rw", "\(r)")
            #expect(r.stdout.contains("timer-list-readable"), "\(r)")
            // Unprivileged: /sys read-only, /proc/timer_list masked (empty).
            let u = f.run(["run", img, "sh", "-c", "grep ' /sys ' /proc/mounts; grep -c . /proc/timer_list >/dev/null && echo timer-list-readable"])
            #expect(u.stdoutLines.first?.split(separator: " ")[3].split(separator: ",").first == "ro", "\(u)")
            #expect(!u.stdout.contains("timer-list-readable"), "\(u)")
        }
    }

    @Test("no-new-privileges is on by default and --security-opt no-new-privileges=false turns it off")
    func noNewPrivileges() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let on = f.run(["run", "--security-opt", "no-new-privileges", img, "grep", "NoNewPrivs", "/proc/self/status"])
            #expect(statusField(on.stdout, "NoNewPrivs") == "1", "\(on)")
            let off = f.run(["run", "--security-opt", "no-new-privileges=false", img, "grep", "NoNewPrivs", "/proc/self/status"])
            #expect(off.status == 0, "\(off)")
            #expect(statusField(off.stdout, "NoNewPrivs") == "0", "\(off)")
        }
    }

    @Test("inspect shows the security settings; exec keeps the container's capabilities")
    func inspectAndExec() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let (d, id) = f.runNew(["run", "-d", "--cap-drop", "ALL", "--cap-add", "KILL", "--read-only", img, "sleep", "60"])
            #expect(d.status == 0, "\(d)")
            let cid = try #require(id)
            let i = f.run(["inspect", cid])
            #expect(i.stdout.contains("\"CapDrop\": [\n") || i.stdout.contains("\"CapDrop\":["), "\(i)")
            #expect(i.stdout.contains("\"ALL\""), "\(i)")
            #expect(i.stdout.contains("\"KILL\""), "\(i)")
            #expect(i.stdout.contains("\"ReadonlyRootfs\": true") || i.stdout.contains("\"ReadonlyRootfs\":true"), "\(i)")
            let e = f.run(["exec", cid, "grep", "CapEff", "/proc/self/status"])
            #expect(statusField(e.stdout, "CapEff") == "0000000000000020", "\(e)")   // KILL is 5
            _ = f.run(["rm", "-f", cid])
        }
    }

    @Test("bad security flags: one line, exit 125, no container made")
    func badFlags() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let cases: [([String], String)] = [
                (["--cap-add", "FLY"], "unknown capability"),
                (["--cap-drop", ""], "unknown capability"),
                (["--security-opt", "bogus=1"], "--security-opt 'bogus=1'"),
                (["--security-opt", "no-new-privileges=maybe"], "no-new-privileges"),
                (["--security-opt", "apparmor=docker-default"], "not supported"),
                (["--security-opt", "seccomp=/nonexistent/profile.json"], "/nonexistent/profile.json"),
                (["--device", "/dev/null:/dev/x:rwz"], "permissions"),
                (["--device", "relative"], "absolute"),
                (["--userns", "sideways"], "--userns 'sideways'"),
            ]
            for (flags, needle) in cases {
                let r = f.run(["run"] + flags + [img, "true"])
                #expect(r.status == 125, "\(flags): \(r)")
                #expect(r.stderr.contains(needle), "\(flags): \(r)")
                #expect(r.stderr.split(separator: "\n").count == 1, "\(flags): \(r)")
            }
            let ps = f.run(["ps", "-a", "-q"])
            #expect(ps.stdout.isEmpty, "\(ps)")
        }
    }
}

/// v as 16 lowercase hex digits, as /proc/self/status shows capability sets.
func hex16(_ v: UInt64) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: max(0, 16 - s.count)) + s
}

/// The bytes of a host file (tests only).
func FS_read(_ path: String) throws -> [UInt8] {
    guard let fp = fopen(path, "r") else { throw FixtureError(description: "cannot open \(path)") }
    defer { fclose(fp) }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = fread(&buf, 1, buf.count, fp)
        if n <= 0 { break }
        out += buf[0..<n]
    }
    return out
}
