#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import BockerCore

/// A bridge network: its subnet, gateway and the host bridge its containers' veths join.
public struct NetworkRecord: Codable, Equatable, Sendable {
    public var name: String
    public var subnet: String
    public var gateway: String
    public var bridge: String
    public var created: Double
    /// Whether containers on it find each other by name (user networks, as in Docker).
    public var resolvesNames: Bool
    /// `network create --internal`: no NAT and no forwarding beyond its bridge (absent in
    /// records written before it existed: not internal).
    public var `internal`: Bool?

    public var isInternal: Bool { self.`internal` == true }

    public var network: IPv4Network { (try? IPv4Network(subnet)) ?? (try! IPv4Network("10.0.0.0/24")) }
}

/// Network records, address leases and published-port reservations under the state root:
///
///     networks/<name>.json           the network
///     networks/<name>.leases/<ip>    an address in use (content: the container id)
///     ports/<proto>-<port>           a host port published (content: the container id)
///
/// Every method expects the caller to hold the store lock; a lease is a file made with O_EXCL,
/// so two allocations can never hand out one address.
public struct NetworkStore {
    public let root: StateRoot
    /// The default network's name, as in Docker.
    public static let defaultName = "bridge"

    public init(root: StateRoot) { self.root = root }

    var dir: String { root.path + "/networks" }
    var portsDir: String { root.path + "/ports" }
    func recordPath(_ name: String) -> String { dir + "/" + name + ".json" }
    func leasesDir(_ name: String) -> String { dir + "/" + name + ".leases" }

    /// The default network as configured: `$BOCKER_BRIDGE` (bridge0) with
    /// `$BOCKER_BRIDGE_SUBNET` (10.0.0.0/24, gateway 10.0.0.1, as the original).
    public static func defaultRecord() throws -> NetworkRecord {
        let env = { (k: String) in getenv(k).flatMap { String(validatingCString: $0) }.flatMap { $0.isEmpty ? nil : $0 } }
        let subnet = try IPv4Network(env("BOCKER_BRIDGE_SUBNET") ?? "10.0.0.0/24")
        let bridge = env("BOCKER_BRIDGE") ?? "bridge0"
        return NetworkRecord(name: defaultName, subnet: subnet.description, gateway: subnet.gateway.description,
                             bridge: bridge, created: 0, resolvesNames: false)
    }

    public func list() throws -> [NetworkRecord] {
        var all = [try get(NetworkStore.defaultName)]
        for f in FS.list(dir).sorted() where f.hasSuffix(".json") && !f.hasPrefix(".") && f != NetworkStore.defaultName + ".json" {
            if let r = try? JSONFile.read(NetworkRecord.self, from: dir + "/" + f) { all.append(r) }
        }
        return all
    }

    /// A network by name; the default one always exists.
    public func get(_ name: String) throws -> NetworkRecord {
        if name == NetworkStore.defaultName { return try NetworkStore.defaultRecord() }
        guard Identifier.isSafeComponent(name), FS.exists(recordPath(name)) else {
            throw BockerError(.notFound, "network '\(name)' not found")
        }
        return try JSONFile.read(NetworkRecord.self, from: recordPath(name))
    }

    /// Creates a user network. Without a subnet, the first free 10.89.N.0/24 is taken.
    public func create(name: String, subnet: String?, internal isInternal: Bool = false) throws -> NetworkRecord {
        guard Identifier.isSafeComponent(name), name.utf8.count <= 64, !["none", "host", "default"].contains(name) else {
            throw BockerError(.invalidArgument, "invalid network name '\(name)'")
        }
        if name == NetworkStore.defaultName || FS.exists(recordPath(name)) {
            throw BockerError(.exists, "network with name \(name) already exists")
        }
        let existing = try list()
        let net: IPv4Network
        if let s = subnet {
            net = try IPv4Network(s)
            guard net.prefixLength <= 30 else {
                throw BockerError(.invalidArgument, "invalid subnet '\(s)': too small for containers (at most /30)")
            }
            if let clash = existing.first(where: { $0.network.overlaps(net) }) {
                throw BockerError(.exists, "subnet \(net) overlaps network '\(clash.name)' (\(clash.subnet))")
            }
        } else {
            var found: IPv4Network?
            for n in 0...255 {
                let candidate = try IPv4Network("10.89.\(n).0/24")
                if !existing.contains(where: { $0.network.overlaps(candidate) }) { found = candidate; break }
            }
            guard let f = found else { throw BockerError(.exists, "no free subnet left in 10.89.0.0/16; give --subnet") }
            net = f
        }
        let rec = NetworkRecord(name: name, subnet: net.description, gateway: net.gateway.description,
                                bridge: NetworkStore.bridgeName(for: name), created: WallClock.now(), resolvesNames: true,
                                internal: isInternal ? true : nil)
        try FS.makeDirectories(dir, mode: 0o700)
        try JSONFile.write(rec, to: recordPath(name))
        return rec
    }

