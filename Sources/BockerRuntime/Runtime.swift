#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import BockerCore
import BockerStore
import BockerRegistry
import BockerCgroups
import BockerNetwork
import CBocker

/// What a new container is made from: the image, the command and the settings `run` takes.
public struct ContainerSpec: Sendable {
    public var image: String
    /// The command (nil or empty: the image's Cmd).
    public var command: [String]?
    public var entrypoint: [String]?
    /// Run the single command string through `/bin/sh -c` (the original's form).
    public var shell = false
    public var env: [String] = []
    public var workdir: String?
    public var name: String?
    public var user: String?
    public var resources = CgroupResources()
    /// "bridge", "none", "host" or a user network.
    public var network = NetworkStore.defaultName
    public var ports: [PortMapping] = []
    public var mounts: [MountSpec] = []
    /// Containers whose mounts this one gets too (`--volumes-from ID[:ro]`).
    public var volumesFrom: [String] = []
    public var hostname: String?
    public var restartPolicy = RestartPolicy()
    public var autoRemove = false
    public var useInit = false
    public var tty = false
    /// `-i`: keep the container's stdin open while it runs detached (see ContainerRecord.openStdin).
    public var openStdin = false
    public var labels: [String: String] = [:]
    /// `--log-opt`: rotation of the container's log.
    public var logOptions = LogOptions()
    /// Privileges, capabilities, seccomp, devices, read-only root, user namespace.
    public var security = SecurityOptions()
    /// `-P`: publish every exposed port (the image's and `expose`) on a free host port.
    public var publishAll = false
    /// `--expose PORT[/PROTO]` (or a range): exposed besides the image's ports.
    public var expose: [String] = []
    /// `--stop-signal` (default: the image's StopSignal, else SIGTERM) and `--stop-timeout`
    /// (seconds `stop` waits before SIGKILL; default 10).
    public var stopSignal: String?
    public var stopTimeout: Int?
    /// Hosts and DNS files, rlimits, sysctls, /dev/shm, shared host namespaces.
    public var run = RunOptions()
    /// The container's own healthcheck, over the image's (`test: ["NONE"]` disables it; an
    /// empty test keeps the image's command with these settings).
    public var healthcheck: HealthcheckConfig?

    public init(image: String, command: [String]? = nil) {
        self.image = image
        self.command = command
    }
}

/// Owns containers: creating them from images, running them, joining them, committing and
/// removing them, and repairing those a killed bocker left behind.
public final class Runtime {
    public let store: Store
    public let cgroups: Cgroups
    public var root: StateRoot { store.root }
    /// Containers this process started in the background (what an interrupted script stops).
    public internal(set) var startedByThisProcess: [String] = []

    /// Where warnings go (one line each, without a newline): stderr as "WARNING: …" unless
    /// replaced.
    public var warn: (String) -> Void = { message in
        _ = try? Array("WARNING: \(message)\n".utf8).withUnsafeBytes { try FS.writeAll(2, $0, what: "stderr") }
    }

    public init(store: Store, cgroups: Cgroups = .detect()) {
        self.store = store
        self.cgroups = cgroups
        store.repairHandlers["create"] = { [unowned self] id in
            try self.destroy(id)
            self.removeAnonymousVolumes(createdBy: id)
            return true
        }
        store.repairHandlers["remove"] = { [unowned self] id in try self.destroy(id); return true }
        store.repairHandlers["running"] = { [unowned self] id in try self.settleIfDead(id) }
        // A commit killed while it held the container frozen: thaw it (unless `pause` froze it).
        store.repairHandlers["freeze"] = { [unowned self] id in
            if (try? self.container(id))?.paused != true { self.cgroup(of: id).thaw() }
            return true
        }
        // A build step's container (the step failed or bocker was killed during it).
        store.repairHandlers["build"] = { [unowned self] id in try self.destroy(id); return true }
        store.containerLayers = { [unowned self] in self.layersInUse() }
    }

    /// Opens the store at root (default `$BOCKER_ROOT`) with `$BOCKER_DRIVER`, finishing any
    /// pending repair.
    public static func open(root: StateRoot? = nil) throws -> Runtime {
        let driver = getenv("BOCKER_DRIVER").flatMap { String(validatingCString: $0) }
        let rt = Runtime(store: try Store(root: root ?? .fromEnvironment(), requestedDriver: driver))
        try rt.store.withLock {}
        return rt
    }

    // MARK: Records

