import Glibc
import CBocker
import BockerCore

// rtnetlink wire format: message building, parsing and the socket. Everything is in host byte
// order except addresses, which are network order (see IPv4Address.bytes). Constants are from
// <linux/netlink.h>, <linux/rtnetlink.h>, <linux/if_link.h>, <linux/if_addr.h>, <linux/veth.h>.

/// Netlink and rtnetlink numbers this module uses.
enum NL {
    // nlmsghdr types
    static let noop: UInt16 = 1, error: UInt16 = 2, done: UInt16 = 3, overrun: UInt16 = 4
    static let newLink: UInt16 = 16, delLink: UInt16 = 17, getLink: UInt16 = 18
    static let newAddr: UInt16 = 20, delAddr: UInt16 = 21, getAddr: UInt16 = 22
    static let newRoute: UInt16 = 24, delRoute: UInt16 = 25, getRoute: UInt16 = 26
    // nlmsghdr flags
    static let request: UInt16 = 0x1, multi: UInt16 = 0x2, ack: UInt16 = 0x4
    static let dump: UInt16 = 0x300, excl: UInt16 = 0x200, create: UInt16 = 0x400
    static let capped: UInt16 = 0x100, ackTLVs: UInt16 = 0x200  // in NLMSG_ERROR replies
    static let extAckMsg: UInt16 = 1  // NLMSGERR_ATTR_MSG
    // IFLA_*
    static let iflaAddress: UInt16 = 1, iflaIfname: UInt16 = 3, iflaMTU: UInt16 = 4
    static let iflaMaster: UInt16 = 10, iflaLinkinfo: UInt16 = 18, iflaNetNSFD: UInt16 = 28
    static let infoKind: UInt16 = 1, infoData: UInt16 = 2, vethInfoPeer: UInt16 = 1
    // IFA_*
    static let ifaAddress: UInt16 = 1, ifaLocal: UInt16 = 2, ifaBroadcast: UInt16 = 4
    // RTA_*
    static let rtaDst: UInt16 = 1, rtaOif: UInt16 = 4, rtaGateway: UInt16 = 5, rtaTable: UInt16 = 15
    // rtmsg values
    static let tableMain: UInt8 = 254, protoBoot: UInt8 = 3, scopeUniverse: UInt8 = 0
    static let rtnUnicast: UInt8 = 1
    static let afUnspec: UInt8 = 0, afInet: UInt8 = 2
    static let iffUp: UInt32 = 0x1
    static let headerSize = 16, ifinfomsgSize = 16, ifaddrmsgSize = 8, rtmsgSize = 12
}

@inline(__always) func nlAlign(_ n: Int) -> Int { (n + 3) & ~3 }

/// One request being built: nlmsghdr, a fixed family header, then attributes (4-byte aligned).
struct NetlinkRequest {
    private(set) var bytes: [UInt8] = []

    init(type: UInt16, flags: UInt16) {
        bytes.reserveCapacity(128)
        append32(0)  // nlmsg_len, set by finish()
        append16(type)
        append16(flags)
        append32(0)  // nlmsg_seq, set by the session
        append32(0)  // nlmsg_pid: 0, the kernel fills in the port
    }

    var type: UInt16 { UInt16(bytes[4]) | UInt16(bytes[5]) << 8 }  // for errors only

    mutating func append8(_ v: UInt8) { bytes.append(v) }
    mutating func append16(_ v: UInt16) { withUnsafeBytes(of: v) { bytes.append(contentsOf: $0) } }
    mutating func append32(_ v: UInt32) { withUnsafeBytes(of: v) { bytes.append(contentsOf: $0) } }
    mutating func pad() { while bytes.count % 4 != 0 { bytes.append(0) } }

    /// struct ifinfomsg { family, pad, type, index, flags, change }.
    mutating func appendIfinfomsg(family: UInt8 = NL.afUnspec, index: Int32 = 0, flags: UInt32 = 0, change: UInt32 = 0) {
        append8(family); append8(0); append16(0)
        append32(UInt32(bitPattern: index)); append32(flags); append32(change)
    }

    /// struct ifaddrmsg { family, prefixlen, flags, scope, index }.
    mutating func appendIfaddrmsg(family: UInt8 = NL.afInet, prefixLength: UInt8 = 0, scope: UInt8 = 0, index: Int32 = 0) {
        append8(family); append8(prefixLength); append8(0); append8(scope)
        append32(UInt32(bitPattern: index))
    }

    /// struct rtmsg { family, dst_len, src_len, tos, table, protocol, scope, type, flags }.
    mutating func appendRtmsg(family: UInt8 = NL.afInet, dstLength: UInt8 = 0, table: UInt8 = 0,
                              proto: UInt8 = 0, scope: UInt8 = 0, type: UInt8 = 0) {
        append8(family); append8(dstLength); append8(0); append8(0)
        append8(table); append8(proto); append8(scope); append8(type)
        append32(0)
    }

    /// struct rtattr { len, type } + payload, padded to 4 bytes (rta_len excludes the padding).
    mutating func attr(_ type: UInt16, _ payload: [UInt8]) {
        append16(UInt16(4 + payload.count))
        append16(type)
        bytes.append(contentsOf: payload)
        pad()
    }

    mutating func attr(_ type: UInt16, u32 v: UInt32) {
        append16(8); append16(type); append32(v)
    }

