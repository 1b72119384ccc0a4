import Glibc
import BockerCore
import CBocker

/// The wire between `bocker attach` and a container's monitor: a `SOCK_SEQPACKET` unix socket,
/// `attach.sock` in the container's directory (mode 0600, root's), one message per frame. The
/// attacher only sends; the monitor never writes to it, so a slow or dead attacher cannot
/// stall the monitor. Output does not go through it: attachers follow the container's log.
enum AttachWire {
    static let socketName = "attach.sock"
    /// `d` + bytes: input for the container's stdin.
    static let data = UInt8(ascii: "d")
    /// `e`: the attacher's stdin ended; the container's stdin is closed (EOF). An attacher that
    /// just goes away (detached, killed) sends nothing and leaves it open.
    static let eof = UInt8(ascii: "e")
    /// `w` + rows, columns (big-endian 16 bits each): the attacher's terminal size, for `-t`.
    static let resize = UInt8(ascii: "w")

    /// A socket address for `file` in the directory open as `dirFD`: through /proc/self/fd, so
    /// a long state root never meets sun_path's 108 bytes.
    static func address(dirFD: Int32) -> sockaddr_un {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let path = Array("/proc/self/fd/\(dirFD)/\(socketName)".utf8)
        withUnsafeMutableBytes(of: &addr.sun_path) { buf in
            buf.copyBytes(from: path.prefix(buf.count - 1))
        }
        return addr
    }

    static func withSockaddr<T>(_ addr: inout sockaddr_un, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }

    /// A connection to the monitor of the container in `directory`; nil when no monitor
    /// listens there (none runs, or a killed one left its socket behind).
    static func connect(directory: String) -> Int32? {
        let dir = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dir >= 0 else { return nil }
        defer { close(dir) }
        let fd = socket(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        var addr = address(dirFD: dir)
        let rc = withSockaddr(&addr) { Glibc.connect(fd, $0, $1) }
        if rc != 0 { close(fd); return nil }
        return fd
    }
}

/// The monitor's side of attach: it listens on the container's `attach.sock`, accepts any
/// number of attachers (as Docker: all of them may type, each message goes in whole), and
/// copies what they send into the container's stdin (a pipe, or the pty for `-t`) without
/// ever blocking: its own end is non-blocking, input waits in a buffer, and while the buffer
/// is not empty attachers are not read (they wait, the monitor does not).
final class AttachServer {
    static let maxAttachers = 32
    private var listenFD: Int32 = -1
    private var socketPath: String
    private var socketID: (dev: UInt64, ino: UInt64) = (0, 0)
    private var attachers: [Int32] = []
    private var buffer = [UInt8](repeating: 0, count: 65536)

    // The current run of the container.
    private var input: Int32 = -1        // where input goes: the stdin pipe or the pty master
    private var ownsInput = false
    private var terminal: Int32 = -1     // the pty master, for resizes
    private var pending: [UInt8] = []
    private var closeAfterPending = false

    /// Listens in `directory`, replacing a socket a killed monitor left behind.
    init(directory: String) throws {
        socketPath = directory + "/" + AttachWire.socketName
        let dir = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dir >= 0 else { throw BockerError.errno("cannot open '\(directory)'") }
        defer { close(dir) }
        _ = unlinkat(dir, AttachWire.socketName, 0)
        let fd = socket(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw BockerError.errno("cannot create the attach socket") }
        var addr = AttachWire.address(dirFD: dir)
        let old = umask(0o177)   // born 0600: no moment when others could connect
        let rc = AttachWire.withSockaddr(&addr) { bind(fd, $0, $1) }
        let err = errno
        umask(old)
        guard rc == 0, listen(fd, 16) == 0 else {
            close(fd)
            throw BockerError.errno("cannot listen on '\(socketPath)'", rc == 0 ? errno : err)
        }
        var st = stat()
        if fstatat(dir, AttachWire.socketName, &st, AT_SYMLINK_NOFOLLOW) == 0 {
            socketID = (UInt64(st.st_dev), UInt64(st.st_ino))
        }
        listenFD = fd
    }

    deinit { shutdown() }

