import Glibc
import BockerCore
import BockerStore
import BockerNetwork

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
}
