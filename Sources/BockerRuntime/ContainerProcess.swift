#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import BockerCore
import CBocker

/// The capability set a container keeps (Docker's default 14) and the name↔number mapping.
public struct CapabilitySet: Equatable, Sendable, CustomStringConvertible {
    /// Capability names indexed by number (linux/capability.h).
    public static let allNames: [String] = [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
        "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
        "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
        "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
        "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
        "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
        "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
        "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
        "CAP_CHECKPOINT_RESTORE",
    ]

    /// Docker's default set.
    public static let dockerDefaultNames: [String] = [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
        "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
        "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
    ]

    /// Docker's default 14 (0xa80425fb).
    public static let dockerDefault = try! CapabilitySet(names: dockerDefaultNames)
    public static let none = CapabilitySet(bits: 0)
    /// Every capability this kernel knows that this process may hand on (its bounding set:
    /// bocker started from a confined root cannot give what it lacks itself).
    public static var all: CapabilitySet {
        let last = Int(bk_cap_last_cap())
        let known: UInt64 = last >= 63 ? ~0 : (UInt64(1) << UInt64(last + 1)) - 1
        return CapabilitySet(bits: known & available.bits)
    }

    /// This process's bounding set, read once (64 prctl calls; it can only shrink, and bocker
    /// never shrinks its own).
    public static let available = CapabilitySet(bits: bk_cap_bounding_set())

    /// Bit i set = capability i kept.
    public let bits: UInt64

    public init(bits: UInt64) { self.bits = bits }

    /// Names as Docker accepts them: "CAP_NET_ADMIN", "NET_ADMIN" or "net_admin"; "ALL" = all.
    public init(names: [String]) throws {
        var bits: UInt64 = 0
        for name in names { bits |= try CapabilitySet.bits(of: name) }
        self.bits = bits
    }

    /// The number of a capability name, nil if unknown.
    public static func number(of name: String) -> Int? {
        var upper = name.uppercased()
        if !upper.hasPrefix("CAP_") { upper = "CAP_" + upper }
        return allNames.firstIndex(of: upper)
    }

    private static func bits(of name: String) throws -> UInt64 {
        if name.uppercased() == "ALL" || name.uppercased() == "CAP_ALL" { return all.bits }
        guard let n = number(of: name) else {
            throw BockerError(.invalidArgument, "unknown capability: \"\(name)\"")
        }
        return UInt64(1) << UInt64(n)
    }

    /// Docker's --cap-add / --cap-drop on top of this set (drop applies first, like Docker).
    public func adding(_ add: [String] = [], dropping drop: [String] = []) throws -> CapabilitySet {
        var b = bits
        for name in drop { b &= ~(try CapabilitySet.bits(of: name)) }
        for name in add { b |= try CapabilitySet.bits(of: name) }
        return CapabilitySet(bits: b)
    }

    public func contains(_ name: String) -> Bool {
        guard let n = CapabilitySet.number(of: name) else { return false }
        return bits & (UInt64(1) << UInt64(n)) != 0
    }

    /// Names of the capabilities in the set (numbers without a name as "CAP_<n>").
    public var names: [String] {
        (0..<64).filter { bits & (UInt64(1) << UInt64($0)) != 0 }.map {
            $0 < CapabilitySet.allNames.count ? CapabilitySet.allNames[$0] : "CAP_\($0)"
        }
    }

    public var description: String { names.joined(separator: ",") }
}

/// A host file or directory mounted into the container.
public struct BindMount: Sendable {
    public var source: String
    /// Absolute path inside the container.
    public var target: String
    public var readOnly: Bool
    /// Replace a symlink the image has at `target` by a plain file (bocker's own files, such as
    /// /etc/hosts); otherwise a symlinked target is refused.
    public var replaceSymlink: Bool
    /// A fresh tmpfs instead of a bind (source unused).
    public var tmpfs: Bool
    /// In a user namespace: idmapped like the root (bocker's own files, which the container's
    /// root should own); other binds show host ids as they are.
    public var idmapped = false

