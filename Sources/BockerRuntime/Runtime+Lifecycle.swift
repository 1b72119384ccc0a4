#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import BockerCore
import BockerStore
import CBocker

extension Runtime {
    // MARK: Detached containers and their monitor

    /// Starts a created or exited container in the background and returns once it runs (or
    /// throws why it could not start). A monitor process — this binary again, re-executed as
    /// `bocker __monitor ROOT ID` in a session of its own — collects its output into the log,
    /// records its exit and carries out its restart policy after this process has gone.
    /// Starting a running container does nothing.
    public func startDetached(_ ref: String) throws -> ContainerRecord {
        let rec = try container(ref)
        if rec.liveState == .running { return rec }
        var ready: [Int32] = [-1, -1]
        guard bk_pipe_cloexec(&ready) == 0 else { throw BockerError.errno("cannot create a pipe") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDWR, 0)
        posix_spawn_file_actions_adddup2(&actions, 0, 1)
        posix_spawn_file_actions_adddup2(&actions, 0, 2)
        posix_spawn_file_actions_adddup2(&actions, ready[1], 3)   // dup2 clears close-on-exec
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        posix_spawnattr_setflags(&attr, Int16(0x80))   // POSIX_SPAWN_SETSID: no terminal, own session
        let argv = ["bocker", "__monitor", root.path, rec.id]
        let cargs = argv.map { strdup($0) } + [nil]
        defer { cargs.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, "/proc/self/exe", &actions, &attr, cargs, environ)
        close(ready[1])
        guard rc == 0 else {
            close(ready[0])
            throw BockerError.errno("cannot start the container's monitor", rc)
        }
        // The monitor says "ok", or the error's code and message; EOF without a word means it died.
        var msg: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 1024)
        while true {
            let n = buf.withUnsafeMutableBytes { read(ready[0], $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            msg += buf[0..<n]
        }
        close(ready[0])
        let text = String(decoding: msg, as: UTF8.self)
        if text == "ok" {
            startedByThisProcess.append(rec.id)
            return try container(rec.id)
        }
        var status: Int32 = 0
        waitpid(pid, &status, 0)   // it exits after a failed first start
        let parts = text.split(separator: "\t", maxSplits: 1).map(String.init)
        if parts.count == 2, let code = BockerError.Code(rawValue: parts[0]) {
            throw BockerError(code, parts[1])
        }
        throw BockerError(.internal, "the monitor of '\(rec.id)' ended before the container started")
    }

    /// The runtime's own entry points in the bocker binary (no Lua): the exit status when `argv`
    /// is one of them (`bocker __monitor ROOT ID`), nil for a user's command line.
    public static func internalEntry(_ argv: [String]) -> Int32? {
        if argv.count == 5, argv[1] == "__exec" { return execMain(root: argv[2], id: argv[3], spec: argv[4]) }
        guard argv.count == 4, argv[1] == "__monitor" else { return nil }
        return monitorMain(root: argv[2], id: argv[3])
    }

    /// The monitor process's whole life (`bocker __monitor ROOT ID`, ready pipe on fd 3).
    public static func monitorMain(root: String, id: String) -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        signal(SIGHUP, SIG_IGN)
        var readyFD: Int32 = 3
        let rt: Runtime
        do { rt = Runtime(store: try Store(root: StateRoot(path: root))) } catch {
            report(&readyFD, error)
            return 125
        }
        do {
            let rec = try rt.supervise(id, attached: false, interactive: false) { err in
                if let e = err { report(&readyFD, e) } else { tell(&readyFD, "ok") }
            }
            return rec.exitCode ?? 0
        } catch {
            report(&readyFD, error)
            return 125
        }
    }

    private static func report(_ fd: inout Int32, _ error: Error) {
        let e = (error as? BockerError) ?? BockerError(.internal, "\(error)")
        tell(&fd, e.code.rawValue + "\t" + e.message)
    }

    private static func tell(_ fd: inout Int32, _ s: String) {
        guard fd >= 0 else { return }
        _ = try? Array(s.utf8).withUnsafeBytes { try FS.writeAll(fd, $0, what: "the ready pipe") }
        close(fd)
        fd = -1
    }

