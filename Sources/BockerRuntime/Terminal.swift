import Glibc
import BockerCore

/// The host side of `run -t`: this terminal in raw mode, its size copied to the container's
/// pty, keystrokes to the pty master and the pty's output to the terminal and the log. A
/// detached container's monitor relays with no terminal, its `server` taking attachers' input.
enum Terminal {
    static func relay(master: Int32, stdin: Int32, log: LogWriter, toTerminal: Bool, server: AttachServer? = nil) {
        var saved = termios()
        let raw = stdin >= 0 && isatty(stdin) == 1 && tcgetattr(stdin, &saved) == 0
        if raw {
            var t = saved
            cfmakeraw(&t)
            tcsetattr(stdin, TCSANOW, &t)
            var ws = winsize()
            if ioctl(stdin, UInt(TIOCGWINSZ), &ws) == 0 { _ = ioctl(master, UInt(TIOCSWINSZ), &ws) }
        }
        defer { if raw { tcsetattr(stdin, TCSANOW, &saved) } }
        var fds = [pollfd(fd: master, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: stdin, events: Int16(POLLIN), revents: 0)]
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            var all = fds + (server?.pollEntries ?? [])
            let rc = poll(&all, nfds_t(all.count), -1)
            if rc < 0 { if errno == EINTR { continue }; break }
            for i in 0..<2 { fds[i].revents = all[i].revents }
            server?.handle(all[2...])
            if fds[0].revents != 0 {
                let n = buf.withUnsafeMutableBytes { read(master, $0.baseAddress, $0.count) }
                // EAGAIN: the server made the master non-blocking (for its writes).
                if n < 0 && (errno == EINTR || errno == EAGAIN) { continue }
                if n <= 0 { break }   // EIO: the last process holding the slave is gone
                buf.withUnsafeBytes { raw in
                    let chunk = UnsafeRawBufferPointer(rebasing: raw[0..<n])
                    log.append(chunk, stream: "stdout", partialToo: true)
                    if toTerminal { try? FS.writeAll(1, chunk, what: "output") }
                }
            }
            if fds[1].fd >= 0 && fds[1].revents != 0 {
                let n = buf.withUnsafeMutableBytes { read(stdin, $0.baseAddress, $0.count) }
                if n <= 0 { fds[1].fd = -1; continue }
                _ = try? buf.withUnsafeBytes { try FS.writeAll(master, UnsafeRawBufferPointer(rebasing: $0[0..<n]), what: "the terminal") }
            }
        }
    }
}
