#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import BockerCore

/// One thing that happened to a container, as `bocker events` shows it (Docker's names:
/// create, start, die, oom, destroy, `health_status: healthy|unhealthy`).
public struct ContainerEvent: Sendable, Equatable {
    public var time: Double
    public var action: String
    public var id: String
    public var name: String?
    public var image: String
    public var exitCode: Int32?

    var json: JSONValue {
        var f: [(String, JSONValue)] = [("action", .string(action))]
        if let c = exitCode { f.append(("exitCode", .int(Int(c)))) }
        f += [("id", .string(id)), ("image", .string(image))]
        if let n = name { f.append(("name", .string(n))) }
        f.append(("time", .number(time)))
        f.append(("type", .string("container")))
        return .object(f)
    }

    init?(json j: JSONValue) {
        guard let a = j["action"]?.string, let id = j["id"]?.string, let t = j["time"]?.double else { return nil }
        action = a
        self.id = id
        time = t
        name = j["name"]?.string
        image = j["image"]?.string ?? ""
        exitCode = j["exitCode"]?.int.map(Int32.init)
    }

    init(_ action: String, _ rec: ContainerRecord, exitCode: Int32? = nil) {
        self.time = WallClock.now()
        self.action = action
        self.id = rec.id
        self.name = rec.name
        self.image = rec.imageSource
        self.exitCode = exitCode
    }
}

/// Which events a reader wants (Docker's `--filter container=… --filter event=…`, `--since`,
/// `--until`). Filters of one key are alternatives; different keys must all match.
public struct EventFilter: Sendable {
    public var containers: [String] = []
    public var actions: [String] = []
    public var images: [String] = []
    public var since: Double?
    public var until: Double?
    public init() {}

    func matches(_ e: ContainerEvent) -> Bool {
        if let s = since, e.time < s { return false }
        if let u = until, e.time > u { return false }
        if !containers.isEmpty && !containers.contains(where: { $0 == e.id || $0 == e.name }) { return false }
        // `health_status` matches every `health_status: …` (Docker's filter).
        if !actions.isEmpty && !actions.contains(where: { $0 == e.action || e.action.hasPrefix($0 + ":") }) { return false }
        if !images.isEmpty && !images.contains(e.image) { return false }
        return true
    }
}

/// Where a reader of the event log is: which generation of the file (its inode; 0 = the start
/// of the oldest one kept) and the byte offset in it. Followers keep their place across a
/// rotation: they finish the old generation (events.jsonl.1) before the new one.
public struct EventCursor: Sendable, Equatable {
    public var file: UInt64
    public var offset: Int
    public init(file: UInt64, offset: Int) {
        self.file = file
        self.offset = offset
    }
    /// Every event still kept, oldest first.
    public static let beginning = EventCursor(file: 0, offset: 0)
}

extension Runtime {
    /// The size past which events.jsonl is rotated (one older generation is kept, as
    /// events.jsonl.1): `$BOCKER_EVENTS_MAX_SIZE` (bytes or 512k, 16m), default 16 MiB.
    static var eventsMaxSize: Int {
        if let raw = getenv("BOCKER_EVENTS_MAX_SIZE").flatMap({ String(validatingCString: $0) }),
           let n = ByteSize.parse(raw), n > 0 { return Int(min(n, UInt64(Int.max))) }
        return 16 << 20
    }

    var rotatedEventsFile: String { root.eventsFile + ".1" }

