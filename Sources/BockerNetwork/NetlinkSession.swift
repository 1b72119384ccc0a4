import Glibc
import BockerCore

/// What the kernel reports about one network interface.
public struct NetworkLink: Equatable, Sendable {
    public var name: String
    public var index: Int32
    /// IFLA_INFO_KIND: "bridge", "veth", … (nil for devices without one, such as lo).
    public var kind: String?
    /// The index of the bridge (or other master) the link is attached to.
    public var master: Int32?
    /// IFF_UP is set (administratively up).
    public var isUp: Bool
    public var mtu: Int
    public var mac: [UInt8]
}

/// Synchronous rtnetlink requests on one socket, and so in one network namespace: links,
/// addresses and routes. Every change is acknowledged by the kernel before the call returns.
public final class NetlinkSession {
    private let socket: NetlinkSocket
    private var sequence: UInt32 = 0

    /// A session over any transport (tests pass a fake).
    public init(socket: NetlinkSocket) { self.socket = socket }

    /// A session on a real rtnetlink socket in the namespace `namespaceFD` (nil: the calling
    /// thread's own namespace).
    public convenience init(namespaceFD: Int32? = nil) throws {
        self.init(socket: try RouteNetlinkSocket(namespaceFD: namespaceFD))
    }

    // MARK: Links

    /// The interface's index, or nil when there is no such interface.
    public func linkIndex(_ name: String) throws -> Int32? {
        try link(name)?.index
    }

    /// The interface called `name`, or nil when there is none.
    public func link(_ name: String) throws -> NetworkLink? {
        try checkName(name)
        var req = NetlinkRequest(type: NL.getLink, flags: NL.request)
        req.appendIfinfomsg()
        req.attr(NL.iflaIfname, string: name)
        guard let replies = try exchange(req, tolerating: ENODEV, "cannot look up interface '\(name)'") else { return nil }
        return replies.lazy.compactMap(Self.parseLink).first
    }

    /// Every interface in the namespace, in index order.
    public func links() throws -> [NetworkLink] {
        var req = NetlinkRequest(type: NL.getLink, flags: NL.request | NL.dump)
        req.appendIfinfomsg()
        return try exchange(req, "cannot list interfaces")!.compactMap(Self.parseLink)
    }

    /// The names of every interface in the namespace.
    public func linkNames() throws -> [String] {
        try links().map(\.name)
    }

    /// Creates a bridge; an existing bridge of that name is fine, anything else of that name is not.
    public func createBridge(_ name: String) throws {
        try checkName(name)
        var req = NetlinkRequest(type: NL.newLink, flags: NL.request | NL.ack | NL.create | NL.excl)
        req.appendIfinfomsg()
        req.attr(NL.iflaIfname, string: name)
        let info = req.beginNested(NL.iflaLinkinfo)
        req.attr(NL.infoKind, string: "bridge")
        req.endNested(at: info)
        guard try acked(req, tolerating: EEXIST, "cannot create bridge '\(name)'") == EEXIST else { return }
        let kind = try link(name)?.kind
        guard kind == "bridge" else {
            throw BockerError(.exists, "cannot create bridge '\(name)': an interface of that name exists and is a \(kind ?? "device"), not a bridge")
        }
    }

    /// Creates a veth pair. The peer is created directly in the network namespace
    /// `peerNamespaceFD` (IFLA_NET_NS_FD), or next to the host end when nil.
    public func createVeth(_ hostName: String, peer peerName: String, peerNamespaceFD: Int32?) throws {
        try checkName(hostName)
        try checkName(peerName)
        var req = NetlinkRequest(type: NL.newLink, flags: NL.request | NL.ack | NL.create | NL.excl)
        req.appendIfinfomsg()
        req.attr(NL.iflaIfname, string: hostName)
        let info = req.beginNested(NL.iflaLinkinfo)
        req.attr(NL.infoKind, string: "veth")
        let data = req.beginNested(NL.infoData)
        let peer = req.beginNested(NL.vethInfoPeer)
        req.appendIfinfomsg()
        req.attr(NL.iflaIfname, string: peerName)
        if let fd = peerNamespaceFD { req.attr(NL.iflaNetNSFD, u32: UInt32(bitPattern: fd)) }
        req.endNested(at: peer)
        req.endNested(at: data)
        req.endNested(at: info)
        try acked(req, "cannot create veth '\(hostName)' (peer '\(peerName)')")
    }