    /// A NUL-terminated string attribute (IFLA_IFNAME, IFLA_INFO_KIND).
    mutating func attr(_ type: UInt16, string: String) {
        var payload = Array(string.utf8)
        payload.append(0)
        attr(type, payload)
    }

    /// Opens a nested attribute; close it with `endNested(at:)` once its contents are appended.
    mutating func beginNested(_ type: UInt16) -> Int {
        let start = bytes.count
        append16(0); append16(type)
        return start
    }

    mutating func endNested(at start: Int) {
        let len = UInt16(bytes.count - start)
        withUnsafeBytes(of: len) { bytes[start] = $0[0]; bytes[start + 1] = $0[1] }
    }

    /// The finished message with its sequence number and total length filled in.
    func finished(sequence: UInt32) -> [UInt8] {
        var out = bytes
        withUnsafeBytes(of: UInt32(out.count)) { for i in 0..<4 { out[i] = $0[i] } }
        withUnsafeBytes(of: sequence) { for i in 0..<4 { out[8 + i] = $0[i] } }
        return out
    }
}

/// Host-order integer at `offset` bytes into `s` (which must hold enough bytes).
@inline(__always) func nlRead32(_ s: ArraySlice<UInt8>, _ offset: Int) -> UInt32 {
    s.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self) }
}
@inline(__always) func nlRead16(_ s: ArraySlice<UInt8>, _ offset: Int) -> UInt16 {
    s.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: UInt16.self) }
}

/// One received message: header fields and the payload after the 16-byte nlmsghdr.
struct NetlinkMessage {
    let type: UInt16
    let flags: UInt16
    let sequence: UInt32
    let payload: ArraySlice<UInt8>

    /// Splits a datagram into messages; throws on a malformed length.
    static func parse(_ buf: [UInt8]) throws -> [NetlinkMessage] {
        var out: [NetlinkMessage] = []
        var off = 0
        while buf.count - off >= NL.headerSize {
            let s = buf[off...]
            let len = Int(nlRead32(s, 0))
            guard len >= NL.headerSize, len <= buf.count - off else {
                throw BockerError(.kernel, "malformed netlink reply (message length \(len))")
            }
            out.append(NetlinkMessage(type: nlRead16(s, 4), flags: nlRead16(s, 6), sequence: nlRead32(s, 8),
                                      payload: buf[(off + NL.headerSize)..<(off + len)]))
            off += nlAlign(len)
        }
        return out
    }
}

/// The attributes of one message or nested attribute, in order.
struct NetlinkAttributes {
    private(set) var items: [(type: UInt16, value: ArraySlice<UInt8>)] = []

    /// Parses rtattrs from `s` (stops at the first malformed one). Type flag bits are masked off.
    init(_ s: ArraySlice<UInt8>) {
        var off = s.startIndex
        while s.endIndex - off >= 4 {
            let len = Int(nlRead16(s[off...], 0))
            guard len >= 4, len <= s.endIndex - off else { break }
            items.append((nlRead16(s[off...], 2) & 0x3fff, s[(off + 4)..<(off + len)]))
            off += nlAlign(len)
        }
    }

    subscript(_ type: UInt16) -> ArraySlice<UInt8>? {
        for item in items where item.type == type { return item.value }
        return nil
    }

    func string(_ type: UInt16) -> String? {
        guard var v = self[type] else { return nil }
        if let nul = v.firstIndex(of: 0) { v = v[..<nul] }
        return String(decoding: v, as: UTF8.self)
    }

    func u32(_ type: UInt16) -> UInt32? {
        guard let v = self[type], v.count >= 4 else { return nil }
        return nlRead32(v, 0)
    }
}

/// A datagram transport to the kernel's rtnetlink: the real socket, or a fake in tests.
public protocol NetlinkSocket: AnyObject {
    /// Sends one complete request.
    func send(_ bytes: [UInt8]) throws
    /// Receives one datagram (one or more netlink messages).
    func receive() throws -> [UInt8]
}

/// An AF_NETLINK/NETLINK_ROUTE socket bound to the network namespace it was opened in.
public final class RouteNetlinkSocket: NetlinkSocket {
    /// The socket fd; closed on deinit.
    public let fd: Int32
    private var buffer: [UInt8]

    /// Opens the socket in the network namespace `namespaceFD`, or in the calling thread's
    /// namespace when nil.
    public init(namespaceFD: Int32? = nil) throws {
        let fd = bk_netlink_socket_in(namespaceFD ?? -1)
        guard fd >= 0 else {
            throw BockerError.errno(namespaceFD == nil ? "cannot open rtnetlink socket"
                                                       : "cannot open rtnetlink socket in network namespace fd \(namespaceFD!)")
        }
        self.fd = fd
        buffer = [UInt8](repeating: 0, count: 65536)
    }

    deinit { Glibc.close(fd) }

    public func send(_ bytes: [UInt8]) throws {
        while true {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
            if n == bytes.count { return }
            if n < 0 && errno == EINTR { continue }
            throw n < 0 ? BockerError.errno("rtnetlink send") : BockerError(.kernel, "rtnetlink send: short write")
        }
    }

    public func receive() throws -> [UInt8] {
        while true {
            let cap = buffer.count
            let n = buffer.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress, cap, Int32(MSG_TRUNC)) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { throw BockerError.errno("rtnetlink receive") }
            if n > cap { throw BockerError(.kernel, "rtnetlink receive: reply of \(n) bytes truncated") }
            return Array(buffer[0..<n])
        }
    }
}