    /// Interface names are at most 15 bytes: "bk-" and a hash of the network name.
    public static func bridgeName(for name: String) -> String {
        var h: UInt64 = 0xcbf29ce484222325
        for b in name.utf8 { h = (h ^ UInt64(b)) &* 0x100000001b3 }
        let hex = Array("0123456789abcdef".utf8)
        var out = Array("bk-".utf8)
        for i in 0..<10 { out.append(hex[Int((h >> (UInt64(i) * 4)) & 0xf)]) }
        return String(decoding: out, as: UTF8.self)
    }

    public func remove(_ name: String) throws {
        if name == NetworkStore.defaultName {
            throw BockerError(.invalidArgument, "bridge is a pre-defined network and cannot be removed")
        }
        _ = try get(name)
        if let users = try? leases(name), let first = users.first {
            throw BockerError(.inUse, "network \(name) has active containers (\(first.container))")
        }
        try FS.removeTree(leasesDir(name))
        unlink(recordPath(name))
    }

    // MARK: Addresses

    /// Leases the first free address of the network (after the gateway) to a container.
    public func allocate(_ rec: NetworkRecord, for container: String) throws -> IPv4Address {
        let net = rec.network
        try FS.makeDirectories(leasesDir(rec.name), mode: 0o700)
        let gateway = IPv4Address(rec.gateway)
        var a = net.hostRange.lowerBound
        while a <= net.hostRange.upperBound {
            if a != gateway {
                let fd = open(leasesDir(rec.name) + "/" + a.description, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
                if fd >= 0 {
                    let bytes = Array(container.utf8)
                    _ = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
                    close(fd)
                    return a
                }
                if errno != EEXIST { throw BockerError.errno("cannot lease \(a) on network \(rec.name)", code: .io) }
            }
            if a == net.hostRange.upperBound { break }
            a = a.advanced(by: 1)
        }
        throw BockerError(.exists, "no free address left on network \(rec.name) (\(rec.subnet))")
    }

    public func release(network: String, address: String) {
        guard Identifier.isSafeComponent(network) else { return }
        unlink(leasesDir(network) + "/" + address)
    }

    /// Addresses in use on a network and their containers.
    public func leases(_ name: String) throws -> [(address: String, container: String)] {
        FS.list(leasesDir(name)).sorted().map { ip in
            (ip, ((try? FS.readString(leasesDir(name) + "/" + ip)) ?? "").trimmed())
        }
    }

    // MARK: Published ports

    /// An internal network has no route to or from the outside, so a published port could
    /// never be reached: refused (Docker accepts it and the port silently does not work).
    public static func checkPorts(_ ports: [PortMapping], on net: NetworkRecord) throws {
        if net.isInternal, let p = ports.first {
            throw BockerError(.invalidArgument,
                              "cannot publish port \(p.containerPort)/\(p.proto) on network '\(net.name)': it is internal (no traffic leaves or enters its bridge)")
        }
    }

    func portPath(_ p: PortMapping) -> String { portsDir + "/\(p.proto)-\(p.hostPort)" }

    /// Reserves host ports for a container; all or none. A port another container published,
    /// or one a process on this host has bound, is refused before anything is reserved.
    public func reservePorts(_ ports: [PortMapping], for container: String) throws {
        try FS.makeDirectories(portsDir, mode: 0o700)
        var seen = Set<String>()
        for p in ports {
            let key = "\(p.proto)-\(p.hostPort)"
            if !seen.insert(key).inserted || FS.exists(portPath(p)) {
                throw BockerError(.inUse, "Bind for \(p.hostIP ?? "0.0.0.0"):\(p.hostPort) failed: port \(p.hostPort)/\(p.proto) is already allocated")
            }
            if !HostPorts.isFree(p) {
                throw BockerError(.inUse, "Bind for \(p.hostIP ?? "0.0.0.0"):\(p.hostPort) failed: port \(p.hostPort)/\(p.proto) is already in use on this host")
            }
        }
        var made: [String] = []
        for p in ports {
            let fd = open(portPath(p), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                made.forEach { unlink($0) }
                throw BockerError(.inUse, "port \(p.hostPort)/\(p.proto) is already allocated")
            }
            let bytes = Array(container.utf8)
            _ = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            close(fd)
            made.append(portPath(p))
        }
    }

    public func releasePorts(_ ports: [PortMapping]) {
        for p in ports { unlink(portPath(p)) }
    }
}

/// Whether a host port is free, tested by binding it (in the current network namespace).
public enum HostPorts {
    public static func isFree(_ p: PortMapping) -> Bool {
        let fd = socket(AF_INET, p.proto == "udp" ? Int32(SOCK_DGRAM.rawValue) : Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return true }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(p.hostPort).bigEndian)
        addr.sin_addr.s_addr = (p.hostIP.flatMap(IPv4Address.init)?.value ?? 0).bigEndian
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return rc == 0
    }
}

extension NetworkStore {
    /// Whether no container has published this host port.
    public func portIsFree(_ p: PortMapping) -> Bool { !FS.exists(portPath(p)) }
}
