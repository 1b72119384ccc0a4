import Glibc
import Testing

/// Nothing of a container's network is left after it exits, is removed, or its bocker is killed.
@Suite("network: nothing left behind")
struct NetworkCleanupTests {
    /// The namespace holds only lo and bridge0, no veth, no nat rule naming `ip`, and the next
    /// container gets `ip` again.
    private func expectReleased(_ ip: String, _ what: String, _ n: NetworkFixture, _ f: BockerFixture, image: String,
                                sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(n.vethLinksAfterTeardown().isEmpty, "\(what): veth left: \(n.links())", sourceLocation: sourceLocation)
        #expect(n.links() == ["bridge0", "lo"], "\(what): links: \(n.links())", sourceLocation: sourceLocation)
        #expect(n.natRules(mentioning: ip).isEmpty, "\(what): nat rules naming \(ip) left: \(n.natTable())",
                sourceLocation: sourceLocation)
        let next = f.run(["run", image, "ip", "-4", "addr", "show", "eth0"])
        #expect(next.status == 0, "\(what): \(next)", sourceLocation: sourceLocation)
        #expect(firstInet(in: next.stdout)?.ip == ip, "\(what): \(ip) was not released; the next container got: \(next)",
                sourceLocation: sourceLocation)
    }

    @Test("after a container with -p exits: no veth, no DNAT rule, its address is free")
    func afterExit() throws {
        try NetworkFixture.with { n, f in
            let img = try f.initImage()
            let r = f.run(["run", "-p", "8085:80", img, "ip", "-4", "addr", "show", "eth0"])
            #expect(r.status == 0, "\(r)")
            let ip = try #require(firstInet(in: r.stdout)?.ip, "\(r)")
            #expect(ip == "10.0.0.2", "\(r)")
            expectReleased(ip, "after exit", n, f, image: img)
            // The port is free again too.
            let again = f.run(["run", "-p", "8085:80", img, "true"])
            #expect(again.status == 0, "publishing 8085 again: \(again)")
        }
    }

    @Test("rm -f of a running container with -p: no veth, no DNAT rule, its address is free")
    func afterRm() throws {
        try NetworkFixture.with { n, f in
            let img = try f.initImage()
            let (p, id) = try n.startContainer(img, options: ["-p", "8086:80"], script: "ip -4 addr show eth0; echo ready; read line; true")
            let ip = try #require(firstInet(in: p.stdoutText)?.ip, "\(p.stdoutText)")
            #expect(n.vethLinks().count == 1, "while it runs: \(n.links())")
            #expect(!n.natRules(mentioning: ip).isEmpty, "no DNAT rule for \(ip) while it runs: \(n.natTable())")
            let rm = f.run(["rm", "-f", id])
            #expect(rm.status == 0, "\(rm)")
            _ = p.finish(timeout: 30)
            expectReleased(ip, "after rm -f", n, f, image: img)
            #expect(!f.containerIds().contains(id), "rm -f left the container: \(f.containerIds())")
        }
    }

    @Test("rm of an exited container leaves nothing either")
    func rmExited() throws {
        try NetworkFixture.with { n, f in
            let img = try f.initImage()
            let (r, id) = f.runNew(["run", "-p", "8087:80", img, "ip", "-4", "addr", "show", "eth0"])
            #expect(r.status == 0, "\(r)")
            let cid = try #require(id)
            let ip = try #require(firstInet(in: r.stdout)?.ip, "\(r)")
            let rm = f.run(["rm", cid])
            #expect(rm.status == 0, "\(rm)")
            expectReleased(ip, "after rm", n, f, image: img)
            f.expectNothingLeftBehind(removed: [cid])
        }
    }

    @Test("kill -9 of bocker run with -p: the next bocker command repairs its network")
    func afterKill() throws {
        try NetworkFixture.with { n, f in
            let img = try f.initImage()
            let (p, _) = try n.startContainer(img, options: ["-p", "8088:80"], script: "ip -4 addr show eth0; echo ready; read line; true")
            let ip = try #require(firstInet(in: p.stdoutText)?.ip, "\(p.stdoutText)")
            #expect(n.vethLinks().count == 1, "while it runs: \(n.links())")
            #expect(!n.natRules(mentioning: ip).isEmpty, "no DNAT rule for \(ip) while it runs: \(n.natTable())")

            p.signal(SIGKILL)
            // Keep our end of its stdin open: EOF must not be what ends the container.
            let killed = p.finish(timeout: 30, eofGrace: 5, closingStdin: false)
            #expect(killed.status == 128 + SIGKILL, "\(killed)")

            let ps = f.run(["ps"])
            #expect(ps.status == 0, "\(ps)")
            // The next command was ps: repair happened there, not in the run below.
            #expect(n.vethLinks().isEmpty, "veth left after ps: \(n.links())")
            #expect(n.natRules(mentioning: ip).isEmpty, "nat rules naming \(ip) left after ps: \(n.natTable())")
            let reuse = f.run(["run", "-p", "8088:80", img, "true"])
            #expect(reuse.status == 0, "publishing 8088 after the killed run was repaired: \(reuse)")
            expectReleased(ip, "after kill -9 and ps", n, f, image: img)
        }
    }

    @Test("the machine's own network is untouched while bocker networks in the test's namespace")
    func hostUntouched() throws {
        let before = HostNetworkState.take()
        try NetworkFixture.with { n, f in
            let img = try f.initImage()
            let net = f.run(["network", "create", "hostcheck", "--subnet", "10.92.0.0/24"])
            #expect(net.status == 0, "\(net)")
            let (p, _) = try n.startContainer(img, options: ["-p", "8089:80"], script: "echo ready; read line; true")
            let (q, _) = try n.startContainer(img, options: ["--network", "hostcheck"], script: "echo ready; read line; true")
            // bocker did its work in the namespace ...
            #expect(n.links().contains("bridge0"), "no bridge0 in the test's namespace: \(n.links())")
            #expect(n.vethLinks().count == 2, "\(n.links())")
            #expect(n.natRules().contains { $0.contains("MASQUERADE") }, "\(n.natTable())")
            // ... and none of it outside, while the containers run.
            let diff = before.differences(to: HostNetworkState.take())
            #expect(diff.isEmpty, "the machine's network changed:\n\(diff.joined(separator: "\n"))")
            _ = p.finish(timeout: 30)
            _ = q.finish(timeout: 30)
        }
    }
}
