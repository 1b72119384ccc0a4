import BockerCore

/// NAT and forwarding rules, applied with one `iptables-restore --noflush` per change (one
/// fork for all of a container's rules). Every rule bocker adds carries a `bocker:` comment so
/// that it can be found and removed again.
public enum Firewall {
    public static let restore = "/usr/sbin/iptables-restore"

    /// Rules for a bridge network: masquerade what leaves the subnet, forward its traffic.
    public static func bridgeRules(_ net: NetworkRecord) -> [(table: String, rule: String)] {
        let tag = "-m comment --comment bocker:net:\(net.name)"
        return [
            ("nat", "POSTROUTING -s \(net.subnet) ! -o \(net.bridge) \(tag) -j MASQUERADE"),
            ("filter", "FORWARD -i \(net.bridge) \(tag) -j ACCEPT"),
            ("filter", "FORWARD -o \(net.bridge) \(tag) -j ACCEPT"),
        ]
    }

    /// Rules publishing a container port: DNAT from other hosts (PREROUTING) and from this
    /// host itself, 127.0.0.1 included (OUTPUT to local addresses, with route_localnet on the
    /// bridge), and masquerading for loopback-sourced and hairpin (container → own host port)
    /// traffic so that replies come back the same way.
    public static func portRules(container: String, ip: String, bridge: String, subnet: String,
                                 _ p: PortMapping) -> [(table: String, rule: String)] {
        let tag = "-m comment --comment bocker:\(container)"
        let dst = p.hostIP.map { "-d \($0)/32 " } ?? ""
        let to = "\(ip):\(p.containerPort)"
        return [
            ("nat", "PREROUTING \(dst)-p \(p.proto) -m \(p.proto) --dport \(p.hostPort) -m addrtype --dst-type LOCAL \(tag) -j DNAT --to-destination \(to)"),
            ("nat", "OUTPUT \(dst)-p \(p.proto) -m \(p.proto) --dport \(p.hostPort) -m addrtype --dst-type LOCAL \(tag) -j DNAT --to-destination \(to)"),
            ("nat", "POSTROUTING -s 127.0.0.0/8 -d \(ip)/32 -p \(p.proto) -m \(p.proto) --dport \(p.containerPort) \(tag) -j MASQUERADE"),
            ("nat", "POSTROUTING -s \(subnet) -d \(ip)/32 -p \(p.proto) -m \(p.proto) --dport \(p.containerPort) \(tag) -j MASQUERADE"),
            ("filter", "FORWARD -d \(ip)/32 -o \(bridge) -p \(p.proto) -m \(p.proto) --dport \(p.containerPort) \(tag) -j ACCEPT"),
        ]
    }

    /// The iptables-restore input that appends (`-A`) or deletes (`-D`) the rules.
    public static func script(_ rules: [(table: String, rule: String)], delete: Bool) -> String {
        var out = ""
        for table in ["nat", "filter"] {
            let mine = rules.filter { $0.table == table }
            if mine.isEmpty { continue }
            out += "*\(table)\n"
            for r in mine { out += (delete ? "-D " : "-A ") + r.rule + "\n" }
            out += "COMMIT\n"
        }
        return out
    }

    public static func apply(_ rules: [(table: String, rule: String)]) throws {
        guard !rules.isEmpty else { return }
        try HostTool.run([restore, "--noflush", "--wait"], stdin: script(rules, delete: false))
    }

    /// Deletes rules; ones already gone are skipped (deleting is repair too).
    public static func remove(_ rules: [(table: String, rule: String)]) {
        guard !rules.isEmpty else { return }
        if (try? HostTool.run([restore, "--noflush", "--wait"], stdin: script(rules, delete: true))) != nil { return }
        for r in rules {   // one of them was missing: delete the others one by one
            _ = try? HostTool.run([restore, "--noflush", "--wait"], stdin: script([r], delete: true))
        }
    }
}
