#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import BockerCore
import BockerStore
import CBocker

// Healthchecks as Docker runs them: the container's monitor execs the check inside the
// container on a schedule and keeps State.Health in containers/<id>/health.json.

extension HealthcheckConfig {
    /// Docker's defaults for what a healthcheck does not set.
    public static let defaultInterval = 30.0, defaultTimeout = 30.0, defaultStartPeriod = 0.0
    public static let defaultStartInterval = 5.0, defaultRetries = 3

    /// Whether it disables the image's check (`--no-healthcheck`, `HEALTHCHECK NONE`).
    public var disables: Bool { test.first == "NONE" }

    /// Refuses what Docker refuses: an unknown test kind, CMD without a command, durations
    /// between 0 and 1 ms, negative retries.
    public func validate() throws {
        if let kind = test.first {
            switch kind {
            case "NONE": break
            case "CMD", "CMD-SHELL":
                guard test.count >= 2, !test[1].isEmpty else {
                    throw BockerError(.invalidArgument, "invalid healthcheck: \(kind) needs a command")
                }
            default:
                throw BockerError(.invalidArgument, "invalid healthcheck test '\(kind)': use CMD, CMD-SHELL or NONE")
            }
        }
        for (name, v) in [("Interval", interval), ("Timeout", timeout), ("StartPeriod", startPeriod), ("StartInterval", startInterval)] {
            if let v, v < 0 { throw BockerError(.invalidArgument, "\(name) in Healthcheck cannot be negative") }
            if let v, v > 0, v < 1_000_000 { throw BockerError(.invalidArgument, "\(name) in Healthcheck cannot be less than 1ms") }
        }
        if let r = retries, r < 0 { throw BockerError(.invalidArgument, "Retries in Healthcheck cannot be negative") }
    }

    /// The container's check over the image's (Docker's merge): an empty test takes the
    /// image's, and each setting it leaves unset (or 0) comes from the image.
    public func merged(over image: HealthcheckConfig?) -> HealthcheckConfig {
        guard let image else { return self }
        func pick<T: Numeric & Comparable>(_ mine: T?, _ theirs: T?) -> T? { (mine ?? 0) > 0 ? mine : theirs }
        return HealthcheckConfig(test: test.isEmpty ? image.test : test,
                                 interval: pick(interval, image.interval), timeout: pick(timeout, image.timeout),
                                 startPeriod: pick(startPeriod, image.startPeriod),
                                 startInterval: pick(startInterval, image.startInterval),
                                 retries: pick(retries, image.retries))
    }
}

/// What the monitor runs: the command and its schedule in seconds, Docker's defaults filled in.
struct HealthSchedule {
    var argv: [String]
    var interval, timeout, startPeriod, startInterval: Double
    var retries: Int

    /// nil for no check (none set, or NONE).
    init?(_ c: HealthcheckConfig?) {
        guard let c, let kind = c.test.first, kind != "NONE", c.test.count >= 2 else { return nil }
        argv = kind == "CMD-SHELL" ? ["/bin/sh", "-c", c.test[1]] : Array(c.test.dropFirst())
        func secs(_ ns: Int64?, _ d: Double) -> Double { (ns ?? 0) > 0 ? Double(ns!) / 1e9 : d }
        interval = secs(c.interval, HealthcheckConfig.defaultInterval)
        timeout = secs(c.timeout, HealthcheckConfig.defaultTimeout)
        startPeriod = secs(c.startPeriod, HealthcheckConfig.defaultStartPeriod)
        startInterval = secs(c.startInterval, HealthcheckConfig.defaultStartInterval)
        retries = (c.retries ?? 0) > 0 ? c.retries! : HealthcheckConfig.defaultRetries
    }
}

/// One check as State.Health.Log keeps it.
public struct HealthLogEntry: Sendable, Equatable {
    public var start: Double
    public var end: Double
    /// The check's exit code; -1 when it could not run or outlived its timeout.
    public var exitCode: Int
    /// Its stdout and stderr, at most 4096 bytes.
    public var output: String
}

/// A container's health (Docker's State.Health): its status, the failures in a row, and the
/// last five checks. Owned by the container's monitor, which writes it atomically.
public struct HealthState: Sendable, Equatable {
    public static let starting = "starting", healthy = "healthy", unhealthy = "unhealthy"
    public static let maxLog = 5, maxOutput = 4096

    public var status: String
    public var failingStreak: Int
    public var log: [HealthLogEntry]

    public init(status: String = HealthState.starting, failingStreak: Int = 0, log: [HealthLogEntry] = []) {
        self.status = status
        self.failingStreak = failingStreak
        self.log = log
    }

