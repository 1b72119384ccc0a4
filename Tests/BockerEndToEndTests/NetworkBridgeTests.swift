import Glibc
import Testing

/// The default `--network bridge`: bridge0, one veth and one address per container.
@Suite("network: the default bridge")
struct NetworkBridgeTests {
    /// Prints the container's links, eth0's address and MAC, its routes and lo's address.
    private let inspect = "echo @links; ip -o link; echo @addr; ip -4 addr show eth0; echo @mac; ip link show eth0; "
        + "echo @route; ip route; echo @lo; ip -4 addr show lo"

    @Test("eth0 gets the first free address, MAC 02:42:+IP, a default route via 10.0.0.1; lo is up")
    func eth0() throws {
        try NetworkFixture.with { n, f in
            let img = try f.initImage()
            let r = f.run(["run", img, "sh", "-c", inspect])
            #expect(r.status == 0, "\(r)")
            let s = sections(r.stdout)
            let links = linkNames(inOneLineOutput: s["links"] ?? "")
            #expect(links == ["eth0", "lo"], "the container's links: \(r)")
            let loLine = splitLines(s["links"] ?? "").first { linkNames(inOneLineOutput: $0) == ["lo"] } ?? ""
            #expect(loLine.contains("UP"), "lo is not up: \(loLine)")
            let inet = firstInet(in: s["addr"] ?? "")
            #expect(inet?.ip == "10.0.0.2" && inet?.prefix == 24, "eth0's address (expected 10.0.0.2/24): \(r)")
            #expect(firstMAC(in: s["mac"] ?? "") == "02:42:0a:00:00:02", "eth0's MAC: \(r)")
            let routes = splitLines(s["route"] ?? "").map(trimmed)
            #expect(routes.contains { $0.hasPrefix("default via 10.0.0.1") && fields($0).contains("eth0") },
                    "no default route via 10.0.0.1 dev eth0: \(routes)")
            #expect(firstInet(in: s["lo"] ?? "")?.ip == "127.0.0.1", "lo has no 127.0.0.1: \(r)")

            // bocker made bridge0 with the gateway address and turned on forwarding, in the namespace.
            let br = runTool(["ip", "-n", n.name, "-4", "addr", "show", "bridge0"])
            #expect(br.status == 0, "no bridge0 in the namespace: \(br)")
            #expect(br.stdout.contains("inet 10.0.0.1/24"), "bridge0's address: \(br)")
            let kind = runTool(["ip", "-n", n.name, "-d", "link", "show", "bridge0"])
            #expect(kind.stdout.contains("bridge"), "bridge0 is not a bridge: \(kind)")
            #expect(n.sysctl("net/ipv4/ip_forward") == "1", "forwarding is off in the namespace")
        }
    }

    @Test("a container pings its gateway")
    func pingGateway() throws {
        try NetworkFixture.with { _, f in
            let img = try f.initImage()
            let r = f.run(["run", img, "ping", "-c1", "-W2", "10.0.0.1"])
            #expect(r.status == 0, "\(r)")
        }
    }

    @Test("BOCKER_BRIDGE_SUBNET=10.77.0.0/24 moves the bridge, the address, the MAC and the gateway")
    func otherSubnet() throws {
        try NetworkFixture.with { n, f in
            let img = try f.initImage()
            let env = ["BOCKER_BRIDGE_SUBNET": "10.77.0.0/24"]
            let r = f.run(["run", img, "sh", "-c", inspect + "; echo @ping; ping -c1 -W2 10.77.0.1 && echo PING-OK"], env: env)
            #expect(r.status == 0, "\(r)")
            let s = sections(r.stdout)
            let inet = firstInet(in: s["addr"] ?? "")
            #expect(inet?.ip == "10.77.0.2" && inet?.prefix == 24, "eth0's address (expected 10.77.0.2/24): \(r)")
            #expect(firstMAC(in: s["mac"] ?? "") == "02:42:0a:4d:00:02", "eth0's MAC: \(r)")
            #expect(splitLines(s["route"] ?? "").contains { trimmed($0).hasPrefix("default via 10.77.0.1") },
                    "no default route via 10.77.0.1: \(r)")
            #expect(s["ping"]?.contains("PING-OK") == true, "ping of the gateway 10.77.0.1 failed: \(r)")
            let br = runTool(["ip", "-n", n.name, "-4", "addr", "show", "bridge0"])
            #expect(br.stdout.contains("inet 10.77.0.1/24"), "bridge0's address: \(br)")
            let masq = n.natRules().filter { $0.contains("10.77.0.0/24") && $0.contains("MASQUERADE") }
            #expect(masq.count == 1, "MASQUERADE rules for 10.77.0.0/24: \(n.natTable())")
        }
    }

    @Test("two containers ping each other by address")
    func pingEachOther() throws {
        try NetworkFixture.with { n, f in
            let img = try f.initImage()
            // Each prints its address, then pings the address it reads from stdin.
            let script = "ip -4 addr show eth0; echo ready; read target; ping -c1 -W2 \"$target\""
            let (a, idA) = try n.startContainer(img, script: script)
            let (b, idB) = try n.startContainer(img, script: script)
            #expect(idA != idB)
            let ipA = try #require(firstInet(in: a.stdoutText)?.ip, "no address: \(a.stdoutText)")
            let ipB = try #require(firstInet(in: b.stdoutText)?.ip, "no address: \(b.stdoutText)")
            #expect(ipA == "10.0.0.2", "first container's address: \(ipA)")
            #expect(ipB == "10.0.0.3", "second container's address: \(ipB)")
            a.write(ipB + "\n")
            b.write(ipA + "\n")
            let ra = a.finish(timeout: 20)
            let rb = b.finish(timeout: 20)
            #expect(ra.status == 0, "\(ipA) could not ping \(ipB): \(ra)")
            #expect(rb.status == 0, "\(ipB) could not ping \(ipA): \(rb)")
        }
    }

    @Test("six concurrent runs get six distinct addresses, .2 to .7, each with its MAC")
    func concurrentRuns() throws {
        try NetworkFixture.with { n, f in
            let img = try f.initImage()
            let script = "ip -4 addr show eth0; ip link show eth0; echo ready; read line; true"
            var procs: [ChildProcess] = []
            for _ in 0..<6 { procs.append(try f.start(["run", "-i", img, "sh", "-c", script])) }
            var ips: [String] = []
            for p in procs {
                let ok = p.waitForStdout(containing: "ready", timeout: 30)
                #expect(ok, "a run never printed ready: \(p.stdoutText) \(p.stderrText)")
                if let ip = firstInet(in: p.stdoutText)?.ip {
                    ips.append(ip)
                    #expect(firstMAC(in: p.stdoutText) == expectedMAC(for: ip), "MAC of \(ip): \(p.stdoutText)")
                }
            }
            #expect(ips.count == 6, "addresses: \(ips)")
            #expect(Set(ips) == Set((2...7).map { "10.0.0.\($0)" }), "addresses: \(ips.sorted())")
            // One host-side link per running container, besides lo and bridge0.
            let links = n.links()
            #expect(links.filter { $0 != "lo" && $0 != "bridge0" }.count == 6, "links while six run: \(links)")
            for p in procs {
                let r = p.finish(timeout: 30)
                #expect(r.status == 0, "\(r)")
            }
            #expect(n.vethLinksAfterTeardown().isEmpty && n.links() == ["bridge0", "lo"], "links after all six exited: \(n.links())")
        }
    }

    @Test("NAT masquerade for the subnet is added once; a second run duplicates nothing")
    func masqueradeOnce() throws {
        try NetworkFixture.with { n, f in
            let img = try f.initImage()
            #expect(n.links() == ["lo"], "the fresh namespace is not empty: \(n.links())")
            let first = f.run(["run", img, "true"])
            #expect(first.status == 0, "\(first)")
            let rules1 = n.natRules()
            let masq = rules1.filter { $0.contains("10.0.0.0/24") && $0.contains("MASQUERADE") }
            #expect(masq.count == 1, "MASQUERADE rules for 10.0.0.0/24 after the first run: \(n.natTable())")
            let links1 = n.links()
            #expect(links1 == ["bridge0", "lo"], "links after the first run: \(links1)")

            let second = f.run(["run", img, "true"])
            #expect(second.status == 0, "\(second)")
            #expect(n.natRules() == rules1, "the nat table changed on the second run: before \(rules1), after \(n.natRules())")
            #expect(n.links() == links1, "links changed on the second run: \(n.links())")
        }
    }
}
