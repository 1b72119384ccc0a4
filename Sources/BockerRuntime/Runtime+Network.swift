import Glibc
import BockerCore
import BockerNetwork

extension Runtime {
    /// Everything networking gives the container's first process: a namespace to join (or
    /// a new empty one), and the files to bind-mount (/etc/hosts, /etc/resolv.conf, /etc/hostname).
    struct PreparedNetwork {
        var namespace: NetworkNamespace?
        var newNamespace: Bool
        var binds: [BindMount]
    }

    /// Before the container starts: lease an address, reserve its ports, make its namespace
    /// and veth, add the port rules and write its hosts and resolv.conf. The `running` marker
    /// is set first, so a bocker killed anywhere in here is repaired by the next one.
    func prepareNetwork(_ rec: inout ContainerRecord) throws -> PreparedNetwork {
        let dir = root.containerDir(rec.id)
        let mode = rec.networkMode ?? NetworkStore.defaultName
        let binds = [
            BindMount(source: dir + "/hosts", target: "/etc/hosts", replaceSymlink: true),
            BindMount(source: dir + "/resolv.conf", target: "/etc/resolv.conf", replaceSymlink: true),
            BindMount(source: dir + "/hostname", target: "/etc/hostname", replaceSymlink: true),
        ]
        // /etc/hostname holds what `hostname` prints there, as in Docker's containers.
        try writeContainerFile(dir + "/hostname", (rec.runOptions?.utsMode == "host" ? HostFacts.hostname() : rec.hostname) + "\n")
        let dns = getenv("BOCKER_DNS").flatMap { String(validatingCString: $0) } ?? "8.8.8.8"
        let opts = rec.runOptions ?? RunOptions()
        try writeContainerFile(dir + "/resolv.conf",
                               opts.resolvConf(ContainerFiles.resolvConf(host: try? FS.readString("/etc/resolv.conf"), fallback: dns)))
        if mode.hasPrefix(Runtime.containerModePrefix) {   // the other's namespace and files
            return PreparedNetwork(namespace: nil, newNamespace: false, binds: joinedNetworkBinds(mode))
        }
        if mode == "none" || mode == "host" {
            try writeContainerFile(dir + "/hosts", ContainerFiles.hosts(own: ("127.0.1.1", names(rec)), peers: [])
                                   + extraHosts(rec, gateway: nil))
            return PreparedNetwork(namespace: nil, newNamespace: mode == "none", binds: binds)
        }

        let net = try networks.get(mode)
        let ports = rec.ports ?? []
        try NetworkStore.checkPorts(ports, on: net)   // the network may have been made anew since create
        try store.withLock {
            try NetworkSetup.ensureBridge(net)
            let ip = try networks.allocate(net, for: rec.id)
            do { try networks.reservePorts(ports, for: rec.id) } catch {
                networks.release(network: net.name, address: ip.description)
                throw error
            }
            let rules = ports.flatMap {
                Firewall.portRules(container: rec.id, ip: ip.description, bridge: net.bridge, subnet: net.subnet, $0)
            }
            rec.networkState = NetworkAttachment(
                network: net.name, ip: ip.description, mac: formatMAC(dockerMAC(for: ip)), gateway: net.gateway,
                prefixLength: net.network.prefixLength, hostVeth: NetworkSetup.hostVethName(rec.id),
                ports: ports, rules: rules.map { [$0.table, $0.rule] })
            try store.beginPending("running", rec.id)
            try save(rec)
        }
        do {
            let state = rec.networkState!
            let ns = try NetworkSetup.attach(container: rec.id, network: net, ip: IPv4Address(state.ip)!)
            try Firewall.apply(state.rules.map { ($0[0], $0[1]) })
            try writeContainerFile(dir + "/hosts", ContainerFiles.hosts(own: (state.ip, names(rec)), peers: [])
                                   + extraHosts(rec, gateway: net.gateway))
            if net.resolvesNames { try store.withLock { refreshHosts(network: net.name) } }
            return PreparedNetwork(namespace: ns, newNamespace: false, binds: binds)
        } catch {
            try? store.withLock {
                releaseNetwork(&rec)
                try save(rec)
                store.endPending("running", rec.id)
            }
            throw error
        }
    }

    /// The `--add-host` lines of /etc/hosts; `host-gateway` is the address of the container's
    /// bridge (`gateway`), or of the default bridge for --network none/host.
    func extraHosts(_ rec: ContainerRecord, gateway: String?) -> String {
        guard let o = rec.runOptions, !o.extraHosts.isEmpty else { return "" }
        let gw = gateway ?? (try? networks.get(NetworkStore.defaultName))?.gateway ?? "10.0.0.1"
        return o.hostsLines(gateway: gw)
    }

    func names(_ rec: ContainerRecord) -> [String] {
        [rec.id] + (rec.name.map { [$0] } ?? [])
    }

    /// Gives back a container's address, ports, rules and veth (lock held). Idempotent.
    /// `exited`: its process is gone, so its namespace and veth go with it (see detach).
    func releaseNetwork(_ rec: inout ContainerRecord, exited: Bool = false) {
        guard let a = rec.networkState else { return }
        NetworkSetup.detach(a, deleteVeth: !exited)
        networks.releasePorts(a.ports)
        networks.release(network: a.network, address: a.ip)
        rec.networkState = nil
        if (try? networks.get(a.network))?.resolvesNames == true { refreshHosts(network: a.network) }
    }

    /// Rewrites /etc/hosts of every container on a user network so that each lists the
    /// others by name (written in place: it is bind-mounted).
    func refreshHosts(network: String) {
        guard let leases = try? networks.leases(network) else { return }
        var entries: [(id: String, ip: String, names: [String], extra: String)] = []
        let gateway = try? networks.get(network).gateway
        for l in leases {
            guard let r = try? ContainerRecord.load(recordPath(l.container)) else { continue }
            entries.append((r.id, l.address, names(r), extraHosts(r, gateway: gateway)))
        }
        for e in entries {
            let peers = entries.filter { $0.id != e.id }.map { (ip: $0.ip, names: $0.names) }
            try? writeContainerFile(root.containerDir(e.id) + "/hosts",
                                    ContainerFiles.hosts(own: (e.ip, e.names), peers: peers) + e.extra)
        }
    }

    /// Writes one of bocker's per-container files in place (never following a symlink).
    func writeContainerFile(_ path: String, _ text: String) throws {
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw BockerError.errno("cannot write '\(path)'", code: .io) }
        defer { close(fd) }
        try Array(text.utf8).withUnsafeBytes { try FS.writeAll(fd, $0, what: "'\(path)'") }
    }
}

extension Runtime {
    /// Removes a user network: refused while a container holds an address on it.
    public func removeNetwork(_ name: String) throws {
        try store.withLock {
            let rec = try networks.get(name)
            try networks.remove(name)
            NetworkSetup.removeBridge(rec)
        }
    }
}
