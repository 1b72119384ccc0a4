import Glibc
import Testing

/// A network namespace joined to the test's namespace by a veth pair: `inside` gets `address`,
/// the other end (`outer`) is put on `bridge` or, without one, given `outerAddress`. Gone (with
/// its veth pair) when `remove()` runs.
private struct PeerNamespace {
    let name: String
    let nsPath: String

    init(_ n: NetworkFixture, tag: String, address: String, bridge: String? = nil, outerAddress: String? = nil) throws {
        name = "bocker-e2e-peer-" + tag + "-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        nsPath = "/run/netns/" + name
        let outer = "bkt" + tag
        var steps: [[String]] = [
            ["ip", "netns", "add", name],
            ["ip", "-n", n.name, "link", "add", outer, "type", "veth", "peer", "name", "eth0", "netns", name],
            ["ip", "-n", name, "addr", "add", address, "dev", "eth0"],
            ["ip", "-n", name, "link", "set", "eth0", "up"],
        ]
        if let br = bridge { steps.append(["ip", "-n", n.name, "link", "set", outer, "master", br]) }
        if let a = outerAddress { steps.append(["ip", "-n", n.name, "addr", "add", a, "dev", outer]) }
        steps.append(["ip", "-n", n.name, "link", "set", outer, "up"])
        for step in steps {
            let r = runTool(step)
            if r.status != 0 {
                runTool(["ip", "netns", "del", name])
                throw FixtureError(description: "\(step.joined(separator: " ")) failed: \(r)")
            }
        }
    }

    @discardableResult
    func run(_ argv: [String], timeout: Double = 30) -> RunResult {
        runTool(["nsenter", "--net=" + nsPath, "--"] + argv, timeout: timeout)
    }

    func remove() { runTool(["ip", "netns", "del", name]) }
}

/// The network defences: the 127.0.0.0/8 guard that route_localnet needs (CVE-2020-8558),
/// isolation between networks, internal networks, no IPv6 router advertisements.
@Suite("network: hardening")
struct NetworkHardeningTests {
    private let guardRule = "-A PREROUTING -d 127.0.0.0/8 ! -i lo -m comment --comment \"bocker:net:bridge\" -j DROP"

    /// `ping -c1 -W1 ADDR` from a one-shot container on `network`; true when answered.
    private func ping(_ f: BockerFixture, _ img: String, network: String, _ addr: String) -> Bool {
        let r = f.run(["run", "--rm", "--network", network, img, "ping", "-c1", "-W1", addr])
        return r.status == 0
    }

