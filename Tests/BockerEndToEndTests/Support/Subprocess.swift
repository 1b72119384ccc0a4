import Glibc

/// What a finished command produced.
struct RunResult: CustomStringConvertible, Sendable {
    var status: Int32
    var stdout: String
    var stderr: String
    var timedOut = false

    /// Non-empty lines of stdout / stderr (a trailing newline does not make an extra line).
    var stdoutLines: [String] { splitLines(stdout) }
    var stderrLines: [String] { splitLines(stderr) }
    /// stdout and stderr lines together (for messages that may go to either).
    var allLines: [String] { stdoutLines + stderrLines }

    var description: String {
        "exit status \(status)\(timedOut ? " (TIMED OUT, killed)" : "")\n--- stdout ---\n\(stdout)\n--- stderr ---\n\(stderr)\n---"
    }
}

func splitLines(_ s: String) -> [String] {
    s.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
}

func trimmed(_ s: String) -> String {
    var sub = Substring(s)
    while let c = sub.first, c == " " || c == "\n" || c == "\t" || c == "\r" { sub.removeFirst() }
    while let c = sub.last, c == " " || c == "\n" || c == "\t" || c == "\r" { sub.removeLast() }
    return String(sub)
}

/// Whitespace-separated fields of a line.
func fields(_ line: String) -> [String] {
    line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
}

struct SubprocessError: Error, CustomStringConvertible {
    let description: String
}

private func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Decodes a waitpid status into a shell-style exit code (128+N for a signal).
private func exitCode(fromWaitStatus st: Int32) -> Int32 {
    let sig = st & 0x7f
    if sig == 0 { return (st >> 8) & 0xff }
    return 128 + sig
}

/// SIGPIPE is ignored in the test process (writing to a child that closed its stdin must not kill
/// the test runner); children get it back at its default via posix_spawnattr_setsigdefault.
private let ignoreSIGPIPE: Void = {
    signal(SIGPIPE, SIG_IGN)
}()

/// A child process started with posix_spawn, its stdout and stderr read through CLOEXEC pipes (so
/// concurrently spawned children of other tests never inherit them) and drained together with
/// poll(2), so a child filling one pipe can never deadlock us.
final class ChildProcess: @unchecked Sendable {
    let pid: pid_t
    let argv: [String]
    private var stdinFD: Int32
    private var outFD: Int32
    private var errFD: Int32
    private(set) var out: [UInt8] = []
    private(set) var err: [UInt8] = []
    private var pendingInput: [UInt8] = []
    private var closeStdinWhenWritten = false
    private(set) var exitStatus: Int32?