    func recordPath(_ id: String) -> String { root.containerDir(id) + "/container.json" }

    public func save(_ rec: ContainerRecord, durable: Bool = false) throws {
        try changingRecords {
            try FS.writeAtomically(recordPath(rec.id), Array(rec.json.render().utf8), durable: durable)
        }
    }

    /// Every container, oldest first. (`ps` of 1,000: the records are read relative to the
    /// containers folder, and sorted by index, not moved about whole.)
    public func listContainers() -> [ContainerRecord] {
        let dir = Glibc.open(root.containersDir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dir >= 0 else { return [] }
        defer { close(dir) }
        let recs = FS.list(root.containersDir).filter { !$0.hasPrefix(".") }
            .compactMap { try? ContainerRecord.load($0 + "/container.json", relativeTo: dir) }
        return recs.indices.sorted { recs[$0].created < recs[$1].created }.map { recs[$0] }
    }

    /// Finds a container by full id, name, or unique id prefix with or without `ps_` (Docker's
    /// order); an ambiguous prefix is an error listing the matches.
    public func container(_ ref: String) throws -> ContainerRecord {
        if Identifier.isSafeComponent(ref), FS.exists(recordPath(ref)) {
            return try ContainerRecord.load(recordPath(ref))
        }
        // By name or id prefix among the summaries (a stat per record), then the one record.
        if let c = try Identifier.resolve(ref, kind: "ps_", what: "container", in: containerSummaries(),
                                          id: \.id, names: { $0.name.map { [$0] } ?? [] }),
           let rec = try? ContainerRecord.load(recordPath(c.id)) {
            return rec
        }
        throw BockerError(.notFound, "No container named '\(ref)' exists")
    }

    public func cgroup(of id: String) -> CgroupManager { cgroups.manager(for: id) }

    public func layersInUse() -> Set<String> {
        Set(listContainers().flatMap(\.layers))
    }

    // MARK: Create

    static let defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// Makes a container (root filesystem, cgroup with limits, record) ready to start. Nothing
    /// is left behind when it fails. `image` replaces the lookup of `spec.image` (a build step's
    /// state: layers and config that are no stored image).
    public func create(_ spec: ContainerSpec, image override: ImageRecord? = nil) throws -> ContainerRecord {
        var spec = spec
        if let n = spec.name, !Identifier.isSafeComponent(n) {
            throw BockerError(.invalidArgument, "invalid container name '\(n)': use letters, digits, '_', '.' and '-'")
        }
        try spec.security.validate()
        try spec.resources.validate()
        try spec.run.validate(network: spec.network, hostname: spec.hostname)
        try spec.healthcheck?.validate()
        return try store.withLock {
            spec = try resolveJoinTargets(spec)   // container:NAME modes: running, stored by id
            try checkNetwork(spec)
            let image = try override ?? store.image(spec.image)
            // Names in use, from the summaries (a stat per record, not a read of each).
            let names = Set(containerSummaries().compactMap(\.name))
            if let n = spec.name, names.contains(n) {
                throw BockerError(.exists, "The container name '\(n)' is already in use")
            }
            if spec.name == nil { spec.name = ContainerNames.generate(avoiding: names) }
            let entry = spec.entrypoint ?? image.config.entrypoint ?? []
            var cmd = (spec.command?.isEmpty == false ? spec.command : nil) ?? image.config.cmd ?? []
            if spec.shell { cmd = ["/bin/sh", "-c", cmd.joined(separator: " ")] }
            let argv = entry + cmd
            guard !argv.isEmpty else {
                throw BockerError(.invalidArgument, "No command specified (the image '\(spec.image)' has no default)")
            }
            var id = Identifier.random(prefix: "ps_")
            while FS.exists(root.containerDir(id)) { id = Identifier.random(prefix: "ps_") }
            let hostname = spec.hostname ?? id
            let env = mergeEnv(image.config.env ?? [], spec.env, hostname: hostname)
            // Limits and devices first: resolving the mounts may make named volumes.
            let limits = try checkedLimits(spec)
            let devices = Runtime.deviceRules(privileged: spec.security.privileged,
                                              devices: try spec.security.devices.map(ContainerDevice.init))
            var newVolumes = spec.mounts.filter { $0.type == .volume && (try? volumes.get($0.source)) == nil }
            var mounts = try resolveMounts(spec)
            let run = try runConfig(spec, image: image, mounts: mounts)
            var rec = ContainerRecord(
                id: id, name: spec.name, image: image.id, imageSource: image.source, layers: image.layers,
                command: spec.command?.isEmpty == false ? spec.command! : argv, argv: argv, env: env,
                workdir: spec.workdir ?? image.config.workingDir ?? "/", hostname: hostname,
                user: spec.user ?? image.config.user, resources: spec.resources,
                networkMode: spec.network, ports: try pickHostPorts(run.ports), networkState: nil, mounts: mounts,
                restartPolicy: spec.restartPolicy, restartCount: 0, stopRequested: nil, oomKilled: nil,
                autoRemove: spec.autoRemove, useInit: spec.useInit, tty: spec.tty,
                labels: run.labels.isEmpty ? nil : run.labels, entrypoint: entry.isEmpty ? nil : entry,
                restartPending: nil, created: WallClock.now(), state: .created)
            rec.security = spec.security.isDefault ? nil : spec.security
            rec.openStdin = spec.openStdin ? true : nil
            rec.logOptions = spec.logOptions.isDefault ? nil : spec.logOptions
            run.record(into: &rec)
            rec.runOptions = spec.run.isDefault ? nil : spec.run
            try store.beginPending("create", id)
            do {
                let dir = root.containerDir(id)
                guard mkdir(dir, 0o700) == 0 else { throw BockerError.errno("cannot create '\(dir)'", code: .io) }
                try store.driver.createContainerFS(containerDir: dir, layerFS: image.layers.map(store.layerFS))
                FaultPoint.hit("create.rootfs")
                // The image's VOLUMEs no mount covers: an anonymous volume each.
                for path in run.anonymousVolumes {
                    let v = try volumes.createAnonymous(for: id)
                    try populateVolume(v.mountpoint, path: path, image: image, containerDir: dir)
                    let m = MountSpec(type: .volume, source: v.name, destination: path, readOnly: false)
                    mounts.append(m)
                    newVolumes.append(m)
                }
                rec.mounts = mounts
                FaultPoint.hit("create.volumes")
                if spec.security.userns == "auto" {
                    let m = try IDRanges(root: root).allocate(for: id)
                    FaultPoint.hit("create.userns")
                    rec.idMapping = m
                    try giveToContainerRoot(m, containerDir: dir, newVolumes: newVolumes)
                }
                let cg = cgroup(of: id)
                try cg.create(devices: devices)
                FaultPoint.hit("create.cgroup")
                rec.resources = try limitsToApply(limits, explicit: spec.resources, in: cg)
                try cg.apply(rec.resources)
                try save(rec, durable: false)
                FaultPoint.hit("create.record")
            } catch {
                try? destroy(id)
                removeAnonymousVolumes(createdBy: id)
                store.endPending("create", id)
                throw error
            }
            store.endPending("create", id)
            emit(ContainerEvent("create", rec))
            return rec
        }
    }

    /// The container's limits: those the spec asks for, bocker's defaults for the rest. An
    /// asked-for limit whose controller the host lacks is refused here, before anything is made.
    func checkedLimits(_ spec: ContainerSpec) throws -> CgroupResources {
        let limits = spec.resources.filled(from: try CgroupResources.defaults())
        try refuseMissing(spec.resources, available: cgroups.availableControllers())
        return limits
    }

    func refuseMissing(_ explicit: CgroupResources, available: Set<String>) throws {
        if let c = explicit.controllersNeeded.first(where: { !available.contains($0) }) {
            throw BockerError(.invalidArgument, "cannot apply the \(explicit.limitName(c)): the cgroup controller '\(c)' is not available on this host (cgroup \(cgroups.version))")
        }
    }

    /// What of `limits` the new cgroup can take: an asked-for limit without its controller is
    /// an error; defaults without one are left out, with one warning line.
    func limitsToApply(_ limits: CgroupResources, explicit: CgroupResources, in cg: CgroupManager) throws -> CgroupResources {
        let available = cg.availableControllers()
        try refuseMissing(explicit, available: available)
        // Nothing is written for a controller that is not there (not even pids.max "max").
        let absent = Set(["cpu", "memory", "pids", "cpuset"]).subtracting(available)
        let missing = limits.controllersNeeded.filter { absent.contains($0) }
        if missing.isEmpty { return limits.dropping(absent) }
        warn("cgroup controller\(missing.count > 1 ? "s" : "") \(missing.joined(separator: ", ")) not available (cgroup \(cg.version)): running without the default \(missing.joined(separator: ", ")) limit\(missing.count > 1 ? "s" : "")")
        return limits.dropping(absent)
    }

    public var networks: NetworkStore { NetworkStore(root: root) }
    public var volumes: VolumeStore { VolumeStore(root: root) }

    /// The container's mounts: its own (bind sources checked, named volumes made on first
    /// use) and those of `--volumes-from` containers (read-only with `:ro`).
    func resolveMounts(_ spec: ContainerSpec) throws -> [MountSpec] {
        var out: [MountSpec] = []
        for ref in spec.volumesFrom {
            let parts = ref.split(separator: ":").map(String.init)
            guard parts.count == 1 || (parts.count == 2 && (parts[1] == "ro" || parts[1] == "rw")) else {
                throw BockerError(.invalidArgument, "invalid --volumes-from '\(ref)': use CONTAINER[:ro]")
            }
            let other = try container(parts[0])
            for var m in other.mounts ?? [] where m.type != .tmpfs {
                if parts.count == 2 && parts[1] == "ro" { m.readOnly = true }
                out.append(m)
            }
        }
        for m in spec.mounts {
            switch m.type {
            case .bind: try MountSpec.checkHostPath(m.source)
            case .volume: try volumes.ensure(m.source)
            case .tmpfs: break
            }
            out.removeAll { $0.destination == m.destination }
            out.append(m)
        }
        return out
    }

    /// Refuses a network that does not exist, ports without a bridge network, and ports that
    /// are taken, before anything is made.
    func checkNetwork(_ spec: ContainerSpec) throws {
        if spec.network.hasPrefix(Runtime.containerModePrefix) {
            if !spec.ports.isEmpty || spec.publishAll {
                throw BockerError(.invalidArgument, "conflicting options: port publishing and the container type network mode")
            }
            return
        }
        switch spec.network {
        case "none", "host":
            if !spec.ports.isEmpty {
                throw BockerError(.invalidArgument, "published ports need a bridge network, not --network \(spec.network)")
            }
        default:
            try NetworkStore.checkPorts(spec.ports, on: try networks.get(spec.network))
            for p in spec.ports where p.hostPort != 0 && (!networks.portIsFree(p) || !HostPorts.isFree(p)) {
                throw BockerError(.inUse, "Bind for \(p.hostIP ?? "0.0.0.0"):\(p.hostPort) failed: port \(p.hostPort)/\(p.proto) is already allocated or in use")
            }
        }
    }

    func mergeEnv(_ image: [String], _ user: [String], hostname: String) -> [String] {
        var order: [String] = []
        var values: [String: String] = [:]
        func put(_ kv: String) {
            let key = String(kv.prefix { $0 != "=" })
            if values[key] == nil { order.append(key) }
            values[key] = kv
        }
        for kv in ["PATH=" + Runtime.defaultPath, "HOSTNAME=" + hostname, "HOME=/root"] + image + user { put(kv) }
        return order.compactMap { values[$0] }
    }

    // MARK: Remove

    /// Removes a container: its processes, cgroup, root filesystem, record and unused layers;
    /// with `volumes` (`rm -v`, `--rm`) also its anonymous volumes no other container uses.
    public func remove(_ ref: String, force: Bool, volumes removeVolumes: Bool = false) throws -> ContainerRecord {
        try store.withLock {
            let rec = try container(ref)
            if rec.liveState.needsForceToRemove && !force {
                throw BockerError(.invalidState, "You cannot remove a running container '\(rec.id)'. Stop the container before attempting removal or use -f")
            }
            try store.beginPending("remove", rec.id)
            try destroy(rec.id)
            store.endPending("remove", rec.id)
            store.endPending("running", rec.id)
            emit(ContainerEvent("destroy", rec))
            if removeVolumes { removeAnonymousVolumes(of: rec) }
            // Layers an image still lists stay whatever containers use them: only a container
            // whose image went (rmi -f) or changed (commit) can leave layers to collect, and
            // only then are all the other records read (rm of 1,000 stays linear).
            let imageLayers = Set(store.listImages().flatMap(\.layers))
            if !rec.layers.allSatisfy(imageLayers.contains) {
                try store.collectLayers(inUse: layersInUse())
            }
            return rec
        }
    }

    /// Tears down everything a container id may own; each step tolerates what is already gone.
    func destroy(_ id: String) throws {
        guard Identifier.isSafeComponent(id) else { return }
        // The pending `remove` (or `create`) marker says what is under way; the record itself
        // goes last, with the directory.
        let dir = root.containerDir(id)
        if var rec = try? ContainerRecord.load(recordPath(id)), rec.networkState != nil {
            releaseNetwork(&rec)
        }
        try cgroup(of: id).remove()
        FaultPoint.hit("remove.cgroup")
        if FS.exists(dir) {
            try store.driver.removeContainerFS(containerDir: dir)
            try changingRecords { try FS.removeTree(dir) }
        }
        // Last: the range is free once nothing of the container is left.
        IDRanges(root: root).release(container: id)
    }

    /// Repair of a `running` marker: settled once the container's process is gone (its
    /// network given back too, also when bocker died before the process started).
    func settleIfDead(_ id: String) throws -> Bool {
        guard var rec = try? ContainerRecord.load(recordPath(id)) else { return true }
        if rec.state != .running {
            if rec.networkState != nil { releaseNetwork(&rec); try save(rec) }
            return true
        }
        if rec.isProcessAlive && rec.isMonitorAlive { return false }
        // Its bocker was killed: the kernel is killing the container with it (PDEATHSIG);
        // make sure nothing of it is left running before it is recorded as exited.
        cgroup(of: id).killAll()
        releaseNetwork(&rec)
        rec.state = .exited
        rec.exitCode = rec.exitCode ?? 137
        rec.finishedAt = WallClock.now()
        rec.pid = nil
        rec.paused = nil
        try save(rec)
        return true
    }

    // MARK: Images

    /// Removes an image; refused while a container uses it unless force.
    /// Removes a name or an image (Docker's rules): a reference by name takes that name away,
    /// and the image goes with its last name; a reference by id removes the image, which with
    /// several names needs `force`. An image containers use stays unless `force`.
    /// Returns the image and, when only a name went, that name.
    public func removeImage(_ ref: String, force: Bool) throws -> (image: ImageRecord, untagged: String?) {
        try store.withLock {
            let match = try store.resolveImage(ref)
            var img = match.image
            if let name = match.name, img.names.count > 1 {
                store.dropName(name, from: &img)
                try store.replaceImage(img)
                return (img, name)
            }
            if match.name == nil, img.names.count > 1, !force {
                throw BockerError(.inUse, "Image '\(img.id)' has several names (\(img.names.joined(separator: ", "))): remove them by name, or use -f")
            }
            if !force, let user = listContainers().first(where: { $0.image == img.id }) {
                throw BockerError(.inUse, "Image '\(img.id)' is used by container '\(user.id)' (remove it first or use -f)")
            }
            try store.removeImage(img.id, layersInUse: layersInUse())
            return (img, nil)
        }
    }

    /// Gives image `source` the name `target` (`NAME[:TAG]`, tag `latest` when none); an image
    /// that had the name loses it.
    public func tag(_ source: String, as target: String) throws -> (image: ImageRecord, name: String) {
        let ref = try ImageReference.parse(target)
        if ref.digest != nil {
            throw BockerError(.invalidArgument, "invalid reference format '\(target)': a tag cannot hold a digest")
        }
        let name = ref.familiar
        return try store.withLock {
            let img = try store.image(source)
            try store.claimName(name, for: img.id)
            return (try store.image(img.id), name)
        }
    }

    // MARK: Logs

    public func logPath(_ id: String) -> String { root.containerDir(id) + "/container.log" }

    public func logs(_ ref: String) throws -> [LogEntry] {
        let rec = try container(ref)
        return try LogReader.read(path: logPath(rec.id))
    }

    /// Log entries from byte `offset` on, the offset after them, and whether the container
    /// may still write more. With `wait`, blocks (inotify on the log and the record, a pidfd
    /// on the monitor) until there is something new or the container has stopped for good.
    public func logs(_ ref: String, from offset: Int, wait: Bool) throws -> ([LogEntry], Int, Bool) {
        let id = try container(ref).id
        let watch = wait ? ContainerDirWatch(directory: root.containerDir(id),
                                             events: IN_MODIFY | IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE_SELF) : nil
        while true {
            if wait { try Interrupt.check() }
            // The monitor writes all output to the log before it records the exit: reading the
            // state first and the log second never loses a last line.
            let rec = try container(id)
            let active = (rec.state == .running && rec.isMonitorAlive) || restartPending(rec)
            let (entries, next) = try LogReader.follow(path: logPath(id), from: offset)
            guard let watch = watch, active, entries.isEmpty else { return (entries, next, active) }
            watch.sleep(untilExitOf: rec.liveState == .running ? rec.pid : nil)
        }
    }
}