    public init(source: String, target: String, readOnly: Bool = false, replaceSymlink: Bool = false, tmpfs: Bool = false) {
        self.source = source
        self.target = target
        self.readOnly = readOnly
        self.replaceSymlink = replaceSymlink
        self.tmpfs = tmpfs
    }
}

/// What the container's first process is: root filesystem, command, environment, identity,
/// security.
public struct ProcessSpec {
    /// Host directory that becomes "/".
    public var rootfs: String
    /// If set: chdir to `dir` and mount overlay on `rootfs` with `options` (relative
    /// lowerdir/upperdir/workdir are resolved from `dir`); otherwise `rootfs` is bind-mounted.
    public var overlay: (dir: String, options: String)?
    /// Empty = keep the (copied) host name in the new UTS namespace.
    public var hostname: String
    public var argv: [String]
    /// KEY=value; its PATH= entry is also the PATH used to find argv[0].
    public var env: [String]
    /// Inside the container; created if missing, like Docker.
    public var workdir: String
    public var uid: UInt32
    public var gid: UInt32
    /// Names looked up in the container's own /etc/passwd and /etc/group (after pivot_root),
    /// overriding uid / gid.
    public var userName: String?
    public var groupName: String?
    /// Bounding set; also effective/permitted when uid is 0 (empty for other users).
    public var capabilities: CapabilitySet
    /// A new network namespace with only loopback (up); false = share the host's.
    public var newNetworkNamespace: Bool
    public var maskedPaths: [String]
    public var readonlyPaths: [String]
    /// SIGKILL the container when the thread that spawned it dies (PR_SET_PDEATHSIG; note the
    /// kernel tracks the spawning thread, not the process).
    public var dieWithParent: Bool
    /// cgroup.procs files the child joins by itself. When given, spawn runs the child straight
    /// to execve (no release step to wait for, no page tables copied: CLONE_VM|CLONE_VFORK) and
    /// returns once it runs; `release()` then only reports how the start went.
    public var cgroupProcs: [String] = []
    /// A prepared network namespace to join (its veth and addresses set up by the caller)
    /// instead of a new, empty one.
    public var networkNamespaceFD: Int32?
    /// Host paths bind-mounted into the container before pivot_root.
    public var binds: [BindMount] = []
    /// PID 1 is bocker's small init (reaps zombies, forwards signals), the command its child.
    public var useInit = false
    /// Host device nodes made in the container's /dev (`--device`).
    public var devices: [ContainerDevice] = []
    /// A socket over which the child sends the master of a pty it opens in the container's
    /// /dev/pts; the slave becomes its stdio and controlling terminal.
    public var ttySocket: Int32?
    /// Leave PR_SET_NO_NEW_PRIVS unset (`--security-opt no-new-privileges=false`).
    public var allowNewPrivileges = false
    /// Remount "/" read-only after pivot_root (`--read-only`).
    public var readOnlyRootfs = false
    /// Mount /sys read-write (`--privileged`).
    public var sysWritable = false
    /// A user namespace of its own with this mapping. The root then reaches the container as
    /// an idmapped mount made by the parent: `overlayLayers` under overlay (lower layers top
    /// first, idmapped; upper/work as they are), else `rootfs`. Not with `cgroupProcs`.
    public var userNamespace: IDMapping?
    public var overlayLayers: (lowers: [String], upper: String, work: String)?
    /// The seccomp filter (classic BPF, see `SeccompCompiler`) loaded right before execve (with
    /// allowNewPrivileges: before the capabilities are dropped); nil = unconfined.
    public var seccompFilter: [UInt8]?
    /// `--ulimit`: (RLIMIT_*, soft, hard), UInt64.max = unlimited, set before execve.
    public var rlimits: [(Int32, UInt64, UInt64)] = []
    /// `--sysctl`: (path below /proc/sys, value), written in the container's namespaces.
    public var sysctls: [(String, String)] = []
    /// The /dev/shm tmpfs's options (nil: mode=1777,size=65536k).
    public var shmOptions: String?
    /// Share the host's PID, UTS (no hostname set then) or IPC namespace (and /dev/shm).
    public var hostPID = false
    public var hostUTS = false
    public var hostIPC = false
    /// Another container's namespaces (`--pid`/`--ipc container:X`, fds the caller opened and
    /// checked): its PID namespace; its IPC namespace with its mount namespace (for its /dev/shm).
    public var joinPIDNamespaceFD: Int32?
    public var joinIPCNamespaceFDs: (ipc: Int32, mnt: Int32)?
    /// `--ipc none`: no /dev/shm.
    public var noShm = false

