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
    /// `attach` picks the streams shown (all are logged) and whether signals are forwarded.
    public func runAttachedRecord(_ ref: String, interactive: Bool = false, attach: AttachOptions = AttachOptions()) throws -> ContainerRecord {
        try supervise(ref, attached: true, interactive: interactive, attach: attach, started: nil)
    }

    /// The monitor's loop (the foreground `run` is its own monitor): start the container,
    /// collect its output, record its exit, restart it as its policy says, and remove it at
    /// the end with `--rm`. `started` hears once whether the first start worked.
    func supervise(_ ref: String, attached: Bool, interactive: Bool, attach: AttachOptions = AttachOptions(),
                   started: ((BockerError?) -> Void)?) throws -> ContainerRecord {
        var rec = try container(ref)
        guard rec.liveState.canStart else {
            throw BockerError(.invalidState, "Container '\(rec.id)' is already running")
        }
        // A detached container's monitor listens for attachers (stdin, terminal size) for as
        // long as it supervises the container.
        let server = attached ? nil : try AttachServer(directory: root.containerDir(rec.id))
        defer { server?.shutdown() }
        var first = true
        while true {
            do {
                try runOnce(&rec, attached: attached, interactive: interactive, attach: attach, manualStart: first,
                            server: server) {
                    if first { started?(nil) }
                }
            } catch let e as BockerError {
                if first {
                    started?(e)
                    if rec.autoRemove == true { _ = try? remove(rec.id, force: true, volumes: true) }
                    throw e
                }
                break   // a policy restart that cannot start: it stays exited with the error
            }
            first = false
            // runOnce recorded the exit with restartPending when the policy wants it again.
            guard rec.restartPending == true else { break }
            let restarts = rec.restartCount ?? 0
            // Docker's back-off: 100 ms, doubling, at most 1.6 s; then ask again (a stop may
            // have come meanwhile).
            var ts = timespec(tv_sec: 0, tv_nsec: min(100_000_000 << min(restarts, 4), 1_600_000_000))
            nanosleep(&ts, nil)
            let stopped = try store.withLock { () -> Bool in
                rec = try container(rec.id)
                if rec.stopRequested == true {
                    rec.restartPending = nil
                } else {
                    rec.restartCount = restarts + 1
                }
                try save(rec)
                return rec.stopRequested == true
            }
            if stopped { break }
        }
        if rec.autoRemove == true { _ = try? remove(rec.id, force: true, volumes: true) }
        return rec
    }

    /// One start of the container: network, spawn, output (to the terminal when attached,
    /// always to the log), wait, and the exit recorded.
    func runOnce(_ rec: inout ContainerRecord, attached: Bool, interactive: Bool, attach: AttachOptions = AttachOptions(),
                 manualStart: Bool, server: AttachServer? = nil, onRunning: () -> Void) throws {
        let dir = root.containerDir(rec.id)
        let plan = store.driver.mountPlan(containerDir: dir, layerFS: rec.layers.map(store.layerFS))
        let log = try LogWriter(path: logPath(rec.id), options: rec.logOptions ?? LogOptions())

        var outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1]
        guard bk_pipe_cloexec(&outPipe) == 0, bk_pipe_cloexec(&errPipe) == 0 else {
            throw BockerError.errno("cannot create pipes")
        }
        let parentEnds: [Int32] = [outPipe[0], errPipe[0]]
        defer { parentEnds.forEach { close($0) } }
        // -i without -t: a terminal on our stdin never reaches the container (it could type
        // into it with TIOCSTI or change its modes); it reads a pipe we fill, as in Docker.
        var childStdin: Int32 = interactive ? 0 : -1
        var stdinRelay: [Int32] = [-1, -1]
        if interactive && rec.tty != true && isatty(0) == 1 {
            guard bk_pipe_cloexec(&stdinRelay) == 0 else { throw BockerError.errno("cannot create pipes") }
            _ = fcntl(stdinRelay[1], F_SETFL, fcntl(stdinRelay[1], F_GETFL) | O_NONBLOCK)
            childStdin = stdinRelay[0]
        }
        defer { stdinRelay.forEach { if $0 >= 0 { close($0) } } }
        // Detached with -i (no -t): the container's stdin is a pipe the monitor holds open;
        // attachers fill it through the server, and its EOF is theirs to give.
        var openStdin: [Int32] = [-1, -1]
        if server != nil && rec.openStdin == true && rec.tty != true {
            guard bk_pipe_cloexec(&openStdin) == 0 else { throw BockerError.errno("cannot create pipes") }
            childStdin = openStdin[0]
        }
        defer { openStdin.forEach { if $0 >= 0 { close($0) } } }

        var spec = ProcessSpec(rootfs: dir + "/rootfs", hostname: rec.hostname, argv: rec.argv, env: rec.env)
        spec.overlay = plan
        spec.workdir = rec.workdir
        spec.dieWithParent = true         // a killed monitor takes its container along
        let user = try parseUser(rec.user)
        spec.uid = user.uid
        spec.gid = user.gid
        spec.userName = user.userName
        spec.groupName = user.groupName
        spec.useInit = rec.useInit == true
        try applySecurity(rec.security ?? SecurityOptions(), to: &spec)
        (rec.runOptions ?? RunOptions()).apply(to: &spec)
        // --device nodes, looked up again at each start (the host's node may have changed).
        spec.devices = try (rec.security?.devices ?? []).map(ContainerDevice.init)
        spec.seccompFilter = try seccompFilter(rec, capabilities: spec.capabilities)

        // The child joins the container's cgroups itself and runs straight to execve (with an
        // init it cannot: init forks, so it is cloned normally and put in its cgroups by us).
        try ensureCgroup(rec)   // gone after a reboot
        let cg = cgroup(of: rec.id)
        // In a user namespace it cannot either (its root may not write the host's cgroupfs).
        if let m = rec.idMapping {
            spec.userNamespace = m
            if plan != nil {
                let layers = rec.layers.map(store.layerFS)
                spec.overlayLayers = (layers.isEmpty ? [dir + "/empty"] : layers.reversed(), dir + "/upper", dir + "/work")
            }
        }
        let parentJoinsCgroups = spec.useInit || spec.userNamespace != nil
        if !parentJoinsCgroups { spec.cgroupProcs = cg.procsFiles }
        let oomBefore = cg.oomKillCount()
        let volumeBinds = try mountBinds(rec)
        // -t: the child opens a pty in the container's /dev/pts and hands us the master.
        var ttyPair: [Int32] = [-1, -1]
        if rec.tty == true {
            guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &ttyPair) == 0 else {
                throw BockerError.errno("cannot create a socket pair")
            }
            spec.ttySocket = ttyPair[1]
        }
        defer { ttyPair.forEach { if $0 >= 0 { close($0) } } }
        let child: SpawnedProcess
        let joined = try openJoinedNamespaces(rec)   // --network/--ipc/--pid container:X
        defer { joined.close() }
        joined.apply(to: &spec)
        let net = try prepareNetwork(&rec)
        spec.newNetworkNamespace = net.newNamespace
        spec.networkNamespaceFD = joined.net >= 0 ? joined.net : net.namespace?.fd
        spec.binds = net.binds.map { var b = $0; b.idmapped = true; return b } + volumeBinds
        do {
            defer {   // the child has its own copies
                close(outPipe[1]); close(errPipe[1])
                if stdinRelay[0] >= 0 { close(stdinRelay[0]); stdinRelay[0] = -1 }
                if openStdin[0] >= 0 { close(openStdin[0]); openStdin[0] = -1 }
            }
            FaultPoint.hit("run.before-spawn")
            child = try ContainerProcess.spawn(spec, stdin: childStdin,
                                               stdout: outPipe[1], stderr: errPipe[1])
            if parentJoinsCgroups {
                do { try cg.addProcess(child.pid) } catch { child.abort(); throw error }
            }
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
                rec.finishedAt = WallClock.now()
                rec.pid = nil
                try save(rec)
                store.endPending("running", rec.id)
            }
            emit(ContainerEvent("die", rec, exitCode: code))
            throw err
        }
        net.namespace?.close()   // the container holds its namespace from here on
        var ttyMaster: Int32 = -1
        if rec.tty == true {
            close(ttyPair[1]); ttyPair[1] = -1
            ttyMaster = bk_receive_fd(ttyPair[0])
            if ttyMaster < 0 {
                child.abort()
                throw BockerError.errno("cannot receive the container's terminal")
            }
        }
        defer { if ttyMaster >= 0 { close(ttyMaster) } }
        // It runs (its monitor's death kills it: PDEATHSIG); record that and where it is.
        // Only a restart policy needs what other bockers wrote meanwhile (a stop request).
        let merges = (rec.restartPolicy?.name ?? "no") != "no"
        try store.withLock {
            let latest = merges ? try? container(rec.id) : nil
            rec.state = .running
            rec.pid = child.pid
            rec.pidStartTime = ProcessTable.startTime(of: child.pid)
            rec.monitorPid = getpid()
            rec.monitorStartTime = ProcessTable.selfStartTime
            rec.startedAt = WallClock.now()
            rec.finishedAt = nil
            rec.exitCode = nil
            rec.error = nil
            rec.oomKilled = nil
            rec.restartPending = nil
            rec.restartCount = latest?.restartCount ?? rec.restartCount
            rec.stopRequested = manualStart ? nil : latest?.stopRequested ?? rec.stopRequested
            if let l = latest { rec.keepChangesWhileRunning(from: l) }   // a restart: rename/update meanwhile
            try store.beginPending("running", rec.id)
            try save(rec)
        }
        FaultPoint.hit("run.running")
        emit(ContainerEvent("start", rec))
        onRunning()
        let health = HealthMonitor.start(self, rec)

        if attached { if attach.sigProxy { bk_forward_signals(child.pid) } else { bk_ignore_forwarded_signals() } }
        if ttyMaster >= 0 {
            server?.beginRun(input: rec.openStdin == true ? ttyMaster : nil, owned: false, terminal: ttyMaster)
            // With a terminal there is one stream, shown as stdout (`-a stderr` shows nothing).
            Terminal.relay(master: ttyMaster, stdin: attached && interactive ? 0 : -1, log: log,
                           toTerminal: attached && attach.stdout, server: server)
        } else {
            server?.beginRun(input: openStdin[1] >= 0 ? openStdin[1] : nil, owned: true, terminal: nil)
            openStdin[1] = -1   // the server closes it
            let relay: (Int32, Int32)? = stdinRelay[1] >= 0 ? (0, stdinRelay[1]) : nil
            stdinRelay[1] = -1   // the pump closes it
            pump(out: outPipe[0], err: errPipe[0], log: log, toTerminal: attached, stdinRelay: relay,
                 shown: (attach.stdout, attach.stderr), server: server)
        }
        server?.endRun()
        let code = child.wait()
        health?.stop()
        if attached { bk_forward_signals(0) }
        log.flush()

        try store.withLock {
            // What `rename` and `update` wrote while it ran stays (this copy is from its start).
            let current = try? container(rec.id)
            if let c = current { rec.keepChangesWhileRunning(from: c) }
            let latest = merges ? current : nil
            releaseNetwork(&rec, exited: true)
            rec.state = .exited
            rec.exitCode = code
            rec.finishedAt = WallClock.now()
            rec.pid = nil
            rec.paused = nil
            rec.oomKilled = cg.oomKillCount() > oomBefore
            rec.stopRequested = latest?.stopRequested ?? rec.stopRequested
            rec.restartCount = latest?.restartCount ?? rec.restartCount
            // Decide now, in the same record as the exit, whether the monitor starts it again:
            // `wait` and `logs -f` then never see a gap between exit and restart.
            let policy = rec.restartPolicy ?? RestartPolicy()
            rec.restartPending = policy.shouldRestart(exitCode: code, restarts: rec.restartCount ?? 0,
                                                      stoppedByUser: rec.stopRequested == true) ? true : nil
            try save(rec)
            store.endPending("running", rec.id)
        }
        if rec.oomKilled == true { emit(ContainerEvent("oom", rec)) }
        emit(ContainerEvent("die", rec, exitCode: code))
    }

    /// The container's security options in its first process's spec: capabilities, no_new_privs,
    /// a read-only root, and for `--privileged` a writable /sys without masked paths.
    func applySecurity(_ sec: SecurityOptions, to spec: inout ProcessSpec) throws {
        spec.capabilities = try sec.capabilities()
        spec.allowNewPrivileges = !sec.noNewPrivileges
        spec.readOnlyRootfs = sec.readOnlyRootfs
        spec.sysWritable = sec.privileged
        if sec.privileged || sec.unmaskedPaths {
            spec.maskedPaths = []
            spec.readonlyPaths = []
        }
    }

    /// What the container's mounts become in the child: binds of host paths and volume data,
    /// tmpfs mounts. Bind sources are checked again now (they may have changed since create).
    func mountBinds(_ rec: ContainerRecord) throws -> [BindMount] {
        try (rec.mounts ?? []).map { m in
            switch m.type {
            case .bind:
                try MountSpec.checkHostPath(m.source)
                return BindMount(source: m.source, target: m.destination, readOnly: m.readOnly)
            case .volume:
                let v = try store.withLock { try volumes.ensure(m.source) }
                return BindMount(source: v.mountpoint, target: m.destination, readOnly: m.readOnly)
            case .tmpfs:
                return BindMount(source: m.tmpfsOptions, target: m.destination, readOnly: m.readOnly, tmpfs: true)
            }
        }
    }

    /// Copies the container's output to its log (and our stdout/stderr when `toTerminal`)
    /// until both pipes close. `stdinRelay` (our terminal, the container's stdin pipe with
    /// O_NONBLOCK) is copied too, until either end closes; the caller closes the pipe.
    func pump(out: Int32, err: Int32, log: LogWriter, toTerminal: Bool, stdinRelay: (from: Int32, to: Int32)? = nil,
              shown: (Bool, Bool) = (true, true), server: AttachServer? = nil) {
        var fds = [pollfd(fd: out, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: err, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: -1, events: 0, revents: 0)]
        var open = 2
        var buf = [UInt8](repeating: 0, count: 65536)
        var input = StdinRelay(stdinRelay)
        while open > 0 {
            fds[2] = input.pollEntry
            var all = fds + (server?.pollEntries ?? [])
            let rc = poll(&all, nfds_t(all.count), -1)
            if rc < 0 { if errno == EINTR { continue }; break }
            for i in 0..<3 { fds[i].revents = all[i].revents }
            server?.handle(all[3...])
            if fds[2].fd >= 0 && fds[2].revents != 0 { input.step() }
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
                    if toTerminal && (i == 0 ? shown.0 : shown.1) { try? FS.writeAll(i == 0 ? 1 : 2, chunk, what: "output") }
                }
            }
        }
        input.finish()
    }

    /// Runs a command inside a running container (its namespaces and cgroup), with this
    /// process's stdio (or the given fds); returns the command's exit code. A terminal among
    /// them reaches the command only as a pipe (exec.c relays it).
    public func exec(_ ref: String, argv: [String], env: [String] = [], workdir: String? = nil,
                     user: String? = nil, stdio: (Int32, Int32, Int32) = (0, 1, 2), timeout: Double? = nil,
                     tty: Bool = false, startedFD: Int32 = -1) throws -> Int32 {
        let rec = try container(ref)
        if rec.paused == true && rec.liveState == .running {
            throw BockerError(.invalidState, "Container '\(rec.id)' is paused, unpause the container before exec")
        }
        guard rec.liveState.canExec, let pid = rec.pid else {
            throw BockerError(.invalidState, "Container '\(rec.id)' exists but is not running")
        }
        guard !argv.isEmpty else { throw BockerError(.invalidArgument, "exec needs a command") }
        let u = try parseUser(user ?? rec.user)
        let caps = try (rec.security ?? SecurityOptions()).capabilities()
        return try ContainerProcess.exec(
            pid: pid, argv: argv, env: mergeEnv(rec.env, env, hostname: rec.hostname),
            workdir: workdir ?? rec.workdir, uid: u.uid, gid: u.gid, userName: u.userName, groupName: u.groupName,
            capabilities: caps,
            allowNewPrivileges: rec.security?.noNewPrivileges == false,
            cgroupProcs: cgroup(of: rec.id).procsFiles, timeout: timeout, joinUserNamespace: rec.idMapping != nil,
            seccompFilter: try seccompFilter(rec, capabilities: caps),
            rlimits: rec.runOptions?.rlimits ?? [],
            tty: tty, startedFD: startedFD, stdin: stdio.0, stdout: stdio.1, stderr: stdio.2)
    }

    /// `exec` with its output captured: (exit code, stdout, stderr). The output goes to
    /// in-memory files, read after the command ends (no pipe to fill and deadlock on).
    public func execCapture(_ ref: String, argv: [String], env: [String] = [], workdir: String? = nil,
                            user: String? = nil, timeout: Double? = nil) throws -> (Int32, [UInt8], [UInt8]) {
        let out = bk_memfd("bocker-exec-stdout"), err = bk_memfd("bocker-exec-stderr")
        guard out >= 0, err >= 0 else { throw BockerError.errno("cannot capture output") }
        defer { close(out); close(err) }
        let null = Glibc.open("/dev/null", O_RDONLY | O_CLOEXEC)
        defer { if null >= 0 { close(null) } }
        let code = try exec(ref, argv: argv, env: env, workdir: workdir, user: user, stdio: (null, out, err), timeout: timeout)
        func slurp(_ fd: Int32) -> [UInt8] {
            lseek(fd, 0, SEEK_SET)
            var all: [UInt8] = []
            var buf = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n <= 0 { break }
                all += buf[0..<n]
            }
            return all
        }
        return (code, slurp(out), slurp(err))
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

