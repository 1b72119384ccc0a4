import Glibc
import BockerCore
import CBocker

/// What `bocker attach` and `bocker start -a` connect to a detached container.
public struct AttachRequest: Sendable {
    /// Forward this process's stdin (only to a container created with `-i`, as Docker).
    public var stdin = false
    public var stdout = true
    public var stderr = true
    /// Forward SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 to the container (not with
    /// `-t`: there the terminal is raw and Ctrl-C is a keystroke for the container's pty).
    public var sigProxy = true
    /// The keys that detach when stdin is a terminal (Docker's default: Ctrl-P Ctrl-Q).
    public var detachKeys: [UInt8] = [0x10, 0x11]

    public init() {}

    /// Docker's `--detach-keys` syntax: comma-separated `ctrl-<a-z @ [ \ ] ^ _>` or single
    /// characters ("ctrl-p,ctrl-q", "ctrl-a,x"); empty gives the default.
    public static func parseDetachKeys(_ spec: String) throws -> [UInt8] {
        if spec.isEmpty { return [0x10, 0x11] }
        return try spec.split(separator: ",", omittingEmptySubsequences: false).map { part in
            let key = part.lowercased()
            let bad = BockerError(.invalidArgument, "invalid detach keys '\(spec)': use ctrl-<letter or @[\\]^_> or single characters, comma-separated")
            if key.hasPrefix("ctrl-") {
                let rest = Array(key.dropFirst(5).utf8)
                guard rest.count == 1 else { throw bad }
                switch rest[0] {
                case UInt8(ascii: "a")...UInt8(ascii: "z"): return rest[0] - UInt8(ascii: "a") + 1
                case UInt8(ascii: "@"): return 0
                case UInt8(ascii: "["): return 27
                case UInt8(ascii: "\\"): return 28
                case UInt8(ascii: "]"): return 29
                case UInt8(ascii: "^"): return 30
                case UInt8(ascii: "_"): return 31
                default: throw bad
                }
            }
            let bytes = Array(part.utf8)
            guard bytes.count == 1 else { throw bad }
            return bytes[0]
        }
    }
}

/// How an attach ended: the container exited (its record, with the exit code), or the user
/// detached and it keeps running.
public enum AttachOutcome {
    case exited(ContainerRecord)
    case detached
}

extension Runtime {
    /// Follows a running container's output from now on (stdout here, stderr on stderr) and,
    /// when asked and it was created with `-i`, forwards this process's stdin to its stdin
    /// (EOF here closes it there). Returns when it exits, or when the user detaches.
    public func attach(_ ref: String, _ request: AttachRequest) throws -> AttachOutcome {
        let rec = try container(ref)
        guard rec.liveState == .running else {
            throw BockerError(.invalidState, "You cannot attach to a stopped container, start it first")
        }
        if rec.paused == true {
            throw BockerError(.invalidState, "You cannot attach to a paused container, unpause it first")
        }
        return try follow(rec.id, from: logEnd(rec.id), request)
    }

    /// `start -a`: starts the container in the background (its monitor holds it, so detaching
    /// or killing this process leaves it running) and attaches from its first byte of output.
    /// A `--rm` container runs in the foreground instead: its record, and so its exit code,
    /// is gone once its monitor removes it.
    public func startAttached(_ ref: String, _ request: AttachRequest) throws -> AttachOutcome {
        let rec = try container(ref)
        if rec.liveState == .running { return try attach(rec.id, request) }
        if rec.autoRemove == true {
            let attach = AttachOptions(stdout: request.stdout, stderr: request.stderr, sigProxy: request.sigProxy)
            return .exited(try runAttachedRecord(rec.id, interactive: request.stdin && rec.openStdin == true, attach: attach))
        }
        let offset = logEnd(rec.id)
        _ = try startDetached(rec.id)
        return try follow(rec.id, from: offset, request)
    }

    /// The byte offset where the container's log continues (0: empty, which `follow` reads
    /// together with rotated files; an exited container's rotated files are only old output
    /// when its live log is empty, and then there is nothing to skip).
    private func logEnd(_ id: String) -> Int {
        var st = stat()
        return lstat(logPath(id), &st) == 0 ? Int(st.st_size) : 0
    }

