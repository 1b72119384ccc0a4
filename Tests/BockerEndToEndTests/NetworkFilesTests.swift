import Glibc
import Testing

/// /etc/resolv.conf and /etc/hosts inside a container.
@Suite("network: resolv.conf and hosts")
struct NetworkFilesTests {
    /// Nameservers of a resolv.conf text.
    private func nameservers(_ text: String) -> [String] {
        splitLines(text).compactMap { line in
            let f = fields(line)
            return f.count >= 2 && f[0] == "nameserver" ? f[1] : nil
        }
    }

    private func isLoopback(_ ip: String) -> Bool { ip.hasPrefix("127.") || ip == "::1" }

    @Test("resolv.conf is the host's (or nameserver 8.8.8.8 when the host's is a loopback resolver); hosts names the container")
    func contents() throws {
        let hostResolv = try #require(Host.readFile("/etc/resolv.conf"), "cannot read the host's /etc/resolv.conf")
        let hostHosts = Host.readFile("/etc/hosts")
        try NetworkFixture.with { _, f in
            let img = try f.initImage()
            let (r, id) = f.runNew(["run", "--name", "hostsy", img, "sh", "-c",
                                    "echo @resolv; cat /etc/resolv.conf; echo @hosts; cat /etc/hosts; "
                                    + "echo @addr; ip -4 addr show eth0; echo @mounts; cat /proc/self/mountinfo"])
            #expect(r.status == 0, "\(r)")
            let cid = try #require(id)
            let s = sections(r.stdout)
            let resolv = s["resolv"] ?? ""
            if nameservers(hostResolv).contains(where: isLoopback) {
                #expect(nameservers(resolv) == ["8.8.8.8"], "the host uses a loopback resolver; the container's resolv.conf: \(resolv)")
            } else {
                #expect(resolv == hostResolv, "the container's resolv.conf is not the host's:\n\(resolv)\nhost's:\n\(hostResolv)")
            }

            let hosts = splitLines(s["hosts"] ?? "").map(fields)
            #expect(hosts.contains { $0.first == "127.0.0.1" && $0.contains("localhost") }, "no 127.0.0.1 localhost: \(r)")
            let ip = try #require(firstInet(in: s["addr"] ?? "")?.ip, "\(r)")
            let own = hosts.first { $0.first == ip }
            #expect(own?.contains(cid) == true, "no line '\(ip) \(cid) …' in /etc/hosts: \(r)")
            #expect(own?.contains("hostsy") == true, "the container's name is not on its /etc/hosts line: \(r)")

            // Both are bind mounts, not files written into the container's root filesystem.
            let mountPoints = Set(splitLines(s["mounts"] ?? "").compactMap { l -> String? in
                let p = fields(l)
                return p.count > 4 ? p[4] : nil
            })
            #expect(mountPoints.contains("/etc/resolv.conf"), "/etc/resolv.conf is not a mount point: \(s["mounts"] ?? "")")
            #expect(mountPoints.contains("/etc/hosts"), "/etc/hosts is not a mount point: \(s["mounts"] ?? "")")
        }
        #expect(Host.readFile("/etc/resolv.conf") == hostResolv, "the host's /etc/resolv.conf changed")
        #expect(Host.readFile("/etc/hosts") == hostHosts, "the host's /etc/hosts changed")
    }

    @Test("a loopback resolver on the host becomes nameserver $BOCKER_DNS (default 8.8.8.8)")
    func loopbackResolver() throws {
        let hostResolv = Host.readFile("/etc/resolv.conf")
        try NetworkFixture.with { n, f in
            let img = try f.initImage()
            let fake = try f.writeFile("loopback-resolv.conf", "nameserver 127.0.0.53\noptions edns0\n")
            // bocker runs in a private mount namespace whose /etc/resolv.conf is `fake`; --rm so that
            // nothing it mounts outlives that namespace.
            let saved = f.commandPrefix
            f.commandPrefix = ["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c",
                               "mount --bind \"$0\" /etc/resolv.conf && exec nsenter --net=\(n.nsPath) -- \"$@\"", fake]
            defer { f.commandPrefix = saved }
            let plain = f.run(["run", "--rm", img, "cat", "/etc/resolv.conf"])
            #expect(plain.status == 0, "\(plain)")
            #expect(nameservers(plain.stdout) == ["8.8.8.8"], "with a loopback resolver on the host: \(plain)")
            let custom = f.run(["run", "--rm", img, "cat", "/etc/resolv.conf"], env: ["BOCKER_DNS": "10.9.9.9"])
            #expect(custom.status == 0, "\(custom)")
            #expect(nameservers(custom.stdout) == ["10.9.9.9"], "with BOCKER_DNS=10.9.9.9: \(custom)")
            #expect(Host.readFile(fake) == "nameserver 127.0.0.53\noptions edns0\n", "bocker wrote to the host's resolv.conf")
        }
        #expect(Host.readFile("/etc/resolv.conf") == hostResolv, "the host's /etc/resolv.conf changed")
    }

    @Test("an image whose /etc/hosts and /etc/resolv.conf are symlinks to host paths: bocker does not write through them")
    func symlinksDoNotWriteThrough() throws {
        let hostResolv = Host.readFile("/etc/resolv.conf")
        let hostHosts = Host.readFile("/etc/hosts")
        try NetworkFixture.with { n, f in
            let original = "ORIGINAL, must not change\n"
            let hostsOutside = try f.writeFile("hostfile-outside", original)
            let resolvOutside = try f.writeFile("resolv-outside", original)
            let img = try n.makeImage(symlinks: [
                "etc/hosts": hostsOutside,                                   // absolute
                "etc/resolv.conf": "../../../../../../../../.." + resolvOutside, // relative, climbing out
            ])
            let r = f.run(["run", img, "sh", "-c", "echo @hosts; cat /etc/hosts; echo @resolv; cat /etc/resolv.conf"])
            #expect(Host.readFile(hostsOutside) == original, "bocker wrote through the image's /etc/hosts symlink")
            #expect(Host.readFile(resolvOutside) == original, "bocker wrote through the image's /etc/resolv.conf symlink")
            #expect(r.status == 0, "\(r)")
            #expect(sections(r.stdout)["hosts"]?.contains("localhost") == true, "the container's /etc/hosts: \(r)")

            // Dangling symlinks: bocker must not create their targets on the host either.
            let missingHosts = f.tmp + "/created-hosts"
            let missingResolv = f.tmp + "/created-resolv"
            let dangling = try n.makeImage(symlinks: ["etc/hosts": missingHosts, "etc/resolv.conf": missingResolv])
            let d = f.run(["run", dangling, "cat", "/etc/hosts"])
            #expect(!Host.exists(missingHosts), "bocker created the target of the image's dangling /etc/hosts symlink")
            #expect(!Host.exists(missingResolv), "bocker created the target of the image's dangling /etc/resolv.conf symlink")
            #expect(d.status == 0, "\(d)")
            #expect(d.stdout.contains("localhost"), "\(d)")
        }
        #expect(Host.readFile("/etc/resolv.conf") == hostResolv, "the host's /etc/resolv.conf changed")
        #expect(Host.readFile("/etc/hosts") == hostHosts, "the host's /etc/hosts changed")
    }
}
