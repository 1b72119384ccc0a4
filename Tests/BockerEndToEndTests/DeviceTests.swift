import Glibc
import Testing

/// A disk of the host that root can read: a loop device over a 1 MB file starting with
/// "SECRETDISK". (This machine does not let even root open its real disks, so an attack on
/// /dev/vda would be refused whatever bocker did; the loop device makes the attack real.)
/// Detached when `body` returns or throws.
func withLoopDisk(_ f: BockerFixture, _ body: (_ path: String, _ major: Int, _ minor: Int) throws -> Void) throws {
    let file = f.tmp + "/secret-disk.img"
    let made = runTool(["sh", "-c", "printf SECRETDISK > '\(file)' && truncate -s 1M '\(file)'"])
    guard made.status == 0 else { throw FixtureError(description: "cannot make \(file): \(made)") }
    let l = runTool(["losetup", "-f", "--show", file])
    guard l.status == 0, let dev = l.stdoutLines.first.map(trimmed), dev.hasPrefix("/dev/loop") else {
        throw FixtureError(description: "losetup -f --show \(file) failed: \(l)")
    }
    defer { runTool(["losetup", "-d", dev]) }
    var st = stat()
    guard stat(dev, &st) == 0 else { throw FixtureError(description: "cannot stat \(dev)") }
    let rdev = UInt64(st.st_rdev)
    let major = Int((rdev >> 8) & 0xfff | (rdev >> 32) & ~0xfff), minor = Int(rdev & 0xff | (rdev >> 12) & ~0xff)
    // The host reads it: the attack below fails only because of the container's confinement.
    let host = runTool(["head", "-c", "10", dev])
    guard host.stdout == "SECRETDISK" else { throw FixtureError(description: "the host cannot read \(dev): \(host)") }
    try body(dev, major, minor)
}

/// The host's cgroup2 mount (on a v1 "hybrid" host /sys/fs/cgroup/unified): the same hierarchy
/// a private `mount -t cgroup2` shows, so cgroups made there are seen (and removed) from here.
func hostCgroup2Mount() -> String? {
    Host.mounts().first { $0.fsType == "cgroup2" }?.mountPoint
}

extension BockerFixture {
    /// From here on, every bocker of this fixture runs in a private mount namespace where
    /// cgroup2 is mounted at /sys/fs/cgroup and nothing else: a cgroup v2 host as bocker sees
    /// it (on this machine one whose controllers are all held by v1: cgroup.controllers lists
    /// none of cpu, memory and pids).
    func useCgroup2Only() {
        commandPrefix += ["unshare", "-m", "--propagation", "private", "sh", "-c",
                          "umount -R /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup && exec \"$@\"", "sh"]
    }
}