    var json: JSONValue {
        .object([("failingStreak", .int(failingStreak)),
                 ("log", .array(log.map { .object([("end", .number($0.end)), ("exitCode", .int($0.exitCode)),
                                                    ("output", .string($0.output)), ("start", .number($0.start))]) })),
                 ("status", .string(status))])
    }

    init?(json j: JSONValue) {
        guard let s = j["status"]?.string else { return nil }
        status = s
        failingStreak = j["failingStreak"]?.int ?? 0
        log = (j["log"]?.array ?? []).compactMap { e in
            guard let st = e["start"]?.double, let en = e["end"]?.double else { return nil }
            return HealthLogEntry(start: st, end: en, exitCode: e["exitCode"]?.int ?? -1, output: e["output"]?.string ?? "")
        }
    }

    /// Docker's `State.Health` object.
    public var dockerJSON: JSONValue {
        .object([("Status", .string(status)), ("FailingStreak", .int(failingStreak)),
                 ("Log", .array(log.map { .object([("Start", .string(WallClock.rfc3339(seconds: $0.start))),
                                                   ("End", .string(WallClock.rfc3339(seconds: $0.end))),
                                                   ("ExitCode", .int($0.exitCode)), ("Output", .string($0.output))]) }))])
    }

    /// The state after one check (Docker's rules): a pass makes it healthy and clears the
    /// streak; a failure counts unless the container is still starting within its start
    /// period, and `retries` of them in a row make it unhealthy.
    mutating func record(_ e: HealthLogEntry, retries: Int, inStartPeriod: Bool) {
        log.append(e)
        if log.count > HealthState.maxLog { log.removeFirst(log.count - HealthState.maxLog) }
        if e.exitCode == 0 {
            failingStreak = 0
            status = HealthState.healthy
        } else if !(status == HealthState.starting && inStartPeriod) {
            failingStreak += 1
            if failingStreak >= retries { status = HealthState.unhealthy }
        }
    }
}

extension Runtime {
    func healthPath(_ id: String) -> String { root.containerDir(id) + "/health.json" }

    /// The container's health as its monitor last wrote it; nil without a healthcheck (or
    /// before its first start).
    public func health(of rec: ContainerRecord) -> HealthState? {
        guard HealthSchedule(rec.healthcheck) != nil,
              let bytes = try? FS.read(healthPath(rec.id)), let j = try? JSONValue.parse(bytes) else { return nil }
        return HealthState(json: j)
    }

    func saveHealth(_ id: String, _ h: HealthState) {
        try? FS.writeAtomically(healthPath(id), Array(h.json.render().utf8), durable: false)
    }
}

/// The thread of a container's monitor that runs its healthcheck while it runs: started after
/// each start, stopped (and joined) before the exit is recorded. It writes the health file and
/// emits a `health_status: …` event whenever the status changes.
final class HealthMonitor {
    private let rt: Runtime
    private let rec: ContainerRecord
    private let schedule: HealthSchedule
    private var stopPipe: [Int32] = [-1, -1]
    private var thread: pthread_t?
    private var state: HealthState

    /// Starts checking the running container `rec`; nil when it has no healthcheck.
    static func start(_ rt: Runtime, _ rec: ContainerRecord) -> HealthMonitor? {
        guard let s = HealthSchedule(rec.healthcheck) else { return nil }
        let m = HealthMonitor(rt, rec, s)
        guard bk_pipe_cloexec(&m.stopPipe) == 0 else { return nil }
        // Each start begins again as "starting"; the log of earlier checks is kept (as Docker).
        rt.saveHealth(rec.id, m.state)
        let threads = WorkerThreads.start(1) { [m] in m.loop() }
        guard let t = threads.first else {
            m.stopPipe.forEach { close($0) }
            return nil
        }
        m.thread = t
        return m
    }

    private init(_ rt: Runtime, _ rec: ContainerRecord, _ s: HealthSchedule) {
        self.rt = rt
        self.rec = rec
        self.schedule = s
        let old = rt.health(of: rec)
        state = HealthState(log: old?.log ?? [])
    }

    /// Stops the checks and waits for the thread (a check under way ends with the container).
    func stop() {
        guard let t = thread else { return }
        var one: UInt8 = 1
        _ = Glibc.write(stopPipe[1], &one, 1)
        pthread_join(t, nil)
        thread = nil
        stopPipe.forEach { close($0) }
    }

    /// Whether stop() was called, waiting up to `seconds` for it.
    private func stopped(within seconds: Double) -> Bool {
        var p = pollfd(fd: stopPipe[0], events: Int16(POLLIN), revents: 0)
        let deadline = WallClock.now() + seconds
        while true {
            let left = deadline - WallClock.now()
            let r = poll(&p, 1, Int32(max(0, min(left, 3600)) * 1000))
            if r > 0 { return true }
            if r < 0 && errno == EINTR { continue }
            if WallClock.now() >= deadline { return false }
        }
    }