    /// Appends an event (a small O_APPEND write: concurrent bockers never interleave lines),
    /// and rotates the log once it has grown past its bound. Writers hold a shared flock on the
    /// state root while they open and write, the rotation an exclusive one: no line is ever
    /// written into a generation after it was renamed away. Events are a record of what
    /// happened, never a reason to fail what happened.
    func emit(_ e: ContainerEvent) {
        let dirfd = Glibc.open(root.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dirfd >= 0 else { return }
        defer { close(dirfd) }
        while flock(dirfd, LOCK_SH) != 0 && errno == EINTR {}
        let fd = Glibc.open(root.eventsFile, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { flock(dirfd, LOCK_UN); return }
        defer { close(fd) }
        let line = Array((e.json.render() + "\n").utf8)
        _ = line.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        var st = stat()
        let over = fstat(fd, &st) == 0 && Int(st.st_size) > Runtime.eventsMaxSize
        flock(dirfd, LOCK_UN)
        guard over else { return }
        while flock(dirfd, LOCK_EX) != 0 && errno == EINTR {}
        defer { flock(dirfd, LOCK_UN) }
        // Another writer may have rotated it meanwhile: only the generation this one wrote.
        var now = stat()
        if stat(root.eventsFile, &now) == 0, now.st_ino == st.st_ino, Int(now.st_size) > Runtime.eventsMaxSize {
            Glibc.rename(root.eventsFile, rotatedEventsFile)
        }
    }

    /// The inode of a file, nil when it is not there.
    private func inode(_ path: String) -> UInt64? {
        var st = stat()
        return lstat(path, &st) == 0 ? UInt64(st.st_ino) : nil
    }

    /// The complete lines of `path` from `offset` when it is still the generation `file`
    /// (nil when it is not: rotated away).
    private func lines(of path: String, file: UInt64, from offset: Int) -> ([ArraySlice<UInt8>], Int)? {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, UInt64(st.st_ino) == file else { return nil }
        return FS.completeLines(fd: fd, from: offset)
    }

    /// Every complete line from `cursor` on, across a rotation, and the cursor after them.
    private func readEventLines(_ cursor: EventCursor) -> ([ArraySlice<UInt8>], EventCursor) {
        var c = cursor
        var out: [ArraySlice<UInt8>] = []
        if c.file == 0 {
            // From the start: the older generation first, then the current one.
            if let old = inode(rotatedEventsFile), let (l, next) = lines(of: rotatedEventsFile, file: old, from: 0) {
                out += l
                c = EventCursor(file: old, offset: next)   // the old one read: on from its end
            }
            guard let cur = inode(root.eventsFile), cur != c.file else { return (out, c) }
            c = EventCursor(file: cur, offset: 0)
        }
        for _ in 0..<3 {
            if let (l, next) = lines(of: root.eventsFile, file: c.file, from: c.offset) {
                return (out + l, EventCursor(file: c.file, offset: next))
            }
            // Ours was rotated away: finish it (it is events.jsonl.1 now), then the new one
            // (which the next write makes: until then the place stays in the old one).
            if let (l, next) = lines(of: rotatedEventsFile, file: c.file, from: c.offset) {
                out += l
                c.offset = next
            }
            guard let cur = inode(root.eventsFile), cur != c.file else { return (out, c) }
            c = EventCursor(file: cur, offset: 0)
        }
        return (out, c)
    }

    /// The events from `cursor` on that match `filter`, and the cursor to read on from. With
    /// `wait`, blocks until there is at least one match, `timeout` passes (throws `.timeout`),
    /// or the filter's `until` is in the past (returns what there is).
    public func events(from cursor: EventCursor, filter: EventFilter, wait: Bool, timeout: Double?) throws -> ([ContainerEvent], EventCursor) {
        let deadline = timeout.map { WallClock.now() + $0 }
        var watchFd: Int32 = -1
        defer { if watchFd >= 0 { close(watchFd) } }
        var cursor = cursor
        while true {
            try Interrupt.check()
            // From where the last read stopped, whole lines only (one being written waits).
            let (lines, next) = readEventLines(cursor)
            cursor = next
            let found = lines.compactMap { line -> ContainerEvent? in
                guard let j = try? JSONValue.parse(Array(line)), let e = ContainerEvent(json: j), filter.matches(e) else { return nil }
                return e
            }
            if !found.isEmpty || !wait { return (found, cursor) }
            if let u = filter.until, WallClock.now() > u { return ([], cursor) }
            var left = 1.0
            if let deadline {
                left = deadline - WallClock.now()
                if left <= 0 { throw BockerError(.timeout, "timed out after \(Durations.format(timeout ?? 0)) waiting for events") }
            }
            if let u = filter.until { left = min(left, max(0.01, u - WallClock.now())) }
            if watchFd < 0 {
                watchFd = inotify_init1(Int32(IN_CLOEXEC))
                _ = inotify_add_watch(watchFd, root.path, UInt32(IN_MODIFY | IN_CREATE | IN_MOVED_TO))
                continue   // read once more: an event may have come before the watch
            }
            var p = pollfd(fd: watchFd, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, Int32(min(left, 1) * 1000)) > 0 {
                var buf = [UInt8](repeating: 0, count: 4096)
                _ = buf.withUnsafeMutableBytes { Glibc.read(watchFd, $0.baseAddress, $0.count) }
            }
        }
    }

    /// The current end of the event log (where a reader that wants only new events starts).
    public var eventsEnd: EventCursor {
        var st = stat()
        guard stat(root.eventsFile, &st) == 0 else { return .beginning }
        return EventCursor(file: UInt64(st.st_ino), offset: Int(st.st_size))
    }
}
