#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import Testing
import BockerCore
@testable import BockerRuntime

private typealias F = ContainerProcessFixture

@Suite("ContainerProcess", .enabled(if: geteuid() == 0), .busyboxRootfs)
struct ContainerProcessTests {
    @Test func outputAndExitCodeComeBack() throws {
        let r = try F.run(F.spec(["sh", "-c", "echo hello; echo oops >&2; exit 3"]))
        #expect(r.out == "hello\n")
        #expect(r.err == "oops\n")
        #expect(r.code == 3)
    }

    @Test func environmentIsExactlyTheSpecs() throws {
        var spec = F.spec(["env"])
        spec.env = ["A=1", "PATH=/bin"]
        let r = try F.run(spec)
        #expect(r.out == "A=1\nPATH=/bin\n")
        #expect(r.code == 0)
    }

    @Test func pidNamespaceShowsOnlyTheContainer() throws {
        let r = try F.run(F.spec(["sh", "-c", "echo $$; ps -o pid,comm"]))
        let lines = r.out.split(separator: "\n").map(String.init)
        #expect(lines.first == "1")
        let pids = lines.dropFirst(2).compactMap { Int(F.trim($0).split(separator: " ").first ?? "") }
        #expect(!pids.isEmpty && pids.allSatisfy { $0 <= 2 }, "ps listed: \(r.out)")
        #expect(pids.contains(1))
    }

    @Test func hostnameIsSet() throws {
        let r = try F.run(F.spec(["hostname"]))
        #expect(r.out == "bk-test\n")
    }

    @Test func capabilitiesAreDockersDefaultAndNoNewPrivs() throws {
        let r = try F.run(F.spec(["cat", "/proc/self/status"]))
        let s = F.statusFields(r.out)
        #expect(CapabilitySet.dockerDefault.bits == 0xa80425fb)
        #expect(s["CapBnd"] == "00000000a80425fb")
        #expect(s["CapEff"] == "00000000a80425fb")
        #expect(s["CapPrm"] == "00000000a80425fb")
        #expect(s["CapInh"] == "0000000000000000")
        #expect(s["CapAmb"] == "0000000000000000")
        #expect(s["NoNewPrivs"] == "1")
        // Signal state is reset: nothing ignored or blocked from the (Swift) parent.
        #expect(s["SigIgn"] == "0000000000000000")
        #expect(s["SigBlk"] == "0000000000000000")
    }

    @Test func nonRootUserHasNoEffectiveCapabilities() throws {
        var spec = F.spec(["sh", "-c", "id -u; id -g; cat /proc/self/status"])
        spec.uid = 1000
        spec.gid = 1001
        let r = try F.run(spec)
        let lines = r.out.split(separator: "\n").map(String.init)
        #expect(lines.prefix(2) == ["1000", "1001"])
        let s = F.statusFields(r.out)
        #expect(s["CapEff"] == "0000000000000000")
        #expect(s["CapPrm"] == "0000000000000000")
        #expect(s["CapBnd"] == "00000000a80425fb")
        #expect(s["Groups"] == "")
    }

    @Test func maskedAndReadonlyPaths() throws {
        let script = """
            echo keys=$(wc -c < /proc/keys) timer_list=$(wc -c < /proc/timer_list)
            test -e /proc/kcore && echo kcore=$(wc -c < /proc/kcore)
            echo firmware=$(ls -A /sys/firmware | wc -l)
            (echo hacked > /proc/sys/kernel/hostname) 2>/dev/null && echo WROTE-PROC-SYS
            mkdir /sys/kernel/bk 2>/dev/null && echo WROTE-SYS
            hostname
            cat /proc/mounts
            """
        let r = try F.run(F.spec(["sh", "-c", script]))
        let lines = r.out.split(separator: "\n").map(String.init)
        // Masked files read empty (this kernel has no /proc/kcore; the host's /proc/keys and
        // /proc/timer_list are not empty).
        #expect(lines.contains("keys=0 timer_list=0"))
        #expect(!lines.contains { $0.hasPrefix("kcore=") && $0 != "kcore=0" })
        #expect(lines.contains("firmware=0"))
        #expect(!r.out.contains("WROTE"))
        #expect(lines.contains("bk-test"))
        func options(_ mountpoint: String) -> [String] {
            let f = lines.map { $0.split(separator: " ").map(String.init) }.last { $0.count > 3 && $0[1] == mountpoint }
            return f.map { $0[3].split(separator: ",").map(String.init) } ?? []
        }
        #expect(options("/proc/sys").contains("ro"))
        #expect(options("/proc/bus").contains("ro"))
        #expect(!options("/proc/keys").isEmpty)        // the /dev/null bind
        #expect(options("/sys/firmware").contains("ro"))  // the read-only tmpfs
        #expect(options("/sys").contains("ro"))
        #expect(Set(["rw", "nosuid", "nodev", "noexec"]).isSubset(of: options("/proc")))
        #expect(Set(["nosuid", "nodev", "noexec"]).isSubset(of: options("/proc/sys")))
        #expect(Set(["nosuid", "nodev", "noexec"]).isSubset(of: options("/dev/shm")))
    }