    private func loop() {
        // Signals are for the monitor's main thread (forwarding, the pump), never this one.
        var all = sigset_t()
        sigfillset(&all)
        pthread_sigmask(SIG_BLOCK, &all, nil)
        let started = rec.startedAt ?? WallClock.now()
        while true {
            let inStart = WallClock.now() - started < schedule.startPeriod
            let wait = state.status == HealthState.starting && inStart && (rec.healthcheck?.startInterval ?? 0) > 0
                ? schedule.startInterval : schedule.interval
            if stopped(within: wait) { return }
            let entry = probe()
            if stopped(within: 0) { return }   // the container ended meanwhile: not a verdict
            let before = state.status
            state.record(entry, retries: schedule.retries, inStartPeriod: entry.start - started < schedule.startPeriod)
            rt.saveHealth(rec.id, state)
            if state.status != before {
                rt.emit(ContainerEvent("health_status: " + state.status, rec))
            }
        }
    }

    /// Runs the check once inside the container: its exit code and output (both streams).
    private func probe() -> HealthLogEntry {
        let start = WallClock.now()
        let out = bk_memfd("bocker-health")
        let null = Glibc.open("/dev/null", O_RDONLY | O_CLOEXEC)
        defer { if out >= 0 { close(out) }; if null >= 0 { close(null) } }
        var code: Int
        var output: [UInt8] = []
        do {
            guard out >= 0, null >= 0 else { throw BockerError.errno("cannot capture the check's output") }
            code = Int(try rt.exec(rec.id, argv: schedule.argv, stdio: (null, out, out), timeout: schedule.timeout))
            output = HealthMonitor.slurp(out)
        } catch let e as BockerError where e.code == .timeout {
            code = -1
            output = Array("Health check exceeded timeout (\(Durations.format(schedule.timeout)))".utf8)
        } catch let e as BockerError {
            code = e.code == .commandNotFound ? 127 : e.code == .notExecutable ? 126 : -1
            output = Array(e.message.utf8)
        } catch {
            code = -1
            output = Array("\(error)".utf8)
        }
        if output.count > HealthState.maxOutput { output = Array(output.prefix(HealthState.maxOutput)) }
        return HealthLogEntry(start: start, end: WallClock.now(), exitCode: code, output: String(decoding: output, as: UTF8.self))
    }

    private static func slurp(_ fd: Int32) -> [UInt8] {
        lseek(fd, 0, SEEK_SET)
        var all: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 8192)
        while all.count < HealthState.maxOutput {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            all += buf[0..<n]
        }
        return all
    }
}

extension Runtime {
    /// Blocks until the running container is healthy. Throws `.invalidState` when it becomes
    /// unhealthy or stops first, `.invalidArgument` when it has no healthcheck, `.timeout`
    /// after `timeout` seconds.
    public func waitForHealthy(_ ref: String, timeout: Double) throws {
        var w = WaitStrategy()
        w.health = true
        try waitFor(ref, w, timeout: timeout)
    }

    /// Whether the health condition of a wait holds now: true when healthy, false while
    /// starting; throws when the container has no check or is unhealthy.
    func healthReached(_ rec: ContainerRecord, _ ref: String) throws -> Bool {
        guard HealthSchedule(rec.healthcheck) != nil else {
            throw BockerError(.invalidArgument, "container '\(ref)' has no healthcheck to wait for")
        }
        guard let h = health(of: rec) else { return false }
        if h.status == HealthState.healthy { return true }
        if h.status == HealthState.unhealthy {
            let last = h.log.last.map { " (last check: exit code \($0.exitCode)\($0.output.isEmpty ? "" : ": " + HealthMonitor.oneLine($0.output)))" } ?? ""
            throw BockerError(.invalidState, "container '\(ref)' is unhealthy after \(h.failingStreak) failed checks\(last)")
        }
        return false
    }
}

extension HealthMonitor {
    /// Output for a one-line message: trimmed, lines joined with " / ", at most 200 characters.
    static func oneLine(_ s: String) -> String {
        let lines = s.split(whereSeparator: { $0 == "\n" || $0 == "\r" })
            .map { l in String(l.drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed()) }
            .filter { !$0.isEmpty }
        let joined = lines.joined(separator: " / ")
        return joined.count > 200 ? String(joined.prefix(200)) + "…" : joined
    }
}

extension Runtime {
    /// The healthcheck a new container keeps: its own over the image's; nil when neither has one.
    static func effectiveHealthcheck(_ own: HealthcheckConfig?, image: HealthcheckConfig?) -> HealthcheckConfig? {
        guard let c = own.map({ $0.merged(over: image) }) ?? image, !c.test.isEmpty else { return nil }
        return c
    }
}
