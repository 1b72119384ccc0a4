import Glibc
import BockerCore

/// What `ps` shows and filters on of one container: a few fields of its record, and the state
/// it really is in (`live`, worked out when listed, never cached). `Runtime.containerSummaries`
/// lists them through the summary cache. A class: a listing passes a thousand of them from the
/// cache to Lua without copying each one's strings. Its fields are constants (read without
/// exclusivity checks) but `live`, which the listing sets.
public final class ContainerSummary: @unchecked Sendable, Equatable {
    public let id: String
    public let name: String?
    public let image: String
    public let imageSource: String
    public let command: [String]
    public let created: Double
    /// The state the record says (see `live`).
    public let state: ContainerState
    public let paused: Bool
    public let pid: Int32?
    public let pidStartTime: UInt64?
    public let monitorPid: Int32?
    public let monitorStartTime: UInt64?
    public let startedAt: Double?
    public let finishedAt: Double?
    public let exitCode: Int32?
    public let networkMode: String?
    /// The published ports as configured, in Docker's form ("0.0.0.0:8080->80/tcp").
    public let ports: [String]
    /// Labels sorted by key.
    public let labels: [Label]
    public let mounts: [Mount]
    /// The state as it really is (a dead "running" one is exited); set by the listing.
    public var live: ContainerState

    public struct Label: Sendable, Equatable {
        public var key: String
        public var value: String
    }

    public struct Mount: Sendable, Equatable {
        public var type: String
        public var source: String
        public var destination: String
        public var readOnly: Bool
    }

    init(id: String, name: String?, image: String, imageSource: String, command: [String], created: Double,
         state: ContainerState, paused: Bool, pid: Int32?, pidStartTime: UInt64?, monitorPid: Int32?,
         monitorStartTime: UInt64?, startedAt: Double?, finishedAt: Double?, exitCode: Int32?, networkMode: String?,
         ports: [String], labels: [Label], mounts: [Mount]) {
        self.id = id
        self.name = name
        self.image = image
        self.imageSource = imageSource
        self.command = command
        self.created = created
        self.state = state
        self.paused = paused
        self.pid = pid
        self.pidStartTime = pidStartTime
        self.monitorPid = monitorPid
        self.monitorStartTime = monitorStartTime
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.exitCode = exitCode
        self.networkMode = networkMode
        self.ports = ports
        self.labels = labels
        self.mounts = mounts
        self.live = state
    }

    public convenience init(_ r: ContainerRecord) {
        self.init(id: r.id, name: r.name, image: r.image, imageSource: r.imageSource, command: r.command,
                  created: r.created, state: r.state, paused: r.paused == true, pid: r.pid, pidStartTime: r.pidStartTime,
                  monitorPid: r.monitorPid, monitorStartTime: r.monitorStartTime, startedAt: r.startedAt,
                  finishedAt: r.finishedAt, exitCode: r.exitCode, networkMode: r.networkMode,
                  ports: (r.ports ?? []).map(\.description),
                  labels: (r.labels ?? [:]).sorted { $0.key < $1.key }.map { Label(key: $0.key, value: $0.value) },
                  mounts: (r.mounts ?? []).map {
                      Mount(type: $0.type.rawValue, source: $0.source, destination: $0.destination, readOnly: $0.readOnly)
                  })
    }

    public static func == (a: ContainerSummary, b: ContainerSummary) -> Bool {
        a.id == b.id && a.name == b.name && a.image == b.image && a.imageSource == b.imageSource
            && a.command == b.command && a.created == b.created && a.state == b.state && a.paused == b.paused
            && a.pid == b.pid && a.pidStartTime == b.pidStartTime && a.monitorPid == b.monitorPid
            && a.monitorStartTime == b.monitorStartTime && a.startedAt == b.startedAt && a.finishedAt == b.finishedAt
            && a.exitCode == b.exitCode && a.networkMode == b.networkMode && a.ports == b.ports && a.labels == b.labels
            && a.mounts == b.mounts && a.live == b.live
    }

    /// The live state by `ContainerRecord.liveState`'s rule, asking `alive` about pids.
    func liveState(alive: (Int32, UInt64?) -> Bool) -> ContainerState {
        ContainerRecord.liveState(state, pid: pid, pidStartTime: pidStartTime, monitorPid: monitorPid,
                                  monitorStartTime: monitorStartTime, alive: alive)
    }

