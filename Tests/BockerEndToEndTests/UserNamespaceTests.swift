import Glibc
import Testing

/// `--userns=auto`: the container's root is an unused range of host ids from a subid file (a
/// test-only one, named by BOCKER_SUBUID_FILE/BOCKER_SUBGID_FILE: the host's /etc/subuid is
/// never touched), leased under the store lock and freed by rm or by repair.
@Suite("user namespaces")
struct UserNamespaceTests {
    /// Two ranges of 65,536 ids for `bocker` (uids and gids differ, to tell them apart).
    static let uidBase: UInt32 = 3_000_000_000
    static let gidBase: UInt32 = 3_100_000_000

    /// The environment for a subid file with `ranges` ranges (0: no bocker entry at all).
    func subids(_ f: BockerFixture, ranges: Int = 2) throws -> [String: String] {
        let n = ranges * 65536
        let uid = ranges == 0 ? "someone:100000:65536\n" : "someone:100000:65536\nbocker:\(Self.uidBase):\(n)\n"
        let gid = ranges == 0 ? "someone:100000:65536\n" : "bocker:\(Self.gidBase):\(n)\n"
        return ["BOCKER_SUBUID_FILE": try f.writeFile("subuid", uid), "BOCKER_SUBGID_FILE": try f.writeFile("subgid", gid)]
    }

    /// "0 BASE 65536" from a uid_map/gid_map text: BASE.
    func base(_ map: String) -> UInt32? {
        let f = fields(map.split(separator: "\n").first.map(String.init) ?? "")
        guard f.count == 3, f[0] == "0", f[2] == "65536" else { return nil }
        return UInt32(f[1])
    }

    func leases(_ f: BockerFixture) -> [String] { Host.listDirectory(f.root + "/userns").sorted() }

    @Test("root inside maps to the range; files it makes in a volume belong to that host id", arguments: allDrivers)
    func mapsAndVolume(driver: String) throws {
        try LifecycleFixture.with(driver: driver) { f in
            let env = try subids(f)
            let img = try f.initImage()
            let (r, id) = f.runNew(["run", "--userns=auto", "-v", "data:/data", img, "sh", "-c",
                                    "cat /proc/self/uid_map /proc/self/gid_map; id -u; echo hi > /data/made; echo x > /own; stat -c %u /etc/passwd /own"],
                                   env: env)
            #expect(r.status == 0, "\(r)")
            let lines = r.stdoutLines
            #expect(lines.count == 5, "\(r)")
            #expect(base(lines.first ?? "") == Self.uidBase, "uid_map: \(r)")
            #expect(base(lines.dropFirst().first ?? "") == Self.gidBase, "gid_map: \(r)")
            // Inside it is root, and the image's files (never chowned) look like its own.
            #expect(Array(lines.dropFirst(2)) == ["0", "0", "0"], "\(r)")
            var st = stat()
            #expect(stat(f.root + "/volumes/data/_data/made", &st) == 0)
            #expect(st.st_uid == Self.uidBase && st.st_gid == Self.gidBase, "volume file owned by \(st.st_uid):\(st.st_gid)")
            // The image on disk is unchanged: still root's.
            let layers = Host.listDirectory(f.root + "/layers")
            #expect(!layers.isEmpty)
            for l in layers {
                if stat(f.root + "/layers/\(l)/fs/etc/passwd", &st) == 0 { #expect(st.st_uid == 0, "layer \(l) was chowned") }
            }
            let cid = try #require(id)
            let obj = try f.inspectOne(cid)
            #expect(lcString(obj, "HostConfig", "UsernsMode") == "auto", "\(obj)")
            #expect(lcString(obj, "HostConfig", "IDMapping", "UidMap") == "0 \(Self.uidBase) 65536", "\(obj)")
            #expect(leases(f) == ["gid-\(Self.gidBase)", "uid-\(Self.uidBase)"])
            let rm = f.run(["rm", cid])
            #expect(rm.status == 0, "\(rm)")
            #expect(leases(f).isEmpty, "leases left after rm: \(leases(f))")
            f.expectLifecycleClean(removed: [cid])
        }
    }

    @Test("--userns=host (the default) keeps the host's ids")
    func hostMode() throws {
        try BockerFixture.with { f in
            let env = try subids(f)
            let img = try f.initImage()
            for opts in [["--userns=host"], []] {
                let r = f.run(["run", "--rm"] + opts + [img, "cat", "/proc/self/uid_map"], env: env)
                #expect(r.status == 0, "\(r)")
                #expect(fields(r.stdoutLines.first ?? "") == ["0", "0", "4294967295"], "\(opts): \(r)")
            }
            #expect(leases(f).isEmpty)
        }
    }

    /// The attack: a host file only root may read and write, bind-mounted read-write. Host
    /// mode's root reads and changes it (so the probe works); the userns root cannot.
    @Test("the container's root is nobody to host files: a bind-mounted root-only file is refused")
    func hostRootFilesRefused() throws {
        try BockerFixture.with { f in
            let env = try subids(f)
            let img = try f.initImage()
            let secret = try f.writeFile("secret", "host secret\n")
            chmod(secret, 0o600)
            let probe = "cat /s && echo READ; echo pwned >> /s && echo WROTE; mknod /blk b 8 0 && echo MKNOD; true"
            let host = f.run(["run", "--rm", "-v", secret + ":/s", img, "sh", "-c", probe], env: env)
            #expect(host.stdout.contains("READ") && host.stdout.contains("WROTE") && host.stdout.contains("MKNOD"),
                    "the probe must work without a user namespace: \(host)")
            try Host.writeFile(secret, "host secret\n", mode: 0o600)

            let r = f.run(["run", "--rm", "--userns=auto", "-v", secret + ":/s", img, "sh", "-c", probe], env: env)
            #expect(r.status == 0, "\(r)")
            #expect(!r.stdout.contains("host secret") && !r.stdout.contains("READ"), "read a root-only host file: \(r)")
            #expect(!r.stdout.contains("WROTE"), "wrote a root-only host file: \(r)")
            #expect(!r.stdout.contains("MKNOD"), "made a device node: \(r)")
            #expect(r.stderr.contains("Permission denied") || r.stderr.contains("Operation not permitted"), "\(r)")
            #expect(Host.readFile(secret) == "host secret\n")
        }
    }