    /// The attach loop: one poll over the log's directory (inotify), the container's first
    /// process (pidfd), this process's stdin, the monitor's socket and the signal pipe.
    private func follow(_ id: String, from start: Int, _ request: AttachRequest) throws -> AttachOutcome {
        let first = try container(id)
        let dir = root.containerDir(id)
        let containerTTY = first.tty == true
        let stdinTTY = isatty(0) == 1
        let wantsStdin = request.stdin && first.openStdin == true
        let socket = wantsStdin || (containerTTY && stdinTTY) ? AttachWire.connect(directory: dir) : nil
        // No monitor listening (a foreground `run -i` holds its stdin itself): stdin is left
        // unread rather than swallowed.
        let forward = wantsStdin && socket != nil
        var link = AttachLink(socket: socket, detachKeys: forward && stdinTTY ? request.detachKeys : [])
        defer { link.close() }

        // The terminal: raw for a container's pty (keys go to it as typed, Ctrl-C included);
        // else only IXON off, so that Ctrl-Q reaches us as a detach key.
        var saved = termios()
        let terminalSet = forward && stdinTTY && tcgetattr(0, &saved) == 0
        if terminalSet {
            var t = saved
            if containerTTY { cfmakeraw(&t) } else { t.c_iflag &= ~tcflag_t(IXON) }
            tcsetattr(0, TCSANOW, &t)
        }
        defer { if terminalSet { tcsetattr(0, TCSANOW, &saved) } }

        let proxy = request.sigProxy && !containerTTY
        let signals = proxy || containerTTY ? bk_signal_pipe_open(proxy ? 1 : 0) : -1
        defer { if signals >= 0 { bk_signal_pipe_close(signals) } }
        if containerTTY { link.sendSize(of: stdinTTY ? 0 : 1) }

        let watch = ContainerDirWatch(directory: dir, events: IN_MODIFY | IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE_SELF)
        var offset = start
        var exitedPid: Int32?
        var buf = [UInt8](repeating: 0, count: 65536)
        var rec = first
        let eventsFrom = eventsEnd
        var pidfd: Int32 = -1, pidfdFor: Int32?
        defer { if pidfd >= 0 { Glibc.close(pidfd) } }
        var refresh = true   // the record and log are read again only when they may have changed
        while true {
            try Interrupt.check()   // a signal not forwarded (no proxy, or -t) ends attach
            if refresh {
                refresh = false
                // The state first, the log second: the monitor logs all output before it
                // records the exit, so the last lines are never missed.
                guard var now = try? container(id) else {
                    // Removed (`--rm`) before its exit record was read here: its `die` event
                    // still tells the exit code.
                    var filter = EventFilter()
                    filter.containers = [id]
                    filter.actions = ["die"]
                    guard let die = (try? events(from: eventsFrom, filter: filter, wait: false, timeout: nil))?.0.last else {
                        throw BockerError(.notFound, "container '\(id)' was removed while attached")
                    }
                    rec.state = .exited
                    rec.exitCode = die.exitCode
                    return .exited(rec)
                }
                // A monitor found gone may have recorded the exit after this record was read:
                // read it again (a killed one recorded nothing, and the container died with it).
                // The monitor's liveness is looked at once per record: asked twice, it could
                // die in between and a running record would pass for an exit.
                var monitorAlive = now.isMonitorAlive
                if now.state == .running && !monitorAlive {
                    now = (try? container(id)) ?? now
                    monitorAlive = now.isMonitorAlive
                }
                rec = now
                let active = (rec.state == .running && monitorAlive) || restartPending(rec)
                let (entries, next) = try LogReader.follow(path: logPath(id), from: offset)
                offset = next
                for e in entries where e.stream == "stderr" ? request.stderr : request.stdout {
                    let bytes = Array(e.log.utf8)
                    try? bytes.withUnsafeBytes { try FS.writeAll(e.stream == "stderr" ? 2 : 1, $0, what: "output") }
                }
                if !active { return .exited(rec) }
                // The first process's exit wakes us once; then the record's write does (its
                // monitor records the exit a moment later), with no spinning on a dead pidfd.
                let pid = rec.pid.flatMap { $0 == exitedPid ? nil : $0 }
                if pid != pidfdFor {
                    if pidfd >= 0 { Glibc.close(pidfd) }
                    pidfd = pid.map { bk_pidfd_open($0) } ?? -1
                    pidfdFor = pid
                }
            }
            var fds = [pollfd(fd: watch.pollFD, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: signals, events: Int16(POLLIN), revents: 0),
                       link.stdinEntry(forwarding: forward),
                       link.socketEntry]
            let rc = poll(&fds, nfds_t(fds.count), 1000)   // a missed event costs a second, never a hang
            if rc < 0 && errno != EINTR { throw BockerError.errno("cannot wait for the container") }
            if rc == 0 { refresh = true }
            if fds[0].revents != 0 { watch.drain(); refresh = true }
            if fds[1].revents != 0 { exitedPid = rec.pid; refresh = true }
            if fds[2].revents != 0 {
                let n = buf.withUnsafeMutableBytes { read(signals, $0.baseAddress, $0.count) }
                for sig in buf.prefix(max(n, 0)).map(Int32.init) {
                    if sig == SIGWINCH { link.sendSize(of: stdinTTY ? 0 : 1) } else { _ = try? kill(id, signal: sig) }
                }
            }
            if fds[4].revents != 0 { link.flush() }
            if fds[3].revents != 0 && link.readStdin() { return .detached }
        }
    }
}

