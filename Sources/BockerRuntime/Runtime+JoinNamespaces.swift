import Glibc
import BockerCore
import CBocker

/// The namespaces of other running containers a new one enters (`--network`, `--ipc`, `--pid`
/// `container:X`): fds of their /proc/PID/ns files, opened through a pidfd whose process was
/// checked against the record's pid start time and was still alive after the opens (so a
/// reused pid can never hand over another process's namespaces). -1 = not joined.
struct JoinedNamespaces {
    var net: Int32 = -1
    var ipc: Int32 = -1
    var mnt: Int32 = -1   // with ipc: where the other container's /dev/shm is taken from
    var pid: Int32 = -1

    func close() { for fd in [net, ipc, mnt, pid] where fd >= 0 { Glibc.close(fd) } }

    /// The spawn settings: pid and ipc (net goes through `networkNamespaceFD`).
    func apply(to spec: inout ProcessSpec) {
        spec.joinPIDNamespaceFD = pid >= 0 ? pid : nil
        spec.joinIPCNamespaceFDs = ipc >= 0 ? (ipc, mnt) : nil
    }
}

extension Runtime {
    static let containerModePrefix = "container:"

    /// The reference of a `container:REF` mode, nil for any other mode.
    static func joinReference(_ mode: String?) -> String? {
        guard let m = mode, m.hasPrefix(containerModePrefix) else { return nil }
        return String(m.dropFirst(containerModePrefix.count))
    }

    /// At create (store lock held): each `container:REF` mode names a running container, the
    /// user-namespace rules allow the join, and the mode is stored as `container:<id>`. With
    /// `--network container:X` the container takes X's hostname (X's UTS files are bound).
    func resolveJoinTargets(_ spec: ContainerSpec) throws -> ContainerSpec {
        var spec = spec
        func resolve(_ mode: String?, _ what: String) throws -> (String, ContainerRecord)? {
            guard let ref = Runtime.joinReference(mode) else { return nil }
            guard !ref.isEmpty else { throw BockerError(.invalidArgument, "invalid --\(what) 'container:': name a container") }
            let target: ContainerRecord
            do { target = try container(ref) } catch let e as BockerError {
                throw BockerError(e.code, "\(e.message) (--\(what) container:\(ref))")
            }
            try checkJoinable(target, what: what, userns: spec.security.userns == "auto")
            return (Runtime.containerModePrefix + target.id, target)
        }
        if let (mode, target) = try resolve(spec.network, "network") {
            spec.network = mode
            spec.hostname = target.hostname
        }
        if let (mode, _) = try resolve(spec.run.ipcMode, "ipc") { spec.run.ipcMode = mode }
        if let (mode, _) = try resolve(spec.run.pidMode, "pid") { spec.run.pidMode = mode }
        return spec
    }

    /// Whether a new container may join `target`'s namespaces now: it must be running, and
    /// neither side may have a user namespace of its own (--userns=auto): a host-userns
    /// container would hold full privileges over namespaces owned by the other's user
    /// namespace, and the other way round its root would share namespaces it has no rights
    /// over; neither is done.
    func checkJoinable(_ target: ContainerRecord, what: String, userns: Bool) throws {
        let name = target.name ?? target.id
        guard target.liveState == .running, target.pid != nil else {
            throw BockerError(.invalidState, "cannot join \(what) of a non running container: \(name)")
        }
        if target.idMapping != nil || userns {
            throw BockerError(.invalidArgument, "cannot join \(what) of container \(name): --userns=auto containers cannot share namespaces")
        }
        if what == "ipc" && target.runOptions?.ipcMode == "none" {
            throw BockerError(.invalidArgument, "cannot join ipc of container \(name): it has no /dev/shm to share (--ipc none)")
        }
    }

    /// At each start: opens the namespaces the record's `container:<id>` modes name (see
    /// `JoinedNamespaces`). Throws `.invalidState` when a target is not running.
    func openJoinedNamespaces(_ rec: ContainerRecord) throws -> JoinedNamespaces {
        var j = JoinedNamespaces()
        let wanted: [(String?, String, [String])] = [
            (rec.networkMode, "network", ["net"]), (rec.runOptions?.ipcMode, "ipc", ["ipc", "mnt"]),
            (rec.runOptions?.pidMode, "pid", ["pid"]),
        ]
        do {
            for (mode, what, names) in wanted {
                guard let id = Runtime.joinReference(mode) else { continue }
                guard let target = try? container(id) else {
                    throw BockerError(.invalidState, "cannot join \(what) of a non running container: \(id)")
                }
                try checkJoinable(target, what: what, userns: rec.idMapping != nil)
                let fds = try openNamespaces(of: target, names, what: what)
                for (n, fd) in zip(names, fds) {
                    switch n {
                    case "net": j.net = fd
                    case "ipc": j.ipc = fd
                    case "mnt": j.mnt = fd
                    default: j.pid = fd
                    }
                }
            }
        } catch {
            j.close()
            throw error
        }
        return j
    }

    /// /proc/PID/ns/<names> of the target's first process, through a pidfd checked before and after.
    private func openNamespaces(of target: ContainerRecord, _ names: [String], what: String) throws -> [Int32] {
        let name = target.name ?? target.id
        let notRunning = BockerError(.invalidState, "cannot join \(what) of a non running container: \(name)")
        guard let pid = target.pid, let started = target.pidStartTime else { throw notRunning }
        let pidfd = bk_pidfd_open(pid)
        guard pidfd >= 0 else { throw notRunning }
        defer { Glibc.close(pidfd) }
        // The pidfd names the process that has this pid now: it must be the container's.
        guard ProcessTable.startTime(of: pid) == started else { throw notRunning }
        var fds: [Int32] = []
        for n in names {
            let fd = Glibc.open("/proc/\(pid)/ns/\(n)", O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                let e = BockerError.errno("cannot open the \(n) namespace of container \(name)")
                fds.forEach { Glibc.close($0) }
                throw e
            }
            fds.append(fd)
        }
        // Still alive after the opens: the pid was not reused in between, the fds are its.
        guard bk_pidfd_wait(pidfd, 0) == 0 else {
            fds.forEach { Glibc.close($0) }
            throw notRunning
        }
        return fds
    }

    /// `--network container:X`: X's hosts, resolv.conf and hostname files (bocker's own, in
    /// X's directory) are bound, as Docker shares them.
    func joinedNetworkBinds(_ mode: String) -> [BindMount] {
        let dir = root.containerDir(Runtime.joinReference(mode) ?? "")
        return ["hosts", "resolv.conf", "hostname"].map {
            BindMount(source: dir + "/" + $0, target: "/etc/" + $0, replaceSymlink: true)
        }
    }
}