    public static let dockerMaskedPaths = [
        "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
        "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
    ]
    public static let dockerReadonlyPaths = [
        "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
    ]

    public init(rootfs: String, hostname: String = "", argv: [String],
                env: [String] = ["PATH=\(ContainerProcess.defaultPath)"], workdir: String = "/", uid: UInt32 = 0, gid: UInt32 = 0,
                capabilities: CapabilitySet = .dockerDefault, newNetworkNamespace: Bool = false,
                overlay: (dir: String, options: String)? = nil,
                maskedPaths: [String] = ProcessSpec.dockerMaskedPaths,
                readonlyPaths: [String] = ProcessSpec.dockerReadonlyPaths,
                dieWithParent: Bool = false) {
        self.rootfs = rootfs
        self.argv = argv
        self.env = env
        self.hostname = hostname
        self.workdir = workdir
        self.uid = uid
        self.gid = gid
        self.capabilities = capabilities
        self.newNetworkNamespace = newNetworkNamespace
        self.overlay = overlay
        self.maskedPaths = maskedPaths
        self.readonlyPaths = readonlyPaths
        self.dieWithParent = dieWithParent
    }
}

/// C strings and NULL-terminated arrays that live as long as this object.
final class CStringStorage {
    private var blocks: [UnsafeMutableRawPointer] = []

    func string(_ s: String?) -> UnsafePointer<CChar>? {
        guard let s else { return nil }
        let p = strdup(s)!
        blocks.append(UnsafeMutableRawPointer(p))
        return UnsafePointer(p)
    }

    func array(_ a: [String]) -> UnsafePointer<UnsafePointer<CChar>?> {
        let arr = UnsafeMutablePointer<UnsafePointer<CChar>?>.allocate(capacity: a.count + 1)
        for (i, s) in a.enumerated() { arr[i] = string(s) }
        arr[a.count] = nil
        blocks.append(UnsafeMutableRawPointer(arr))
        return UnsafePointer(arr)
    }

    /// A copy of bytes (nil for nil or empty).
    func bytes(_ b: [UInt8]?) -> (UnsafeRawPointer?, Int) {
        guard let b, !b.isEmpty, let p = malloc(b.count) else { return (nil, 0) }
        b.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: b.count) }
        blocks.append(p)
        return (UnsafeRawPointer(p), b.count)
    }

    deinit { for b in blocks { free(b) } }
}

/// A container process cloned and waiting to be released (so that the caller can put it in its
/// cgroups first).
public final class SpawnedProcess {
    public let pid: Int32
    private var handle: bk_spawn_handle
    private var storage: CStringStorage?
    private var pending = true
    private var exitCode: Int32?

    init(handle: bk_spawn_handle, storage: CStringStorage) {
        self.handle = handle
        self.pid = handle.pid
        self.storage = storage
    }

    /// Lets the process build its root and exec. Throws the child's reason when it could not:
    /// `.commandNotFound` (127), `.notExecutable` (126) or `.kernel`; the child is then reaped
    /// and `wait()` returns its code.
    public func release() throws {
        guard pending else { throw BockerError(.internal, "container process \(pid) was already released") }
        pending = false
        var err = bk_child_error()
        var status: Int32 = 0
        let r = bk_spawn_release(&handle, &err, &status)
        storage = nil
        switch r {
        case 0:
            return
        case 1:
            exitCode = ContainerProcess.exitCode(status: status)
            throw ContainerProcess.error(from: err)
        default:
            throw BockerError.errno("release container process \(pid)")
        }
    }