/// Device control: the allow-list (v1 devices cgroup, v2 BPF device program), nodev on the
/// root and volumes, and limits on a cgroup v2 host whose controllers are missing.
@Suite("devices and cgroup v2", .serialized)
struct DeviceTests {
    @Test("nodev: a device node made on the root filesystem or in a volume cannot be opened")
    func nodev() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            // 1:3 is /dev/null, allowed by the device cgroup: only nodev can refuse these.
            let root = f.run(["run", "--rm", img, "sh", "-c", "mknod /tmp/null c 1 3 && echo x > /tmp/null && echo opened"])
            #expect(!root.stdout.contains("opened"), "a node on the root filesystem opened: \(root)")
            #expect(root.stderr.contains("Permission denied"), "\(root)")
            let vol = f.run(["run", "--rm", "-v", "devvol:/data", img, "sh", "-c", "mknod /data/null c 1 3 && echo x > /data/null && echo opened"])
            #expect(!vol.stdout.contains("opened"), "a node in a volume opened: \(vol)")
            #expect(vol.stderr.contains("Permission denied"), "\(vol)")
            let bindDir = f.tmp + "/bind"
            try Host.makeDirectory(bindDir)
            let bind = f.run(["run", "--rm", "-v", bindDir + ":/b", img, "sh", "-c", "mknod /b/null c 1 3 && echo x > /b/null && echo opened"])
            #expect(!bind.stdout.contains("opened"), "a node in a bind mount opened: \(bind)")
            // The mounts say so; /dev (bocker's own tmpfs) does not, and its nodes work.
            let m = f.run(["run", "--rm", "-v", "devvol:/data", img, "sh", "-c",
                           "awk '$2 == \"/\" || $2 == \"/data\" || $2 == \"/dev\" { print $2, $4 }' /proc/mounts; echo x > /dev/null && echo null-ok"])
            let opts = Dictionary(m.stdoutLines.compactMap { l -> (String, String)? in
                let p = fields(l); return p.count == 2 ? (p[0], p[1]) : nil }, uniquingKeysWith: { a, _ in a })
            #expect(opts["/"].map { $0.split(separator: ",").contains("nodev") } == true, "\(m)")
            #expect(opts["/data"].map { $0.split(separator: ",").contains("nodev") } == true, "\(m)")
            #expect(opts["/dev"].map { !$0.split(separator: ",").contains("nodev") } == true, "\(m)")
            #expect(m.stdout.contains("null-ok"), "\(m)")
            f.expectNothingLeftBehind(removed: [])
        }
    }

    @Test("cgroup v2: bocker runs without controllers (one warning), the device program refuses the host's disk")
    func v2Devices() throws {
        let cg2 = try #require(hostCgroup2Mount(), "no cgroup2 mounted on this host")
        try BockerFixture.with { f in try withLoopDisk(f) { disk, major, minor in
            let img = try f.initImage()
            f.useCgroup2Only()
            defer { removeCgroups(f, under: cg2) }
            let (r, id) = f.runNew(["run", img, "sh", "-c",
                """
                cat /proc/self/cgroup
                mknod /dev/hd b \(major) \(minor) && echo made
                head -c 10 /dev/hd
                echo x > /dev/null && echo null-ok
                head -c 4 /dev/zero | wc -c; head -c 4 /dev/urandom | wc -c
                mknod /dev/mem2 c 1 1 && head -c 1 /dev/mem2 | wc -c
                """])
            let cid = try #require(id, "\(r)")
            #expect(r.status == 0, "\(r)")
            #expect(r.stdout.contains("0::/bocker/\(cid)\n"), "not in its v2 cgroup: \(r)")
            // Creating a node is allowed (Docker's "b *:* m"); opening it is not.
            #expect(r.stdoutLines.contains("made"), "\(r)")
            #expect(r.stderr.contains("/dev/hd: Operation not permitted"), "the host disk \(disk) opened: \(r)")
            #expect(!r.stdout.contains("SECRETDISK"), "read the host disk \(disk): \(r)")
            #expect(r.stderr.contains("/dev/mem2: Operation not permitted"), "/dev/mem opened: \(r)")
            #expect(r.stdoutLines.contains("null-ok"), "\(r)")
            #expect(r.stdoutLines.filter { $0 == "4" }.count == 2, "/dev/zero or /dev/urandom failed: \(r)")
            // Exactly one warning line, for the missing controllers.
            let offered = Host.readFile(cg2 + "/cgroup.controllers") ?? ""
            if !offered.contains("memory") {
                let warnings = r.stderrLines.filter { $0.hasPrefix("WARNING:") }
                #expect(warnings.count == 1 && warnings[0].contains("memory"), "\(r)")
            }
            #expect(Host.isDirectory(cg2 + "/bocker/" + cid), "no v2 cgroup for \(cid)")
            let rm = f.run(["rm", cid])
            #expect(rm.status == 0, "\(rm)")
            #expect(!Host.exists(cg2 + "/bocker/" + cid), "the v2 cgroup of \(cid) stayed after rm")
            f.expectNothingLeftBehind(removed: [cid])
        } }
    }

    @Test("cgroup v2: a limit asked for without its controller is one clear error, nothing made; defaults and env values only warn")
    func v2MissingControllers() throws {
        let cg2 = try #require(hostCgroup2Mount(), "no cgroup2 mounted on this host")
        let offered = Set((Host.readFile(cg2 + "/cgroup.controllers") ?? "").split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))
        try BockerFixture.with { f in
            let img = try f.initImage()
            f.useCgroup2Only()
            defer { removeCgroups(f, under: cg2) }
            let cases: [(args: [String], controller: String, flag: String)] = [
                (["-m", "64m"], "memory", "--memory"),
                (["--pids-limit", "100"], "pids", "--pids-limit"),
                (["--cpu-shares", "256"], "cpu", "--cpu-shares"),
                (["--mem_limit=64"], "memory", "--memory"),
                // Not even the named volume it names is made.
                (["-v", "limits-vol:/data", "-m", "64m"], "memory", "--memory"),
            ]
            for c in cases where !offered.contains(c.controller) {
                let before = f.storeListing()
                let r = f.run(["run"] + c.args + [img, "true"])
                #expect(r.status == 125, "\(c.args): \(r)")
                #expect(r.stderrLines.count == 1, "\(c.args): \(r)")
                #expect(r.stderr.contains("'\(c.controller)'") && r.stderr.contains(c.flag), "\(c.args): \(r)")
                #expect(f.containerIds().isEmpty, "\(c.args) left a container")
                #expect(f.storeListing() == before, "\(c.args) changed the store")
                let left = Host.listDirectory(cg2 + "/bocker").filter { $0.hasPrefix("ps_") && f.seenContainers.contains($0) }
                #expect(left.isEmpty, "\(c.args) left cgroups \(left)")
            }
            // --pids-limit 0 asks for no limit: nothing to refuse.
            if !offered.contains("pids") {
                let unlimited = f.run(["run", "--rm", "--pids-limit", "0", img, "true"])
                #expect(unlimited.status == 0, "\(unlimited)")
            }
            // $BOCKER_MEM_LIMIT is a default, not a request: a warning, and the container runs.
            if !offered.contains("memory") {
                let env = f.run(["run", "--rm", img, "echo", "ran"], env: ["BOCKER_MEM_LIMIT": "256"])
                #expect(env.status == 0 && env.stdout == "ran\n", "\(env)")
                #expect(env.stderrLines.filter { $0.hasPrefix("WARNING:") }.count == 1, "\(env)")
            }
            f.expectNothingLeftBehind(removed: [])
        }
    }

    @Test("--device: the node is made with the host's numbers and its permissions; other devices stay refused",
          arguments: ["v1", "v2"])
    func deviceFlag(layout: String) throws {
        let cg2 = hostCgroup2Mount()
        if layout == "v2" { try #require(cg2 != nil, "no cgroup2 mounted on this host") }
        try BockerFixture.with { f in try withLoopDisk(f) { disk, major, minor in
            let img = try f.initImage()
            if layout == "v2" { f.useCgroup2Only() }
            defer { if let cg2 { removeCgroups(f, under: cg2) } }
            // Given read-only: readable, not writable; the same numbers under another name stay
            // read-only, and devices not given stay refused.
            let r = f.run(["run", "--rm", "--device", "/dev/null:/dev/mynull", "--device", "\(disk):/dev/sub/hd:r", img, "sh", "-c",
                """
                ls -ln /dev/mynull /dev/sub/hd
                echo x > /dev/mynull && echo mynull-ok
                head -c 10 /dev/sub/hd; echo
                echo x > /dev/sub/hd || echo hd-write-refused
                mknod /dev/hd2 b \(major) \(minor) && echo x > /dev/hd2 || echo hd2-write-refused
                mknod /dev/mem2 c 1 1 && head -c 1 /dev/mem2 || echo mem-refused
                mknod /dev/sda2 b \(major) \(minor + 1) && head -c 1 /dev/sda2 || echo other-disk-refused
                """])
            #expect(r.status == 0, "\(r)")
            let lines = r.stdoutLines.map(trimmed)
            #expect(lines.contains { $0.hasPrefix("crw") && $0.contains("1,") && $0.contains(" 3 ") && $0.hasSuffix("/dev/mynull") }, "\(r)")
            #expect(lines.contains { $0.hasPrefix("brw") && $0.contains("\(major),") && $0.hasSuffix("/dev/sub/hd") }, "\(r)")
            #expect(lines.contains("mynull-ok"), "\(r)")
            #expect(lines.contains("SECRETDISK"), "the device given with :r could not be read: \(r)")
            #expect(lines.contains("hd-write-refused") && r.stderr.contains("/dev/sub/hd: Operation not permitted"),
                    "a device given with :r was writable: \(r)")
            #expect(lines.contains("hd2-write-refused"), "\(r)")
            #expect(lines.contains("mem-refused") && r.stderr.contains("/dev/mem2: Operation not permitted"), "\(r)")
            #expect(lines.contains("other-disk-refused") && r.stderr.contains("/dev/sda2: Operation not permitted"), "\(r)")
            #expect(Host.readFile(f.tmp + "/secret-disk.img")?.hasPrefix("SECRETDISK") == true, "the disk was written")
            // A path that is not there, or not a device: one line, nothing made.
            for bad in ["/dev/bocker-no-such-device", "/etc/hostname"] {
                let before = f.storeListing()
                let b = f.run(["run", "--rm", "--device", bad, img, "true"])
                #expect(b.status == 125 && b.stderrLines.count == 1 && b.stderr.contains(bad), "\(bad): \(b)")
                #expect(f.storeListing() == before, "\(bad) changed the store")
            }
            let outside = f.run(["run", "--rm", "--device", "/dev/null:/etc/mynull", img, "true"])
            #expect(outside.status == 125 && outside.stderr.contains("/dev/"), "\(outside)")
            f.expectNothingLeftBehind(removed: [])
        } }
    }

    @Test("cgroup v2: --privileged attaches no device program (the host's disk is readable), so the refusal is the program's")
    func v2Privileged() throws {
        let cg2 = try #require(hostCgroup2Mount(), "no cgroup2 mounted on this host")
        try BockerFixture.with { f in try withLoopDisk(f) { _, major, minor in
            let img = try f.initImage()
            f.useCgroup2Only()
            defer { removeCgroups(f, under: cg2) }
            let script = "mknod /dev/hd b \(major) \(minor) && head -c 10 /dev/hd"
            let plain = f.run(["run", "--rm", img, "sh", "-c", script])
            #expect(plain.stderr.contains("Operation not permitted") && !plain.stdout.contains("SECRETDISK"), "\(plain)")
            let priv = f.run(["run", "--rm", "--privileged", img, "sh", "-c", script])
            #expect(priv.status == 0 && priv.stdout == "SECRETDISK", "\(priv)")
            f.expectNothingLeftBehind(removed: [])
        } }
    }

    /// Removes this test's container cgroups from the host's view of the cgroup2 hierarchy
    /// (also when the test failed half-way); the program attached to each goes with it.
    private func removeCgroups(_ f: BockerFixture, under cg2: String) {
        let ids = f.seenContainers.union(f.containerIds())
        for id in ids where id.hasPrefix("ps_") {
            let dir = cg2 + "/bocker/" + id
            for pid in Host.cgroupProcs(dir) { kill(pid, SIGKILL) }
            var tries = 0
            while rmdir(dir) != 0 && errno == EBUSY && tries < 100 {
                tries += 1
                usleep(20_000)
            }
        }
    }
}