    /// - stdin: nil = /dev/null; otherwise a pipe is created and `initialInput` queued on it.
    ///   When `keepStdinOpen` is false the pipe is closed once the input is written.
    /// - extraFDs: (fd in this process, fd number in the child) pairs, dup2'd in the child, so
    ///   they are inherited without FD_CLOEXEC.
    init(argv: [String], environment: [String], stdin: String?, keepStdinOpen: Bool = false,
         cwd: String? = nil, extraFDs: [(Int32, Int32)] = []) throws {
        _ = ignoreSIGPIPE
        self.argv = argv
        // posix_spawn_file_actions_addchdir_np is not visible either: cd through /bin/sh.
        let argv = cwd.map { ["/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", $0] + argv } ?? argv
        // pipe2 is not visible from Swift's Glibc module: pipe + FD_CLOEXEC, with every spawn of
        // this process serialised behind one lock so no other child can inherit the pipes.
        spawnLock.lock()
        defer { spawnLock.unlock() }
        var outPipe: [Int32] = [-1, -1]
        var errPipe: [Int32] = [-1, -1]
        var inPipe: [Int32] = [-1, -1]
        guard cloexecPipe(&outPipe), cloexecPipe(&errPipe) else {
            throw SubprocessError(description: "pipe: \(String(cString: strerror(errno)))")
        }
        var childStdin: Int32
        if stdin != nil || keepStdinOpen {
            guard cloexecPipe(&inPipe) else {
                throw SubprocessError(description: "pipe: \(String(cString: strerror(errno)))")
            }
            childStdin = inPipe[0]
            _ = fcntl(inPipe[1], F_SETFL, fcntl(inPipe[1], F_GETFL) | O_NONBLOCK)
        } else {
            childStdin = open("/dev/null", O_RDONLY | O_CLOEXEC)
        }

        var fa = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fa)
        defer { posix_spawn_file_actions_destroy(&fa) }
        posix_spawn_file_actions_adddup2(&fa, childStdin, 0)
        posix_spawn_file_actions_adddup2(&fa, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&fa, errPipe[1], 2)
        for (src, dst) in extraFDs { posix_spawn_file_actions_adddup2(&fa, src, dst) }

        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGPIPE)
        posix_spawnattr_setsigdefault(&attr, &defaults)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attr, &mask)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let cargv: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        let cenv: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) } + [nil]
        defer {
            for p in cargv { free(p) }
            for p in cenv { free(p) }
        }
        var pid = pid_t()
        let rc = posix_spawnp(&pid, argv[0], &fa, &attr, cargv, cenv)
        close(outPipe[1])
        close(errPipe[1])
        close(childStdin)
        if rc != 0 {
            close(outPipe[0]); close(errPipe[0])
            if inPipe[1] >= 0 { close(inPipe[1]) }
            throw SubprocessError(description: "cannot start \(argv[0]): \(String(cString: strerror(rc)))")
        }
        self.pid = pid
        self.outFD = outPipe[0]
        self.errFD = errPipe[0]
        self.stdinFD = inPipe[1]
        if let stdin { pendingInput = Array(stdin.utf8) }
        if !keepStdinOpen { closeStdinWhenWritten = true }
        if stdinFD >= 0 && pendingInput.isEmpty && closeStdinWhenWritten { closeStdin() }
    }

    deinit {
        if stdinFD >= 0 { close(stdinFD) }
        if outFD >= 0 { close(outFD) }
        if errFD >= 0 { close(errFD) }
    }

    var stdoutText: String { String(decoding: out, as: UTF8.self) }
    var stderrText: String { String(decoding: err, as: UTF8.self) }
    var isReaped: Bool { exitStatus != nil }

    /// One round of poll: reads what is available, writes pending stdin.
    private func pump(timeoutMs: Int32) {
        var fds: [pollfd] = []
        if outFD >= 0 { fds.append(pollfd(fd: outFD, events: Int16(POLLIN), revents: 0)) }
        if errFD >= 0 { fds.append(pollfd(fd: errFD, events: Int16(POLLIN), revents: 0)) }
        if stdinFD >= 0 && !pendingInput.isEmpty {
            fds.append(pollfd(fd: stdinFD, events: Int16(POLLOUT), revents: 0))
        }
        if fds.isEmpty { return }
        let n = poll(&fds, nfds_t(fds.count), timeoutMs)
        if n <= 0 { return }
        var buf = [UInt8](repeating: 0, count: 65536)
        for p in fds where p.revents != 0 {
            if p.fd == stdinFD {
                let w = pendingInput.withUnsafeBytes { Glibc.write(stdinFD, $0.baseAddress, $0.count) }
                if w > 0 {
                    pendingInput.removeFirst(w)
                    if pendingInput.isEmpty && closeStdinWhenWritten { closeStdin() }
                } else if w < 0 && errno != EAGAIN && errno != EINTR {
                    pendingInput = []
                    closeStdin()
                }
                continue
            }
            let r = buf.withUnsafeMutableBytes { read(p.fd, $0.baseAddress, $0.count) }
            if r > 0 {
                if p.fd == outFD { out.append(contentsOf: buf[0..<r]) } else { err.append(contentsOf: buf[0..<r]) }
            } else if r == 0 || (errno != EAGAIN && errno != EINTR) {
                if p.fd == outFD { close(outFD); outFD = -1 } else { close(errFD); errFD = -1 }
            }
        }
    }

    /// waitpid without blocking; true when the child has been reaped.
    @discardableResult
    func reapIfExited() -> Bool {
        if exitStatus != nil { return true }
        var st: Int32 = 0
        let r = waitpid(pid, &st, WNOHANG)
        if r == pid { exitStatus = exitCode(fromWaitStatus: st); return true }
        return false
    }

    private func reapBlocking() {
        if exitStatus != nil { return }
        var st: Int32 = 0
        while true {
            let r = waitpid(pid, &st, 0)
            if r == pid { exitStatus = exitCode(fromWaitStatus: st); return }
            if r < 0 && errno != EINTR { exitStatus = -1; return }
        }
    }

    /// Reads until stdout contains `text`. False when the timeout passes or stdout reaches EOF.
    func waitForStdout(containing text: String, timeout: Double = 30) -> Bool {
        let deadline = monotonicSeconds() + timeout
        while true {
            if stdoutText.contains(text) { return true }
            if outFD < 0 { return false }
            let left = deadline - monotonicSeconds()
            if left <= 0 { return false }
            pump(timeoutMs: Int32(min(left, 0.2) * 1000) + 1)
        }
    }

    func write(_ text: String) {
        guard stdinFD >= 0 else { return }
        pendingInput.append(contentsOf: Array(text.utf8))
        let deadline = monotonicSeconds() + 10
        while !pendingInput.isEmpty && stdinFD >= 0 && monotonicSeconds() < deadline {
            pump(timeoutMs: 100)
        }
    }

    func closeStdin() {
        if stdinFD >= 0 { close(stdinFD); stdinFD = -1 }
    }

    func signal(_ sig: Int32) {
        if exitStatus == nil { kill(pid, sig) }
    }

    /// Closes stdin (after pending input; unless `closingStdin` is false), drains stdout/stderr
    /// until EOF and reaps the child. A child still running at the timeout is killed (SIGKILL)
    /// and the result marked timedOut. When the child has exited but something it left behind
    /// still holds the pipes open, the pipes are given `eofGrace` seconds more.
    func finish(timeout: Double = 30, eofGrace: Double = 3, closingStdin: Bool = true) -> RunResult {
        if closingStdin {
            closeStdinWhenWritten = true
            if pendingInput.isEmpty { closeStdin() }
        }
        let deadline = monotonicSeconds() + timeout
        var timedOut = false
        var exitedAt: Double?
        while outFD >= 0 || errFD >= 0 {
            let now = monotonicSeconds()
            if now >= deadline { break }
            if exitedAt == nil && reapIfExited() { exitedAt = now }
            if let e = exitedAt, now - e > eofGrace { break }
            pump(timeoutMs: 100)
        }
        while !reapIfExited() {
            if monotonicSeconds() >= deadline {
                timedOut = true
                kill(pid, SIGKILL)
                reapBlocking()
                break
            }
            usleep(UInt32(5_000))
        }
        pump(timeoutMs: 0)
        if closingStdin { closeStdin() }
        if outFD >= 0 { close(outFD); outFD = -1 }
        if errFD >= 0 { close(errFD); errFD = -1 }
        return RunResult(status: exitStatus ?? -1, stdout: stdoutText, stderr: stderrText, timedOut: timedOut)
    }
}

