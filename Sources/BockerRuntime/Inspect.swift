import Glibc
import BockerCore
import BockerNetwork

/// Docker-shaped descriptions of containers and images (`inspect`, `--format json`).
extension Runtime {
    public func inspect(_ rec: ContainerRecord) -> JSONValue {
        let live = rec.liveState
        let net = rec.networkState
        let policy = rec.restartPolicy ?? RestartPolicy()
        let sec = rec.security ?? SecurityOptions()
        // --userns=auto: the leased ranges, as uid_map/gid_map lines.
        var idMapping = JSONValue.null
        if let m = rec.idMapping {
            let uid: JSONValue = .string("0 \(m.uidBase) \(m.size)"), gid: JSONValue = .string("0 \(m.gidBase) \(m.size)")
            idMapping = .object([("UidMap", uid), ("GidMap", gid)])
        }
        func time(_ t: Double?) -> JSONValue { t.map { .string(WallClock.rfc3339(seconds: $0)) } ?? .string("0001-01-01T00:00:00Z") }
        let ports: [(String, JSONValue)] = (rec.ports ?? []).map {
            ("\($0.containerPort)/\($0.proto)", .array([.object([("HostIp", .string($0.hostIP ?? "0.0.0.0")),
                                                                  ("HostPort", .string(String($0.hostPort)))])]))
        }
        let entrypoint: JSONValue = rec.entrypoint.map { e in JSONValue.array(e.map { JSONValue.string($0) }) } ?? .null
        let cmdArgs: [String] = Array(rec.argv.dropFirst(rec.entrypoint?.count ?? 0))
        let cmd: JSONValue = .array(cmdArgs.map { JSONValue.string($0) })
        return .object([
            ("Id", .string(rec.id)),
            ("Name", .optional(rec.name.map { "/" + $0 })),   // Docker's form: "/web"
            ("Created", time(rec.created)),
            ("Path", .optional(rec.argv.first)),
            ("Args", .array(rec.argv.dropFirst().map { .string($0) })),
            ("State", .object([
                ("Status", .string(live == .running && rec.paused == true ? "paused" : live.rawValue)),
                ("Running", .bool(live == .running)),
                ("Paused", .bool(live == .running && rec.paused == true)),
                ("Pid", .int(live == .running ? Int(rec.pid ?? 0) : 0)),
                ("ExitCode", .int(Int(rec.reportedExitCode(live: live) ?? 0))),
                ("OOMKilled", .bool(rec.oomKilled == true)),
                ("Error", .string(rec.error ?? "")),
                ("StartedAt", time(rec.startedAt)),
                ("FinishedAt", time(rec.finishedAt)),
                ("RestartCount", .int(rec.restartCount ?? 0)),
            ] + (health(of: rec).map { [("Health", $0.dockerJSON)] } ?? []))),
            ("Image", .string(rec.image)),
            ("Config", .object([
                ("Hostname", .string(rec.hostname)),
                ("User", .string(rec.user ?? "")),
                ("Env", .array(rec.env.map { .string($0) })),
                ("Cmd", cmd),
                ("Entrypoint", entrypoint),
                ("Image", .string(rec.imageSource)),
                ("WorkingDir", .string(rec.workdir)),
                ("Tty", .bool(rec.tty == true)),
                ("OpenStdin", .bool(rec.openStdin == true)),
                ("Labels", .object((rec.labels ?? [:]).sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
            ] + imageConfigFields(rec))),
            ("HostConfig", .object([
                ("RestartPolicy", .object([("Name", .string(policy.name)), ("MaximumRetryCount", .int(policy.maximumRetryCount))])),
                ("AutoRemove", .bool(rec.autoRemove == true)),
                ("Init", .bool(rec.useInit == true)),
                ("Memory", .int(Int(rec.resources.memoryBytes ?? 0))),
                ("CpuShares", .int(Int(rec.resources.cpuShares ?? 0))),
                ("PidsLimit", .int(Int(rec.resources.pidsMax ?? 0))),
                // --cpus as Docker keeps it (CPUs × 10⁹); CpuQuota/CpuPeriod stay 0, as there.
                ("NanoCpus", .int(rec.resources.nanoCPUs)),
                ("CpuQuota", .int(0)),
                ("CpuPeriod", .int(0)),
                ("CpusetCpus", .string(rec.resources.cpusetCpus ?? "")),
                ("MemorySwap", .int(Int(rec.resources.memorySwap ?? 0))),
                ("MemoryReservation", .int(Int(rec.resources.memoryReservation ?? 0))),
                ("NetworkMode", .string(rec.networkMode ?? NetworkStore.defaultName)),
                ("IpcMode", .string(rec.runOptions?.ipcMode ?? "private")),
                ("PidMode", .string(rec.runOptions?.pidMode ?? "")),
                ("UTSMode", .string(rec.runOptions?.utsMode ?? "")),
                ("PortBindings", .object(ports)),
                ("PublishAllPorts", .bool(rec.publishAll == true)),
                ("Privileged", .bool(sec.privileged)),
                ("CapAdd", .array(sec.capAdd.map { .string($0) })),
                ("CapDrop", .array(sec.capDrop.map { .string($0) })),
                ("ReadonlyRootfs", .bool(sec.readOnlyRootfs)),
                ("SecurityOpt", .array(sec.securityOptStrings.map { .string($0) })),
                ("Devices", .array(sec.devices.map { d in .object([
                    ("PathOnHost", .string(d.hostPath)), ("PathInContainer", .string(d.containerPath)),
                    ("CgroupPermissions", .string(d.permissions))]) })),
                ("UsernsMode", .string(sec.userns ?? "")),
                ("IDMapping", idMapping),
                ("LogConfig", .object([("Type", .string("json-file")),
                                       ("Config", .object((rec.logOptions ?? LogOptions()).dockerConfig.sorted { $0.key < $1.key }
                                           .map { ($0.key, .string($0.value)) }))])),
            ])),
            ("Mounts", .array((rec.mounts ?? []).map { m in
                var f: [(String, JSONValue)] = [("Type", .string(m.type.rawValue))]
                switch m.type {
                case .volume:
                    f.append(("Name", .string(m.source)))
                    f.append(("Source", .string((try? volumes.get(m.source).mountpoint) ?? "")))
                case .bind: f.append(("Source", .string(m.source)))
                case .tmpfs: f.append(("Source", .string("")))
                }
                f.append(("Destination", .string(m.destination)))
                f.append(("RW", .bool(!m.readOnly)))
                return .object(f)
            })),
            ("NetworkSettings", .object([
                ("Networks", .object(net.map { [($0.network, .object([("IPAddress", .string($0.ip)), ("Gateway", .string($0.gateway)),
                                                                       ("MacAddress", .string($0.mac))]))] } ?? [])),
                ("IPAddress", .string(net?.ip ?? "")),
                ("Gateway", .string(net?.gateway ?? "")),
                ("MacAddress", .string(net?.mac ?? "")),
                ("Ports", .object(ports)),
            ])),
        ])
    }

    /// Config's ExposedPorts, Volumes, StopSignal, StopTimeout and Healthcheck, when the
    /// container has them (Docker leaves them out otherwise).
    func imageConfigFields(_ rec: ContainerRecord) -> [(String, JSONValue)] {
        var f: [(String, JSONValue)] = []
        if let p = rec.exposedPorts, !p.isEmpty { f.append(("ExposedPorts", .object(p.map { ($0, .object([])) }))) }
        if let v = rec.configVolumes, !v.isEmpty { f.append(("Volumes", .object(v.map { ($0, .object([])) }))) }
        if let s = rec.stopSignal { f.append(("StopSignal", .string(s))) }
        if let t = rec.stopTimeout { f.append(("StopTimeout", .int(t))) }
        if let h = rec.healthcheck {
            var hc: [(String, JSONValue)] = [("Test", .array(h.test.map { .string($0) }))]
            if let v = h.interval { hc.append(("Interval", .int(Int(v)))) }
            if let v = h.timeout { hc.append(("Timeout", .int(Int(v)))) }
            if let v = h.startPeriod { hc.append(("StartPeriod", .int(Int(v)))) }
            if let v = h.startInterval { hc.append(("StartInterval", .int(Int(v)))) }
            if let v = h.retries { hc.append(("Retries", .int(v))) }
            f.append(("Healthcheck", .object(hc)))
        }
        return f
    }
}
