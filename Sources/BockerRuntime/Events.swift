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

extension Runtime {
    /// Appends an event (a small O_APPEND write: concurrent bockers never interleave lines).
    /// Events are a record of what happened, never a reason to fail what happened.
    func emit(_ e: ContainerEvent) {
        let fd = Glibc.open(root.eventsFile, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let line = Array((e.json.render() + "\n").utf8)
        _ = line.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    }

    /// The events from byte `offset` of the log on that match `filter`, and the offset to read
    /// on from. With `wait`, blocks until there is at least one match, `timeout` passes
    /// (throws `.timeout`), or the filter's `until` is in the past (returns what there is).
    public func events(from offset: Int, filter: EventFilter, wait: Bool, timeout: Double?) throws -> ([ContainerEvent], Int) {
        let deadline = timeout.map { WallClock.now() + $0 }
        var watchFd: Int32 = -1
        defer { if watchFd >= 0 { close(watchFd) } }
        var offset = offset
        while true {
            try Interrupt.check()
            // From where the last read stopped, whole lines only (one being written waits).
            let (lines, next) = (try? FS.completeLines(root.eventsFile, from: offset, what: "events")) ?? ([], offset)
            offset = next
            let found = lines.compactMap { line -> ContainerEvent? in
                guard let j = try? JSONValue.parse(Array(line)), let e = ContainerEvent(json: j), filter.matches(e) else { return nil }
                return e
            }
            if !found.isEmpty || !wait { return (found, offset) }
            if let u = filter.until, WallClock.now() > u { return ([], offset) }
            var left = 1.0
            if let deadline {
                left = deadline - WallClock.now()
                if left <= 0 { throw BockerError(.timeout, "timed out after \(Durations.format(timeout ?? 0)) waiting for events") }
            }
            if let u = filter.until { left = min(left, max(0.01, u - WallClock.now())) }
            if watchFd < 0 {
                watchFd = inotify_init1(Int32(IN_CLOEXEC))
                _ = inotify_add_watch(watchFd, root.path, UInt32(IN_MODIFY | IN_CREATE))
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
    public var eventsEnd: Int {
        var st = stat()
        return stat(root.eventsFile, &st) == 0 ? Int(st.st_size) : 0
    }
}