    /// Brings the interface up (IFF_UP). A container's eth0 must be up before its default route is added.
    public func setUp(_ name: String) throws {
        try checkName(name)
        var req = NetlinkRequest(type: NL.newLink, flags: NL.request | NL.ack)
        req.appendIfinfomsg(flags: NL.iffUp, change: NL.iffUp)
        req.attr(NL.iflaIfname, string: name)
        try acked(req, "cannot bring up '\(name)'")
    }

    /// Attaches the interface to a bridge.
    public func setMaster(_ name: String, bridge: String) throws {
        try checkName(name)
        guard let master = try linkIndex(bridge) else {
            throw BockerError(.notFound, "cannot attach '\(name)' to bridge '\(bridge)': no such bridge")
        }
        try setLink(name, "cannot attach '\(name)' to bridge '\(bridge)'") { $0.attr(NL.iflaMaster, u32: UInt32(bitPattern: master)) }
    }

    /// Sets the interface's hardware address (six bytes).
    public func setMAC(_ name: String, _ mac: [UInt8]) throws {
        guard mac.count == 6 else {
            throw BockerError(.invalidArgument, "cannot set MAC address of '\(name)': \(mac.count) bytes, expected 6")
        }
        try setLink(name, "cannot set MAC address \(formatMAC(mac)) on '\(name)'") { $0.attr(NL.iflaAddress, mac) }
    }

    /// Sets the interface's MTU.
    public func setMTU(_ name: String, _ mtu: Int) throws {
        guard mtu > 0, mtu <= Int(UInt32.max) else {
            throw BockerError(.invalidArgument, "cannot set MTU of '\(name)': invalid MTU \(mtu)")
        }
        try setLink(name, "cannot set MTU \(mtu) on '\(name)'") { $0.attr(NL.iflaMTU, u32: UInt32(mtu)) }
    }

    /// Deletes the interface (for a veth, both ends). Returns false when there was no such interface.
    @discardableResult
    public func deleteLink(_ name: String) throws -> Bool {
        try checkName(name)
        var req = NetlinkRequest(type: NL.delLink, flags: NL.request | NL.ack)
        req.appendIfinfomsg()
        req.attr(NL.iflaIfname, string: name)
        return try acked(req, tolerating: ENODEV, "cannot delete interface '\(name)'") == 0
    }

    /// RTM_NEWLINK on an existing interface found by name, with the attributes `body` adds.
    private func setLink(_ name: String, _ what: @autoclosure () -> String, _ body: (inout NetlinkRequest) -> Void) throws {
        try checkName(name)
        var req = NetlinkRequest(type: NL.newLink, flags: NL.request | NL.ack)
        req.appendIfinfomsg()
        req.attr(NL.iflaIfname, string: name)
        body(&req)
        try acked(req, what())
    }

    static func parseLink(_ m: NetlinkMessage) -> NetworkLink? {
        guard m.type == NL.newLink, m.payload.count >= NL.ifinfomsgSize else { return nil }
        let attrs = NetlinkAttributes(m.payload.dropFirst(NL.ifinfomsgSize))
        let kind = attrs[NL.iflaLinkinfo].flatMap { NetlinkAttributes($0).string(NL.infoKind) }
        return NetworkLink(name: attrs.string(NL.iflaIfname) ?? "",
                           index: Int32(bitPattern: nlRead32(m.payload, 4)),
                           kind: kind,
                           master: attrs.u32(NL.iflaMaster).map { Int32(bitPattern: $0) },
                           isUp: nlRead32(m.payload, 8) & NL.iffUp != 0,
                           mtu: Int(attrs.u32(NL.iflaMTU) ?? 0),
                           mac: attrs[NL.iflaAddress].map(Array.init) ?? [])
    }

