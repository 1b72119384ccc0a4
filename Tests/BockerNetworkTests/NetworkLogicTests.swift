import Testing
import Glibc
@testable import BockerNetwork
import BockerCore

@Suite("Network logic")
struct NetworkLogicTests {
    @Test func portSpecsParseLikeDockers() throws {
        #expect(try PortMapping.parse("8080:80") == PortMapping(hostPort: 8080, containerPort: 80))
        #expect(try PortMapping.parse("127.0.0.1:53:53/udp") == PortMapping(hostIP: "127.0.0.1", hostPort: 53, containerPort: 53, proto: "udp"))
        #expect(try PortMapping.parse("0.0.0.0:1:65535/tcp") == PortMapping(hostPort: 1, containerPort: 65535))
        #expect(try PortMapping.parse("8080:80").description == "0.0.0.0:8080->80/tcp")
        // No host port, 0 or an empty one: bocker picks a free one at create.
        #expect(try PortMapping.parse("80") == PortMapping(hostPort: 0, containerPort: 80))
        #expect(try PortMapping.parse("53/udp") == PortMapping(hostPort: 0, containerPort: 53, proto: "udp"))
        #expect(try PortMapping.parse("0:80") == PortMapping(hostPort: 0, containerPort: 80))
        #expect(try PortMapping.parse(":80") == PortMapping(hostPort: 0, containerPort: 80))
        #expect(try PortMapping.parse("127.0.0.1::80") == PortMapping(hostIP: "127.0.0.1", hostPort: 0, containerPort: 80))
    }

