#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import BockerCore
import BockerNetwork
import CBocker
import BockerRegistry

/// What `waitFor` waits for (Testcontainers' wait strategies): a log line, a listening port.
/// Every condition given must hold; each is checked again until it does or the time is up.
public struct WaitStrategy: Sendable {
    /// A regular expression matched against each line of the container's log (both streams).
    public var logPattern: String?
    /// How many matching lines (default 1).
    public var logTimes = 1
    /// A container TCP port that must accept a connection (on its address in a bridge network,
    /// on 127.0.0.1 with the host's network).
    public var port: Int?
    /// An HTTP GET of `path` on the container's `port` that answers `status` (any 2xx when nil).
    public var http: (port: Int, path: String, status: Int?)?
    /// The container's healthcheck reports healthy (unhealthy ends the wait with an error).
    public var health = false

    public init() {}
}

extension Runtime {
    /// Blocks until the container has exited for good; throws `.timeout` after `timeout` seconds.
    public func waitForExit(_ ref: String, timeout: Double?) throws -> ContainerRecord {
        let id = try container(ref).id
        let deadline = timeout.map { WallClock.now() + $0 }
        let watch = ContainerDirWatch(directory: root.containerDir(id), events: IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE_SELF)
        while true {
            try Interrupt.check()
            guard let rec = try? container(id) else { throw BockerError(.notFound, "No container named '\(ref)' exists") }
            if isDone(rec) { return rec }
            let left = try remaining(deadline, "waiting for container '\(ref)' to exit", timeout)
            watch.sleep(untilExitOf: rec.monitorPid == nil || !rec.isMonitorAlive ? nil : rec.monitorPid, atMost: left)
        }
    }

    /// Blocks until one of the containers has exited for good and returns it (the first in
    /// `refs` order when several have); throws `.timeout` after `timeout` seconds.
    public func waitForAny(_ refs: [String], timeout: Double?) throws -> ContainerRecord {
        guard !refs.isEmpty else { throw BockerError(.invalidArgument, "wait_any needs at least one container") }
        let ids = try refs.map { try container($0).id }
        let deadline = timeout.map { WallClock.now() + $0 }
        let watch = ContainerDirWatch(directories: ids.map(root.containerDir), events: IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE_SELF)
        while true {
            try Interrupt.check()
            var monitors: [Int32] = []
            for (id, ref) in zip(ids, refs) {
                guard let rec = try? container(id) else { throw BockerError(.notFound, "No container named '\(ref)' exists") }
                if isDone(rec) { return rec }
                if let m = rec.monitorPid, rec.isMonitorAlive { monitors.append(m) }
            }
            let left = try remaining(deadline, "waiting for one of \(refs.count) containers to exit", timeout)
            watch.sleep(untilExitOfAny: monitors, atMost: left)
        }
    }

    /// Blocks until every condition of `strategy` holds for the running container; throws
    /// `.timeout` after `timeout` seconds and `.invalidState` when the container stops first.
    public func waitFor(_ ref: String, _ strategy: WaitStrategy, timeout: Double) throws {
        let id = try container(ref).id
        let deadline = WallClock.now() + timeout
        let regex: Regex<AnyRegexOutput>?
        do { regex = try strategy.logPattern.map { try Regex($0) } } catch {
            throw BockerError(.invalidArgument, "invalid log pattern '\(strategy.logPattern ?? "")': \(error)")
        }
        var logSeen = 0, offset = 0, portOpen = strategy.port == nil, httpOK = strategy.http == nil, healthy = !strategy.health
        let watch = ContainerDirWatch(directory: root.containerDir(id), events: IN_MODIFY | IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE_SELF)
        while true {
            try Interrupt.check()
            let rec = try container(id)
            if let regex, logSeen < strategy.logTimes {
                let (entries, next, _) = try logs(id, from: offset, wait: false)
                offset = next
                for e in entries where logSeen < strategy.logTimes {
                    for line in e.log.split(separator: "\n") where line.contains(regex) { logSeen += 1 }
                }
            }
            if !portOpen, let port = strategy.port { portOpen = try portAccepts(rec, port) }
            if !httpOK, let h = strategy.http { httpOK = try httpAnswers(rec, h) }
            if !healthy { healthy = try healthReached(rec, ref) }
            if (regex == nil || logSeen >= strategy.logTimes) && portOpen && httpOK && healthy { return }
            guard rec.liveState == .running else {
                throw BockerError(.invalidState, "container '\(ref)' is \(rec.liveState.rawValue) (exit code \(rec.exitCode.map(String.init) ?? "none")) and never became ready")
            }
            let left = try remaining(deadline, "waiting for container '\(ref)' to be ready", timeout)
            // A port is polled (nothing signals a listen()); a log line arrives as a write.
            watch.sleep(untilExitOf: rec.monitorPid, atMost: portOpen && httpOK ? left : min(left, 0.05))
        }
    }