    // MARK: Addresses and routes

    /// Adds addr/prefixLength to the interface (with the subnet's broadcast address when it has one).
    public func addAddress(_ name: String, _ addr: IPv4Address, prefixLength: Int) throws {
        let what = "cannot add address \(addr)/\(prefixLength) to '\(name)'"
        let net = try IPv4Network(address: addr, prefixLength: prefixLength)
        guard let index = try linkIndex(name) else { throw BockerError(.notFound, "\(what): no such interface") }
        var req = NetlinkRequest(type: NL.newAddr, flags: NL.request | NL.ack | NL.create | NL.excl)
        req.appendIfaddrmsg(prefixLength: UInt8(prefixLength), index: index)
        req.attr(NL.ifaLocal, addr.bytes)
        req.attr(NL.ifaAddress, addr.bytes)
        if let brd = net.broadcast { req.attr(NL.ifaBroadcast, brd.bytes) }
        try acked(req, what)
    }

    /// The interface's IPv4 addresses with their prefix lengths.
    public func addresses(of name: String) throws -> [(IPv4Address, Int)] {
        guard let index = try linkIndex(name) else {
            throw BockerError(.notFound, "cannot list addresses of '\(name)': no such interface")
        }
        var req = NetlinkRequest(type: NL.getAddr, flags: NL.request | NL.dump)
        req.appendIfaddrmsg(index: index)
        var out: [(IPv4Address, Int)] = []
        for m in try exchange(req, "cannot list addresses of '\(name)'")! {
            let p = m.payload
            guard m.type == NL.newAddr, p.count >= NL.ifaddrmsgSize, p[p.startIndex] == NL.afInet,
                  Int32(bitPattern: nlRead32(p, 4)) == index else { continue }
            let attrs = NetlinkAttributes(p.dropFirst(NL.ifaddrmsgSize))
            if let raw = attrs[NL.ifaLocal] ?? attrs[NL.ifaAddress], let a = IPv4Address(bytes: raw) {
                out.append((a, Int(p[p.startIndex + 1])))
            }
        }
        return out
    }

    /// Adds the default route via `gateway` to the main table (optionally pinned to `device`).
    public func addDefaultRoute(via gateway: IPv4Address, device: String? = nil) throws {
        let what = "cannot add default route via \(gateway)" + (device.map { " dev '\($0)'" } ?? "")
        var index: Int32?
        if let device {
            guard let i = try linkIndex(device) else { throw BockerError(.notFound, "\(what): no such interface") }
            index = i
        }
        var req = NetlinkRequest(type: NL.newRoute, flags: NL.request | NL.ack | NL.create | NL.excl)
        req.appendRtmsg(table: NL.tableMain, proto: NL.protoBoot, scope: NL.scopeUniverse, type: NL.rtnUnicast)
        req.attr(NL.rtaGateway, gateway.bytes)
        if let index { req.attr(NL.rtaOif, u32: UInt32(bitPattern: index)) }
        try acked(req, what)
    }

    /// The gateway of the main table's IPv4 default route, or nil when there is none.
    public func defaultGateway() throws -> IPv4Address? {
        var req = NetlinkRequest(type: NL.getRoute, flags: NL.request | NL.dump)
        req.appendRtmsg()
        for m in try exchange(req, "cannot list routes")! {
            let p = m.payload, s = p.startIndex
            guard m.type == NL.newRoute, p.count >= NL.rtmsgSize, p[s] == NL.afInet, p[s + 1] == 0 else { continue }
            let attrs = NetlinkAttributes(p.dropFirst(NL.rtmsgSize))
            let table = attrs.u32(NL.rtaTable) ?? UInt32(p[s + 4])
            if table == UInt32(NL.tableMain), let gw = attrs[NL.rtaGateway].flatMap({ IPv4Address(bytes: $0) }) {
                return gw
            }
        }
        return nil
    }