    @Test("two containers at once get disjoint ranges; exec joins the container's namespace")
    func concurrentDisjoint() throws {
        try LifecycleFixture.with { f in
            let env = try subids(f)
            let img = try f.initImage()
            let (p1, a) = try f.startWaiting(image: img, options: ["--userns=auto"], env: env)
            let (p2, b) = try f.startWaiting(image: img, options: ["--userns=auto"], env: env)
            let ea = f.run(["exec", a, "cat", "/proc/self/uid_map"], env: env)
            let eb = f.run(["exec", b, "sh", "-c", "cat /proc/self/uid_map; id -u"], env: env)
            #expect(ea.status == 0 && eb.status == 0, "\(ea) \(eb)")
            let ba = try #require(base(ea.stdout), "\(ea)")
            let bb = try #require(base(eb.stdout), "\(eb)")
            #expect(Set([ba, bb]) == [Self.uidBase, Self.uidBase + 65536], "ranges \(ba) and \(bb)")
            #expect(eb.stdoutLines.last == "0", "\(eb)")
            // Both ranges are leased: a third container finds none free.
            let third = f.run(["run", "--rm", "--userns=auto", img, "true"], env: env)
            #expect(third.status == 125, "\(third)")
            #expect(third.stderr.contains("no free user namespace range"), "\(third)")
            p1.write("\n"); p2.write("\n")
            #expect(p1.finish(timeout: 30).status == 0)
            #expect(p2.finish(timeout: 30).status == 0)
        }
    }

    @Test("rm frees the range and the next container reuses it")
    func freedOnRm() throws {
        try LifecycleFixture.with { f in
            let env = try subids(f, ranges: 1)
            let img = try f.initImage()
            let (r1, id1) = f.runNew(["run", "--userns=auto", img, "cat", "/proc/self/uid_map"], env: env)
            #expect(r1.status == 0 && base(r1.stdout) == Self.uidBase, "\(r1)")
            let cid = try #require(id1)
            // Exited but not removed: the range stays its own.
            let busy = f.run(["run", "--rm", "--userns=auto", img, "true"], env: env)
            #expect(busy.status == 125 && busy.stderr.contains("no free user namespace range"), "\(busy)")
            #expect(f.run(["rm", cid]).status == 0)
            let r2 = f.run(["run", "--rm", "--userns=auto", img, "cat", "/proc/self/uid_map"], env: env)
            #expect(r2.status == 0 && base(r2.stdout) == Self.uidBase, "\(r2)")
            #expect(leases(f).isEmpty, "\(leases(f))")
        }
    }

