import Testing
import Glibc
import BockerCore
@testable import BockerNetwork

/// The inode of the calling thread's network namespace.
private func currentNetnsInode() -> UInt {
    var st = stat()
    return stat("/proc/thread-self/ns/net", &st) == 0 ? UInt(st.st_ino) : 0
}

/// Real rtnetlink, as root, always inside namespaces the tests create (never the machine's own).
@Suite(.enabled(if: geteuid() == 0, "needs root for network namespaces"))
struct NetlinkKernelTests {
    @Test func createLeavesTheThreadInItsOwnNamespace() throws {
        let before = currentNetnsInode()
        let ns = try NetworkNamespace.create()
        defer { ns.close() }
        #expect(currentNetnsInode() == before)
        var st = stat()
        #expect(fstat(ns.fd, &st) == 0)
        #expect(UInt(st.st_ino) != before)
        let s = try ns.session()
        #expect(currentNetnsInode() == before)
        #expect(try s.linkNames() == ["lo"])
        #expect(try s.link("lo")?.isUp == false)
        ns.close()
        #expect(ns.fd == -1)
        #expect(throws: BockerError.self) { try ns.session() }
    }

    @Test func bridgeVethAddressesAndRouteThenCleanup() throws {
        let hostNS = try NetworkNamespace.create()
        defer { hostNS.close() }
        let ctNS = try NetworkNamespace.create()
        defer { ctNS.close() }
        let host = try hostNS.session()
        let ct = try ctNS.session()
        let subnet = try IPv4Network("10.200.0.0/24")
        let ctAddr = subnet.gateway.advanced(by: 1)

        // Host side: bridge with the gateway address; creating it twice is fine.
        try host.createBridge("bk-br0")
        try host.createBridge("bk-br0")
        try host.setUp("bk-br0")
        try host.addAddress("bk-br0", subnet.gateway, prefixLength: 24)
        #expect(try host.addresses(of: "bk-br0").map { "\($0.0)/\($0.1)" } == ["10.200.0.1/24"])

        // The pair: peer born directly in the container namespace as eth0.
        try host.createVeth("bkv0", peer: "eth0", peerNamespaceFD: ctNS.fd)
        try host.setMaster("bkv0", bridge: "bk-br0")
        try host.setUp("bkv0")
        #expect(Set(try host.linkNames()) == ["lo", "bk-br0", "bkv0"])
        let bridge = try #require(try host.link("bk-br0"))
        let hostEnd = try #require(try host.link("bkv0"))
        #expect(bridge.kind == "bridge")
        #expect(hostEnd.kind == "veth")
        #expect(hostEnd.master == bridge.index)
        #expect(hostEnd.isUp)

        // Container side: lo, eth0 with Docker's MAC, address and default route.
        let mac = dockerMAC(for: ctAddr)
        try ct.setUp("lo")
        try ct.setMAC("eth0", mac)
        try ct.setMTU("eth0", 1400)
        try ct.setUp("eth0")
        try ct.addAddress("eth0", ctAddr, prefixLength: 24)
        try ct.addDefaultRoute(via: subnet.gateway)
        #expect(Set(try ct.linkNames()) == ["lo", "eth0"])
        let eth0 = try #require(try ct.link("eth0"))
        #expect(eth0.mac == mac)
        #expect(eth0.mtu == 1400)
        #expect(eth0.isUp)
        #expect(try ct.link("lo")?.isUp == true)
        #expect(try ct.addresses(of: "eth0").map { "\($0.0)/\($0.1)" } == ["10.200.0.2/24"])
        #expect(try ct.addresses(of: "lo").map { "\($0.0)/\($0.1)" } == ["127.0.0.1/8"])
        #expect(try ct.defaultGateway() == subnet.gateway)
        #expect(try host.defaultGateway() == nil)

        // Errors name what failed.
        let dup = #expect(throws: BockerError.self) { try ct.addAddress("eth0", ctAddr, prefixLength: 24) }
        #expect(dup?.code == .exists)
        #expect(dup?.message.hasPrefix("cannot add address 10.200.0.2/24 to 'eth0': File exists") == true)
        let dupVeth = #expect(throws: BockerError.self) { try host.createVeth("bkv0", peer: "x0", peerNamespaceFD: nil) }
        #expect(dupVeth?.code == .exists)
        #expect(dupVeth?.message.hasPrefix("cannot create veth 'bkv0' (peer 'x0'): File exists") == true)
        let notBridge = #expect(throws: BockerError.self) { try host.createBridge("bkv0") }
        #expect(notBridge?.message == "cannot create bridge 'bkv0': an interface of that name exists and is a veth, not a bridge")
        let route = #expect(throws: BockerError.self) { try ct.addDefaultRoute(via: subnet.gateway) }
        #expect(route?.code == .exists)
        let noLink = #expect(throws: BockerError.self) { try ct.setUp("nope0") }
        #expect(noLink?.code == .notFound)
        #expect(noLink?.message.hasPrefix("cannot bring up 'nope0': No such device") == true)
        let noAddrLink = #expect(throws: BockerError.self) { try ct.addresses(of: "nope0") }
        #expect(noAddrLink?.code == .notFound)
        #expect(try ct.linkIndex("nope0") == nil)
        #expect(throws: BockerError.self) { try ct.setUp("bad/name") }

        // Deleting the host end removes the pair; then the bridge; nothing is left.
        #expect(try host.deleteLink("bkv0"))
        #expect(try ct.linkNames() == ["lo"])
        #expect(try ct.defaultGateway() == nil)
        #expect(try host.deleteLink("bk-br0"))
        #expect(try host.deleteLink("bk-br0") == false)
        #expect(try host.linkNames() == ["lo"])
    }

    @Test func closingTheContainerNamespaceRemovesTheHostEnd() throws {
        let hostNS = try NetworkNamespace.create()
        defer { hostNS.close() }
        let host = try hostNS.session()
        do {
            let ctNS = try NetworkNamespace.create()
            try host.createVeth("bkv1", peer: "eth0", peerNamespaceFD: ctNS.fd)
            #expect(try host.linkIndex("bkv1") != nil)
            ctNS.close()  // no session holds it either, so the kernel tears it down
        }
        var gone = false
        for _ in 0..<100 where !gone {
            gone = try host.linkIndex("bkv1") == nil
            if !gone { usleep(50_000) }
        }
        #expect(gone)
        #expect(try host.linkNames() == ["lo"])
    }

    @Test func opensANamespaceByPath() throws {
        let ns = try NetworkNamespace.create()
        defer { ns.close() }
        let again = try NetworkNamespace.open(ns.path)
        defer { again.close() }
        try again.session().createBridge("bk-br1")
        #expect(try ns.session().linkNames().contains("bk-br1"))
        let missing = #expect(throws: BockerError.self) { try NetworkNamespace.open("/nonexistent/ns") }
        #expect(missing?.code == .notFound)
    }
}

@Suite struct SysctlNameTests {
    @Test func rejectsPathsAndMissingKeys() {
        let bad = #expect(throws: BockerError.self) { try writeSysctl("net/../../etc", "1") }
        #expect(bad?.code == .invalidArgument)
        let missing = #expect(throws: BockerError.self) { try writeSysctl("net.ipv4.no_such_key_bk", "1") }
        #expect(missing?.code == .notFound)
        #expect(missing?.message.hasPrefix("cannot set sysctl net.ipv4.no_such_key_bk=1: ") == true)
    }
}
