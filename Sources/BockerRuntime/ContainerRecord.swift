#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import BockerCgroups
import BockerCore
import BockerNetwork
import BockerStore

/// Where a container is in its life. Every verb asks the state before acting:
/// created → running → exited (→ running again on start), and removing on the way out.
public enum ContainerState: String, Codable, Sendable {
    case created, running, exited, removing

    public var canStart: Bool { self == .created || self == .exited }
    public var canExec: Bool { self == .running }
    /// Removing a running container needs force (it is killed first).
    public var needsForceToRemove: Bool { self == .running }
}

/// `--restart no|on-failure[:N]|always|unless-stopped`, carried out by the container's monitor.
public struct RestartPolicy: Codable, Equatable, Sendable {
    public var name: String
    public var maximumRetryCount: Int

    public init(name: String = "no", maximumRetryCount: Int = 0) {
        self.name = name
        self.maximumRetryCount = maximumRetryCount
    }

    public static func parse(_ s: String) throws -> RestartPolicy {
        let parts = s.split(separator: ":", maxSplits: 1).map(String.init)
        switch parts.first ?? "" {
        case "no", "always", "unless-stopped":
            guard parts.count == 1 else { break }
            return RestartPolicy(name: parts[0])
        case "on-failure":
            if parts.count == 1 { return RestartPolicy(name: "on-failure") }
            if let n = Int(parts[1]), n >= 0 { return RestartPolicy(name: "on-failure", maximumRetryCount: n) }
        default: break
        }
        throw BockerError(.invalidArgument, "invalid restart policy '\(s)': use no, on-failure[:N], always or unless-stopped")
    }

    /// Whether a container that exited with `code`, after `restarts` policy restarts, runs again.
    public func shouldRestart(exitCode code: Int32, restarts: Int, stoppedByUser: Bool) -> Bool {
        if stoppedByUser { return false }
        switch name {
        case "always", "unless-stopped": return true
        case "on-failure": return code != 0 && (maximumRetryCount == 0 || restarts < maximumRetryCount)
        default: return false
        }
    }
}

/// Everything bocker knows about one container, stored as containers/<id>/container.json.
public struct ContainerRecord: Codable, Sendable {
    public var id: String
    public var name: String?
    public var image: String
    public var imageSource: String
    public var layers: [String]
    /// The command as the user gave it (what `ps` shows).
    public var command: [String]
    /// What is executed: entrypoint + command, after the shell rule.
    public var argv: [String]
    public var env: [String]
    public var workdir: String
    public var hostname: String
    public var user: String?
    public var resources: CgroupResources
    /// "bridge" (default), "none", "host", or a user network's name.
    public var networkMode: String?
    public var ports: [PortMapping]?
    /// Address, veth and port rules while running (nil otherwise).
    public var networkState: NetworkAttachment?
    public var mounts: [MountSpec]?
    public var restartPolicy: RestartPolicy?
    /// Restarts the policy made (not manual ones).
    public var restartCount: Int?
    /// Set by `stop`/`kill` so the monitor does not restart what the user stopped.
    public var stopRequested: Bool?
    public var oomKilled: Bool?
    /// Remove the container when it exits for good (`--rm`).
    public var autoRemove: Bool?
    /// Run bocker's init as PID 1 (reaps zombies, forwards signals).
    public var useInit: Bool?
    /// Give the command a pseudo-terminal (`-t`).
    public var tty: Bool?
    /// `-i` at create: its monitor keeps its stdin open for `attach` and `start -ai` (Docker's
    /// OpenStdin); without it the container reads /dev/null when detached.
    public var openStdin: Bool? = nil
    /// Free-form key/value labels (`--label`; projects mark their containers with them).
    public var labels: [String: String]?
    /// The entrypoint part of argv (what `inspect` shows as Entrypoint).
    public var entrypoint: [String]?
    /// The monitor has decided to start the container again (policy restart under way).
    public var restartPending: Bool?
    /// Frozen by `pause` (its processes stopped by the freezer) until `unpause` or its exit.
    public var paused: Bool? = nil
    /// Confinement settings that differ from the defaults (nil: all defaults).
    public var security: SecurityOptions? = nil
    /// `--userns=auto`: the host ids its user namespace maps to (leased until `rm`).
    public var idMapping: IDMapping?
    /// `--log-opt` settings (nil: Docker's defaults, an unbounded log).
    public var logOptions: LogOptions? = nil
    /// From the image config and the run options: exposed ports ("80/tcp"), the image's
    /// Volumes, the signal and grace period of `stop`, the healthcheck.
    public var exposedPorts: [String]? = nil
    public var configVolumes: [String]? = nil
    public var stopSignal: String? = nil
    public var stopTimeout: Int? = nil
    public var healthcheck: HealthcheckConfig? = nil
    /// `-P` was given (inspect's HostConfig.PublishAllPorts).
    public var publishAll: Bool? = nil
    /// Hosts/DNS files, rlimits, sysctls, /dev/shm size, shared namespaces (nil: defaults).
    public var runOptions: RunOptions? = nil
    public var created: Double
    public var state: ContainerState
    public var pid: Int32?
    public var pidStartTime: UInt64?
    /// The bocker process that started the container and collects its output and exit code.
    /// When it is gone (killed), the container is exited, whatever is still dying in it.
    public var monitorPid: Int32?
    public var monitorStartTime: UInt64?
    public var startedAt: Double?
    public var finishedAt: Double?
    public var exitCode: Int32?
    public var error: String?