    // MARK: stop, kill, wait

    /// Signals the running container's first process through a pidfd (never a recycled pid).
    /// TERM, KILL and its stop signal also ask its monitor not to restart it (the user ended it).
    public func kill(_ ref: String, signal sig: Int32) throws -> ContainerRecord {
        var rec = try container(ref)
        guard rec.liveState == .running, let pid = rec.pid else {
            throw BockerError(.invalidState, "Container '\(rec.id)' is not running")
        }
        let stopSignal = rec.stopSignal.flatMap { try? Signals.parse($0) }
        if sig == SIGKILL || sig == SIGTERM || sig == stopSignal { rec = try requestStop(rec.id) }
        // A commit killed halfway leaves the container frozen, and a frozen process acts on no
        // signal (not even SIGKILL on cgroup v1) until it is thawed.
        cgroup(of: rec.id).thaw()
        if rec.paused == true { markThawed(rec.id) }
        let fd = bk_pidfd_open(pid)
        guard fd >= 0 else { return rec }   // it just went
        defer { close(fd) }
        guard ProcessTable.isAlive(pid, startedAt: rec.pidStartTime) else { return rec }
        if bk_pidfd_send_signal(fd, sig) != 0 && errno != ESRCH {
            throw BockerError.errno("cannot signal container '\(rec.id)'")
        }
        return rec
    }

    /// The container's stop signal (`--stop-signal`, else its image's StopSignal, else SIGTERM),
    /// then SIGKILL after `timeout` seconds (default: its `--stop-timeout`, else 10; -1: never);
    /// returns once the exit is recorded. Stopping a container that is not running (and that
    /// no monitor will restart) does nothing.
    public func stop(_ ref: String, timeout: Int? = nil) throws -> ContainerRecord {
        var rec = try container(ref)
        let timeout = timeout ?? rec.stopTimeout ?? 10
        let signal = rec.stopSignal.flatMap { try? Signals.parse($0) } ?? SIGTERM
        guard rec.liveState == .running || (rec.monitorPid != nil && rec.isMonitorAlive) else { return rec }
        // The request is on record before anything is signalled: a container that exits by
        // itself meanwhile, or is between policy restarts, is not started again.
        rec = try requestStop(rec.id)
        cgroup(of: rec.id).thaw()   // see kill: a container left frozen by a killed commit
        if rec.liveState == .running, let pid = rec.pid {
            let fd = bk_pidfd_open(pid)
            if fd >= 0 {
                defer { close(fd) }
                guard ProcessTable.isAlive(pid, startedAt: rec.pidStartTime) else { return try waitForExit(rec.id) }
                if bk_pidfd_send_signal(fd, signal) != 0 && errno != ESRCH {
                    throw BockerError.errno("cannot signal container '\(rec.id)'")
                }
                if bk_pidfd_wait(fd, timeout < 0 ? -1 : Int32(min(timeout, Int(Int32.max / 1000))) * 1000) == 0 {
                    bk_pidfd_send_signal(fd, SIGKILL)
                    _ = bk_pidfd_wait(fd, 10_000)
                }
            }
        }
        return try waitForExit(rec.id)
    }

    /// Records that the user ended the container, so its restart policy does not bring it back.
    private func requestStop(_ id: String) throws -> ContainerRecord {
        try store.withLock {
            var rec = try container(id)
            rec.stopRequested = true
            try save(rec)
            return rec
        }
    }

    /// Blocks until the container has exited for good (no restart pending) and its monitor
    /// has recorded it; returns that record. Woken by the kernel: a pidfd on the monitor and
    /// inotify on the record, never a sleep loop.
    public func waitForExit(_ ref: String) throws -> ContainerRecord {
        try waitForExit(ref, timeout: nil)
    }

    /// Whether the monitor will start this exited container again.
    func restartPending(_ rec: ContainerRecord) -> Bool {
        rec.restartPending == true && rec.monitorPid != nil && rec.isMonitorAlive && rec.stopRequested != true
    }
}