    /// Paused as `ps` reports it: only while it really runs.
    public var isPaused: Bool { live == .running && paused }

    /// The exit code to report (`ContainerRecord.reportedExitCode`).
    public var reportedExitCode: Int32? {
        guard live != .running else { return nil }
        return exitCode ?? (state == .running ? 137 : nil)
    }
}

// MARK: The cache file's encoding

extension ContainerSummary {
    /// Appends the summary (all but `live`) to a cache file being written.
    func encode(to w: inout SummaryCoder.Writer) {
        w.string(id)
        w.optionalString(name)
        w.string(image)
        w.string(imageSource)
        w.strings(command)
        w.double(created)
        w.string(state.rawValue)
        w.bool(paused)
        w.optional(pid.map { UInt64(UInt32(bitPattern: $0)) })
        w.optional(pidStartTime)
        w.optional(monitorPid.map { UInt64(UInt32(bitPattern: $0)) })
        w.optional(monitorStartTime)
        w.optional(startedAt.map(\.bitPattern))
        w.optional(finishedAt.map(\.bitPattern))
        w.optional(exitCode.map { UInt64(UInt32(bitPattern: $0)) })
        w.optionalString(networkMode)
        w.strings(ports)
        w.count(labels.count)
        for l in labels { w.string(l.key); w.string(l.value) }
        w.count(mounts.count)
        for m in mounts { w.string(m.type); w.string(m.source); w.string(m.destination); w.bool(m.readOnly) }
    }

    /// Reads what `encode` wrote; nil when the bytes are not a whole, well-formed summary.
    static func decode(_ r: inout SummaryCoder.Reader) -> ContainerSummary? {
        guard let id = r.string(), let name = r.optionalString(), let image = r.string(), let source = r.string(),
              let command = r.strings(), let created = r.double(),
              let state = r.string().flatMap(ContainerState.init(rawValue:)), let paused = r.bool(),
              let pid = r.optional(), let pidStart = r.optional(), let monitor = r.optional(),
              let monitorStart = r.optional(), let started = r.optional(), let finished = r.optional(),
              let exit = r.optional(), let network = r.optionalString(), let ports = r.strings(),
              let labelCount = r.count() else { return nil }
        var labels: [Label] = []
        labels.reserveCapacity(labelCount)
        for _ in 0..<labelCount {
            guard let k = r.string(), let v = r.string() else { return nil }
            labels.append(Label(key: k, value: v))
        }
        guard let mountCount = r.count() else { return nil }
        var mounts: [Mount] = []
        mounts.reserveCapacity(mountCount)
        for _ in 0..<mountCount {
            guard let t = r.string(), let s = r.string(), let d = r.string(), let ro = r.bool() else { return nil }
            mounts.append(Mount(type: t, source: s, destination: d, readOnly: ro))
        }
        func int32(_ v: UInt64?) -> Int32? { v.map { Int32(bitPattern: UInt32(truncatingIfNeeded: $0)) } }
        return ContainerSummary(id: id, name: name, image: image, imageSource: source, command: command,
                                created: created, state: state, paused: paused, pid: int32(pid), pidStartTime: pidStart,
                                monitorPid: int32(monitor), monitorStartTime: monitorStart,
                                startedAt: started.map(Double.init(bitPattern:)),
                                finishedAt: finished.map(Double.init(bitPattern:)), exitCode: int32(exit),
                                networkMode: network, ports: ports, labels: labels, mounts: mounts)
    }
}

/// The cache file's binary form: little-endian integers, a tag byte before each optional, and
/// strings as indexes into a table of the distinct strings (a thousand containers of one image
/// hold its source once). The reader never reads past its bytes: any overrun is nil.
public enum SummaryCoder {
    public struct Writer {
        public var bytes: [UInt8] = []
        /// The distinct strings, in order of first use, and their indexes.
        public private(set) var table: [String] = []
        private var indexes: [String: UInt32] = [:]
        public init() {}

