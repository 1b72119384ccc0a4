import Glibc
import BockerCore
import BockerCgroups
import BockerStore

/// Docker's smaller verbs over a container's record and cgroup: rename, pause/unpause (the
/// freezer), update (limits of a live cgroup), top (host ps over the cgroup's pids) and prune.
extension Runtime {
    // MARK: rename

    /// Gives the container a new name (unique, Docker's characters); emits `rename`.
    public func rename(_ ref: String, to newName: String) throws -> ContainerRecord {
        guard !newName.isEmpty, Identifier.isSafeComponent(newName), !newName.hasPrefix("ps_") else {
            throw BockerError(.invalidArgument, "invalid container name '\(newName)': use letters, digits, '_', '.' and '-'")
        }
        return try store.withLock {
            var rec = try container(ref)
            if rec.name == newName {
                throw BockerError(.invalidArgument, "Renaming a container with the same name as its current name")
            }
            if containerSummaries().contains(where: { $0.name == newName && $0.id != rec.id }) {
                throw BockerError(.exists, "The container name '\(newName)' is already in use")
            }
            rec.name = newName
            try save(rec)
            // Its peers on a user network find it by the new name (their /etc/hosts).
            if let net = rec.networkState?.network, rec.liveState == .running,
               (try? networks.get(net))?.resolvesNames == true {
                refreshHosts(network: net)
            }
            emit(ContainerEvent("rename", rec))
            return rec
        }
    }

    // MARK: pause, unpause

    /// Freezes every process of a running container (v1 freezer, v2 cgroup.freeze) and records
    /// it as paused; emits `pause`.
    public func pause(_ ref: String) throws -> ContainerRecord {
        try store.withLock {
            var rec = try container(ref)
            guard rec.liveState == .running else {
                throw BockerError(.invalidState, "Container '\(rec.id)' is not running")
            }
            if rec.paused == true {
                throw BockerError(.invalidState, "Container '\(rec.id)' is already paused")
            }
            do { try cgroup(of: rec.id).freeze() } catch let e as BockerError {
                throw BockerError(e.code, "cannot pause container '\(rec.id)': \(e.message)")
            }
            rec.paused = true
            try save(rec)
            emit(ContainerEvent("pause", rec))
            return rec
        }
    }

    /// Lets a paused container run again; emits `unpause`.
    public func unpause(_ ref: String) throws -> ContainerRecord {
        try store.withLock {
            var rec = try container(ref)
            guard rec.liveState == .running, rec.paused == true else {
                throw BockerError(.invalidState, "Container '\(rec.id)' is not paused")
            }
            cgroup(of: rec.id).thaw()
            rec.paused = nil
            try save(rec)
            emit(ContainerEvent("unpause", rec))
            return rec
        }
    }

    /// After a signal thawed a paused container (stop, kill), its record says so too.
    func markThawed(_ id: String) {
        _ = try? store.withLock {
            var rec = try container(id)
            guard rec.paused == true else { return }
            rec.paused = nil
            try save(rec)
            emit(ContainerEvent("unpause", rec))
        }
    }

    // MARK: update

    /// What `update` changes; nil leaves a limit as it is. `nanoCPUs`: `--cpus` × 10⁹ (a CFS
    /// quota over a 100 ms period; 0 removes it).
    public struct ResourceUpdate: Sendable {
        public var resources = CgroupResources()
        public var nanoCPUs: Int64?
        public init() {}
    }