/// The attacher's end of the socket: stdin read in chunks, sent as `d` messages (queued while
/// the monitor has no room, stdin then not read), EOF as `e`; the detach keys looked for in
/// what is typed. Without a socket (no monitor listening) input is read and dropped.
struct AttachLink {
    /// The most stdin read at once, and so the largest message (the socket's buffer holds several).
    static let chunk = 16384
    private var socket: Int32
    private var queue: [[UInt8]] = []
    private var stdinOpen = true
    private let keys: [UInt8]
    private var matched = 0

    init(socket: Int32?, detachKeys: [UInt8]) {
        self.socket = socket ?? -1
        keys = detachKeys
    }

    mutating func close() {
        if socket >= 0 { Glibc.close(socket) }
        socket = -1
    }

    func stdinEntry(forwarding: Bool) -> pollfd {
        pollfd(fd: forwarding && stdinOpen && queue.isEmpty ? 0 : -1, events: Int16(POLLIN), revents: 0)
    }

    var socketEntry: pollfd {
        pollfd(fd: socket >= 0 && !queue.isEmpty ? socket : -1, events: Int16(POLLOUT), revents: 0)
    }

    /// Reads what stdin has; true when the detach keys were typed.
    mutating func readStdin() -> Bool {
        // Read straight into a `d` message (one read, one message); scan only a chunk that
        // may hold the detach keys.
        var message = [UInt8](repeating: AttachWire.data, count: 1 + AttachLink.chunk)
        let n = message.withUnsafeMutableBytes { read(0, $0.baseAddress! + 1, AttachLink.chunk) }
        if n < 0 && (errno == EINTR || errno == EAGAIN) { return false }
        if n <= 0 {
            stdinOpen = false
            if matched > 0 { enqueue(Array(keys[0..<matched])); matched = 0 }
            send([AttachWire.eof])
            return false
        }
        message.removeLast(AttachLink.chunk - n)
        if keys.isEmpty || (matched == 0 && !message[1...].contains(keys[0])) {
            send(message)
            return false
        }
        var out: [UInt8] = []
        out.reserveCapacity(n)
        for b in message[1...] {
            if b == keys[matched] {
                matched += 1
                if matched == keys.count { enqueue(out); flush(); return true }
                continue
            }
            out += keys[0..<matched]
            matched = 0
            if b == keys[0] {
                matched = 1
                if keys.count == 1 { enqueue(out); flush(); return true }
            } else {
                out.append(b)
            }
        }
        enqueue(out)
        return false
    }

    /// Sends the terminal size of `fd` (for the container's pty).
    mutating func sendSize(of fd: Int32) {
        var ws = winsize()
        guard ioctl(fd, UInt(TIOCGWINSZ), &ws) == 0, ws.ws_row > 0 else { return }
        send([AttachWire.resize, UInt8(ws.ws_row >> 8), UInt8(ws.ws_row & 0xff),
              UInt8(ws.ws_col >> 8), UInt8(ws.ws_col & 0xff)])
    }

    private mutating func enqueue(_ bytes: [UInt8]) {
        if !bytes.isEmpty { send([AttachWire.data] + bytes) }   // at most one chunk (and held keys)
    }

    private mutating func send(_ message: [UInt8]) {
        guard socket >= 0 else { return }
        queue.append(message)
        flush()
    }

    /// Sends queued messages while the socket has room; a monitor that went away ends the link.
    mutating func flush() {
        while socket >= 0, let m = queue.first {
            let n = m.withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL)) }
            if n >= 0 { queue.removeFirst(); continue }
            if errno == EINTR { continue }
            if errno == EAGAIN { return }
            close()
            queue = []
        }
    }
}

