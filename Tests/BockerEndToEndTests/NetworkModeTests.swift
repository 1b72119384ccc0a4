import Glibc
import Testing

/// `run --network none` and `run --network host`.
@Suite("network: none and host modes")
struct NetworkModeTests {
    @Test("--network none: only lo, and no veth on the host side")
    func none() throws {
        try NetworkFixture.with { n, f in
            let img = try f.initImage()
            let (p, _) = try n.startContainer(img, options: ["--network", "none"],
                                              script: "echo @links; ip -o link; echo @addr; ip -4 addr; echo ready; read line; true")
            let s = sections(p.stdoutText)
            #expect(linkNames(inOneLineOutput: s["links"] ?? "") == ["lo"], "links in a --network none container: \(p.stdoutText)")
            #expect(allInets(in: s["addr"] ?? "") == ["127.0.0.1"], "addresses: \(p.stdoutText)")
            let hostSide = n.links().filter { $0 != "lo" && $0 != "bridge0" }
            #expect(hostSide.isEmpty, "--network none made links in the namespace: \(n.links())")
            let r = p.finish(timeout: 30)
            #expect(r.status == 0, "\(r)")
        }
    }

    @Test("--network host: the container sees the namespace's own links, and bocker adds none")
    func host() throws {
        try NetworkFixture.with { n, f in
            let img = try f.initImage()
            // A dummy link; where the kernel has no dummy driver, a bridge serves the same purpose.
            var add = runTool(["ip", "-n", n.name, "link", "add", "dummy0", "type", "dummy"])
            if add.status != 0 { add = runTool(["ip", "-n", n.name, "link", "add", "dummy0", "type", "bridge"]) }
            try #require(add.status == 0, "\(add)")
            let before = n.links()
            #expect(before == ["dummy0", "lo"])
            let (p, _) = try n.startContainer(img, options: ["--network", "host"],
                                              script: "echo @links; ip -o link; echo ready; read line; true")
            let seen = linkNames(inOneLineOutput: sections(p.stdoutText)["links"] ?? "")
            #expect(seen.contains("dummy0") && seen.contains("lo"), "a --network host container's links: \(p.stdoutText)")
            #expect(!seen.contains("eth0"), "a --network host container got an eth0: \(p.stdoutText)")
            let during = n.links()
            #expect(Set(seen) == Set(during), "the container's links \(seen) are not the namespace's \(during)")
            #expect(during.filter { !before.contains($0) && $0 != "bridge0" }.isEmpty,
                    "--network host made links: \(during)")
            let r = p.finish(timeout: 30)
            #expect(r.status == 0, "\(r)")
            #expect(n.links().filter { $0 != "bridge0" } == before, "links after: \(n.links())")
        }
    }
}