    @Test func devHasOnlyTheExpectedNodes() throws {
        let script = """
            ls -A /dev | tr '\\n' ' '; echo
            ls -A /dev/pts | tr '\\n' ' '; echo
            for l in ptmx fd stdin stdout stderr core; do echo -n "$(readlink /dev/$l) "; done; echo
            for n in null zero full random urandom tty; do test -c /dev/$n && echo -n "$n "; done; echo
            stat -c '%t:%T %a' /dev/null
            echo zero=$(head -c 3 /dev/zero | wc -c)
            (echo x > /dev/full) 2>/dev/null || echo full-fails
            """
        let r = try F.run(F.spec(["sh", "-c", script]))
        let lines = r.out.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.count >= 7, "\(r.out) \(r.err)")
        guard lines.count >= 7 else { return }
        #expect(lines[0] == "core fd full null ptmx pts random shm stderr stdin stdout tty urandom zero ")
        #expect(lines[1] == "ptmx ")
        #expect(lines[2] == "pts/ptmx /proc/self/fd /proc/self/fd/0 /proc/self/fd/1 /proc/self/fd/2 /proc/kcore ")
        #expect(lines[3] == "null zero full random urandom tty ")
        #expect(lines[4] == "1:3 666")
        #expect(lines[5] == "zero=3")
        #expect(lines[6] == "full-fails")
    }

    @Test func inheritedFdsAreClosed() throws {
        // An fd without CLOEXEC in this process must not reach the container.
        let leaked = open("/dev/null", O_RDONLY)
        let high = fcntl(leaked, F_DUPFD, 100)
        defer { close(leaked); close(high) }
        #expect(high >= 100)
        let r = try F.run(F.spec(["ls", "/proc/self/fd"]))
        // 0 1 2, and the directory fd ls itself opened.
        #expect(r.out.split(separator: "\n") == ["0", "1", "2", "3"])
    }

    @Test func missingCommandIs127() {
        let (e, code) = F.failure(F.spec(["definitely-not-here"]))
        #expect(e?.code == .commandNotFound)
        #expect(e?.message == "exec: \"definitely-not-here\": executable file not found in $PATH")
        #expect(code == 127)

        let (e2, code2) = F.failure(F.spec(["/bin/nope"]))
        #expect(e2?.code == .commandNotFound)
        #expect(e2?.message == "exec: \"/bin/nope\": no such file or directory")
        #expect(code2 == 127)
    }

    @Test func lookupUsesTheContainersPath() {
        var spec = F.spec(["sh", "-c", "true"])
        spec.env = ["PATH=/nowhere"]
        let (e, code) = F.failure(spec)
        #expect(e?.code == .commandNotFound)
        #expect(code == 127)
    }

    @Test func nonExecutableIs126() {
        let (e, code) = F.failure(F.spec(["/etc"]))
        #expect(e?.code == .notExecutable)
        #expect(e?.message == "exec: \"/etc\": permission denied")
        #expect(code == 126)

        let (e2, code2) = F.failure(F.spec(["/etc/passwd"]))
        #expect(e2?.code == .notExecutable)
        #expect(code2 == 126)
    }

    @Test(arguments: ["proc", "sys", "dev"])
    func symlinkedMountPointIsRefused(_ name: String) throws {
        let dir = F.makeTempDir("bocker-proctest-evil")
        defer { F.removeTree(dir) }
        let rootfs = dir + "/rootfs"
        try FS.makeDirectories(rootfs + "/bin")
        symlink("/", rootfs + "/" + name)
        let before = F.hostMounts(mentioning: dir)
        var spec = F.spec(["sh"])
        spec.rootfs = rootfs
        let (e, code) = F.failure(spec)
        #expect(e?.code == .kernel)
        #expect(e?.message == "refusing to mount on /\(name): it is a symbolic link in the image")
        #expect(code == 125)
        #expect(before.isEmpty)
        #expect(F.hostMounts(mentioning: dir).isEmpty)
    }

    @Test func workdirIsCreatedAndProcIsRefused() throws {
        var spec = F.spec(["pwd"])
        spec.workdir = "/work/\(getpid())-\(UInt32.random(in: 0...UInt32.max))/deep"
        let r = try F.run(spec)
        #expect(r.out == spec.workdir + "\n")
        #expect(FS.isDirectory(F.rootfs + spec.workdir))

        spec.workdir = "/proc/self/fd"
        let (e, code) = F.failure(spec)
        #expect(e?.code == .kernel)
        #expect(e?.message.contains("refusing") == true)
        #expect(code == 125)
    }

    @Test func newNetworkNamespaceHasLoopbackUp() throws {
        var spec = F.spec(["sh", "-c", "ls /sys/class/net; cat /sys/class/net/lo/flags"])
        spec.newNetworkNamespace = true
        let r = try F.run(spec)
        let lines = r.out.split(separator: "\n").map(String.init)
        #expect(lines.first == "lo")
        let flags = lines.count > 1 ? Int(lines[1].dropFirst(2), radix: 16) ?? 0 : 0
        #expect(flags & Int(IFF_UP) != 0, "\(r.out) \(r.err)")
    }

    @Test func overlayRootfs() throws {
        let dir = F.makeTempDir("bocker-proctest-ovl")
        defer { F.removeTree(dir) }
        try FS.makeDirectories(dir + "/upper")
        try FS.makeDirectories(dir + "/work")
        try FS.makeDirectories(dir + "/merged")
        var spec = F.spec(["sh", "-c", "echo hi > /created; cat /created /marker"])
        spec.rootfs = dir + "/merged"
        spec.overlay = (dir: dir, options: "lowerdir=\(F.rootfs),upperdir=upper,workdir=work")
        let r = try F.run(spec)
        #expect(r.out == "hi\nbusybox-rootfs\n", "\(r.err)")
        #expect(FS.exists(dir + "/upper/created"))
        #expect(!FS.exists(F.rootfs + "/created"))
        #expect(F.hostMounts(mentioning: dir).isEmpty)
    }

    @Test func abortKillsAnUnreleasedChild() throws {
        let p = try ContainerProcess.spawn(F.spec(["sh"]), stdin: -1, stdout: -1, stderr: -1)
        let pid = p.pid
        #expect(kill(pid, 0) == 0)
        p.abort()
        #expect(kill(pid, 0) == -1 && errno == ESRCH)
        #expect(p.wait() == 128 + SIGKILL)
    }

    @Test func execJoinsTheRunningContainer() throws {
        let input = try ContainerProcessPipe()
        let o = try ContainerProcessPipe()
        let before = F.hostMounts(mentioning: F.rootfs)
        var spec = F.spec(["sh", "-c", "echo ready; read x; echo bye"])
        spec.hostname = "exec-test"
        let p = try ContainerProcess.spawn(spec, stdin: input.r, stdout: o.w, stderr: -1)
        input.closeRead()
        o.closeWrite()
        do {
            try p.release()
        } catch {
            p.abort()
            throw error
        }
        #expect(o.readLine() == "ready")
        // The running container's mounts are invisible to the host.
        #expect(F.hostMounts(mentioning: F.rootfs) == before)

        let eo = try ContainerProcessPipe()
        let script = """
            hostname; ps -o pid,args; cat /marker; pwd; grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status; exit 7
            """
        let code = try ContainerProcess.exec(
            pid: p.pid, argv: ["sh", "-c", script], env: ["PATH=/bin"], workdir: "/tmp",
            stdin: -1, stdout: eo.w, stderr: eo.w)
        eo.closeWrite()
        let out = eo.readAll()
        #expect(code == 7)
        let lines = out.split(separator: "\n").map { F.trim(String($0)) }
        #expect(lines.first == "exec-test")
        #expect(lines.contains { $0.hasPrefix("1 ") && $0.contains("echo ready") }, "\(out)")
        #expect(lines.contains("busybox-rootfs"))
        #expect(lines.contains("/tmp"))
        let s = F.statusFields(out)
        #expect(s["CapEff"] == "00000000a80425fb")
        #expect(s["CapBnd"] == "00000000a80425fb")
        #expect(s["NoNewPrivs"] == "1")

        // Failures to start: the same errors and codes as for run.
        #expect(throws: BockerError(.commandNotFound, "exec: \"nope\": executable file not found in $PATH")) {
            _ = try ContainerProcess.exec(pid: p.pid, argv: ["nope"], env: ["PATH=/bin"],
                                          stdin: -1, stdout: -1, stderr: -1)
        }
        #expect(throws: BockerError.self) {
            _ = try ContainerProcess.exec(pid: p.pid, argv: ["true"], env: ["PATH=/bin"], workdir: "/nonexistent",
                                          stdin: -1, stdout: -1, stderr: -1)
        }

        input.closeWrite()
        #expect(o.readAll() == "bye\n")
        #expect(p.wait() == 0)
        #expect(F.hostMounts(mentioning: F.rootfs) == before)
    }

    @Test(.enabled(if: FS.isDirectory("/sys/fs/cgroup/pids")))
    func execJoinsTheGivenCgroups() throws {
        let cg = "/sys/fs/cgroup/pids/bocker-proctest-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        guard mkdir(cg, 0o755) == 0 else { throw BockerError.errno("mkdir \(cg)") }
        defer { rmdir(cg) }
        let input = try ContainerProcessPipe()
        let o = try ContainerProcessPipe()
        let p = try ContainerProcess.spawn(F.spec(["sh", "-c", "echo ready; read x"]),
                                           stdin: input.r, stdout: o.w, stderr: -1)
        input.closeRead()
        o.closeWrite()
        defer { input.closeWrite(); _ = p.wait() }
        try p.release()
        #expect(o.readLine() == "ready")
        let eo = try ContainerProcessPipe()
        let code = try ContainerProcess.exec(pid: p.pid, argv: ["cat", "/proc/self/cgroup"], env: ["PATH=/bin"],
                                             cgroupProcs: [cg + "/cgroup.procs"], stdin: -1, stdout: eo.w, stderr: -1)
        eo.closeWrite()
        let out = eo.readAll()
        #expect(code == 0)
        let name = String(cg.dropFirst("/sys/fs/cgroup/pids".count))
        #expect(out.split(separator: "\n").contains { $0.hasSuffix(":pids:" + name) }, "\(out)")
        // Everything the exec started has exited: the cgroup is empty again.
        #expect(F.trim((try? FS.readString(cg + "/cgroup.procs")) ?? "x") == "")
    }

    @Test func execIntoAMissingProcessFails() {
        #expect(throws: BockerError.self) {
            _ = try ContainerProcess.exec(pid: 0x3fff_fff0, argv: ["true"], env: [], stdin: -1, stdout: -1, stderr: -1)
        }
    }

    @Test func capabilityNames() throws {
        #expect(try CapabilitySet(names: ["net_admin", "CAP_CHOWN", "SYS_ADMIN"]).names
                == ["CAP_CHOWN", "CAP_NET_ADMIN", "CAP_SYS_ADMIN"])
        #expect(throws: BockerError.self) { try CapabilitySet(names: ["CAP_BOGUS"]) }
        let s = try CapabilitySet.dockerDefault.adding(["NET_ADMIN"], dropping: ["MKNOD"])
        #expect(s.contains("CAP_NET_ADMIN") && !s.contains("CAP_MKNOD"))
        #expect(CapabilitySet.dockerDefault.names.count == 14)
    }
}