    /// The state as it really is: a record saying running whose process is gone is exited.
    /// A record saying running is exited once its monitor is gone; while the monitor lives
    /// it stays running until the monitor records the exit (so the exit code is never guessed).
    public var liveState: ContainerState {
        Self.liveState(state, pid: pid, pidStartTime: pidStartTime, monitorPid: monitorPid,
                       monitorStartTime: monitorStartTime, alive: ProcessTable.isAlive)
    }

    /// The rule of `liveState` for any copy of these fields (a `ContainerSummary` too); `alive`
    /// tells whether a pid is the process that started at that time.
    static func liveState(_ state: ContainerState, pid: Int32?, pidStartTime: UInt64?, monitorPid: Int32?,
                          monitorStartTime: UInt64?, alive: (Int32, UInt64?) -> Bool) -> ContainerState {
        guard state == .running else { return state }
        if let m = monitorPid {
            // A monitor without a start time is taken as alive (isMonitorAlive).
            guard monitorStartTime != nil else { return .running }
            return alive(m, monitorStartTime) ? .running : .exited
        }
        guard let p = pid else { return .exited }
        return alive(p, pidStartTime) ? .running : .exited
    }

    public var isMonitorAlive: Bool {
        guard let pid = monitorPid, monitorStartTime != nil else { return true }
        return ProcessTable.isAlive(pid, startedAt: monitorStartTime)
    }

    public var isProcessAlive: Bool {
        guard let pid = pid else { return false }
        return ProcessTable.isAlive(pid, startedAt: pidStartTime)
    }

    /// The exit code to report for a container whose live state is `live`: nil while it runs
    /// (or before it ever ran), the recorded code once it exited, and 137 (killed) when the
    /// record still says running but nobody is left to record the exit.
    public func reportedExitCode(live: ContainerState) -> Int32? {
        guard live != .running else { return nil }
        return exitCode ?? (state == .running ? 137 : nil)
    }
}


extension ContainerRecord {
    /// Takes from `latest` (the record on disk) what other bockers change while the container
    /// runs — its name (`rename`) and limits (`update`) — so that its monitor, saving its own
    /// copy at exit or restart, does not undo them.
    mutating func keepChangesWhileRunning(from latest: ContainerRecord) {
        name = latest.name
        resources = latest.resources
    }