    /// Changes the limits of a container's cgroup (running or not: the cgroup lives until
    /// `rm`, so the new values hold for later starts too) and its record.
    public func update(_ ref: String, _ u: ResourceUpdate) throws -> ContainerRecord {
        try u.resources.validate()
        if let n = u.nanoCPUs, n < 0 || n > Int64(HostFacts.cpus()) * 1_000_000_000 {
            throw BockerError(.invalidArgument, "invalid --cpus \(Double(n) / 1e9): the range is 0.01 to \(HostFacts.cpus()) (the CPUs available)")
        }
        if let n = u.nanoCPUs, n != 0 && n < 10_000_000 {
            throw BockerError(.invalidArgument, "invalid --cpus \(Double(n) / 1e9): the minimum is 0.01")
        }
        return try store.withLock {
            var rec = try container(ref)
            let cg = cgroup(of: rec.id)
            let available = cg.availableControllers()
            try refuseMissing(u.resources, available: available)
            if u.nanoCPUs != nil && !available.contains("cpu") {
                throw BockerError(.invalidArgument, "cannot apply the CPU quota (--cpus): the cgroup controller 'cpu' is not available on this host (cgroup \(cg.version))")
            }
            do {
                try cg.apply(u.resources)
                if let n = u.nanoCPUs { try cg.setCPUQuota(nanoCPUs: n) }
            } catch let e as BockerError {
                throw BockerError(e.code, "cannot update container '\(rec.id)': \(e.message)")
            }
            if let s = u.resources.cpuShares { rec.resources.cpuShares = s }
            if let m = u.resources.memoryBytes { rec.resources.memoryBytes = m }
            if let p = u.resources.pidsMax { rec.resources.pidsMax = p }
            if let n = u.nanoCPUs {   // as setCPUQuota wrote it; 0 removed the quota
                rec.resources.cpuQuota = n == 0 ? nil : max(1000, n * 100_000 / 1_000_000_000)
                rec.resources.cpuPeriod = n == 0 ? nil : 100_000
            }
            try save(rec)
            emit(ContainerEvent("update", rec))
            return rec
        }
    }

    // MARK: top

    /// The host's `ps ARGS` (default `-ef`), only the rows of the container's processes (its
    /// cgroup's pids): the header's words and each row's columns.
    public func top(_ ref: String, psArgs: [String]) throws -> (titles: [String], rows: [[String]]) {
        let rec = try container(ref)
        guard rec.liveState == .running else {
            throw BockerError(.invalidState, "Container '\(rec.id)' is not running")
        }
        let pids = Set(cgroup(of: rec.id).processes())
        let out = try HostCapture.run(["/bin/ps"] + (psArgs.isEmpty ? ["-ef"] : psArgs))
        var lines = out.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        guard !lines.isEmpty else { throw BockerError(.io, "ps printed nothing") }
        let header = lines.removeFirst()
        let titles = header.split(separator: " ").map(String.init)
        guard let pidColumn = titles.firstIndex(of: "PID") else {
            throw BockerError(.invalidArgument, "Couldn't find PID field in ps output (ps \(psArgs.joined(separator: " ")))")
        }
        var rows: [[String]] = []
        for line in lines {
            // The last column (the command) may hold spaces: split only as often as there are titles.
            let fields = line.split(separator: " ", maxSplits: titles.count - 1).map(String.init)
            guard fields.count > pidColumn, let pid = Int32(fields[pidColumn]), pids.contains(pid) else { continue }
            rows.append(fields)
        }
        return (titles, rows)
    }

    // MARK: prune

    /// Removes every container that is not running (created or exited, no restart pending);
    /// returns their ids and the bytes their directories held.
    public func pruneContainers() throws -> (ids: [String], bytes: Int) {
        var ids: [String] = [], bytes = 0
        for rec in listContainers() where rec.liveState != .running && !restartPending(rec) && rec.state != .removing {
            let size = FS.diskUsage(root.containerDir(rec.id))
            do {
                _ = try remove(rec.id, force: false)
                ids.append(rec.id)
                bytes += size
            } catch let e as BockerError where e.code == .invalidState || e.code == .notFound {
                continue   // it started (or went) meanwhile
            }
        }
        return (ids, bytes)
    }
}

