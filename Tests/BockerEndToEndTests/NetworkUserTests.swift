import Glibc
import Testing

/// `bocker network create|ls|rm`, `run --network NAME`, name resolution, the Lua module.
@Suite("network: user networks")
struct NetworkUserTests {
    /// (name, subnet) rows of `network ls` after checking its header.
    private func networks(_ f: BockerFixture, sourceLocation: SourceLocation = #_sourceLocation) -> [String: String] {
        let ls = f.run(["network", "ls"])
        #expect(ls.status == 0, "\(ls)", sourceLocation: sourceLocation)
        let header = ls.stdoutLines.first.map(fields) ?? []
        #expect(header.count >= 2 && header[0] == "NETWORK" && header[1] == "SUBNET",
                "network ls header: \(ls)", sourceLocation: sourceLocation)
        var rows: [String: String] = [:]
        for line in ls.stdoutLines.dropFirst() {
            let c = fields(line)
            if c.count >= 2 { rows[c[0]] = c[1] }
        }
        return rows
    }

    @Test("create, ls, run --network NAME, rm")
    func lifecycle() throws {
        try NetworkFixture.with { n, f in
            let img = try f.initImage()
            #expect(networks(f) == ["bridge": "10.0.0.0/24"], "network ls of a fresh store")

            let create = f.run(["network", "create", "testnet", "--subnet", "10.88.0.0/24"])
            #expect(create.status == 0, "\(create)")
            #expect(create.stdout == "testnet\n", "\(create)")
            let auto = f.run(["network", "create", "autonet"])
            #expect(auto.status == 0, "\(auto)")
            #expect(auto.stdout == "autonet\n", "\(auto)")

            let rows = networks(f)
            #expect(rows["bridge"] == "10.0.0.0/24", "\(rows)")
            #expect(rows["testnet"] == "10.88.0.0/24", "\(rows)")
            #expect(rows.count == 3, "\(rows)")
            let autoSubnet = try #require(rows["autonet"], "autonet is not listed: \(rows)")
            #expect(parseCIDR(autoSubnet) != nil, "autonet's subnet \(autoSubnet)")
            #expect(!cidrsOverlap(autoSubnet, "10.0.0.0/24") && !cidrsOverlap(autoSubnet, "10.88.0.0/24"),
                    "autonet's subnet \(autoSubnet) overlaps another network")

            let r = f.run(["run", "--network", "testnet", img, "sh", "-c",
                           "echo @addr; ip -4 addr show eth0; echo @mac; ip link show eth0; echo @route; ip route; "
                           + "echo @ping; ping -c1 -W2 10.88.0.1 && echo PING-OK"])
            #expect(r.status == 0, "\(r)")
            let s = sections(r.stdout)
            let inet = firstInet(in: s["addr"] ?? "")
            #expect(inet?.ip == "10.88.0.2" && inet?.prefix == 24, "address on testnet (expected 10.88.0.2/24): \(r)")
            #expect(firstMAC(in: s["mac"] ?? "") == "02:42:0a:58:00:02", "MAC on testnet: \(r)")
            #expect(splitLines(s["route"] ?? "").contains { trimmed($0).hasPrefix("default via 10.88.0.1") },
                    "no default route via 10.88.0.1: \(r)")
            #expect(s["ping"]?.contains("PING-OK") == true, "ping of testnet's gateway failed: \(r)")
            #expect(n.vethLinksAfterTeardown().isEmpty, "veth left after the container exited: \(n.links())")

            let rmAuto = f.run(["network", "rm", "autonet"])
            #expect(rmAuto.status == 0, "\(rmAuto)")
            #expect(rmAuto.stdout == "autonet\n", "\(rmAuto)")
            let rmTest = f.run(["network", "rm", "testnet"])
            #expect(rmTest.status == 0, "network rm of a network whose only container exited: \(rmTest)")
            #expect(rmTest.stdout == "testnet\n", "\(rmTest)")
            #expect(networks(f) == ["bridge": "10.0.0.0/24"], "network ls after rm")
            #expect(!n.natRules().contains { $0.contains("10.88.0.0/24") },
                    "testnet's NAT rule is left after network rm: \(n.natTable())")
        }
    }

    @Test("bad subnets, duplicate names, overlapping subnets: refused, nothing created")
    func badInput() throws {
        try NetworkFixture.with { n, f in
            let create = f.run(["network", "create", "testnet", "--subnet", "10.88.0.0/24"])
            #expect(create.status == 0, "\(create)")
            let rows = networks(f)
            let links = n.links()
            for cidr in ["10.0.0.0/33", "300.1.1.0/24", "abc"] {
                let r = f.run(["network", "create", "badnet", "--subnet", cidr])
                #expect(r.status != 0, "--subnet \(cidr): \(r)")
                #expect(r.allLines.count == 1, "--subnet \(cidr): expected one line: \(r)")
                #expect(networks(f) == rows, "--subnet \(cidr) created a network")
                #expect(n.links() == links, "--subnet \(cidr) made a link: \(n.links())")
            }
            let cases: [(String, [String])] = [
                ("a duplicate name", ["testnet", "--subnet", "10.89.0.0/24"]),
                ("a subnet containing testnet's", ["wide", "--subnet", "10.88.0.0/16"]),
                ("a subnet inside testnet's", ["narrow", "--subnet", "10.88.0.128/25"]),
                ("the default bridge's subnet", ["clash", "--subnet", "10.0.0.0/24"]),
            ]
            for (what, args) in cases {
                let r = f.run(["network", "create"] + args)
                #expect(r.status != 0, "\(what) was accepted: \(r)")
                #expect(r.allLines.count == 1, "\(what): expected one line: \(r)")
                #expect(networks(f) == rows, "\(what) changed the network list")
                #expect(n.links() == links, "\(what) made a link: \(n.links())")
            }
            let rmBridge = f.run(["network", "rm", "bridge"])
            #expect(rmBridge.status != 0, "network rm bridge: \(rmBridge)")
            let rmNone = f.run(["network", "rm", "nosuch"])
            #expect(rmNone.status != 0, "network rm nosuch: \(rmNone)")
            #expect(networks(f) == rows, "the network list changed")
        }
    }

    @Test("run --network nosuch: one line naming it, exit 125, nothing created")
    func unknownNetwork() throws {
        try NetworkFixture.with { n, f in
            let img = try f.initImage()
            let store = f.storeListing()
            let r = f.run(["run", "--network", "nosuch", img, "true"])
            #expect(r.status == 125, "\(r)")
            #expect(r.allLines.count == 1 && r.allLines.first?.contains("nosuch") == true, "\(r)")
            #expect(f.containerIds().isEmpty, "a container was created")
            #expect(f.storeListing() == store, "the store changed")
            #expect(n.links() == ["lo"], "links: \(n.links())")
        }
    }

    @Test("containers on a user network reach each other by name: ping and wget")
    func nameResolution() throws {
        try NetworkFixture.with { n, f in
            let img = try n.makeImage(files: ["var/www/index.html": webPage])
            let create = f.run(["network", "create", "appnet", "--subnet", "10.89.0.0/24"])
            #expect(create.status == 0, "\(create)")
            let (web, _) = try n.startContainer(img, options: ["--name", "web", "--network", "appnet"],
                                                script: "httpd -p 80 -h /var/www; echo ready; read line; true")
            let ping = f.run(["run", "--network", "appnet", img, "ping", "-c1", "-W2", "web"])
            #expect(ping.status == 0, "ping -c1 -W2 web from appnet: \(ping)")
            #expect(ping.stdout.contains("10.89.0.2"), "web did not resolve to its address 10.89.0.2: \(ping)")
            let get = f.run(["run", "--network", "appnet", img, "timeout", "5", "wget", "-qO-", "http://web:80/"])
            #expect(get.status == 0, "wget http://web:80/ from appnet: \(get)")
            #expect(get.stdout == webPage, "\(get)")
            let r = web.finish(timeout: 30)
            #expect(r.status == 0, "\(r)")
        }
    }

    @Test("network rm is refused while a running container uses the network; its bridge goes with it")
    func rmInUse() throws {
        try NetworkFixture.with { n, f in
            let img = try f.initImage()
            let create = f.run(["network", "create", "usenet", "--subnet", "10.91.0.0/24"])
            #expect(create.status == 0, "\(create)")
            let script = try f.writeFile("bridge.lua", "print(bocker.network.get('usenet').bridge)\n")
            let (p, _) = try n.startContainer(img, options: ["--network", "usenet"], script: "echo ready; read line; true")
            let bridge = trimmed(f.run(["script", script]).stdout)
            #expect(!bridge.isEmpty && n.links().contains(bridge), "usenet's bridge '\(bridge)' is not in \(n.links())")

            let refused = f.run(["network", "rm", "usenet"])
            #expect(refused.status != 0, "network rm of a network in use: \(refused)")
            #expect(networks(f)["usenet"] == "10.91.0.0/24", "usenet vanished while in use")

            let r = p.finish(timeout: 30)
            #expect(r.status == 0, "\(r)")
            let rm = f.run(["network", "rm", "usenet"])
            #expect(rm.status == 0, "network rm after its container exited: \(rm)")
            #expect(rm.stdout == "usenet\n", "\(rm)")
            #expect(networks(f)["usenet"] == nil, "usenet still listed")
            if !bridge.isEmpty {
                #expect(!n.links().contains(bridge), "usenet's bridge \(bridge) is left: \(n.links())")
            }
        }
    }

    @Test("Lua: bocker.network create/get/list/remove and c.network of a running container")
    func luaModule() throws {
        try NetworkFixture.with { n, f in
            let img = try f.initImage()
            let script = try f.writeFile("net.lua", """
                local net = bocker.network
                local c = net.create{name = "luanet", subnet = "10.90.0.0/24"}
                print("created", c.name, c.subnet, c.gateway, type(c.bridge) == "string" and c.bridge ~= "")
                local g = net.get("luanet")
                print("get", g.name, g.subnet, g.gateway)
                local names = {}
                for _, x in ipairs(net.list()) do names[#names + 1] = x.name end
                table.sort(names)
                print("list", table.concat(names, ","))
                net.remove("luanet")
                print("gone", (pcall(net.get, "luanet")))
                local names2 = {}
                for _, x in ipairs(net.list()) do names2[#names2 + 1] = x.name end
                print("list", table.concat(names2, ","))

                """)
            let r = f.run(["script", script])
            #expect(r.status == 0, "\(r)")
            #expect(r.stdoutLines == [
                "created\tluanet\t10.90.0.0/24\t10.90.0.1\ttrue",
                "get\tluanet\t10.90.0.0/24\t10.90.0.1",
                "list\tbridge,luanet",
                "gone\tfalse",
                "list\tbridge",
            ], "\(r)")

            let (p, id) = try n.startContainer(img, options: ["-p", "8090:80"], script: "echo ready; read line; true")
            let show = try f.writeFile("show.lua", """
                local n = bocker.container.get(arg[1]).network
                print(n.name, n.ip, n.mac, n.gateway)
                local k = 0
                for _ in pairs(n.ports) do k = k + 1 end
                print("ports", k)

                """)
            let s = f.run(["script", show, id])
            #expect(s.status == 0, "\(s)")
            #expect(s.stdoutLines == ["bridge\t10.0.0.2\t02:42:0a:00:00:02\t10.0.0.1", "ports\t1"], "\(s)")
            let done = p.finish(timeout: 30)
            #expect(done.status == 0, "\(done)")
        }
    }
}
