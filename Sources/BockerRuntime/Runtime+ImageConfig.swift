import Glibc
import BockerCore
import BockerStore
import BockerNetwork
import BockerArchive

/// What a new container takes from its image's config besides the command and environment
/// (Labels, ExposedPorts, Volumes, StopSignal, Healthcheck), merged with the run options.
struct RunConfig {
    /// The image's labels, overridden by the container's (Docker's rule).
    var labels: [String: String]
    /// Normalised keys ("80/tcp"): the image's and `--expose`.
    var exposedPorts: [String]
    /// `-p` plus, with `-P`, every exposed port not published already (host port 0: picked).
    var ports: [PortMapping]
    /// The image's Volumes (the container config's), and those of them no mount covers.
    var volumes: [String]
    var anonymousVolumes: [String]
    var stopSignal: String?
    var stopTimeout: Int?
    var healthcheck: HealthcheckConfig?
    var publishAll: Bool

    func record(into rec: inout ContainerRecord) {
        rec.exposedPorts = exposedPorts.isEmpty ? nil : exposedPorts
        rec.configVolumes = volumes.isEmpty ? nil : volumes
        rec.stopSignal = stopSignal
        rec.stopTimeout = stopTimeout
        rec.healthcheck = healthcheck
        rec.publishAll = publishAll ? true : nil
    }
}

extension Runtime {
    /// The image config's share of a new container (see RunConfig); bad values (a `--expose`,
    /// a stop signal, a stop timeout) are errors naming them.
    func runConfig(_ spec: ContainerSpec, image: ImageRecord, mounts: [MountSpec]) throws -> RunConfig {
        let c = image.config
        var labels = c.labels ?? [:]
        for (k, v) in spec.labels { labels[k] = v }

        var exposed: [String] = []
        for key in c.exposedPorts ?? [] {
            guard let p = ExposedPort.split(key) else { continue }   // an image's odd key is ignored
            let k = "\(p.port)/\(p.proto)"
            if !exposed.contains(k) { exposed.append(k) }
        }
        for e in spec.expose {
            for k in try ExposedPort.expand(e) where !exposed.contains(k) { exposed.append(k) }
        }
        var ports = spec.ports
        if spec.publishAll && spec.network != "none" && spec.network != "host" {
            for key in exposed {
                guard let p = ExposedPort.split(key), p.proto == "tcp" || p.proto == "udp" else { continue }
                if ports.contains(where: { $0.containerPort == p.port && $0.proto == p.proto }) { continue }
                ports.append(PortMapping(hostPort: 0, containerPort: p.port, proto: p.proto))
            }
        }
        // Published ports are exposed too (Docker lists them in Config.ExposedPorts).
        for p in ports where !exposed.contains("\(p.containerPort)/\(p.proto)") { exposed.append("\(p.containerPort)/\(p.proto)") }

        let volumes = (c.volumes ?? []).map(ExposedPort.clean)
        let covered = Set(mounts.map { ExposedPort.clean($0.destination) })
        var anonymous: [String] = []
        for v in volumes where v != "/" && !covered.contains(v) && !anonymous.contains(v) { anonymous.append(v) }

        let stopSignal = spec.stopSignal ?? c.stopSignal
        if let s = stopSignal {
            do { _ = try Signals.parse(s) } catch {
                throw BockerError(.invalidArgument, spec.stopSignal != nil ? "invalid --stop-signal '\(s)'"
                                  : "the image's StopSignal '\(s)' is not a signal (give --stop-signal)")
            }
        }
        if let t = spec.stopTimeout, t < -1 {
            throw BockerError(.invalidArgument, "invalid --stop-timeout \(t): seconds, or -1 to wait for ever")
        }
        return RunConfig(labels: labels, exposedPorts: exposed, ports: ports, volumes: volumes,
                         anonymousVolumes: anonymous, stopSignal: stopSignal, stopTimeout: spec.stopTimeout,
                         healthcheck: Runtime.effectiveHealthcheck(spec.healthcheck, image: c.healthcheck),
                         publishAll: spec.publishAll)
    }

