import Testing
import Glibc
import BockerCore
@testable import BockerNetwork

/// Records every request; answers each with the next scripted reply (datagrams given as hex,
/// their messages' sequence numbers rewritten to the request's) or, unscripted, a plain ack.
final class FakeNetlinkSocket: NetlinkSocket {
    var sent: [String] = []
    var script: [[String]] = []
    private var pending: [[UInt8]] = []

    func send(_ bytes: [UInt8]) throws {
        sent.append(hex(bytes))
        let seq = Array(bytes[8..<12])
        if script.isEmpty {
            // NLMSG_ERROR, NLM_F_CAPPED, error 0, then the request's header.
            pending = [unhex("24000000 0200 0001") + seq + unhex("00000000 00000000") + Array(bytes[0..<16])]
        } else {
            pending = script.removeFirst().map { datagram in
                var d = unhex(datagram)
                var off = 0
                while off + 16 <= d.count {
                    d.replaceSubrange((off + 8)..<(off + 12), with: seq)
                    off += (Int(d[off]) | Int(d[off + 1]) << 8 + 3) & ~3
                }
                return d
            }
        }
    }

    func receive() throws -> [UInt8] {
        guard !pending.isEmpty else { throw BockerError(.internal, "fake socket: nothing to receive") }
        return pending.removeFirst()
    }
}

func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef")
    return String(bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] })
}

func unhex(_ s: String) -> [UInt8] {
    let h = Array(s.utf8.filter { $0 != UInt8(ascii: " ") }.map { Character(UnicodeScalar($0)) })
    return stride(from: 0, to: h.count, by: 2).map { UInt8(String(h[$0...$0 + 1]), radix: 16)! }
}

/// Expected requests, written out field by field (x86-64: host order is little-endian).
@Suite struct NetlinkEncodingTests {
    let zeros16 = "00000000 00000000 00000000 00000000"  // an empty ifinfomsg

    @Test func vethWithPeerInAnotherNamespace() throws {
        let fake = FakeNetlinkSocket()
        try NetlinkSession(socket: fake).createVeth("bk0", peer: "eth0", peerNamespaceFD: 5)
        let expected =
            "64000000 1000 0506 01000000 00000000"   // len 100, RTM_NEWLINK, REQUEST|ACK|EXCL|CREATE, seq 1
            + zeros16                                // ifinfomsg
            + "0800 0300 626b3000"                   // IFLA_IFNAME "bk0"
            + "3c00 1200"                            // IFLA_LINKINFO, 60 bytes
            + "0900 0100 76657468 00 000000"         //   IFLA_INFO_KIND "veth" + pad
            + "2c00 0200"                            //   IFLA_INFO_DATA, 44 bytes
            + "2800 0100"                            //     VETH_INFO_PEER, 40 bytes
            + zeros16                                //       the peer's ifinfomsg
            + "0900 0300 65746830 00 000000"         //       IFLA_IFNAME "eth0" + pad
            + "0800 1c00 05000000"                   //       IFLA_NET_NS_FD 5
        #expect(fake.sent == [hex(unhex(expected))])
    }

    @Test func vethWithoutNamespace() throws {
        let fake = FakeNetlinkSocket()
        try NetlinkSession(socket: fake).createVeth("a", peer: "b", peerNamespaceFD: nil)
        let expected = "58000000 1000 0506 01000000 00000000" + zeros16 + "0600 0300 6100 0000"
            + "3000 1200" + "0900 0100 76657468 00 000000" + "2000 0200" + "1c00 0100" + zeros16
            + "0600 0300 6200 0000"
        #expect(fake.sent == [hex(unhex(expected))])
    }

    @Test func bridge() throws {
        let fake = FakeNetlinkSocket()
        try NetlinkSession(socket: fake).createBridge("br0")
        let expected = "38000000 1000 0506 01000000 00000000" + zeros16
            + "0800 0300 62723000"                   // IFLA_IFNAME "br0"
            + "1000 1200"                            // IFLA_LINKINFO, 16 bytes
            + "0b00 0100 62726964 676500 00"         //   IFLA_INFO_KIND "bridge" + pad
        #expect(fake.sent == [hex(unhex(expected))])
    }

    @Test func addressLooksUpTheIndexThenAddsLocalAddressAndBroadcast() throws {
        let fake = FakeNetlinkSocket()
        // RTM_NEWLINK reply: ifinfomsg type ARPHRD_ETHER, index 7, then IFLA_IFNAME "eth0".
        fake.script = [["2c000000 1000 0000 00000000 00000000 0000 0100 07000000 00000000 00000000 0900 0300 6574683000000000"]]
        try NetlinkSession(socket: fake).addAddress("eth0", IPv4Address("10.200.0.2")!, prefixLength: 24)
        let getlink = "2c000000 1200 0100 01000000 00000000" + zeros16 + "0900 0300 6574683000000000"
        let newaddr = "30000000 1400 0506 02000000 00000000" // len 48, RTM_NEWADDR, seq 2
            + "02 18 00 00 07000000"                 // ifaddrmsg AF_INET /24 scope universe, index 7
            + "0800 0200 0ac80002"                   // IFA_LOCAL 10.200.0.2
            + "0800 0100 0ac80002"                   // IFA_ADDRESS 10.200.0.2
            + "0800 0400 0ac800ff"                   // IFA_BROADCAST 10.200.0.255
        #expect(fake.sent == [hex(unhex(getlink)), hex(unhex(newaddr))])
    }