    /// Whether an HTTP GET of the container's port and path answers the status wanted now.
    func httpAnswers(_ rec: ContainerRecord, _ h: (port: Int, path: String, status: Int?)) throws -> Bool {
        guard let ip = try reachableAddress(rec), TCPProbe.connects(ip: ip, port: h.port, timeoutMs: 200) else { return false }
        let path = h.path.hasPrefix("/") ? h.path : "/" + h.path
        guard let r = try? WebClient.request(url: "http://\(ip):\(h.port)\(path)", timeout: 2) else { return false }
        return h.status.map { r.status == $0 } ?? (200..<300).contains(r.status)
    }

    /// Whether a TCP connection to the container's `port` succeeds now.
    func portAccepts(_ rec: ContainerRecord, _ port: Int) throws -> Bool {
        guard let ip = try reachableAddress(rec) else { return false }
        return TCPProbe.connects(ip: ip, port: port, timeoutMs: 200)
    }

    /// The address the container's ports are reached at from here: its bridge address,
    /// 127.0.0.1 with the host's network; nil while it is not attached yet.
    func reachableAddress(_ rec: ContainerRecord) throws -> String? {
        let ip: String
        if let id = Runtime.joinReference(rec.networkMode) {   // --network container:X: X's address
            return try reachableAddress(try container(id))
        }
        if rec.networkMode == "host" {
            ip = "127.0.0.1"
        } else if let net = rec.networkState {
            ip = net.ip
        } else if rec.networkMode == "none" {
            throw BockerError(.invalidArgument, "cannot wait for a port of container '\(rec.id)': it has no network (--network none)")
        } else {
            return nil   // not attached yet
        }
        return ip
    }

    func isDone(_ rec: ContainerRecord) -> Bool {
        let monitorGone = rec.monitorPid == nil || !rec.isMonitorAlive
        return (rec.state != .running || monitorGone) && !restartPending(rec)
    }

    /// Seconds left before `deadline` (or 1 without one); throws `.timeout` once it has passed.
    func remaining(_ deadline: Double?, _ what: String, _ timeout: Double?) throws -> Double {
        guard let deadline else { return 1 }
        let left = deadline - WallClock.now()
        if left <= 0 { throw BockerError(.timeout, "timed out after \(Durations.format(timeout ?? 0)) \(what)") }
        return min(left, 1)
    }

    /// Host ports for the mappings that ask bocker to pick one (host port 0): a free port in
    /// Docker's range that no other container has published or been given.
    func pickHostPorts(_ ports: [PortMapping]) throws -> [PortMapping] {
        guard ports.contains(where: { $0.hostPort == 0 }) else { return ports }
        var taken = Set(listContainers().flatMap { $0.ports ?? [] }.map { "\($0.hostPort)/\($0.proto)" })
        for p in ports where p.hostPort != 0 { taken.insert("\(p.hostPort)/\(p.proto)") }
        let range = 32768...60999
        var next = range.lowerBound + Int.random(in: 0..<range.count)
        return try ports.map { p in
            guard p.hostPort == 0 else { return p }
            for _ in 0..<range.count {
                var q = p
                q.hostPort = next
                next = next == range.upperBound ? range.lowerBound : next + 1
                if !taken.contains("\(q.hostPort)/\(q.proto)") && networks.portIsFree(q) && HostPorts.isFree(q) {
                    taken.insert("\(q.hostPort)/\(q.proto)")
                    return q
                }
            }
            throw BockerError(.inUse, "no free host port for container port \(p.containerPort)/\(p.proto)")
        }
    }
}

/// A TCP connect with a time limit: whether something listens at ip:port.
enum TCPProbe {
    static func connects(ip: String, port: Int, timeoutMs: Int32) -> Bool {
        guard let addr = IPv4Address(ip) else { return false }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var sa = sockaddr_in()
        sa.sin_family = sa_family_t(AF_INET)
        sa.sin_port = in_port_t(UInt16(port).bigEndian)
        sa.sin_addr.s_addr = addr.value.bigEndian
        let rc = withUnsafePointer(to: &sa) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if rc == 0 { return true }
        guard errno == EINPROGRESS else { return false }
        var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        guard poll(&p, 1, timeoutMs) == 1 else { return false }
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
        return err == 0
    }
}

/// Ctrl-C during a script: once installed, the first SIGINT or SIGTERM makes every blocking
/// call of the runtime end with `.interrupted` (they wake at once: the handler does not
/// restart system calls), so the caller can stop what it started.
public enum Interrupt {
    public static func install() { bk_install_interrupt() }
    public static var requested: Bool { bk_interrupted() != 0 }
    /// Lets blocking calls run again (for the clean-up after an interruption; another Ctrl-C
    /// now has its default effect).
    public static func acknowledge() { bk_interrupt_clear() }
    public static func check() throws {
        if requested { throw BockerError(.interrupted, "interrupted") }
    }
}
