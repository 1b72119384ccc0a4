#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import BockerCore
import BockerStore
import CBocker
import BockerNetwork

extension Runtime {
    /// Starts a created (or exited) container in the foreground: its output is shown live on
    /// this process's stdout/stderr and kept in its log; returns its exit code (128+n for a
    /// signal). With `interactive`, this process's stdin is the container's.
    public func runAttached(_ ref: String, interactive: Bool = false) throws -> Int32 {
        try runAttachedRecord(ref, interactive: interactive).exitCode ?? 0
    }

    /// `runAttached`, returning the container's record as it ended (exit code, times).
    public func runAttachedRecord(_ ref: String, interactive: Bool = false) throws -> ContainerRecord {
        var rec = try container(ref)
        guard rec.liveState.canStart else {
            throw BockerError(.invalidState, "Container '\(rec.id)' is already running")
        }
        let dir = root.containerDir(rec.id)
        let plan = store.driver.mountPlan(containerDir: dir, layerFS: rec.layers.map(store.layerFS))
        let log = try LogWriter(path: logPath(rec.id))

        var outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1]
        guard bk_pipe_cloexec(&outPipe) == 0, bk_pipe_cloexec(&errPipe) == 0 else {
            throw BockerError.errno("cannot create pipes")
        }
        let parentEnds: [Int32] = [outPipe[0], errPipe[0]]
        defer { parentEnds.forEach { close($0) } }

        var spec = ProcessSpec(rootfs: dir + "/rootfs", hostname: rec.hostname, argv: rec.argv, env: rec.env)
        spec.overlay = plan
        spec.workdir = rec.workdir
        spec.dieWithParent = true         // a killed bocker takes its foreground container along
        let user = try parseUser(rec.user)
        spec.uid = user.uid
        spec.gid = user.gid
        spec.userName = user.userName
        spec.groupName = user.groupName

        // The child joins the container's cgroups itself and runs straight to execve.
        spec.cgroupProcs = cgroup(of: rec.id).procsFiles
        let child: SpawnedProcess
        let net = try prepareNetwork(&rec)
        spec.newNetworkNamespace = net.newNamespace
        spec.networkNamespaceFD = net.namespace?.fd
        spec.binds = net.binds
        do {
            defer { close(outPipe[1]); close(errPipe[1]) }   // the child has its own copies
            FaultPoint.hit("run.before-spawn")
            child = try ContainerProcess.spawn(spec, stdin: interactive ? 0 : -1,
                                               stdout: outPipe[1], stderr: errPipe[1])
            try child.release()
        } catch let err as BockerError {
            net.namespace?.close()
            // The container was started and failed: record it as Docker does (exited 126/127,
            // or 125 for a setup failure) and report the one-line reason.
            let code: Int32 = err.code == .commandNotFound ? 127 : err.code == .notExecutable ? 126 : 125
            try? store.withLock {
                releaseNetwork(&rec)
                rec.state = .exited
                rec.exitCode = code
                rec.error = err.message
                rec.finishedAt = nowSeconds()
                rec.pid = nil
                try save(rec)
                store.endPending("running", rec.id)
            }
            throw err
        }
        net.namespace?.close()   // the container holds its namespace from here on
        // It runs (its bocker's death kills it: PDEATHSIG); record that and where it is.
        try store.withLock {
            rec.state = .running
            rec.pid = child.pid
            rec.pidStartTime = ProcessTable.startTime(of: child.pid)
            rec.monitorPid = getpid()
            rec.monitorStartTime = ProcessTable.startTime(of: getpid())
            rec.startedAt = nowSeconds()
            rec.finishedAt = nil
            rec.exitCode = nil
            rec.error = nil
            try store.beginPending("running", rec.id)
            try save(rec)
        }
        FaultPoint.hit("run.running")

        bk_forward_signals(child.pid)
        pump(out: outPipe[0], err: errPipe[0], log: log)
        let code = child.wait()
        bk_forward_signals(0)
        log.flush()

        try store.withLock {
            releaseNetwork(&rec, exited: true)
            rec.state = .exited
            rec.exitCode = code
            rec.finishedAt = nowSeconds()
            rec.pid = nil
            try save(rec)
            store.endPending("running", rec.id)
        }
        return rec
    }

    /// Copies the container's output to our stdout/stderr and its log until both pipes close.
    func pump(out: Int32, err: Int32, log: LogWriter) {
        var fds = [pollfd(fd: out, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: err, events: Int16(POLLIN), revents: 0)]
        var open = 2
        var buf = [UInt8](repeating: 0, count: 65536)
        while open > 0 {
            let rc = poll(&fds, 2, -1)
            if rc < 0 { if errno == EINTR { continue }; break }
            for i in 0..<2 where fds[i].fd >= 0 && fds[i].revents != 0 {
                let n = buf.withUnsafeMutableBytes { Glibc.read(fds[i].fd, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 {
                    fds[i].fd = -1
                    open -= 1
                    continue
                }
                buf.withUnsafeBytes { raw in
                    // Log first: output a user has seen is never missing from the log, even
                    // if bocker is killed right after showing it.
                    let chunk = UnsafeRawBufferPointer(rebasing: raw[0..<n])
                    log.append(chunk, stream: i == 0 ? "stdout" : "stderr", partialToo: true)
                    try? FS.writeAll(i == 0 ? 1 : 2, chunk, what: "output")
                }
            }
        }
    }

    /// Runs a command inside a running container (its namespaces and cgroup), with this
    /// process's stdio; returns the command's exit code.
    public func exec(_ ref: String, argv: [String], env: [String] = [], workdir: String? = nil,
                     user: String? = nil) throws -> Int32 {
        let rec = try container(ref)
        guard rec.liveState.canExec, let pid = rec.pid else {
            throw BockerError(.invalidState, "Container '\(rec.id)' exists but is not running")
        }
        guard !argv.isEmpty else { throw BockerError(.invalidArgument, "exec needs a command") }
        let u = try parseUser(user ?? rec.user)
        return try ContainerProcess.exec(
            pid: pid, argv: argv, env: mergeEnv(rec.env, env, hostname: rec.hostname),
            workdir: workdir ?? rec.workdir, uid: u.uid, gid: u.gid, userName: u.userName, groupName: u.groupName,
            capabilities: .dockerDefault, cgroupProcs: cgroup(of: rec.id).procsFiles,
            stdin: 0, stdout: 1, stderr: 2)
    }

    /// A `user` setting (`name`, `uid`, `name:group`, `uid:gid`): numbers are used as they are,
    /// names are looked up by the container's first process in its own /etc/passwd and
    /// /etc/group after pivot_root, never on the host.
    struct UserSpec {
        var uid: UInt32 = 0, gid: UInt32 = 0
        var userName: String?, groupName: String?
    }

    func parseUser(_ user: String?) throws -> UserSpec {
        var u = UserSpec()
        guard let user = user, !user.isEmpty else { return u }
        let parts = user.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard !parts[0].isEmpty, parts.count == 1 || !parts[1].isEmpty,
              parts.allSatisfy({ Identifier.isSafeComponent($0) }) else {
            throw BockerError(.invalidArgument, "invalid user '\(user)': use NAME, UID, NAME:GROUP or UID:GID")
        }
        if let uid = UInt32(parts[0]) { u.uid = uid } else { u.userName = parts[0] }
        if parts.count > 1 {
            if let gid = UInt32(parts[1]) { u.gid = gid } else { u.groupName = parts[1] }
        }
        return u
    }
}