    @Test("-p 127.0.0.1:P:P: the 127/8 guard is there, and a neighbour on the bridge cannot reach the host's 127.0.0.1")
    func localnetGuard() throws {
        try NetworkFixture.with { n, f in
            let img = try f.initImage()
            let (p, _) = try n.startContainer(img, options: ["-p", "127.0.0.1:18080:80"], script: "echo ready; read line")
            #expect(n.sysctl("net/ipv4/conf/bridge0/route_localnet") == "1")
            let raw = n.inNamespace(["iptables-save", "-t", "raw"])
            #expect(splitLines(raw.stdout).contains(guardRule), "the 127/8 guard is missing: \(raw)")

            // The host side: a service bound to 127.0.0.1 only.
            let www = f.tmp + "/www"
            try Host.makeDirectory(www)
            try Host.writeFile(www + "/index.html", "secret of the host's localhost\n")
            let httpd = try ChildProcess(argv: ["nsenter", "--net=" + n.nsPath, "--", "/bin/busybox", "httpd", "-f",
                                                "-p", "127.0.0.1:19999", "-h", www],
                                         environment: environmentList(currentEnvironment()), stdin: nil, keepStdinOpen: true)
            defer { httpd.signal(SIGKILL); _ = httpd.finish(timeout: 10, eofGrace: 1) }
            var listening = false
            for _ in 0..<500 where !listening {
                listening = n.inNamespace(["ss", "-Hltn", "sport = :19999"]).stdout.contains("127.0.0.1:19999")
                if !listening { usleep(10_000) }
            }
            try #require(listening, "busybox httpd never listened on 127.0.0.1:19999")
            #expect(n.httpGet("http://127.0.0.1:19999/").stdout.contains("secret"), "the service works from the host itself")

            // The attacker: a neighbour on bridge0 that routes 127.0.0.1 to the gateway's MAC.
            let peer = try PeerNamespace(n, tag: "lh", address: "10.0.0.200/24", bridge: "bridge0")
            defer { peer.remove() }
            peer.run(["sysctl", "-qw", "net.ipv4.conf.all.route_localnet=1", "net.ipv4.conf.eth0.route_localnet=1"])
            let route = peer.run(["ip", "route", "add", "127.0.0.1/32", "via", "10.0.0.1", "dev", "eth0"])
            try #require(route.status == 0, "\(route)")
            let attack = peer.run(["/bin/busybox", "timeout", "3", "/bin/busybox", "wget", "-qO-", "http://127.0.0.1:19999/"])
            #expect(!attack.stdout.contains("secret"), "a neighbour on the bridge read the host's 127.0.0.1 service: \(attack)")
            #expect(attack.status != 0, "\(attack)")
            // The published port itself still works from the host's 127.0.0.1 (the guard does
            // not break what route_localnet is for).
            #expect(n.natRules().contains { $0.contains("127.0.0.1/32") && $0.contains("--dport 18080") }, "\(n.natTable())")
            _ = p.finish(timeout: 30)
        }
    }

