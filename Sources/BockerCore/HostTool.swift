import Glibc

/// Runs a host program by absolute path (never one found in a container), optionally feeding
/// it stdin, and turns a failure into an error (code `failure`) carrying the tool's own first
/// line of stderr. With `discardOutput`, its stdout goes to /dev/null instead of ours.
public enum HostTool {
    public static func run(_ argv: [String], stdin input: String? = nil, failure: BockerError.Code = .kernel,
                           discardOutput: Bool = false) throws {
        var inPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1]
        guard stdinSocket(&inPipe), pipe(&errPipe) == 0 else { throw BockerError.errno("pipe") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        if discardOutput { posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0) }
        for fd in [inPipe[0], inPipe[1], errPipe[0], errPipe[1]] { posix_spawn_file_actions_addclose(&actions, fd) }
        var pid: pid_t = 0
        let cargs = argv.map { strdup($0) } + [nil]
        defer { cargs.forEach { free($0) } }
        let rc = posix_spawn(&pid, argv[0], &actions, nil, cargs, environ)
        close(inPipe[0]); close(errPipe[1])
        if rc != 0 {
            close(inPipe[1]); close(errPipe[0])
            throw BockerError.errno("cannot run \(argv[0])", rc, code: .io)
        }
        if let text = input {
            feed(inPipe[1], text)
        }
        close(inPipe[1])
        var err: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buf.withUnsafeMutableBytes { read(errPipe[0], $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            err += buf[0..<n]
        }
        close(errPipe[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        guard code == 0 else {
            let first = String(decoding: err, as: UTF8.self).split(byte: 0x0a).first ?? ""
            throw BockerError(failure, "\(FS.basename(argv[0])) failed (status \(code))\(first.isEmpty ? "" : ": " + first)")
        }
    }

    /// A socket pair standing in for a stdin pipe (fds[0] the program's end, fds[1] ours): a
    /// program that exits without reading its input makes our write fail with EPIPE, not kill
    /// bocker with SIGPIPE (sends use MSG_NOSIGNAL).
    static func stdinSocket(_ fds: inout [Int32]) -> Bool {
        socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0
    }

    /// Writes all of `text` to the program's stdin socket; stops quietly when it has gone.
    static func feed(_ fd: Int32, _ text: String) {
        let bytes = Array(text.utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes[done...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            done += n
        }
    }

    /// What a finished host program said: its exit status (128+N for signal N), stdout, stderr.
    public struct Output: Sendable {
        public var status: Int32
        public var stdout: [UInt8]
        public var stderr: [UInt8]
    }

    /// Runs a host program by absolute path with `input` on stdin and collects its output
    /// (at most `limit` bytes of each stream; the rest is read and dropped). A program that
    /// cannot be started is an error; a non-zero exit is not (the caller reads `status`).
    public static func capture(_ argv: [String], stdin input: String? = nil, limit: Int = 1 << 20) throws -> Output {
        var inPipe: [Int32] = [-1, -1], outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1]
        guard stdinSocket(&inPipe) else { throw BockerError.errno("socketpair") }
        guard pipe(&outPipe) == 0 else { close(inPipe[0]); close(inPipe[1]); throw BockerError.errno("pipe") }
        guard pipe(&errPipe) == 0 else {
            for fd in inPipe + outPipe { close(fd) }
            throw BockerError.errno("pipe")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        for fd in inPipe + outPipe + errPipe { posix_spawn_file_actions_addclose(&actions, fd) }
        var pid: pid_t = 0
        let cargs = argv.map { strdup($0) } + [nil]
        defer { cargs.forEach { free($0) } }
        let rc = posix_spawn(&pid, argv[0], &actions, nil, cargs, environ)
        close(inPipe[0]); close(outPipe[1]); close(errPipe[1])
        if rc != 0 {
            close(inPipe[1]); close(outPipe[0]); close(errPipe[0])
            throw BockerError.errno("cannot run \(argv[0])", rc, code: .io)
        }
        // The input is small (a server name, a JSON document): the pipe buffer holds it.
        if let text = input {
            feed(inPipe[1], text)
        }
        close(inPipe[1])
        var out: [UInt8] = [], err: [UInt8] = []
        var fds = [pollfd(fd: outPipe[0], events: Int16(POLLIN), revents: 0), pollfd(fd: errPipe[0], events: Int16(POLLIN), revents: 0)]
        var buf = [UInt8](repeating: 0, count: 4096)
        var open = 2
        while open > 0 {
            if poll(&fds, 2, -1) < 0 { if errno == EINTR { continue }; break }
            for i in 0..<2 where fds[i].fd >= 0 && fds[i].revents != 0 {
                let n = buf.withUnsafeMutableBytes { read(fds[i].fd, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { close(fds[i].fd); fds[i].fd = -1; open -= 1; continue }
                if i == 0 { if out.count < limit { out += buf[0..<min(n, limit - out.count)] } }
                else if err.count < limit { err += buf[0..<min(n, limit - err.count)] }
            }
        }
        for f in fds where f.fd >= 0 { close(f.fd) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return Output(status: code, stdout: out, stderr: err)
    }
}
