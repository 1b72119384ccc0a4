import Glibc
import BockerCore
import BockerStore
import CBocker

/// Docker's time arguments (`logs --since/--until`) and `exec -d`.
public enum TimeArgument {
    /// A Unix time ("1700000000", "1700000000.5"), an RFC 3339 time ("2026-12-02T15:40:00Z",
    /// fractions and a ±HH:MM offset allowed; a date alone is its midnight UTC), or a duration
    /// before `now` ("10m", "1h30m", "90s") → seconds since the epoch.
    public static func parse(_ text: String, now: Double = WallClock.now(), option: String) throws -> Double {
        let s = text.trimmed()
        if let n = Double(s), n >= 0 { return n }
        if let t = rfc3339(s) { return t }
        if let d = Durations.parse(s) { return now - d }
        throw BockerError(.invalidArgument, "invalid value '\(text)' for \(option): use a Unix time, an RFC 3339 time (2026-01-02T15:04:05Z) or a duration such as 10m")
    }

    /// RFC 3339 → seconds since the epoch; nil when it is not one.
    public static func rfc3339(_ s: String) -> Double? {
        let b = Array(s.utf8)
        func num(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= b.count else { return nil }
            var v = 0
            for c in b[from..<(from + count)] {
                guard c >= 48 && c <= 57 else { return nil }
                v = v * 10 + Int(c - 48)
            }
            return v
        }
        guard b.count >= 10, let y = num(0, 4), b[4] == 45, let mo = num(5, 2), b[7] == 45, let d = num(8, 2) else { return nil }
        var tmv = tm()
        tmv.tm_year = Int32(y - 1900); tmv.tm_mon = Int32(mo - 1); tmv.tm_mday = Int32(d)
        var frac = 0.0, offset = 0, i = 10
        if b.count > 10 {
            guard b[10] == 84 || b[10] == 116 || b[10] == 32, let h = num(11, 2), b.count > 13, b[13] == 58,
                  let mi = num(14, 2), b.count > 16, b[16] == 58, let sec = num(17, 2) else { return nil }
            tmv.tm_hour = Int32(h); tmv.tm_min = Int32(mi); tmv.tm_sec = Int32(sec)
            i = 19
            if i < b.count && b[i] == 46 {
                var j = i + 1, scale = 0.1
                while j < b.count, b[j] >= 48 && b[j] <= 57 { frac += Double(b[j] - 48) * scale; scale /= 10; j += 1 }
                i = j
            }
            if i < b.count {
                if b[i] == 90 || b[i] == 122 { i += 1 }
                else if b[i] == 43 || b[i] == 45, let oh = num(i + 1, 2), i + 3 < b.count, b[i + 3] == 58, let om = num(i + 4, 2) {
                    offset = (oh * 3600 + om * 60) * (b[i] == 45 ? -1 : 1)
                    i += 6
                } else { return nil }
            }
            guard i == b.count else { return nil }
        }
        return Double(timegm(&tmv) - offset) + frac
    }
}

extension LogEntry {
    /// The entry's time as seconds since the epoch (0 when unreadable).
    public var seconds: Double { TimeArgument.rfc3339(time) ?? 0 }
}

extension Runtime {
    /// `logs(ref, from:wait:)`, only the entries written from `since` to `until` (epoch seconds).
    public func logs(_ ref: String, from offset: Int, wait: Bool, since: Double?, until: Double?) throws -> ([LogEntry], Int, Bool) {
        let (entries, next, running) = try logs(ref, from: offset, wait: wait)
        guard since != nil || until != nil else { return (entries, next, running) }
        let kept = entries.filter { e in
            let t = e.seconds
            return t >= (since ?? -.infinity) && t <= (until ?? .infinity)
        }
        // Past `until` nothing more can match: following ends.
        return (kept, next, running && (until.map { WallClock.now() <= $0 } ?? true))
    }

