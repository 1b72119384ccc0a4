import BockerCore

/// NAT and forwarding rules, applied with one `iptables-restore --noflush` per change (one
/// fork for all of a container's rules). Every rule bocker adds carries a `bocker:` comment so
/// that it can be found and removed again.
public enum Firewall {
    public static let restore = "/usr/sbin/iptables-restore"
    public static let iptables = "/usr/sbin/iptables"
    /// Docker's DOCKER-ISOLATION-STAGE-1/2: FORWARD jumps to stage 1 first; stage 1 sends what
    /// leaves a bocker bridge for another interface to stage 2, which drops it when that
    /// interface is another bocker bridge. Internal networks drop in stage 1 everything that
    /// would cross their bridge in either direction.
    public static let isolationStage1 = "BOCKER-ISOLATION-STAGE-1"
    public static let isolationStage2 = "BOCKER-ISOLATION-STAGE-2"

    /// Rules for a bridge network: isolation from the other bocker networks, forwarding of its
    /// traffic, and unless it is internal, masquerade for what leaves the subnet and the
    /// 127.0.0.0/8 guard that `route_localnet` on its bridge needs (CVE-2020-8558: without it,
    /// a neighbour on the bridge reaches services bound to the host's 127.0.0.1).
    public static func bridgeRules(_ net: NetworkRecord) -> [(table: String, rule: String)] {
        let tag = "-m comment --comment bocker:net:\(net.name)"
        let br = net.bridge
        var rules: [(table: String, rule: String)] = []
        if net.isInternal {
            rules += [
                ("filter", "\(isolationStage1) -i \(br) ! -o \(br) \(tag) -j DROP"),
                ("filter", "\(isolationStage1) ! -i \(br) -o \(br) \(tag) -j DROP"),
            ]
        } else {
            rules += [
                ("raw", "PREROUTING -d 127.0.0.0/8 ! -i lo \(tag) -j DROP"),
                ("nat", "POSTROUTING -s \(net.subnet) ! -o \(br) \(tag) -j MASQUERADE"),
                ("filter", "\(isolationStage1) -i \(br) ! -o \(br) \(tag) -j \(isolationStage2)"),
            ]
        }
        rules += [
            ("filter", "\(isolationStage2) -o \(br) \(tag) -j DROP"),
            ("filter", "FORWARD -i \(br) \(tag) -j ACCEPT"),
            ("filter", "FORWARD -o \(br) \(tag) -j ACCEPT"),
        ]
        return rules
    }

    /// Makes the isolation chains and FORWARD's jump to stage 1 (first in FORWARD) unless they
    /// are there. Not through iptables-restore: declaring an existing chain there flushes it.
    public static func ensureIsolationChains() throws {
        for chain in [isolationStage1, isolationStage2] {
            if (try? HostTool.run([iptables, "-w", "-t", "filter", "-S", chain], discardOutput: true)) == nil {
                try HostTool.run([iptables, "-w", "-t", "filter", "-N", chain], discardOutput: true)
            }
        }
        let jump = ["FORWARD", "-m", "comment", "--comment", "bocker:isolation", "-j", isolationStage1]
        if (try? HostTool.run([iptables, "-w", "-t", "filter", "-C"] + jump, discardOutput: true)) == nil {
            try HostTool.run([iptables, "-w", "-t", "filter", "-I"] + jump.prefix(1) + ["1"] + jump.dropFirst(), discardOutput: true)
        }
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
        for table in ["raw", "nat", "filter"] {
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
