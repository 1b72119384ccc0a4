import BockerCore

/// One published port: `[HOSTIP:][HOSTPORT:]CONTAINERPORT[/tcp|/udp]`, as `run -p` takes it.
/// A host port of 0 (or none given) means "pick a free one" when the container is created.
public struct PortMapping: Codable, Equatable, Hashable, Sendable, CustomStringConvertible {
    public var hostIP: String?
    public var hostPort: Int
    public var containerPort: Int
    public var proto: String

    public init(hostIP: String? = nil, hostPort: Int, containerPort: Int, proto: String = "tcp") {
        self.hostIP = hostIP
        self.hostPort = hostPort
        self.containerPort = containerPort
        self.proto = proto
    }

    /// Docker's form, e.g. "0.0.0.0:8080->80/tcp".
    public var description: String {
        "\(hostIP ?? "0.0.0.0"):\(hostPort)->\(containerPort)/\(proto)"
    }

    /// Parses a `-p` value; every mistake gives one line naming the value.
    public static func parse(_ spec: String) throws -> PortMapping {
        func bad(_ why: String) -> BockerError {
            BockerError(.invalidArgument, "invalid port specification '\(spec)': \(why)")
        }
        var body = Substring(spec)
        var proto = "tcp"
        if let slash = body.lastIndex(of: "/") {
            proto = String(body[body.index(after: slash)...])
            body = body[..<slash]
            guard proto == "tcp" || proto == "udp" else { throw bad("protocol must be tcp or udp") }
        }
        let parts = body.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        func port(_ s: String, _ what: String, pickable: Bool = false) throws -> Int {
            if pickable && s.isEmpty { return 0 }
            guard !s.isEmpty, s.utf8.count <= 5, s.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let n = Int(s) else {
                throw bad("\(what) '\(s)' is not a number")
            }
            guard (pickable && n == 0) || (n >= 1 && n <= 65535) else { throw bad("\(what) \(n) is out of range (1-65535)") }
            return n
        }
        switch parts.count {
        case 1:
            return PortMapping(hostPort: 0, containerPort: try port(parts[0], "container port"), proto: proto)
        case 2:
            return PortMapping(hostPort: try port(parts[0], "host port", pickable: true),
                               containerPort: try port(parts[1], "container port"), proto: proto)
        case 3:
            guard IPv4Address(parts[0]) != nil else { throw bad("'\(parts[0])' is not an IPv4 address") }
            let ip = parts[0] == "0.0.0.0" ? nil : parts[0]
            return PortMapping(hostIP: ip, hostPort: try port(parts[1], "host port", pickable: true),
                               containerPort: try port(parts[2], "container port"), proto: proto)
        default:
            throw bad("expected [HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|/udp]")
        }
    }
}