        mutating func u64(_ v: UInt64) {
            withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
        }
        mutating func u32(_ v: UInt32) {
            withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
        }
        mutating func count(_ n: Int) { u64(UInt64(n)) }
        mutating func bool(_ b: Bool) { bytes.append(b ? 1 : 0) }
        mutating func double(_ d: Double) { u64(d.bitPattern) }
        /// The string itself, length first (the table's entries).
        mutating func rawString(_ s: String) {
            var s = s
            s.withUTF8 { u64(UInt64($0.count)); bytes.append(contentsOf: $0) }
        }
        /// The string's index in the table (added on first use).
        mutating func string(_ s: String) {
            if let i = indexes[s] { u32(i); return }
            let i = UInt32(table.count)
            table.append(s)
            indexes[s] = i
            u32(i)
        }
        mutating func optionalString(_ s: String?) {
            if let s { bytes.append(1); string(s) } else { bytes.append(0) }
        }
        mutating func optional(_ v: UInt64?) {
            if let v { bytes.append(1); u64(v) } else { bytes.append(0) }
        }
        mutating func strings(_ a: [String]) {
            count(a.count)
            for s in a { string(s) }
        }
    }

    /// Reads over bytes that outlive it (the caller's `withUnsafeBytes`).
    public struct Reader {
        let base: UnsafeRawBufferPointer
        public private(set) var offset: Int
        /// The string table, once read (`readTable`).
        var table: [String] = []

        public init(_ base: UnsafeRawBufferPointer, offset: Int = 0) {
            self.base = base
            self.offset = offset
        }

        public var atEnd: Bool { offset == base.count }

        mutating func u64() -> UInt64? {
            guard base.count - offset >= 8 else { return nil }
            let v = base.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
            offset += 8
            return UInt64(littleEndian: v)
        }
        mutating func u32() -> UInt32? {
            guard base.count - offset >= 4 else { return nil }
            let v = base.loadUnaligned(fromByteOffset: offset, as: UInt32.self)
            offset += 4
            return UInt32(littleEndian: v)
        }
        /// A count of items still to read: no larger than the bytes left (a corrupt count
        /// cannot make the reader reserve gigabytes).
        mutating func count() -> Int? {
            guard let n = u64(), n <= UInt64(base.count - offset) else { return nil }
            return Int(n)
        }
        mutating func byte() -> UInt8? {
            guard offset < base.count else { return nil }
            defer { offset += 1 }
            return base[offset]
        }
        mutating func bool() -> Bool? {
            switch byte() {
            case 0?: return false
            case 1?: return true
            default: return nil
            }
        }
        mutating func double() -> Double? { u64().map(Double.init(bitPattern:)) }
        mutating func rawString() -> String? {
            guard let n = count() else { return nil }
            let s = String(decoding: UnsafeRawBufferPointer(rebasing: base[offset..<offset + n]), as: UTF8.self)
            offset += n
            return s
        }
        /// Reads the string table (a count, then the strings) that `string()` indexes.
        mutating func readTable() -> Bool {
            guard let n = count() else { return false }
            table.reserveCapacity(n)
            for _ in 0..<n {
                guard let s = rawString() else { return false }
                table.append(s)
            }
            return true
        }
        mutating func string() -> String? {
            guard let i = u32(), Int(i) < table.count else { return nil }
            return table[Int(i)]
        }
        /// .some(nil) for an absent value, nil for bad bytes.
        mutating func optionalString() -> String?? {
            switch byte() {
            case 0?: return .some(nil)
            case 1?: return string().map { .some($0) }
            default: return nil
            }
        }
        mutating func optional() -> UInt64?? {
            switch byte() {
            case 0?: return .some(nil)
            case 1?: return u64().map { .some($0) }
            default: return nil
            }
        }
        mutating func strings() -> [String]? {
            guard let n = count() else { return nil }
            var out: [String] = []
            out.reserveCapacity(n)
            for _ in 0..<n {
                guard let s = string() else { return nil }
                out.append(s)
            }
            return out
        }
    }

    /// A 64-bit check of the bytes (word at a time; it finds damage, it is no defence against
    /// an attacker, who could write the records themselves). Any one changed byte changes it.
    public static func checksum(_ p: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325 ^ UInt64(p.count)
        var i = 0
        while i + 8 <= p.count {
            h = (h ^ UInt64(littleEndian: p.loadUnaligned(fromByteOffset: i, as: UInt64.self))) &* 0x100_0000_01b3
            h ^= h >> 29
            i += 8
        }
        while i < p.count {
            h = (h ^ UInt64(p[i])) &* 0x100_0000_01b3
            h ^= h >> 29
            i += 1
        }
        return h ^ (h >> 32)
    }
}