    @Test("killed between leasing the range and writing the record: the next bocker frees it")
    func killedAfterLease() throws {
        try BockerFixture.with { f in
            let env = try subids(f, ranges: 1)
            let img = try f.initImage()
            var crash = env
            crash["BOCKER_FAULT"] = "create.userns"
            let r = f.run(["run", "--userns=auto", img, "true"], env: crash)
            #expect(r.status == 128 + SIGKILL, "\(r)")
            #expect(leases(f) == ["gid-\(Self.gidBase)", "uid-\(Self.uidBase)"], "the crash point is after the lease")
            let ps = f.run(["ps", "-aq"], env: env)
            #expect(ps.status == 0 && ps.stdout.isEmpty, "\(ps)")
            #expect(leases(f).isEmpty, "repair left leases: \(leases(f))")
            let again = f.run(["run", "--rm", "--userns=auto", img, "cat", "/proc/self/uid_map"], env: env)
            #expect(again.status == 0 && base(again.stdout) == Self.uidBase, "\(again)")
        }
    }

    @Test("a bad --userns, no subordinate ids, or --device with auto: one line, exit 125, nothing made")
    func badInput() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let before = f.storeListing()
            let bad = f.run(["run", "--userns=foo", img, "true"], env: try subids(f))
            #expect(bad.status == 125, "\(bad)")
            #expect(bad.stderr == "invalid --userns 'foo': use host or auto\n", "\(bad)")
            let none = f.run(["run", "--userns", "auto", img, "true"], env: try subids(f, ranges: 0))
            #expect(none.status == 125, "\(none)")
            #expect(splitLines(none.stderr).count == 1 && none.stderr.contains("subordinate uids for 'bocker'"), "\(none)")
            let dev = f.run(["run", "--userns=auto", "--device", "/dev/null:/dev/extra", img, "true"], env: try subids(f))
            #expect(dev.status == 125 && dev.stderr == "--device cannot be combined with --userns=auto (a user namespace cannot make device nodes)\n", "\(dev)")
            #expect(f.storeListing() == before, "a refused run changed the store")
        }
    }

    @Test("--read-only and --cap-drop ALL still apply in a user namespace; --network none gets its own /sys")
    func withSecurityFlags() throws {
        try BockerFixture.with { f in
            let env = try subids(f)
            let img = try f.initImage()
            let ro = f.run(["run", "--rm", "--userns=auto", "--read-only", img, "sh", "-c", "touch /x && echo WROTE; true"], env: env)
            #expect(ro.status == 0 && !ro.stdout.contains("WROTE") && ro.stderr.contains("Read-only file system"), "\(ro)")
            let caps = f.run(["run", "--rm", "--userns=auto", "--cap-drop", "ALL", img, "grep", "CapEff", "/proc/self/status"], env: env)
            #expect(caps.status == 0 && fields(caps.stdoutLines.first ?? "").last == "0000000000000000", "\(caps)")
            let none = f.run(["run", "--rm", "--userns=auto", "--network", "none", img, "sh", "-c",
                              "ls /sys/class/net; echo 1 > /sys/kernel/profiling && echo WROTE; true"], env: env)
            #expect(none.status == 0 && none.stdoutLines == ["lo"], "\(none)")
        }
    }

    @Test("commit of an overlay container with --userns=auto stores 0-based ids")
    func commitUnshifts() throws {
        try LifecycleFixture.with { f in
            let env = try subids(f)
            let img = try f.initImage()
            let (r, id) = f.runNew(["run", "--userns=auto", img, "sh", "-c",
                                    "echo a > /mine; echo b > /his; chown 1000:1001 /his; chmod 4755 /his"], env: env)
            #expect(r.status == 0, "\(r)")
            let cid = try #require(id)
            let c = f.run(["commit", cid, "userns-commit"], env: env)
            #expect(c.status == 0, "\(c)")
            let check = f.run(["run", "--rm", "userns-commit", "stat", "-c", "%u:%g %a", "/mine", "/his"], env: env)
            #expect(check.stdoutLines == ["0:0 644", "1000:1001 4755"], "\(check)")
        }
    }

    @Test("Lua: container.create{userns = \"auto\"}")
    func luaOption() throws {
        try LifecycleFixture.with { f in
            let env = try subids(f)
            let img = try f.initImage()
            let path = try f.writeFile("userns.lua", """
                local c = bocker.container.create{ image = "\(img)", cmd = {"cat", "/proc/self/uid_map"}, userns = "auto" }
                print(c:inspect().HostConfig.UsernsMode)
                local ok, err = pcall(bocker.container.create, { image = "\(img)", cmd = {"true"}, userns = "bad" })
                print(ok, err.code)

                """)
            let r = f.run(["script", path], env: env)
            #expect(r.status == 0, "\(r)")
            #expect(r.stdoutLines == ["auto", "false\tinvalid_argument"], "\(r)")
        }
    }
}