    @Test func defaultRoute() throws {
        let fake = FakeNetlinkSocket()
        try NetlinkSession(socket: fake).addDefaultRoute(via: IPv4Address("10.200.0.1")!)
        let expected = "24000000 1800 0506 01000000 00000000" // len 36, RTM_NEWROUTE
            + "02 00 00 00 fe 03 00 01 00000000"     // rtmsg: AF_INET, /0, main, boot, universe, unicast
            + "0800 0500 0ac80001"                   // RTA_GATEWAY 10.200.0.1
        #expect(fake.sent == [hex(unhex(expected))])
    }

    @Test func upMasterMacMtuAndDelete() throws {
        let fake = FakeNetlinkSocket()
        fake.script = [[], ["28000000 1000 0000 00000000 00000000 0000 0100 03000000 00000000 00000000 0800 0300 62723000"]]
        fake.script[0] = ["24000000 0200 0001 00000000 00000000 00000000 00000000 00000000 00000000 00000000"]
        let s = NetlinkSession(socket: fake)
        try s.setUp("eth0")
        try s.setMaster("v0", bridge: "br0")
        try s.setMAC("v0", [0x02, 0x42, 0x0a, 0xc8, 0x00, 0x02])
        try s.setMTU("v0", 1400)
        #expect(try s.deleteLink("v0"))
        let name = "0700 0300 76300000"  // IFLA_IFNAME "v0"
        #expect(fake.sent == [
            "2c000000 1000 0500 01000000 00000000 00000000 00000000 01000000 01000000 0900 0300 6574683000000000",
            "28000000 1200 0100 02000000 00000000" + zeros16 + "0800 0300 62723000",
            "30000000 1000 0500 03000000 00000000" + zeros16 + name + "0800 0a00 03000000",     // IFLA_MASTER 3
            "34000000 1000 0500 04000000 00000000" + zeros16 + name + "0a00 0100 02420ac80002 0000", // IFLA_ADDRESS
            "30000000 1000 0500 05000000 00000000" + zeros16 + name + "0800 0400 78050000",     // IFLA_MTU 1400
            "28000000 1100 0500 06000000 00000000" + zeros16 + name,                            // RTM_DELLINK
        ].map { hex(unhex($0)) })
    }

    @Test func kernelErrorNamesTheOperationAndCarriesTheExtendedAck() throws {
        let fake = FakeNetlinkSocket()
        // NLMSG_ERROR, CAPPED|ACK_TLVS, -EEXIST, echoed header, NLMSGERR_ATTR_MSG "Link exists".
        fake.script = [["34000000 0200 0003 00000000 00000000 efffffff" + "64000000 1000 0506 01000000 00000000"
                        + "1000 0100 4c696e6b2065786973747300"]]
        do {
            try NetlinkSession(socket: fake).createVeth("bk12ab34cd", peer: "eth0", peerNamespaceFD: nil)
            Issue.record("no error")
        } catch let e as BockerError {
            #expect(e.code == .exists)
            #expect(e.message == "cannot create veth 'bk12ab34cd' (peer 'eth0'): File exists (Link exists)")
        }
    }

    @Test func missingLinkIsNilAndDeleteOfMissingLinkIsFine() throws {
        let fake = FakeNetlinkSocket()
        let enodev = "24000000 0200 0001 00000000 00000000 edffffff 00000000 00000000 00000000 00000000"
        fake.script = [[enodev], [enodev]]
        let s = NetlinkSession(socket: fake)
        #expect(try s.linkIndex("nope") == nil)
        #expect(try s.deleteLink("nope") == false)
    }

    @Test func dumpCollectsMultipartRepliesUntilDone() throws {
        let fake = FakeNetlinkSocket()
        let lo = "28000000 1000 0200 00000000 00000000 00000403 01000000 49000100 00000000 0700 0300 6c6f0000"
        let eth = "2c000000 1000 0200 00000000 00000000 00000100 02000000 00000000 00000000 0900 0300 6574683000000000"
        let done = "14000000 0300 0200 00000000 00000000 00000000"
        fake.script = [[lo + eth, done]]
        let s = NetlinkSession(socket: fake)
        let links = try s.links()
        #expect(links.map(\.name) == ["lo", "eth0"])
        #expect(links.map(\.index) == [1, 2])
        #expect(links.map(\.isUp) == [true, false])
        #expect(fake.sent == [hex(unhex("20000000 1200 0103 01000000 00000000" + zeros16))])
    }
}