    @Test("networks are isolated from each other; peers, gateways and the outside still answer")
    func isolation() throws {
        try NetworkFixture.with { n, f in
            let img = try f.initImage()
            for (name, subnet) in [("neta", "10.88.1.0/24"), ("netb", "10.88.2.0/24")] {
                let c = f.run(["network", "create", name, "--subnet", subnet])
                try #require(c.status == 0, "\(c)")
            }
                let outside = try PeerNamespace(n, tag: "out", address: "192.0.2.2/24", outerAddress: "192.0.2.1/24")
            defer { outside.remove() }
            // A route back to every container subnet: without NAT a reply could still come back,
            // so only the forwarding rules can make a ping beyond the bridge fail.
            let back = outside.run(["ip", "route", "add", "10.0.0.0/8", "via", "192.0.2.1"])
            try #require(back.status == 0, "\(back)")
            let (pa, _) = try n.startContainer(img, options: ["--network", "neta"], script: "echo ready; read line")
            let (pb, _) = try n.startContainer(img, options: ["--network", "netb"], script: "echo ready; read line")
            // The long-running ones hold .2; the one-shot pingers get .3.
            #expect(ping(f, img, network: "neta", "10.88.1.2"), "same-network peer on neta")
            #expect(ping(f, img, network: "netb", "10.88.2.2"), "same-network peer on netb")
            #expect(ping(f, img, network: "neta", "10.88.1.1"), "neta's gateway")
            #expect(ping(f, img, network: "neta", "192.0.2.2"), "the outside from neta")
            #expect(ping(f, img, network: "netb", "192.0.2.2"), "the outside from netb")
            #expect(!ping(f, img, network: "neta", "10.88.2.2"), "a container on neta reached one on netb")
            #expect(!ping(f, img, network: "netb", "10.88.1.2"), "a container on netb reached one on neta")
            #expect(!ping(f, img, network: "bridge", "10.88.1.2"), "a container on the default bridge reached one on neta")
            let tcp = f.run(["run", "--rm", "--network", "neta", img, "sh", "-c",
                             "busybox timeout 3 wget -qO- http://10.88.2.2:80/ ; echo rc=$?"])
            #expect(tcp.stdout.contains("rc=") && !tcp.stdout.contains("rc=0"), "TCP from neta to netb: \(tcp)")
            let filter = splitLines(n.inNamespace(["iptables-save", "-t", "filter"]).stdout)
            #expect(filter.first { $0.hasPrefix("-A FORWARD") }?.contains("BOCKER-ISOLATION-STAGE-1") == true,
                    "FORWARD does not start with the isolation jump: \(filter)")
            _ = pa.finish(timeout: 30)
            _ = pb.finish(timeout: 30)
            for name in ["neta", "netb"] { _ = f.run(["network", "rm", name]) }
            let after = n.inNamespace(["iptables-save"]).stdout
            #expect(!after.contains("bocker:net:neta") && !after.contains("bocker:net:netb"), "rules left after network rm: \(after)")
        }
    }

    @Test("--internal: no NAT, nothing beyond its bridge, published ports refused; its members still talk")
    func internalNetwork() throws {
        try NetworkFixture.with { n, f in
            let img = try f.initImage()
            let c = f.run(["network", "create", "--internal", "inet", "--subnet", "10.88.3.0/24"])
            try #require(c.status == 0, "\(c)")
            let inspect = f.run(["network", "inspect", "inet"])
            #expect(inspect.stdout.contains("\"Internal\": true"), "\(inspect)")
            let outside = try PeerNamespace(n, tag: "out", address: "192.0.2.2/24", outerAddress: "192.0.2.1/24")
            defer { outside.remove() }
            // A route back to every container subnet: without NAT a reply could still come back,
            // so only the forwarding rules can make a ping beyond the bridge fail.
            let back = outside.run(["ip", "route", "add", "10.0.0.0/8", "via", "192.0.2.1"])
            try #require(back.status == 0, "\(back)")

            let before = f.containerIds()
            let ports = f.run(["run", "--network", "inet", "-p", "18081:80", img, "true"])
            #expect(ports.status != 0 && ports.allLines.count == 1, "\(ports)")
            #expect(ports.stderr.contains("internal"), "\(ports)")
            #expect(f.containerIds() == before, "a refused run left a container")

            let (p, _) = try n.startContainer(img, options: ["--network", "inet"], script: "echo ready; read line")
            #expect(ping(f, img, network: "inet", "10.88.3.2"), "a peer on the internal network")
            #expect(ping(f, img, network: "inet", "10.88.3.1"), "the internal network's gateway (the host)")
            #expect(!ping(f, img, network: "inet", "192.0.2.2"), "an internal network's container reached the outside")
            #expect(!ping(f, img, network: "bridge", "10.88.3.2"), "the default bridge reached into the internal network")
            #expect(!n.natRules().contains { $0.contains("10.88.3.0/24") }, "NAT rule for an internal network: \(n.natTable())")
            _ = p.finish(timeout: 30)
        }
    }

    @Test("accept_ra is 0 inside the container (all, default, eth0), on the default bridge and a user network")
    func noRouterAdvertisements() throws {
        try NetworkFixture.with { n, f in
            guard Host.readFile("/proc/sys/net/ipv6/conf/all/accept_ra") != nil else { return }   // no IPv6 here
            let img = try f.initImage()
            #expect(trimmed(n.inNamespace(["cat", "/proc/sys/net/ipv6/conf/default/accept_ra"]).stdout) != "0",
                    "the test namespace's default is already 0: the check below would prove nothing")
            let c = f.run(["network", "create", "ranet"])
            try #require(c.status == 0, "\(c)")
            for net in ["bridge", "ranet"] {
                let r = f.run(["run", "--rm", "--network", net, img, "cat", "/proc/sys/net/ipv6/conf/all/accept_ra",
                               "/proc/sys/net/ipv6/conf/default/accept_ra", "/proc/sys/net/ipv6/conf/eth0/accept_ra"])
                #expect(r.status == 0 && r.stdout == "0\n0\n0\n", "\(net): \(r)")
            }
        }
    }
}