    /// Stops listening: drops every attacher and removes the socket (only if it is still ours:
    /// a later monitor's socket stays).
    func shutdown() {
        endRun()
        attachers.forEach { close($0) }
        attachers = []
        guard listenFD >= 0 else { return }
        close(listenFD)
        listenFD = -1
        var st = stat()
        if lstat(socketPath, &st) == 0, UInt64(st.st_dev) == socketID.dev, UInt64(st.st_ino) == socketID.ino {
            unlink(socketPath)
        }
    }

    /// One run of the container begins: input goes to `input` (nil: the container reads no
    /// stdin; attachers' input is dropped), which the server owns and closes at EOF when
    /// `owned` (a pipe), or only writes to (the pty master, also resized through `terminal`).
    func beginRun(input: Int32?, owned: Bool, terminal: Int32?) {
        endRun()
        if let fd = input {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            self.input = fd
            ownsInput = owned
        }
        self.terminal = terminal ?? -1
    }

    /// The run ended: the stdin pipe is closed, input not yet delivered dropped.
    func endRun() {
        if ownsInput && input >= 0 { close(input) }
        input = -1; ownsInput = false; terminal = -1
        pending = []; closeAfterPending = false
    }

    /// What to add to the caller's poll: the listener, the attachers (unless input is waiting),
    /// and the container's input while input is waiting for room.
    var pollEntries: [pollfd] {
        guard listenFD >= 0 else { return [] }
        var fds = [pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0)]
        for a in attachers { fds.append(pollfd(fd: pending.isEmpty ? a : -1, events: Int16(POLLIN), revents: 0)) }
        fds.append(pollfd(fd: pending.isEmpty ? -1 : input, events: Int16(POLLOUT), revents: 0))
        return fds
    }

    /// Acts on the poll results for the entries `pollEntries` gave (in the same order).
    func handle(_ polled: ArraySlice<pollfd>) {
        let entries = Array(polled)
        guard listenFD >= 0, entries.count == attachers.count + 2 else { return }
        if entries.last?.revents ?? 0 != 0 { flush() }
        var gone: Set<Int32> = []
        for e in entries[1..<(entries.count - 1)] where e.fd >= 0 && e.revents != 0 {
            if !receive(from: e.fd) { gone.insert(e.fd) }
        }
        if !gone.isEmpty {
            gone.forEach { close($0) }
            attachers.removeAll { gone.contains($0) }
        }
        if entries[0].revents != 0 { accept() }
    }

    private func accept() {
        while true {
            let fd = bk_accept_nonblock(listenFD)
            if fd < 0 { return }   // EAGAIN: no one else waiting
            if attachers.count >= AttachServer.maxAttachers { close(fd); continue }
            attachers.append(fd)
        }
    }

    /// Reads one message; false when the attacher is gone (its input so far stays delivered,
    /// the container's stdin stays open).
    private func receive(from fd: Int32) -> Bool {
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        if n < 0 { return errno == EAGAIN || errno == EINTR }
        if n == 0 { return false }
        switch buffer[0] {
        case AttachWire.data:
            if input >= 0 && !closeAfterPending && n > 1 {
                pending.append(contentsOf: buffer[1..<n])
                flush()
            }
        case AttachWire.eof:
            // A pipe is closed once what came before is delivered. A pty is not (as Docker):
            // closing the master would hang up the whole terminal.
            if ownsInput && input >= 0 {
                closeAfterPending = true
                flush()
            }
        case AttachWire.resize:
            if terminal >= 0 && n >= 5 {
                var ws = winsize()
                ws.ws_row = UInt16(buffer[1]) << 8 | UInt16(buffer[2])
                ws.ws_col = UInt16(buffer[3]) << 8 | UInt16(buffer[4])
                _ = ioctl(terminal, UInt(TIOCSWINSZ), &ws)
            }
        default:
            break
        }
        return true
    }

    /// Writes what is pending as far as the container's stdin has room (never waiting); a
    /// container that closed its stdin (EPIPE) gets nothing more.
    private func flush() {
        while !pending.isEmpty && input >= 0 {
            let n = pending.withUnsafeBytes { write(input, $0.baseAddress, $0.count) }
            if n > 0 { pending.removeFirst(n); continue }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && errno == EAGAIN { return }
            pending = []
            if ownsInput { close(input) }
            input = -1
        }
        if pending.isEmpty && closeAfterPending && input >= 0 {
            if ownsInput { close(input) }
            input = -1
            ownsInput = false
            closeAfterPending = false
        }
    }
}