    /// Kills and reaps a process that was not released.
    public func abort() {
        guard pending else { return }
        pending = false
        bk_spawn_abort(&handle)
        storage = nil
        exitCode = 128 + SIGKILL
    }

    /// Waits for the process: its exit code, or 128+signal.
    public func wait() -> Int32 {
        if let exitCode { return exitCode }
        let code = bk_wait_exit_code(pid)
        exitCode = code
        return code
    }

    deinit { if pending { bk_spawn_abort(&handle) } }
}

public enum ContainerProcess {
    public static let defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// The PATH= entry of env (the last one wins), else the default.
    public static func searchPath(env: [String]) -> String {
        if let e = env.last(where: { $0.hasPrefix("PATH=") }) { return String(e.dropFirst(5)) }
        return defaultPath
    }

    /// Clones the container's first process in new mount, UTS, IPC, PID (and network)
    /// namespaces. It waits for `release()`. stdio fds: -1 = /dev/null of the container.
    public static func spawn(_ spec: ProcessSpec, stdin: Int32, stdout: Int32, stderr: Int32) throws -> SpawnedProcess {
        guard !spec.argv.isEmpty else { throw BockerError(.invalidArgument, "no command given") }
        let s = CStringStorage()
        var cfg = bk_spawn_config()
        cfg.rootfs = s.string(spec.rootfs)
        cfg.overlay_dir = s.string(spec.overlay?.dir)
        cfg.overlay_options = s.string(spec.overlay?.options)
        cfg.hostname = spec.hostname.isEmpty ? nil : s.string(spec.hostname)
        cfg.argv = s.array(spec.argv)
        cfg.envp = s.array(spec.env)
        cfg.path_env = s.string(searchPath(env: spec.env))
        cfg.workdir = s.string(spec.workdir.isEmpty ? "/" : spec.workdir)
        cfg.uid = spec.uid
        cfg.gid = spec.gid
        cfg.user_name = s.string(spec.userName)
        cfg.group_name = s.string(spec.groupName)
        cfg.stdin_fd = stdin
        cfg.stdout_fd = stdout
        cfg.stderr_fd = stderr
        cfg.cap_keep = spec.capabilities.bits
        cfg.die_with_parent = spec.dieWithParent ? 1 : 0
        cfg.new_netns = spec.newNetworkNamespace ? 1 : 0
        cfg.masked_paths = s.array(spec.maskedPaths)
        cfg.readonly_paths = s.array(spec.readonlyPaths)
        guard spec.cgroupProcs.count <= 24 else { throw BockerError(.invalidArgument, "too many cgroups to join") }
        var cgroupFds: [Int32] = []
        defer { cgroupFds.forEach { close($0) } }
        for path in spec.cgroupProcs {
            let fd = open(path, O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else { throw BockerError.errno("cannot open '\(path)'") }
            cgroupFds.append(fd)
        }
        if let fd = spec.networkNamespaceFD {
            cfg.join_netns = 1
            cfg.netns_fd = fd
        }
        cfg.bind_sources = s.array(spec.binds.map(\.source))
        cfg.bind_targets = s.array(spec.binds.map(\.target))
        let bindFlags: [Int32] = spec.binds.map {
            ($0.readOnly ? Int32(BK_BIND_READONLY) : 0) | ($0.replaceSymlink ? Int32(BK_BIND_REPLACE_LINK) : 0)
                | ($0.tmpfs ? Int32(BK_MOUNT_TMPFS) : 0) | ($0.idmapped ? Int32(BK_BIND_IDMAP) : 0)
        }
        cfg.n_binds = Int32(spec.binds.count)
        cfg.use_init = spec.useInit ? 1 : 0
        cfg.tty_socket = spec.ttySocket ?? -1
        cfg.allow_new_privs = spec.allowNewPrivileges ? 1 : 0
        cfg.readonly_rootfs = spec.readOnlyRootfs ? 1 : 0
        cfg.sys_writable = spec.sysWritable ? 1 : 0
        cfg.dev_paths = s.array(spec.devices.map(\.containerPath))
        let devModes = spec.devices.map(\.nodeMode), devNumbers = spec.devices.map(\.number)
        let devUids = spec.devices.map(\.uid), devGids = spec.devices.map(\.gid)
        cfg.n_devs = Int32(spec.devices.count)
        if let m = spec.userNamespace {
            guard spec.cgroupProcs.isEmpty else { throw BockerError(.internal, "a user namespace cannot join cgroups itself") }
            guard spec.binds.count < Int(BK_MAX_MOUNT_FDS) else {
                throw BockerError(.invalidArgument, "too many mounts for a user namespace (at most \(BK_MAX_MOUNT_FDS - 1))")
            }
            cfg.userns = 1
            cfg.userns_uid = m.uidBase
            cfg.userns_gid = m.gidBase
            cfg.userns_size = m.size
            if let o = spec.overlayLayers {
                cfg.overlay_lowers = s.array(o.lowers)
                cfg.overlay_upper = s.string(o.upper)
                cfg.overlay_work = s.string(o.work)
            }
        }
        (cfg.seccomp_filter, cfg.seccomp_filter_len) = s.bytes(spec.seccompFilter)
        cfg.shm_options = s.string(spec.shmOptions)
        cfg.sysctl_paths = s.array(spec.sysctls.map(\.0))
        cfg.sysctl_values = s.array(spec.sysctls.map(\.1))
        cfg.n_sysctls = Int32(spec.sysctls.count)
        cfg.host_pid = spec.hostPID ? 1 : 0
        cfg.host_uts = spec.hostUTS ? 1 : 0
        cfg.host_ipc = spec.hostIPC ? 1 : 0
        if let fd = spec.joinPIDNamespaceFD { cfg.join_pid = 1; cfg.pid_ns_fd = fd }
        if let fds = spec.joinIPCNamespaceFDs { cfg.join_ipc = 1; cfg.ipc_ns_fd = fds.ipc; cfg.mnt_ns_fd = fds.mnt }
        cfg.no_shm = spec.noShm ? 1 : 0
        let rlimits = spec.rlimits.map { bk_rlimit(resource: $0.0, soft: $0.1, hard: $0.2) }
        cfg.n_rlimits = Int32(rlimits.count)
        var handle = bk_spawn_handle()
        var msg = [CChar](repeating: 0, count: 512)
        let rc = rlimits.withUnsafeBufferPointer { rl -> Int32 in
          cfg.rlimits = rl.baseAddress
          return cgroupFds.withUnsafeBufferPointer { fds -> Int32 in
            bindFlags.withUnsafeBufferPointer { flags -> Int32 in
                devModes.withUnsafeBufferPointer { modes in
                    devNumbers.withUnsafeBufferPointer { numbers in
                        devUids.withUnsafeBufferPointer { uids in
                            devGids.withUnsafeBufferPointer { gids in
                                cfg.cgroup_fds = fds.baseAddress
                                cfg.n_cgroup_fds = Int32(fds.count)
                                cfg.bind_flags = flags.baseAddress
                                cfg.dev_modes = modes.baseAddress
                                cfg.dev_numbers = numbers.baseAddress
                                cfg.dev_uids = uids.baseAddress
                                cfg.dev_gids = gids.baseAddress
                                return bk_spawn_start(&cfg, &handle, &msg, msg.count)
                            }
                        }
                    }
                }
            }
          }
        }
        if rc != 0 {
            let text = String(decoding: msg.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw BockerError(.kernel, "cannot start container process: \(text)")
        }
        return SpawnedProcess(handle: handle, storage: s)
    }

    /// Runs a command inside the running container whose first process is `pid`, to
    /// completion: joins `cgroupProcs`, its namespaces and root, drops privileges like the first
    /// process (its `rlimits` too). stdio fds: -1 = this process's own. `startedFD` (exec -d): gets the byte '1' once
    /// the command has exec'd. Returns the exit code (128+signal); throws
    /// `.commandNotFound` / `.notExecutable` / `.kernel` when it could not start.
    public static func exec(pid: Int32, argv: [String], env: [String], workdir: String = "/",
                            uid: UInt32 = 0, gid: UInt32 = 0, userName: String? = nil, groupName: String? = nil,
                            capabilities: CapabilitySet = .dockerDefault, allowNewPrivileges: Bool = false,
                            cgroupProcs: [String] = [], timeout: Double? = nil, joinUserNamespace: Bool = false,
                            seccompFilter: [UInt8]? = nil, rlimits: [(Int32, UInt64, UInt64)] = [],
                            tty: Bool = false, startedFD: Int32 = -1,
                            stdin: Int32, stdout: Int32, stderr: Int32) throws -> Int32 {
        guard !argv.isEmpty else { throw BockerError(.invalidArgument, "no command given") }
        let s = CStringStorage()
        var cfg = bk_exec_config()
        cfg.target_pid = pid
        cfg.argv = s.array(argv)
        cfg.envp = s.array(env)
        cfg.path_env = s.string(searchPath(env: env))
        cfg.workdir = s.string(workdir.isEmpty ? "/" : workdir)
        cfg.uid = uid
        cfg.gid = gid
        cfg.user_name = s.string(userName)
        cfg.group_name = s.string(groupName)
        cfg.stdin_fd = stdin
        cfg.stdout_fd = stdout
        cfg.stderr_fd = stderr
        cfg.cap_keep = capabilities.bits
        cfg.cgroup_procs = s.array(cgroupProcs)
        (cfg.seccomp_filter, cfg.seccomp_filter_len) = s.bytes(seccompFilter)
        cfg.allow_new_privs = allowNewPrivileges ? 1 : 0
        cfg.timeout_ms = timeout.map { Int32(min(max($0, 0.001), 86400) * 1000) } ?? 0
        cfg.join_userns = joinUserNamespace ? 1 : 0
        cfg.tty = tty ? 1 : 0
        cfg.started_fd = startedFD
        // exec -t on a terminal: ours goes raw while the command's pty does the line discipline.
        var saved = termios()
        let raw = tty && isatty(stdin) == 1 && tcgetattr(stdin, &saved) == 0
        if raw {
            var t = saved
            cfmakeraw(&t)
            tcsetattr(stdin, TCSANOW, &t)
        }
        defer { if raw { tcsetattr(stdin, TCSANOW, &saved) } }
        var code: Int32 = 0
        var err = bk_child_error()
        let limits = rlimits.map { bk_rlimit(resource: $0.0, soft: $0.1, hard: $0.2) }
        cfg.n_rlimits = Int32(limits.count)
        let r = withExtendedLifetime(s) {
            limits.withUnsafeBufferPointer { rl in
                cfg.rlimits = rl.baseAddress
                return bk_exec_run(&cfg, &code, &err)
            }
        }
        switch r {
        case 0: return code
        case 1: throw error(from: err)
        case 2: throw BockerError(.timeout, "timed out after \(Durations.format(timeout ?? 0)) running '\(argv.joined(separator: " "))': killed")
        default:
            let e = errno
            let message = message(of: err)
            throw BockerError(e == ESRCH ? .invalidState : .kernel, message.isEmpty ? "exec failed" : message)
        }
    }

    static func message(of e: bk_child_error) -> String {
        var m = e.message
        return withUnsafeBytes(of: &m) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    /// The BockerError for a child's report: exec ENOENT → .commandNotFound, other exec errors →
    /// .notExecutable, anything before exec → .kernel.
    static func error(from e: bk_child_error) -> BockerError {
        let message = message(of: e)
        if e.stage == Int32(BK_STAGE_EXEC) {
            return BockerError(e.err == ENOENT ? .commandNotFound : .notExecutable, message)
        }
        return BockerError(.kernel, message.isEmpty ? "container process failed to start" : message)
    }

    static func exitCode(status: Int32) -> Int32 {
        if status & 0x7f == 0 { return (status >> 8) & 0xff }  // WIFEXITED
        return 128 + (status & 0x7f)
    }
}