    // MARK: Request/reply

    private func checkName(_ name: String) throws {
        let u = name.utf8
        guard !u.isEmpty, u.count < 16, name != ".", name != "..",
              !u.contains(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: ":") || $0 <= 0x20 || $0 == 0x7f }) else {
            throw BockerError(.invalidArgument, "invalid interface name '\(name)': 1-15 characters, no '/', ':' or whitespace")
        }
    }

    /// Sends a change request and waits for its ack. Returns 0, or the errno if it is `tolerated`.
    @discardableResult
    func acked(_ req: NetlinkRequest, tolerating tolerated: Int32 = 0, _ what: @autoclosure () -> String) throws -> Int32 {
        let r = try transact(req)
        if r.err == 0 || r.err == tolerated { return r.err }
        throw Self.failure(what(), r.err, r.extack)
    }

    /// Sends a get or dump request and returns its replies; nil when the kernel answered `tolerated`.
    func exchange(_ req: NetlinkRequest, tolerating tolerated: Int32 = 0, _ what: @autoclosure () -> String) throws -> [NetlinkMessage]? {
        let r = try transact(req)
        if r.err == 0 { return r.replies }
        if r.err == tolerated { return nil }
        throw Self.failure(what(), r.err, r.extack)
    }

    /// One request, and the replies carrying its sequence number up to its ack, NLMSG_DONE
    /// (dumps) or first reply (plain gets). `err` is the kernel's positive errno, 0 on success.
    private func transact(_ req: NetlinkRequest) throws -> (replies: [NetlinkMessage], err: Int32, extack: String?) {
        sequence &+= 1
        let seq = sequence
        let flags = UInt16(req.bytes[6]) | UInt16(req.bytes[7]) << 8
        let isDump = flags & NL.dump == NL.dump, wantsAck = flags & NL.ack != 0
        try socket.send(req.finished(sequence: seq))
        var replies: [NetlinkMessage] = []
        while true {
            for m in try NetlinkMessage.parse(socket.receive()) where m.sequence == seq {
                switch m.type {
                case NL.error:
                    let (err, extack) = Self.parseError(m)
                    return (replies, err, extack)
                case NL.done:
                    let err = m.payload.count >= 4 ? -Int32(bitPattern: nlRead32(m.payload, 0)) : 0
                    return (replies, err, nil)
                case NL.noop:
                    continue
                case NL.overrun:
                    throw BockerError(.kernel, "rtnetlink: reply overrun")
                default:
                    replies.append(m)
                    if !isDump && !wantsAck { return (replies, 0, nil) }
                }
            }
        }
    }

    /// NLMSG_ERROR: a negative errno (0 = ack), the request's header (or all of it unless
    /// NLM_F_CAPPED), then with NLM_F_ACK_TLVS the extended-ack attributes.
    static func parseError(_ m: NetlinkMessage) -> (Int32, String?) {
        let p = m.payload
        guard p.count >= 4 else { return (EPROTO, nil) }
        let err = -Int32(bitPattern: nlRead32(p, 0))
        guard m.flags & NL.ackTLVs != 0, p.count >= 4 + NL.headerSize else { return (err, nil) }
        let echoed = m.flags & NL.capped != 0 ? NL.headerSize : nlAlign(Int(nlRead32(p, 4)))
        guard p.count >= 4 + echoed else { return (err, nil) }
        let msg = NetlinkAttributes(p.dropFirst(4 + echoed)).string(NL.extAckMsg)
        return (err, msg?.isEmpty == false ? msg : nil)
    }

    static func failure(_ what: String, _ err: Int32, _ extack: String?) -> BockerError {
        let code: BockerError.Code
        switch err {
        case EEXIST: code = .exists
        case ENODEV, ENOENT, ESRCH: code = .notFound
        default: code = .kernel
        }
        let e = BockerError.errno(what, err, code: code)
        guard let extack else { return e }
        return BockerError(code, "\(e.message) (\(extack))")
    }
}