/// Runs a host program and returns its stdout (stderr's first line in the error when it fails).
enum HostCapture {
    static func run(_ argv: [String]) throws -> String {
        var outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1]
        guard pipe(&outPipe) == 0 else { throw BockerError.errno("pipe") }
        guard pipe(&errPipe) == 0 else { close(outPipe[0]); close(outPipe[1]); throw BockerError.errno("pipe") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        for fd in outPipe + errPipe { posix_spawn_file_actions_addclose(&actions, fd) }
        var pid: pid_t = 0
        let cargs = argv.map { strdup($0) } + [nil]
        defer { cargs.forEach { free($0) } }
        // A clean environment: LC_* of the caller could change ps's columns.
        let env: [UnsafeMutablePointer<CChar>?] = [strdup("PATH=/usr/bin:/bin"), strdup("LC_ALL=C"), nil]
        defer { env.forEach { free($0) } }
        let rc = posix_spawn(&pid, argv[0], &actions, nil, cargs, env)
        close(outPipe[1]); close(errPipe[1])
        defer { close(outPipe[0]); close(errPipe[0]) }
        guard rc == 0 else { throw BockerError.errno("cannot run \(argv[0])", rc, code: .io) }
        func slurp(_ fd: Int32) -> [UInt8] {
            var all: [UInt8] = [], buf = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return all }
                all += buf[0..<n]
            }
        }
        let out = slurp(outPipe[0])   // ps's stderr is short: it fits the pipe meanwhile
        let err = slurp(errPipe[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        if status != 0 {
            let first = String(decoding: err, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? "exit status \(status >> 8)"
            throw BockerError(.invalidArgument, "\(FS.basename(argv[0])) failed: \(first)")
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// `system df`: one row per kind of thing the store holds.
public struct DiskUsageRow: Sendable {
    public var type: String
    public var total: Int
    public var active: Int
    public var size: Int
    public var reclaimable: Int
}

extension Runtime {
    /// Images (their layers, each counted once; active: used by a container), containers (their
    /// directories; active: running), local volumes (active: mounted by a container) and the
    /// build cache (entries; the layers only it holds). Reclaimable: what nothing active uses.
    public func diskUsage() -> [DiskUsageRow] {
        let containers = listContainers()
        let images = store.listImages()
        let usedImages = Set(containers.map(\.image))
        let usedLayers = Set(containers.flatMap(\.layers))
        var layerSize: [String: Int] = [:]
        for layer in Set(images.flatMap(\.layers)) { layerSize[layer] = FS.diskUsage(root.layerDir(layer)) }
        let imageBytes = layerSize.values.reduce(0, +)
        let freeLayers = layerSize.filter { !usedLayers.contains($0.key) }.values.reduce(0, +)
        var cTotal = 0, cFree = 0, cActive = 0
        for c in containers {
            let size = FS.diskUsage(root.containerDir(c.id))
            cTotal += size
            if c.liveState == .running { cActive += 1 } else { cFree += size }
        }
        // What only the build cache holds (its layers no image or container uses): all reclaimable.
        let cache = store.buildCacheUsage(inUse: layersInUse())
        let vols = volumes.list()
        let mounted = Set(containers.flatMap { ($0.mounts ?? []).filter { $0.type == .volume }.map(\.source) })
        var vTotal = 0, vFree = 0
        for v in vols {
            let size = FS.diskUsage(FS.parent(v.mountpoint))
            vTotal += size
            if !mounted.contains(v.name) { vFree += size }
        }
        return [
            DiskUsageRow(type: "Images", total: images.count, active: images.filter { usedImages.contains($0.id) }.count,
                         size: imageBytes, reclaimable: freeLayers),
            DiskUsageRow(type: "Containers", total: containers.count, active: cActive, size: cTotal, reclaimable: cFree),
            DiskUsageRow(type: "Local Volumes", total: vols.count, active: vols.filter { mounted.contains($0.name) }.count,
                         size: vTotal, reclaimable: vFree),
            DiskUsageRow(type: "Build Cache", total: cache.entries, active: 0, size: cache.bytes, reclaimable: cache.bytes),
        ]
    }
}