    /// Reads a record straight from parsed JSON (what `ps` does a thousand times: Codable's
    /// generic machinery is too slow there). nil when a required field is missing.
    init?(json j: JSONValue) {
        guard let id = j["id"]?.string, let image = j["image"]?.string, let created = j["created"]?.double,
              let state = j["state"]?.string.flatMap(ContainerState.init(rawValue:)) else { return nil }
        self.id = id
        name = j["name"]?.string
        self.image = image
        imageSource = j["imageSource"]?.string ?? ""
        layers = j["layers"]?.strings ?? []
        command = j["command"]?.strings ?? []
        argv = j["argv"]?.strings ?? []
        env = j["env"]?.strings ?? []
        workdir = j["workdir"]?.string ?? "/"
        hostname = j["hostname"]?.string ?? id
        user = j["user"]?.string
        let r = j["resources"]
        resources = CgroupResources(cpuShares: r?["cpuShares"]?.int.map(UInt64.init), memoryBytes: r?["memoryBytes"]?.int.map(Int64.init),
                                    pidsMax: r?["pidsMax"]?.int.map(Int64.init))
        resources.cpuQuota = r?["cpuQuota"]?.int.map(Int64.init)
        resources.cpuPeriod = r?["cpuPeriod"]?.int.map(UInt64.init)
        resources.cpusetCpus = r?["cpusetCpus"]?.string
        resources.memorySwap = r?["memorySwap"]?.int.map(Int64.init)
        resources.memoryReservation = r?["memoryReservation"]?.int.map(Int64.init)
        networkMode = j["networkMode"]?.string
        ports = j["ports"]?.array?.compactMap(PortMapping.init(json:))
        if let n = j["networkState"], let net = n["network"]?.string, let ip = n["ip"]?.string {
            networkState = NetworkAttachment(
                network: net, ip: ip, mac: n["mac"]?.string ?? "", gateway: n["gateway"]?.string ?? "",
                prefixLength: n["prefixLength"]?.int ?? 24, hostVeth: n["hostVeth"]?.string ?? "",
                ports: n["ports"]?.array?.compactMap(PortMapping.init(json:)) ?? [],
                rules: n["rules"]?.array?.compactMap(\.strings) ?? [])
        }
        mounts = j["mounts"]?.array?.compactMap { m in
            guard let t = m["type"]?.string.flatMap(MountSpec.Kind.init(rawValue:)) else { return nil }
            var spec = MountSpec(type: t, source: m["source"]?.string ?? "", destination: m["destination"]?.string ?? "",
                                 readOnly: m["readOnly"]?.bool ?? false)
            spec.tmpfsSize = m["tmpfsSize"]?.int.map(Int64.init)
            spec.tmpfsMode = m["tmpfsMode"]?.int.map(UInt32.init)
            return spec
        }
        if let p = j["restartPolicy"], let n = p["name"]?.string {
            restartPolicy = RestartPolicy(name: n, maximumRetryCount: p["maximumRetryCount"]?.int ?? 0)
        }
        restartCount = j["restartCount"]?.int
        stopRequested = j["stopRequested"]?.bool
        oomKilled = j["oomKilled"]?.bool
        autoRemove = j["autoRemove"]?.bool
        useInit = j["useInit"]?.bool
        tty = j["tty"]?.bool
        openStdin = j["openStdin"]?.bool
        entrypoint = j["entrypoint"]?.strings
        restartPending = j["restartPending"]?.bool
        paused = j["paused"]?.bool
        security = j["security"].map(SecurityOptions.init(json:))
        if let m = j["idMapping"], let u = m["uidBase"]?.int, let g = m["gidBase"]?.int, let n = m["size"]?.int {
            idMapping = IDMapping(uidBase: UInt32(u), gidBase: UInt32(g), size: UInt32(n))
        }
        logOptions = j["logOptions"].map(LogOptions.init(json:))
        exposedPorts = j["exposedPorts"]?.strings
        configVolumes = j["configVolumes"]?.strings
        stopSignal = j["stopSignal"]?.string
        stopTimeout = j["stopTimeout"]?.int
        healthcheck = HealthcheckConfig(json: j["healthcheck"])
        publishAll = j["publishAll"]?.bool
        runOptions = j["runOptions"].map(RunOptions.init(json:))
        if case .object(let l)? = j["labels"] {
            var d: [String: String] = [:]
            for (k, v) in l { if let s = v.string { d[k] = s } }
            labels = d
        }
        self.created = created
        self.state = state
        pid = j["pid"]?.int.map(Int32.init)
        pidStartTime = j["pidStartTime"]?.int.map(UInt64.init)
        monitorPid = j["monitorPid"]?.int.map(Int32.init)
        monitorStartTime = j["monitorStartTime"]?.int.map(UInt64.init)
        startedAt = j["startedAt"]?.double
        finishedAt = j["finishedAt"]?.double
        exitCode = j["exitCode"]?.int.map(Int32.init)
        error = j["error"]?.string
    }

