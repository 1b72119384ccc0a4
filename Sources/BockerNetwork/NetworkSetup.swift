import Glibc
import BockerCore

/// What a running container holds on its network: recorded with the container so that its
/// exit, removal or the repair after a killed bocker can give everything back.
public struct NetworkAttachment: Codable, Equatable, Sendable {
    public var network: String
    public var ip: String
    public var mac: String
    public var gateway: String
    public var prefixLength: Int
    public var hostVeth: String
    public var ports: [PortMapping]
    /// The iptables rules added for its ports, as (table, rule) pairs.
    public var rules: [[String]]

    public init(network: String, ip: String, mac: String, gateway: String, prefixLength: Int,
                hostVeth: String, ports: [PortMapping], rules: [[String]]) {
        self.network = network
        self.ip = ip
        self.mac = mac
        self.gateway = gateway
        self.prefixLength = prefixLength
        self.hostVeth = hostVeth
        self.ports = ports
        self.rules = rules
    }
}

/// The kernel side of a bridge network, all over rtnetlink in-process: the bridge itself
/// (made once, with forwarding and NAT), and per container a namespace with a veth pair.
public enum NetworkSetup {
    /// Makes the network's bridge, its gateway address, forwarding and NAT rules the first
    /// time; afterwards only checks that the bridge is there and up.
    public static func ensureBridge(_ net: NetworkRecord) throws {
        let nl = try NetlinkSession()
        let gateway = IPv4Address(net.gateway)!
        if let link = try nl.link(net.bridge) {
            if link.kind != nil && link.kind != "bridge" {
                throw BockerError(.exists, "'\(net.bridge)' exists and is not a bridge")
            }
            if try !nl.addresses(of: net.bridge).contains(where: { $0.0 == gateway }) {
                try nl.addAddress(net.bridge, gateway, prefixLength: net.network.prefixLength)
            }
            if !link.isUp { try nl.setUp(net.bridge) }
            return
        }
        try nl.createBridge(net.bridge)
        try nl.addAddress(net.bridge, gateway, prefixLength: net.network.prefixLength)
        try nl.setUp(net.bridge)
        try Firewall.ensureIsolationChains()
        // The guard against route_localnet's exposure of 127.0.0.0/8 is among these rules, so
        // it is in place before route_localnet goes on.
        try Firewall.apply(Firewall.bridgeRules(net))
        if !net.isInternal {
            try writeSysctl("net.ipv4.ip_forward", "1")
            // Published ports are reachable from this host's 127.0.0.1 through DNAT to the bridge.
            try writeSysctl("net.ipv4.conf.\(net.bridge).route_localnet", "1")
        }
    }

    /// Removes a user network's bridge and rules (the default bridge stays).
    public static func removeBridge(_ net: NetworkRecord) {
        if let nl = try? NetlinkSession() { _ = try? nl.deleteLink(net.bridge) }
        Firewall.remove(Firewall.bridgeRules(net))
    }

    /// "bk" + 12 hex digits of the container id: unique, and within the 15-byte limit.
    public static func hostVethName(_ container: String) -> String {
        "bk" + String(container.drop { $0 != "_" }.dropFirst().prefix(12))
    }

    /// A new network namespace for a container, joined to the bridge by a veth pair: `eth0`
    /// inside with the address, Docker's MAC for it and a default route via the gateway.
    public static func attach(container: String, network net: NetworkRecord, ip: IPv4Address) throws -> NetworkNamespace {
        let ns = try NetworkNamespace.create()
        let host = try NetlinkSession()
        let veth = hostVethName(container)
        do {
            // No router advertisements: nothing on the bridge may give the container IPv6
            // addresses or routes (all and default before eth0 exists, so it inherits 0).
            try ns.disableRouterAdvertisements("all")
            try ns.disableRouterAdvertisements("default")
            // A restart right after an exit can find the last run's veth still there (the
            // kernel removes it with the old namespace, asynchronously): remove it first.
            if try host.linkIndex(veth) != nil { _ = try host.deleteLink(veth) }
            try host.createVeth(veth, peer: "eth0", peerNamespaceFD: ns.fd)
            try host.setMaster(veth, bridge: net.bridge)
            try host.setUp(veth)
            let inside = try ns.session()
            try inside.setUp("lo")
            try inside.setMAC("eth0", dockerMAC(for: ip))
            try inside.addAddress("eth0", ip, prefixLength: net.network.prefixLength)
            try inside.setUp("eth0")
            try inside.addDefaultRoute(via: IPv4Address(net.gateway)!)
            try ns.disableRouterAdvertisements("eth0")
        } catch {
            _ = try? host.deleteLink(veth)
            ns.close()
            throw error
        }
        return ns
    }

    /// Gives back what attach and the port rules took (each step tolerates "already gone").
    /// When the container has exited, its namespace is going away and the kernel removes the
    /// veth pair with it: deleting it here would only wait for RCU (some 20 ms) for nothing,
    /// so `deleteVeth` is for the other cases (a failed start, removal, repair).
    public static func detach(_ a: NetworkAttachment, deleteVeth: Bool) {
        Firewall.remove(a.rules.compactMap { $0.count == 2 ? ($0[0], $0[1]) : nil })
        if deleteVeth, let nl = try? NetlinkSession() { _ = try? nl.deleteLink(a.hostVeth) }
    }
}