/// `run -i` without `-t` when our stdin is a terminal: what is typed goes into the container's
/// stdin pipe, so the container never holds a descriptor of the terminal. Non-blocking on the
/// pipe side: a container that does not read never stalls the output pump.
struct StdinRelay {
    private var from: Int32 = -1, to: Int32 = -1
    private var pending: [UInt8] = []

    init(_ ends: (from: Int32, to: Int32)?) {
        if let e = ends { from = e.from; to = e.to }
    }

    /// What to poll: the terminal when nothing is pending, else the pipe for room.
    var pollEntry: pollfd {
        if to < 0 { return pollfd(fd: -1, events: 0, revents: 0) }
        return pending.isEmpty ? pollfd(fd: from, events: Int16(POLLIN), revents: 0)
                               : pollfd(fd: to, events: Int16(POLLOUT), revents: 0)
    }

    /// Reads the terminal or writes pending input, as polled; EOF or a closed pipe ends it.
    mutating func step() {
        if pending.isEmpty {
            var buf = [UInt8](repeating: 0, count: 4096)
            let n = buf.withUnsafeMutableBytes { read(from, $0.baseAddress, $0.count) }
            if n < 0 && (errno == EINTR || errno == EAGAIN) { return }
            if n <= 0 { finish(); return }
            pending = Array(buf[0..<n])
        }
        // SIGPIPE blocked around the write (and a pending one taken back): a container that
        // closed its stdin gives EPIPE here, it must not kill its monitor.
        var pipeSet = sigset_t(), old = sigset_t()
        sigemptyset(&pipeSet)
        sigaddset(&pipeSet, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &pipeSet, &old)
        let n = pending.withUnsafeBytes { write(to, $0.baseAddress, $0.count) }
        let err = errno
        if n < 0 && err == EPIPE {
            var zero = timespec()
            _ = sigtimedwait(&pipeSet, nil, &zero)
        }
        pthread_sigmask(SIG_SETMASK, &old, nil)
        if n < 0 {
            if err == EINTR || err == EAGAIN { return }
            finish()   // EPIPE: the container closed its stdin
            return
        }
        pending.removeFirst(n)
    }

    /// Stops relaying and closes the pipe: the container sees EOF on its stdin.
    mutating func finish() {
        if to >= 0 { close(to) }
        from = -1; to = -1; pending = []
    }
}