    /// The anonymous volumes a container mounts that no other container uses (`rm -v`,
    /// `--rm`); named volumes always stay. Called with the lock held, after the record went.
    func removeAnonymousVolumes(of rec: ContainerRecord) {
        let inUse = Set(listContainers().flatMap { ($0.mounts ?? []).filter { $0.type == .volume }.map(\.source) })
        for m in rec.mounts ?? [] where m.type == .volume && !inUse.contains(m.source) {
            if let v = try? volumes.get(m.source), v.anonymous == true { try? volumes.remove(m.source) }
        }
    }

    /// The anonymous volumes made for container `id` when its create did not finish.
    func removeAnonymousVolumes(createdBy id: String) {
        for v in volumes.list() where v.anonymous == true && v.container == id { try? volumes.remove(v.name) }
    }

    // MARK: A new anonymous volume starts with the image's files at its path (Docker's copy-up)

    /// Fills the new volume directory `data` with what the image has at `path` (its mode and
    /// owner too). The image's tree is read before anything runs in the container; a path
    /// through a symlink gets nothing (it is never followed out of the image). overlay's
    /// layers are applied bottom up (whiteouts and opaque directories honoured).
    func populateVolume(_ data: String, path: String, image: ImageRecord, containerDir: String) throws {
        let parts = path.split(separator: "/").map(String.init)
        guard !parts.isEmpty else { return }
        if store.driver.cumulative {
            if case .directory = Self.subtree(containerDir + "/rootfs", parts) {
                try copySubtree(containerDir + "/rootfs/" + parts.joined(separator: "/"), into: data, overlay: false)
            }
            return
        }
        for layer in image.layers {
            let fs = store.layerFS(layer)
            switch Self.subtree(fs, parts) {
            case .absent: continue
            case .hidden: try Self.emptyDirectory(data)
            case .directory(let opaque):
                if opaque { try Self.emptyDirectory(data) }
                try copySubtree(fs + "/" + parts.joined(separator: "/"), into: data, overlay: true)
            }
        }
    }

    enum Subtree { case absent, hidden, directory(opaque: Bool) }

    /// glibc's lgetxattr (Swift's Glibc module leaves sys/xattr.h out).
    typealias LGetXattr = @convention(c) (UnsafePointer<CChar>?, UnsafePointer<CChar>?, UnsafeMutableRawPointer?, Int) -> Int
    static let lgetxattrFn: LGetXattr? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "lgetxattr")
        .map { unsafeBitCast($0, to: LGetXattr.self) }

    static func emptyDirectory(_ dir: String) throws {
        try FS.removeTree(dir)
        guard mkdir(dir, 0o755) == 0 else { throw BockerError.errno("cannot create '\(dir)'", code: .io) }
    }

    /// What one tree (a layer, or a whole root) has at `parts`: nothing, something that hides
    /// what is below (a whiteout, a file, a symlink on the way), or a directory (opaque when it
    /// or a directory above it hides the lower layers' content).
    static func subtree(_ root: String, _ parts: [String]) -> Subtree {
        var p = root, opaque = false
        for part in parts {
            p += "/" + part
            var st = stat()
            guard lstat(p, &st) == 0 else { return .absent }
            guard st.st_mode & S_IFMT == S_IFDIR else { return .hidden }
            var v = [UInt8](repeating: 0, count: 2)
            if let get = Self.lgetxattrFn, get(p, "trusted.overlay.opaque", &v, 2) == 1, v[0] == UInt8(ascii: "y") { opaque = true }
        }
        return .directory(opaque: opaque)
    }

    /// Copies directory `src` (contents, and its own mode and owner) into `dst` through a tar
    /// stream: LayerWriter walks with openat and O_NOFOLLOW, the extractor resolves every path
    /// inside `dst` (overlay whiteouts become deletions).
    func copySubtree(_ src: String, into dst: String, overlay: Bool) throws {
        let tmp = root.tmpDir + "/volume-" + Identifier.randomHex(bytes: 6) + ".tar"
        try FS.makeDirectories(root.tmpDir, mode: 0o700)
        defer { unlink(tmp) }
        _ = try LayerWriter.write(tree: src, parent: nil, overlayWhiteouts: overlay, compression: .none, to: tmp)
        _ = try LayerExtractor.extract(blob: tmp, compression: .none, into: dst, whiteouts: .apply)
        var st = stat()
        if lstat(src, &st) == 0 {
            _ = chown(dst, st.st_uid, st.st_gid)
            _ = chmod(dst, st.st_mode & 0o7777)
        }
    }
}
