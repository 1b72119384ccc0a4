import BockerCore

/// One IPv4 address, held as its 32-bit value (a.b.c.d = a<<24 | b<<16 | c<<8 | d).
public struct IPv4Address: Hashable, Comparable, CustomStringConvertible, Sendable {
    /// The address as a number, most significant byte first in dotted notation.
    public let value: UInt32

    public init(_ value: UInt32) { self.value = value }

    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        value = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }

    /// Four bytes in network order; nil for any other count.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 4 else { return nil }
        var v: UInt32 = 0
        for b in bytes { v = v << 8 | UInt32(b) }
        value = v
    }

    /// A strict dotted quad: four decimal parts 0-255, no signs, spaces or leading zeros.
    public init?(_ string: String) {
        var v: UInt32 = 0
        var parts = 0
        var part: UInt32 = 0
        var digits = 0
        for c in string.utf8 {
            if c == UInt8(ascii: ".") {
                guard digits > 0, parts < 3 else { return nil }
                v = v << 8 | part
                parts += 1
                part = 0
                digits = 0
                continue
            }
            guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9"), digits < 3 else { return nil }
            if digits == 1 && part == 0 { return nil }  // leading zero ("01")
            part = part * 10 + UInt32(c - UInt8(ascii: "0"))
            guard part <= 255 else { return nil }
            digits += 1
        }
        guard parts == 3, digits > 0 else { return nil }
        value = v << 8 | part
    }

    /// The four bytes in network order (as they go on the wire and into netlink attributes).
    public var bytes: [UInt8] {
        [UInt8(truncatingIfNeeded: value >> 24), UInt8(truncatingIfNeeded: value >> 16),
         UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)]
    }

    /// The address `n` places further on (wrapping around at 0.0.0.0 / 255.255.255.255).
    public func advanced(by n: Int) -> IPv4Address {
        IPv4Address(value &+ UInt32(truncatingIfNeeded: n))
    }

    public var description: String {
        "\(value >> 24).\(value >> 16 & 0xff).\(value >> 8 & 0xff).\(value & 0xff)"
    }

    public static func < (lhs: IPv4Address, rhs: IPv4Address) -> Bool { lhs.value < rhs.value }
}

/// An IPv4 subnet in CIDR form: its (normalised) network address and prefix length.
public struct IPv4Network: Hashable, CustomStringConvertible, Sendable {
    /// The network address: host bits are always zero.
    public let address: IPv4Address
    /// 0...32.
    public let prefixLength: Int

    /// Any address inside the subnet; host bits are cleared.
    public init(address: IPv4Address, prefixLength: Int) throws {
        guard (0...32).contains(prefixLength) else {
            throw BockerError(.invalidArgument, "invalid subnet '\(address)/\(prefixLength)': prefix length must be 0-32")
        }
        self.prefixLength = prefixLength
        self.address = IPv4Address(address.value & IPv4Network.mask(prefixLength))
    }

    /// "a.b.c.d/n"; host bits are cleared ("10.1.2.3/24" is 10.1.2.0/24).
    public init(_ cidr: String) throws {
        let parts = cidr.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            throw BockerError(.invalidArgument, "invalid subnet '\(cidr)': expected ADDRESS/PREFIX, e.g. 10.88.0.0/16")
        }
        guard let addr = IPv4Address(String(parts[0])) else {
            throw BockerError(.invalidArgument, "invalid subnet '\(cidr)': '\(parts[0])' is not an IPv4 address")
        }
        let p = parts[1]
        guard !p.isEmpty, p.count <= 2, p.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
              let len = Int(p), len <= 32, p.count == 1 || p.first != "0" else {
            throw BockerError(.invalidArgument, "invalid subnet '\(cidr)': prefix length must be 0-32")
        }
        try self.init(address: addr, prefixLength: len)
    }

    static func mask(_ prefixLength: Int) -> UInt32 {
        prefixLength == 0 ? 0 : UInt32.max << UInt32(32 - prefixLength)
    }

    /// e.g. 255.255.255.0 for a /24.
    public var netmask: IPv4Address { IPv4Address(IPv4Network.mask(prefixLength)) }

    public func contains(_ a: IPv4Address) -> Bool {
        a.value & IPv4Network.mask(prefixLength) == address.value
    }

    /// The last address of the subnet when it has one reserved for broadcast (prefix ≤ 30).
    public var broadcast: IPv4Address? {
        prefixLength <= 30 ? lastAddress : nil
    }

    var lastAddress: IPv4Address { IPv4Address(address.value | ~IPv4Network.mask(prefixLength)) }

    /// Every usable host address: without network and broadcast for prefix ≤ 30; both addresses
    /// of a /31 (RFC 3021); the one address of a /32.
    public var hostRange: ClosedRange<IPv4Address> {
        prefixLength >= 31 ? address...lastAddress : address.advanced(by: 1)...lastAddress.advanced(by: -1)
    }

    /// How many addresses `hostRange` holds.
    public var hostCount: Int { Int(hostRange.upperBound.value - hostRange.lowerBound.value) + 1 }

    /// The first usable host, which a bridge takes as the containers' gateway (10.88.0.1 in 10.88.0.0/16).
    public var gateway: IPv4Address { hostRange.lowerBound }

    /// True when the two subnets share at least one address.
    public func overlaps(_ other: IPv4Network) -> Bool {
        contains(other.address) || other.contains(address)
    }

    public var description: String { "\(address)/\(prefixLength)" }
}

/// Docker's MAC address for a container address: 02:42 followed by the four address bytes.
public func dockerMAC(for address: IPv4Address) -> [UInt8] {
    [0x02, 0x42] + address.bytes
}

/// "02:42:0a:58:00:02": lower-case hex bytes joined by colons.
public func formatMAC(_ mac: [UInt8]) -> String {
    let hex: [Character] = Array("0123456789abcdef")
    var s = ""
    s.reserveCapacity(mac.count * 3)
    for (i, b) in mac.enumerated() {
        if i > 0 { s.append(":") }
        s.append(hex[Int(b >> 4)])
        s.append(hex[Int(b & 0xf)])
    }
    return s
}

/// Six colon-separated hex bytes ("02:42:0A:58:00:02"); nil for anything else.
public func parseMAC(_ string: String) -> [UInt8]? {
    let parts = string.split(separator: ":", omittingEmptySubsequences: false)
    guard parts.count == 6 else { return nil }
    var mac: [UInt8] = []
    mac.reserveCapacity(6)
    for p in parts {
        guard p.utf8.count == 2, p.utf8.allSatisfy({ UInt8(ascii: "0")...UInt8(ascii: "9") ~= $0 || UInt8(ascii: "a")...UInt8(ascii: "f") ~= $0 | 0x20 }),
              let b = UInt8(p, radix: 16) else { return nil }
        mac.append(b)
    }
    return mac
}