    /// `exec -d`: checks what can be checked now (running, not paused, a command), then runs
    /// the command in the background, its stdio /dev/null, in a bocker of its own (`bocker
    /// __exec ROOT ID JSON`, in a session of its own) that nobody waits for. Returns once the
    /// command has exec'd; a command that cannot start (not found: `.commandNotFound`, 127) is
    /// this call's error, as with Docker, reported by that bocker through the pipe on its fd 3.
    public func execDetached(_ ref: String, argv: [String], env: [String], workdir: String?, user: String?) throws {
        let rec = try container(ref)
        if rec.paused == true && rec.liveState == .running {
            throw BockerError(.invalidState, "Container '\(rec.id)' is paused, unpause the container before exec")
        }
        guard rec.liveState.canExec else { throw BockerError(.invalidState, "Container '\(rec.id)' exists but is not running") }
        guard !argv.isEmpty else { throw BockerError(.invalidArgument, "exec needs a command") }
        _ = try parseUser(user ?? rec.user)
        var fields: [(String, JSONValue)] = [("argv", .array(argv.map { .string($0) })), ("env", .array(env.map { .string($0) }))]
        if let w = workdir { fields.append(("workdir", .string(w))) }
        if let u = user { fields.append(("user", .string(u))) }
        let spec = JSONValue.object(fields).render()
        var report: [Int32] = [-1, -1]
        guard bk_pipe_cloexec(&report) == 0 else { throw BockerError.errno("cannot start the detached exec: pipe") }
        defer { close(report[0]) }
        // Above 3, so that the dup2 below always makes a new descriptor (without CLOEXEC).
        let writeEnd = fcntl(report[1], F_DUPFD_CLOEXEC, 10)
        close(report[1])
        guard writeEnd >= 0 else { throw BockerError.errno("cannot start the detached exec: dup") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDWR, 0)
        posix_spawn_file_actions_adddup2(&actions, 0, 1)
        posix_spawn_file_actions_adddup2(&actions, 0, 2)
        posix_spawn_file_actions_adddup2(&actions, writeEnd, 3)
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        posix_spawnattr_setflags(&attr, Int16(0x80))   // POSIX_SPAWN_SETSID
        let args = ["bocker", "__exec", root.path, rec.id, spec]
        let cargs = args.map { strdup($0) } + [nil]
        defer { cargs.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, "/proc/self/exe", &actions, &attr, cargs, environ)
        close(writeEnd)
        guard rc == 0 else { throw BockerError.errno("cannot start the detached exec", rc) }
        // '1': the command runs. Else "CODE<TAB>MESSAGE" then EOF: it could not start.
        var got: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 1024)
        while got.first != UInt8(ascii: "1") {
            let n = buf.withUnsafeMutableBytes { read(report[0], $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            got += buf[0..<n]
        }
        if got.first == UInt8(ascii: "1") { return }
        let text = String(decoding: got, as: UTF8.self)
        guard let tab = text.firstIndex(of: "\t") else {
            throw BockerError(.internal, "the detached exec ended before its command started")
        }
        throw BockerError(BockerError.Code(rawValue: String(text[..<tab])) ?? .kernel, String(text[text.index(after: tab)...]))
    }

    /// The background half of `exec -d` (`bocker __exec ROOT ID JSON`, fd 3 the report pipe):
    /// the command's exit status. Its start is reported on fd 3 (see `execDetached`).
    static func execMain(root: String, id: String, spec: String) -> Int32 {
        signal(SIGHUP, SIG_IGN)
        let report: Int32 = fcntl(3, F_GETFD) >= 0 ? 3 : -1
        if report >= 0 { _ = fcntl(report, F_SETFD, FD_CLOEXEC) }
        do {
            let rt = Runtime(store: try Store(root: StateRoot(path: root)))
            let j = try JSONValue.parse(Array(spec.utf8))
            return try rt.exec(id, argv: j["argv"]?.strings ?? [], env: j["env"]?.strings ?? [],
                               workdir: j["workdir"]?.string, user: j["user"]?.string, startedFD: report)
        } catch {
            if report >= 0 {
                let e = error as? BockerError ?? BockerError(.internal, "\(error)")
                let line = Array((e.code.rawValue + "\t" + e.message).utf8)
                _ = line.withUnsafeBytes { write(report, $0.baseAddress, $0.count) }
            }
            return 125
        }
    }
}
