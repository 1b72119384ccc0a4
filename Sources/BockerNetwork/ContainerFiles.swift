import BockerCore

/// The small files a networked container gets bind-mounted: /etc/resolv.conf and /etc/hosts.
public enum ContainerFiles {
    /// The host's resolv.conf, unless it names only loopback resolvers (systemd-resolved,
    /// dnsmasq on 127.0.0.1: unreachable from a container), then `nameserver fallback`.
    public static func resolvConf(host: String?, fallback: String) -> String {
        var lines: [String] = []
        var servers = 0
        for raw in (host ?? "").split(byte: 0x0a) {
            let line = raw.trimmed()
            if line.hasPrefix("nameserver") {
                let addr = line.dropFirst("nameserver".count).trimmed()
                if addr.hasPrefix("127.") || addr == "::1" { continue }
                servers += 1
            }
            lines.append(line)
        }
        if servers == 0 { lines.append("nameserver " + fallback) }
        return lines.joined(separator: "\n") + "\n"
    }

    /// /etc/hosts: localhost, the container itself, and (on user networks) its peers.
    public static func hosts(own: (ip: String, names: [String])?, peers: [(ip: String, names: [String])]) -> String {
        var out = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
        if let o = own { out += o.ip + "\t" + o.names.joined(separator: " ") + "\n" }
        for p in peers { out += p.ip + "\t" + p.names.joined(separator: " ") + "\n" }
        return out
    }
}