    /// A record from its file: the fast reader, and Codable if the fast one cannot.
    static func load(_ path: String, relativeTo dir: Int32 = AT_FDCWD) throws -> ContainerRecord {
        var st = stat()
        return try load(path, relativeTo: dir, stat: &st)
    }

    /// `load`, also giving the `fstat` of the file it read.
    static func load(_ path: String, relativeTo dir: Int32, stat st: inout stat) throws -> ContainerRecord {
        let bytes = try FS.read(path, relativeTo: dir, stat: &st)
        if let j = try? JSONValue.parse(bytes), let r = ContainerRecord(json: j) { return r }
        do {
            return try JSONDecoder().decode(ContainerRecord.self, from: Data(bytes))
        } catch {
            throw BockerError(.io, "corrupt record '\(path)': \(error)")
        }
    }
}

extension HealthcheckConfig {
    /// The record form `init(json:)` reads (camelCase keys, durations in nanoseconds).
    var recordJSON: JSONValue {
        var f: [(String, JSONValue)] = []
        if let v = interval { f.append(("interval", .int(Int(v)))) }
        if let v = retries { f.append(("retries", .int(v))) }
        if let v = startInterval { f.append(("startInterval", .int(Int(v)))) }
        if let v = startPeriod { f.append(("startPeriod", .int(Int(v)))) }
        f.append(("test", .array(test.map { .string($0) })))
        if let v = timeout { f.append(("timeout", .int(Int(v)))) }
        return .object(f)
    }
}

extension PortMapping {
    init?(json p: JSONValue) {
        guard let hp = p["hostPort"]?.int, let cp = p["containerPort"]?.int else { return nil }
        self.init(hostIP: p["hostIP"]?.string, hostPort: hp, containerPort: cp, proto: p["proto"]?.string ?? "tcp")
    }
}

