import Glibc
import Testing

/// `run -p [HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|/udp]`.
@Suite("network: published ports")
struct NetworkPortTests {
    /// busybox httpd binds port 80, daemonizes, and the foreground sh waits on stdin.
    private let httpd = "httpd -p 80 -h /var/www; echo ready; read line; true"

    @Test("a published port serves from 127.0.0.1:HOSTPORT and, to another container, from 10.0.0.1:HOSTPORT; gone after exit")
    func publishedPort() throws {
        try NetworkFixture.with { n, f in
            let img = try n.makeImage(files: ["var/www/index.html": webPage])
            let (server, id) = try n.startContainer(img, options: ["-p", "8080:80"], script: "ip -4 addr show eth0; " + httpd)
            let ip = try #require(firstInet(in: server.stdoutText)?.ip, "no address: \(server.stdoutText)")

            let local = n.httpGet("http://127.0.0.1:8080/")
            #expect(local.status == 0, "wget http://127.0.0.1:8080/ in the namespace: \(local)")
            #expect(local.stdout == webPage, "\(local)")

            let viaGateway = f.run(["run", img, "timeout", "5", "wget", "-qO-", "http://10.0.0.1:8080/"])
            #expect(viaGateway.status == 0, "wget http://10.0.0.1:8080/ from another container: \(viaGateway)")
            #expect(viaGateway.stdout == webPage, "\(viaGateway)")

            #expect(!n.natRules(mentioning: ip).isEmpty, "no nat rule mentions \(ip) while it publishes 8080: \(n.natTable())")

            let r = server.finish(timeout: 30)
            #expect(r.status == 0, "\(r)")
            #expect(n.natRules(mentioning: ip).isEmpty, "nat rules for \(id) (\(ip)) left after it exited: \(n.natTable())")
            let after = n.httpGet("http://127.0.0.1:8080/", timeout: 2)
            #expect(after.status != 0, "127.0.0.1:8080 still answers after the container exited: \(after)")
            // The port is free for the next container.
            let again = f.run(["run", "-p", "8080:80", img, "true"])
            #expect(again.status == 0, "publishing 8080 again after the first container exited: \(again)")
        }
    }

    @Test("HOSTIP:HOSTPORT:CONTAINERPORT/tcp publishes on that address")
    func hostIPForm() throws {
        try NetworkFixture.with { n, f in
            let img = try n.makeImage(files: ["var/www/index.html": webPage])
            let (server, _) = try n.startContainer(img, options: ["-p", "127.0.0.1:8083:80/tcp"], script: httpd)
            let local = n.httpGet("http://127.0.0.1:8083/")
            #expect(local.status == 0, "wget http://127.0.0.1:8083/ in the namespace: \(local)")
            #expect(local.stdout == webPage, "\(local)")
            let r = server.finish(timeout: 30)
            #expect(r.status == 0, "\(r)")
        }
    }

    @Test("a /udp port gets a udp DNAT rule to the container, removed when it exits")
    func udpPort() throws {
        try NetworkFixture.with { n, f in
            let img = try f.initImage()
            let (p, _) = try n.startContainer(img, options: ["-p", "5353:53/udp"],
                                              script: "ip -4 addr show eth0; echo ready; read line; true")
            let ip = try #require(firstInet(in: p.stdoutText)?.ip, "no address: \(p.stdoutText)")
            let rules = n.natRules(mentioning: ip)
            #expect(rules.contains { $0.contains("udp") && $0.contains("5353") },
                    "no udp rule for 5353 → \(ip):53: \(n.natTable())")
            #expect(!rules.contains { $0.contains("-p tcp") }, "a /udp port got a tcp rule: \(rules)")
            let r = p.finish(timeout: 30)
            #expect(r.status == 0, "\(r)")
            #expect(n.natRules(mentioning: ip).isEmpty, "rules left: \(n.natTable())")
        }
    }

    @Test("a host port another running container published is refused before anything is made")
    func portTakenByContainer() throws {
        try NetworkFixture.with { n, f in
            let img = try f.initImage()
            let (p, _) = try n.startContainer(img, options: ["-p", "8080:80"], script: "echo ready; read line; true")
            let ids = f.containerIds()
            let links = n.links()
            let rules = n.natRules()
            for spec in ["8080:80", "8080:81"] {
                let r = f.run(["run", "-p", spec, img, "true"])
                #expect(r.status == 125, "-p \(spec): \(r)")
                #expect(r.allLines.count == 1, "-p \(spec): expected one line: \(r)")
                let line = r.allLines.first ?? ""
                #expect(line.contains("8080") && (line.contains("already allocated") || line.contains("in use")),
                        "-p \(spec): the message does not name the port as taken: \(r)")
                #expect(f.containerIds() == ids, "-p \(spec) created a container")
                #expect(n.links() == links, "-p \(spec) left a link: \(n.links())")
                #expect(n.natRules() == rules, "-p \(spec) changed the nat table: \(n.natTable())")
            }
            let r = p.finish(timeout: 30)
            #expect(r.status == 0, "\(r)")
        }
    }

    @Test("a host port a process in the namespace listens on is refused before anything is made")
    func portBoundByProcess() throws {
        try NetworkFixture.with { n, f in
            let img = try f.initImage()
            let warm = f.run(["run", img, "true"])   // bridge0 and NAT exist from here on
            #expect(warm.status == 0, "\(warm)")
            let nc = try n.listen(tcpPort: 8082)
            let ids = f.containerIds()
            let links = n.links()
            let rules = n.natRules()
            let r = f.run(["run", "-p", "8082:80", img, "true"])
            #expect(r.status == 125, "\(r)")
            #expect(r.allLines.count == 1, "expected one line: \(r)")
            let line = r.allLines.first ?? ""
            #expect(line.contains("8082") && (line.contains("already allocated") || line.contains("in use")),
                    "the message does not name the port as taken: \(r)")
            #expect(f.containerIds() == ids, "a container was created")
            #expect(n.links() == links, "a link was left: \(n.links())")
            #expect(n.natRules() == rules, "the nat table changed: \(n.natTable())")
            nc.signal(SIGKILL)
            _ = nc.finish(timeout: 10, eofGrace: 1)
        }
    }

    @Test("bad -p specs: one line, exit 125, nothing created")
    func badSpecs() throws {
        try NetworkFixture.with { n, f in
            let img = try f.initImage()
            let warm = f.run(["run", img, "true"])
            #expect(warm.status == 0, "\(warm)")
            let store = f.storeListing()
            let links = n.links()
            let rules = n.natRules()
            for spec in ["99999:80", "abc", "80:0", "1:2:3:4", "8080:80/sctp"] {
                let r = f.run(["run", "-p", spec, img, "true"])
                #expect(r.status == 125, "-p \(spec): \(r)")
                #expect(r.allLines.count == 1, "-p \(spec): expected one line: \(r)")
                #expect(f.storeListing() == store, "-p \(spec) changed the store")
                #expect(n.links() == links, "-p \(spec) left a link: \(n.links())")
                #expect(n.natRules() == rules, "-p \(spec) changed the nat table: \(n.natTable())")
            }
        }
    }
}
