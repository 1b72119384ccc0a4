import Glibc

/// Runs a host program by absolute path (never one found in a container), optionally feeding
/// it stdin, and turns a failure into an error (code `failure`) carrying the tool's own first
/// line of stderr. With `discardOutput`, its stdout goes to /dev/null instead of ours.
public enum HostTool {
    public static func run(_ argv: [String], stdin input: String? = nil, failure: BockerError.Code = .kernel,
                           discardOutput: Bool = false) throws {
        var inPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1]
        guard pipe(&inPipe) == 0, pipe(&errPipe) == 0 else { throw BockerError.errno("pipe") }
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
            _ = try? Array(text.utf8).withUnsafeBytes { try FS.writeAll(inPipe[1], $0, what: "\(argv[0])'s input") }
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
}
