import Glibc
import Testing

/// What a process inside a container can see and do.
@Suite("isolation inside a container")
struct IsolationTests {
    @Test("hostname is the container id")
    func hostname() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let (r, id) = f.runNew(["run", img, "hostname"])
            #expect(r.status == 0, "\(r)")
            let cid = try #require(id)
            #expect(r.stdout == cid + "\n", "\(r)")
            // The host's hostname is unchanged.
            var buf = [CChar](repeating: 0, count: 256)
            gethostname(&buf, 255)
            #expect(String(cString: buf) != cid)
        }
    }

    @Test("/proc/1/cgroup names /bocker/<id> for cpu and memory")
    func procCgroup() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let (r, id) = f.runNew(["run", img, "cat", "/proc/1/cgroup"])
            #expect(r.status == 0, "\(r)")
            let cid = try #require(id)
            for controller in ["cpu", "memory"] {
                let line = r.stdoutLines.first { line in
                    let parts = line.split(separator: ":", maxSplits: 2).map(String.init)
                    return parts.count == 3 && parts[1].split(separator: ",").contains(Substring(controller))
                }
                let l = try #require(line, "no \(controller) line in /proc/1/cgroup: \(r)")
                #expect(l.hasSuffix("/bocker/\(cid)"), "\(controller): \(l)")
            }
        }
    }

    @Test("the command is pid 1 and ps shows only the container's processes")
    func pidNamespace() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let pid = f.run(["run", img, "sh", "-c", "echo $$"])
            #expect(pid.status == 0, "\(pid)")
            #expect(pid.stdout == "1\n", "\(pid)")

            let ps = f.run(["run", img, "ps"])
            #expect(ps.status == 0, "\(ps)")
            let procs = ps.stdoutLines.dropFirst()  // header
            #expect(procs.count == 1, "ps sees more than itself: \(ps)")
            #expect(procs.first.map { fields($0).first == "1" } == true, "\(ps)")

            let proc = f.run(["run", img, "ls", "/proc"])
            let numeric = proc.stdoutLines.flatMap(fields).filter { Int($0) != nil }
            #expect(numeric == ["1"], "numeric /proc entries: \(numeric)")
        }
    }

    @Test("host processes are invisible and unreachable")
    func hostProcessesInvisible() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let me = getpid()
            #expect(me != 1)
            let r = f.run(["run", img, "sh", "-c", "test -e /proc/\(me)/status && echo visible; kill -0 \(me) && echo reachable; echo done"])
            #expect(r.status == 0, "\(r)")
            #expect(r.stdout == "done\n", "\(r)")
        }
    }

    @Test("the container's root is the image, not the host's")
    func rootIsImage() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let r = f.run(["run", img, "sh", "-c", "cat /etc/os-release; test -e \(BockerFixture.packageRoot)/Package.swift && echo host-visible; echo done"])
            #expect(r.status == 0, "\(r)")
            #expect(r.stdout.contains("bocker busybox"), "\(r)")
            #expect(!r.stdout.contains("host-visible"), "\(r)")
        }
    }

    @Test("capabilities are Docker's default set and no_new_privs is on")
    func capabilities() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let r = f.run(["run", img, "cat", "/proc/self/status"])
            #expect(r.status == 0, "\(r)")
            #expect(statusField("CapInh", in: r.stdout) == "0000000000000000", "\(r.stdout)")
            #expect(statusField("CapAmb", in: r.stdout) == "0000000000000000", "\(r.stdout)")
            #expect(statusField("CapBnd", in: r.stdout) == "00000000a80425fb", "\(r.stdout)")
            #expect(statusField("CapEff", in: r.stdout) == "00000000a80425fb", "\(r.stdout)")
            #expect(statusField("NoNewPrivs", in: r.stdout) == "1", "\(r.stdout)")
        }
    }

    @Test("/proc/kcore reads empty, /proc/sysrq-trigger is not writable, /sys is read-only")
    func maskedPaths() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let kcore = f.run(["run", img, "sh", "-c", "head -c 16 /proc/kcore | wc -c"])
            #expect(trimmed(kcore.stdout) == "0", "\(kcore)")
            let sysrq = f.run(["run", img, "sh", "-c", "echo h > /proc/sysrq-trigger"])
            #expect(sysrq.status != 0, "writing /proc/sysrq-trigger succeeded: \(sysrq)")
            let sys = f.run(["run", img, "awk", "$2 == \"/sys\" { print $4 }", "/proc/mounts"])
            let opts = sys.stdoutLines
            #expect(!opts.isEmpty, "/sys is not mounted: \(sys)")
            for o in opts {
                #expect(o.split(separator: ",").contains("ro"), "/sys mounted with \(o)")
            }
            let mk = f.run(["run", img, "sh", "-c", "touch /sys/fs/bocker-e2e-probe"])
            #expect(mk.status != 0, "created a file in /sys: \(mk)")
        }
    }

    @Test("/dev holds only the safe devices")
    func devList() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let r = f.run(["run", img, "ls", "-a", "/dev"])
            #expect(r.status == 0, "\(r)")
            let names = Set(r.stdoutLines.flatMap(fields))
            for expected in ["null", "zero", "full", "random", "urandom", "tty", "pts", "ptmx", "shm",
                             "fd", "stdin", "stdout", "stderr", "core"] {
                #expect(names.contains(expected), "/dev/\(expected) missing: \(names.sorted())")
            }
            for forbidden in ["sda", "vda", "mem", "kmem", "kmsg", "port", "loop0", "loop-control",
                              "btrfs-control", "fuse", "kvm", "tty0", "console0"] {
                #expect(!names.contains(forbidden), "/dev/\(forbidden) present: \(names.sorted())")
            }
            // The devices that are there work.
            let io = f.run(["run", img, "sh", "-c", "echo x > /dev/null && head -c 4 /dev/zero | wc -c && head -c 4 /dev/urandom | wc -c"])
            #expect(io.stdoutLines.map(trimmed) == ["4", "4"], "\(io)")
        }
    }

    @Test("the device cgroup forbids block devices and /dev/mem even after mknod")
    func deviceCgroup() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            // Made in /dev, bocker's tmpfs (not nodev, unlike the root filesystem): only the
            // device cgroup stands between the container and the node.
            let sda = f.run(["run", img, "sh", "-c", "mknod /dev/sda b 8 0 && head -c1 /dev/sda"])
            #expect(sda.status != 0, "\(sda)")
            #expect(sda.stdout.isEmpty, "\(sda)")
            // A disk the host can read (a loop device): the refusal is the container's.
            try withLoopDisk(f) { disk, major, minor in
                let hd = f.run(["run", img, "sh", "-c", "mknod /dev/hd b \(major) \(minor) && head -c 10 /dev/hd"])
                #expect(hd.stderr.contains("/dev/hd: Operation not permitted") && !hd.stdout.contains("SECRETDISK"),
                        "read the host's disk \(disk) \(major):\(minor) from a container: \(hd)")
            }
            if let root = Host.rootDevice(), root.major != 0 {
                let r = f.run(["run", img, "sh", "-c", "mknod /dev/rootdev b \(root.major) \(root.minor) && head -c1 /dev/rootdev | wc -c"])
                #expect(r.stderr.contains("Operation not permitted"),
                        "read the host's root device \(root.major):\(root.minor) from a container: \(r)")
            }
            let mem = f.run(["run", img, "sh", "-c", "mknod /dev/mem c 1 1 && head -c1 /dev/mem | wc -c"])
            #expect(mem.stderr.contains("/dev/mem: Operation not permitted"), "read /dev/mem from a container: \(mem)")
            let fuse = f.run(["run", img, "sh", "-c", "mknod /dev/fuse c 10 229 && echo > /dev/fuse"])
            #expect(fuse.stderr.contains("/dev/fuse: Operation not permitted"), "opened /dev/fuse: \(fuse)")
        }
    }

    @Test("no file descriptor of bocker's caller reaches the container")
    func fileDescriptors() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            let path = try f.writeFile("inherited-fd", "secret\n")
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            try #require(fd >= 0)
            defer { close(fd) }
            // dup2'd to 57 in bocker without FD_CLOEXEC: an ordinary inherited descriptor.
            let r = f.run(["run", img, "ls", "/proc/self/fd"], extraFDs: [(fd, 57)])
            #expect(r.status == 0, "\(r)")
            let fds = Set(r.stdoutLines.flatMap(fields))
            #expect(!fds.contains("57"), "the inherited fd 57 reached the container: \(fds.sorted())")
            #expect(fds.isSuperset(of: ["0", "1", "2"]), "\(fds.sorted())")
            let extra = fds.subtracting(["0", "1", "2"])
            #expect(extra.count <= 1, "descriptors beyond 0 1 2 and ls's own: \(fds.sorted())")
            let cat = f.run(["run", img, "cat", "/proc/self/fd/57"], extraFDs: [(fd, 57)])
            #expect(!cat.stdout.contains("secret"), "\(cat)")
        }
    }

    @Test("mounts made for the container do not show in the host's mount table", arguments: allDrivers)
    func noHostMounts(driver: String) throws {
        try BockerFixture.with(driver: driver) { f in
            let img = try f.initImage()
            let (p, id) = try f.startWaiting(image: img)
            // While the container runs, its proc/dev/sys mounts live only in its namespace.
            let visible = Host.mountPoints(under: f.tmp).filter { !(driver == "btrfs" && $0 == f.root) }
            #expect(!visible.contains { $0.hasSuffix("/proc") || $0.hasSuffix("/sys") || $0.hasSuffix("/dev") },
                    "container mounts visible on the host: \(visible)")
            p.write("\n")
            let r = p.finish(timeout: 30)
            #expect(r.status == 0, "\(r)")
            let rm = f.run(["rm", id])
            #expect(rm.status == 0, "\(rm)")
            f.expectNothingLeftBehind(removed: [id])
        }
    }
}