extension ContainerRecord {
    /// The record as JSON, written without Codable (faster on every run's three state
    /// writes); `init(json:)` reads exactly this, and Codable can read it too.
    var json: JSONValue {
        func s(_ v: String?) -> JSONValue? { v.map { .string($0) } }
        func a(_ v: [String]?) -> JSONValue? { v.map { .array($0.map { .string($0) }) } }
        func i<T: BinaryInteger>(_ v: T?) -> JSONValue? { v.map { .int(Int($0)) } }
        func d(_ v: Double?) -> JSONValue? { v.map { .number($0) } }
        func b(_ v: Bool?) -> JSONValue? { v.map { .bool($0) } }
        func port(_ p: PortMapping) -> JSONValue {
            .object([("containerPort", .int(p.containerPort))] + (p.hostIP.map { [("hostIP", .string($0))] } ?? [])
                    + [("hostPort", .int(p.hostPort)), ("proto", .string(p.proto))])
        }
        var f: [(String, JSONValue?)] = [
            ("argv", a(argv)), ("autoRemove", b(autoRemove)), ("command", a(command)), ("created", d(created)),
            ("configVolumes", a(configVolumes)),
            ("entrypoint", a(entrypoint)), ("env", a(env)), ("error", s(error)), ("exitCode", i(exitCode)),
            ("exposedPorts", a(exposedPorts)),
            ("finishedAt", d(finishedAt)), ("healthcheck", healthcheck.map(\.recordJSON)), ("hostname", s(hostname)), ("id", s(id)),
            ("idMapping", idMapping.map { .object([("gidBase", .int(Int($0.gidBase))), ("size", .int(Int($0.size))),
                                                   ("uidBase", .int(Int($0.uidBase)))]) }),
            ("image", s(image)),
            ("imageSource", s(imageSource)),
            ("labels", labels.map { l in .object(l.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }) }),
            ("layers", a(layers)), ("monitorPid", i(monitorPid)), ("monitorStartTime", i(monitorStartTime)),
            ("openStdin", b(openStdin)),
        ]
        f.append(("logOptions", logOptions?.json))
        f.append(("mounts", mounts.map { ms in .array(ms.map { m in .object([
            ("destination", .string(m.destination)), ("readOnly", .bool(m.readOnly)), ("source", .string(m.source)),
            ("type", .string(m.type.rawValue))] + (m.tmpfsMode.map { [("tmpfsMode", .int(Int($0)))] } ?? [])
            + (m.tmpfsSize.map { [("tmpfsSize", .int(Int($0)))] } ?? [])) }) }))
        f.append(("name", s(name)))
        f.append(("networkMode", s(networkMode)))
        f.append(("networkState", networkState.map { n in .object([
            ("gateway", .string(n.gateway)), ("hostVeth", .string(n.hostVeth)), ("ip", .string(n.ip)), ("mac", .string(n.mac)),
            ("network", .string(n.network)), ("ports", .array(n.ports.map(port))), ("prefixLength", .int(n.prefixLength)),
            ("rules", .array(n.rules.map { r in .array(r.map { .string($0) }) }))]) }))
        f += [("oomKilled", b(oomKilled)), ("paused", b(paused)), ("pid", i(pid)), ("pidStartTime", i(pidStartTime)),
              ("ports", ports.map { .array($0.map(port)) }), ("publishAll", b(publishAll))]
        var res: [(String, JSONValue)] = []
        if let c = resources.cpuShares { res.append(("cpuShares", .int(Int(c)))) }
        if let m = resources.memoryBytes { res.append(("memoryBytes", .int(Int(m)))) }
        if let p = resources.pidsMax { res.append(("pidsMax", .int(Int(p)))) }
        if let q = resources.cpuQuota { res.append(("cpuQuota", .int(Int(q)))) }
        if let p = resources.cpuPeriod { res.append(("cpuPeriod", .int(Int(p)))) }
        if let c = resources.cpusetCpus { res.append(("cpusetCpus", .string(c))) }
        if let s = resources.memorySwap { res.append(("memorySwap", .int(Int(s)))) }
        if let s = resources.memoryReservation { res.append(("memoryReservation", .int(Int(s)))) }
        f.append(("resources", .object(res)))
        f += [("restartCount", i(restartCount)), ("restartPending", b(restartPending)),
              ("restartPolicy", restartPolicy.map { .object([("maximumRetryCount", .int($0.maximumRetryCount)), ("name", .string($0.name))]) }),
              ("runOptions", runOptions?.json),
              ("security", security?.json),
              ("startedAt", d(startedAt)), ("state", .string(state.rawValue)), ("stopRequested", b(stopRequested)),
              ("stopSignal", s(stopSignal)), ("stopTimeout", i(stopTimeout)),
              ("tty", b(tty)), ("useInit", b(useInit)), ("user", s(user)), ("workdir", s(workdir))]
        return .object(f.compactMap { k, v in v.map { (k, $0) } })
    }
}