    @Test(arguments: [
        ("99999:80", "host port 99999 is out of range (1-65535)"),
        ("80:0", "container port 0 is out of range (1-65535)"),
        ("abc", "container port 'abc' is not a number"),
        ("1:2:3:4", "expected [HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|/udp]"),
        ("80:80/sctp", "protocol must be tcp or udp"),
        ("1.2.3:80:80", "'1.2.3' is not an IPv4 address"),
        ("x:80", "host port 'x' is not a number"),
        ("8o:80", "host port '8o' is not a number"),
    ])
    func badPortSpecs(spec: String, why: String) {
        #expect(throws: BockerError(.invalidArgument, "invalid port specification '\(spec)': \(why)")) {
            try PortMapping.parse(spec)
        }
    }

    @Test func resolvConfSkipsLoopbackResolvers() {
        #expect(ContainerFiles.resolvConf(host: "nameserver 127.0.0.53\nsearch lan\n", fallback: "9.9.9.9")
                == "search lan\nnameserver 9.9.9.9\n")
        #expect(ContainerFiles.resolvConf(host: "nameserver 10.1.2.3\n", fallback: "9.9.9.9") == "nameserver 10.1.2.3\n")
        #expect(ContainerFiles.resolvConf(host: nil, fallback: "9.9.9.9") == "nameserver 9.9.9.9\n")
    }

    @Test func hostsListOwnAndPeers() {
        let h = ContainerFiles.hosts(own: ("10.0.0.2", ["ps_1", "web"]), peers: [("10.0.0.3", ["ps_2", "db"])])
        #expect(h.contains("127.0.0.1\tlocalhost\n"))
        #expect(h.contains("10.0.0.2\tps_1 web\n"))
        #expect(h.contains("10.0.0.3\tps_2 db\n"))
    }

    @Test func firewallScriptsAddAndDeleteTheSameRules() {
        let rules = Firewall.portRules(container: "ps_1", ip: "10.0.0.2", bridge: "bridge0", subnet: "10.0.0.0/24",
                                       PortMapping(hostPort: 8080, containerPort: 80))
        let add = Firewall.script(rules, delete: false)
        let del = Firewall.script(rules, delete: true)
        #expect(add.hasPrefix("*nat\n-A PREROUTING -p tcp -m tcp --dport 8080 -m addrtype --dst-type LOCAL"))
        #expect(add.contains("--to-destination 10.0.0.2:80"))
        #expect(add.contains("*filter\n-A FORWARD -d 10.0.0.2/32 -o bridge0"))
        #expect(del.replacingMinusD() == add)
        #expect(rules.allSatisfy { $0.rule.contains("bocker:ps_1") })
    }

    @Test func bridgeRulesGuardLoopbackIsolateAndLeaveInternalNetworksUnNATed() {
        var net = NetworkRecord(name: "a", subnet: "10.88.1.0/24", gateway: "10.88.1.1", bridge: "bk-a",
                                created: 0, resolvesNames: true)
        let open = Firewall.bridgeRules(net)
        #expect(open.contains { $0.table == "raw" && $0.rule == "PREROUTING -d 127.0.0.0/8 ! -i lo -m comment --comment bocker:net:a -j DROP" })
        #expect(open.contains { $0.table == "nat" && $0.rule.contains("MASQUERADE") })
        #expect(open.contains { $0.rule == "BOCKER-ISOLATION-STAGE-1 -i bk-a ! -o bk-a -m comment --comment bocker:net:a -j BOCKER-ISOLATION-STAGE-2" })
        #expect(open.contains { $0.rule == "BOCKER-ISOLATION-STAGE-2 -o bk-a -m comment --comment bocker:net:a -j DROP" })
        #expect(open.allSatisfy { $0.rule.contains("bocker:net:a") })
        // The raw table comes first in the restore script; deleting is the same script with -D.
        let add = Firewall.script(open, delete: false)
        #expect(add.hasPrefix("*raw\n-A PREROUTING -d 127.0.0.0/8 ! -i lo"))
        #expect(Firewall.script(open, delete: true).replacingMinusD() == add)

        net.internal = true
        let closed = Firewall.bridgeRules(net)
        #expect(!closed.contains { $0.table == "nat" || $0.table == "raw" })
        #expect(closed.contains { $0.rule == "BOCKER-ISOLATION-STAGE-1 -i bk-a ! -o bk-a -m comment --comment bocker:net:a -j DROP" })
        #expect(closed.contains { $0.rule == "BOCKER-ISOLATION-STAGE-1 ! -i bk-a -o bk-a -m comment --comment bocker:net:a -j DROP" })
        #expect(throws: BockerError.self) { try NetworkStore.checkPorts([PortMapping(hostPort: 1, containerPort: 1)], on: net) }
        #expect(throws: Never.self) { try NetworkStore.checkPorts([], on: net) }
    }

    @Test func bridgeAndVethNamesFitTheKernelLimit() {
        #expect(NetworkSetup.hostVethName("ps_0123456789ab") == "bk0123456789ab")
        let b = NetworkStore.bridgeName(for: "a-very-long-network-name-indeed")
        #expect(b.utf8.count <= 15 && b.hasPrefix("bk-"))
        #expect(NetworkStore.bridgeName(for: "x") != NetworkStore.bridgeName(for: "y"))
    }

    @Test func leasesAreUniqueAndReleased() throws {
        var template = Array("/tmp/bocker-nettest-XXXXXX".utf8CString)
        let dir = String(cString: mkdtemp(&template)!)
        defer { try? FS.removeTree(dir) }
        let store = NetworkStore(root: StateRoot(path: dir))
        let net = try store.create(name: "tiny", subnet: "10.99.0.0/29")   // hosts .1 to .6, .1 the gateway
        var got: [String] = []
        for i in 0..<5 { got.append(try store.allocate(net, for: "ps_\(i)").description) }
        #expect(got == ["10.99.0.2", "10.99.0.3", "10.99.0.4", "10.99.0.5", "10.99.0.6"])
        #expect(throws: BockerError.self) { try store.allocate(net, for: "ps_x") }
        store.release(network: "tiny", address: "10.99.0.4")
        #expect(try store.allocate(net, for: "ps_y").description == "10.99.0.4")
        #expect(throws: BockerError.self) { try store.remove("tiny") }   // in use
        #expect(throws: BockerError.self) { try store.create(name: "other", subnet: "10.99.0.0/24") }   // overlaps
        #expect(throws: BockerError.self) { try store.create(name: "tiny", subnet: "10.98.0.0/24") }   // exists
        #expect(try store.create(name: "auto", subnet: nil).subnet == "10.89.0.0/24")
    }
}

extension String {
    func replacingMinusD() -> String {
        split(byte: 0x0a).map { $0.hasPrefix("-D ") ? "-A " + $0.dropFirst(3) : $0 }.joined(separator: "\n") + "\n"
    }
}
