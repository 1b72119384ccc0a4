import Testing
import BockerCore
@testable import BockerNetwork

@Suite struct IPv4Tests {
    @Test func parsesDottedQuads() throws {
        #expect(IPv4Address("10.200.0.1")?.value == 0x0AC8_0001)
        #expect(IPv4Address("0.0.0.0")?.value == 0)
        #expect(IPv4Address("255.255.255.255")?.value == UInt32.max)
        #expect(IPv4Address("192.168.1.20")?.bytes == [192, 168, 1, 20])
        #expect(IPv4Address("172.17.0.2")?.description == "172.17.0.2")
        #expect(IPv4Address(bytes: [10, 0, 0, 7]) == IPv4Address(10, 0, 0, 7))
        #expect(IPv4Address(bytes: [10, 0, 0]) == nil)
    }

    @Test(arguments: ["", "1", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.-4", "01.2.3.4", "1.2.3.04",
                      "1..2.3", ".1.2.3", "1.2.3.", " 1.2.3.4", "1.2.3.4 ", "a.b.c.d", "1.2.3.4/24",
                      "1000.1.1.1", "0x1.2.3.4", "１.2.3.4"])
    func rejectsBadAddresses(_ s: String) {
        #expect(IPv4Address(s) == nil)
    }

    @Test func ordersAndAdvances() throws {
        let a = try #require(IPv4Address("10.0.0.255"))
        #expect(a.advanced(by: 1).description == "10.0.1.0")
        #expect(a.advanced(by: -255).description == "10.0.0.0")
        #expect(a < a.advanced(by: 1))
        #expect(IPv4Address(UInt32.max).advanced(by: 1) == IPv4Address(0))
    }

    @Test func parsesAndNormalisesCIDRs() throws {
        let n = try IPv4Network("10.200.0.1/24")
        #expect(n.address.description == "10.200.0.0")
        #expect(n.prefixLength == 24)
        #expect(n.description == "10.200.0.0/24")
        #expect(n.netmask.description == "255.255.255.0")
        #expect(try IPv4Network("0.0.0.0/0").netmask.description == "0.0.0.0")
        #expect(try IPv4Network("10.1.2.3/32").netmask.description == "255.255.255.255")
        #expect(try IPv4Network("172.17.5.9/16") == IPv4Network("172.17.0.0/16"))
    }

    @Test(arguments: [("10.0.0.0", "expected ADDRESS/PREFIX, e.g. 10.88.0.0/16"), ("10.0.0.0/24/1", "expected ADDRESS/PREFIX, e.g. 10.88.0.0/16"),
                      ("10.0.0/24", "'10.0.0' is not an IPv4 address"), ("/24", "'' is not an IPv4 address"),
                      ("10.0.0.0/33", "prefix length must be 0-32"), ("10.0.0.0/", "prefix length must be 0-32"),
                      ("10.0.0.0/-1", "prefix length must be 0-32"), ("10.0.0.0/024", "prefix length must be 0-32"),
                      ("10.0.0.0/08", "prefix length must be 0-32"), ("10.0.0.0/x", "prefix length must be 0-32")])
    func rejectsBadCIDRs(_ cidr: String, _ reason: String) {
        do {
            _ = try IPv4Network(cidr)
            Issue.record("\(cidr) parsed")
        } catch let e as BockerError {
            #expect(e.code == .invalidArgument)
            #expect(e.message == "invalid subnet '\(cidr)': \(reason)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func containsAndOverlaps() throws {
        let n = try IPv4Network("10.88.0.0/16")
        #expect(n.contains(IPv4Address("10.88.255.255")!))
        #expect(n.contains(IPv4Address("10.88.0.0")!))
        #expect(!n.contains(IPv4Address("10.89.0.0")!))
        #expect(!n.contains(IPv4Address("10.87.255.255")!))
        #expect(try IPv4Network("0.0.0.0/0").contains(IPv4Address("203.0.113.9")!))
        #expect(n.overlaps(try IPv4Network("10.88.3.0/24")))
        #expect(try IPv4Network("10.88.3.0/24").overlaps(n))
        #expect(n.overlaps(n))
        #expect(!n.overlaps(try IPv4Network("10.89.0.0/16")))
        #expect(!(try IPv4Network("10.0.0.0/31")).overlaps(try IPv4Network("10.0.0.2/31")))
    }

    @Test func hostRanges() throws {
        let n24 = try IPv4Network("192.168.7.0/24")
        #expect(n24.hostRange.lowerBound.description == "192.168.7.1")
        #expect(n24.hostRange.upperBound.description == "192.168.7.254")
        #expect(n24.hostCount == 254)
        #expect(n24.gateway.description == "192.168.7.1")
        #expect(n24.broadcast?.description == "192.168.7.255")

        let n30 = try IPv4Network("10.0.0.4/30")
        #expect(n30.hostRange == IPv4Address("10.0.0.5")!...IPv4Address("10.0.0.6")!)
        #expect(n30.hostCount == 2)
        #expect(n30.gateway.description == "10.0.0.5")
        #expect(n30.broadcast?.description == "10.0.0.7")

        let n31 = try IPv4Network("10.0.0.7/31")
        #expect(n31.address.description == "10.0.0.6")
        #expect(n31.hostRange == IPv4Address("10.0.0.6")!...IPv4Address("10.0.0.7")!)
        #expect(n31.hostCount == 2)
        #expect(n31.broadcast == nil)

        let n32 = try IPv4Network("10.0.0.9/32")
        #expect(n32.hostRange == IPv4Address("10.0.0.9")!...IPv4Address("10.0.0.9")!)
        #expect(n32.hostCount == 1)
        #expect(n32.gateway.description == "10.0.0.9")
        #expect(n32.broadcast == nil)

        let n16 = try IPv4Network("172.17.0.0/16")
        #expect(n16.hostCount == 65534)
        #expect(n16.gateway.description == "172.17.0.1")
    }

    @Test func dockerMACs() throws {
        let mac = dockerMAC(for: IPv4Address("172.17.0.2")!)
        #expect(mac == [0x02, 0x42, 0xac, 0x11, 0x00, 0x02])
        #expect(formatMAC(mac) == "02:42:ac:11:00:02")
        #expect(formatMAC(dockerMAC(for: IPv4Address("10.255.0.254")!)) == "02:42:0a:ff:00:fe")
        #expect(parseMAC("02:42:AC:11:00:02") == mac)
        #expect(parseMAC("02:42:ac:11:00") == nil)
        #expect(parseMAC("02:42:ac:11:00:2") == nil)
        #expect(parseMAC("02:42:ac:11:00:zz") == nil)
        #expect(parseMAC("02:42:ac:11:00:+2") == nil)
    }
}