/// A process-wide lock (pthread mutex) around pipe creation and posix_spawn.
final class SpawnLock: @unchecked Sendable {
    private let m: UnsafeMutablePointer<pthread_mutex_t> = {
        let p = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        pthread_mutex_init(p, nil)
        return p
    }()
    func lock() { pthread_mutex_lock(m) }
    func unlock() { pthread_mutex_unlock(m) }
}
let spawnLock = SpawnLock()

private func cloexecPipe(_ fds: inout [Int32]) -> Bool {
    guard pipe(&fds) == 0 else { return false }
    _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
    _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
    return true
}

/// The current process environment as KEY=VALUE strings.
func currentEnvironment() -> [String: String] {
    var env: [String: String] = [:]
    var p = environ
    while let entry = p.pointee {
        let s = String(cString: entry)
        if let eq = s.firstIndex(of: "=") {
            env[String(s[..<eq])] = String(s[s.index(after: eq)...])
        }
        p += 1
    }
    return env
}

func environmentList(_ env: [String: String]) -> [String] {
    env.map { "\($0.key)=\($0.value)" }.sorted()
}

/// Runs a host tool (mkfs.btrfs, mount, losetup, cp, ...) to completion.
@discardableResult
func runTool(_ argv: [String], stdin: String? = nil, cwd: String? = nil, timeout: Double = 120) -> RunResult {
    do {
        let p = try ChildProcess(argv: argv, environment: environmentList(currentEnvironment()),
                                 stdin: stdin, cwd: cwd)
        return p.finish(timeout: timeout)
    } catch {
        return RunResult(status: -1, stdout: "", stderr: "\(error)")
    }
}
