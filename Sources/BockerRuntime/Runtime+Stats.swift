import Glibc
import BockerCore
import BockerCgroups

/// One reading of a container's resource counters (`bocker stats`): cumulative counters, so a
/// rate (CPU %) is the difference of two readings.
public struct ContainerStats: Sendable {
    /// When it was read (seconds since the epoch).
    public var time: Double
    /// CPU time the container's processes used, in nanoseconds, since the cgroup was made.
    public var cpuNanos: UInt64
    /// CPU time of the whole host (all CPUs, every state, /proc/stat), in nanoseconds.
    public var systemNanos: UInt64
    public var onlineCPUs: Int
    /// Memory in use (without the reclaimable page cache, as Docker counts) and its limit (the
    /// host's memory when there is none).
    public var memoryUsage: Int64
    public var memoryLimit: Int64
    public var netRx: Int64
    public var netTx: Int64
    public var blockRead: Int64
    public var blockWrite: Int64
    public var pids: Int
}

extension Runtime {
    /// Reads the counters of a running container from its cgroup (v1 cpuacct/memory/pids, v2
    /// cpu.stat/memory.current/pids.current/io.stat), its network namespace (/proc/PID/net/dev,
    /// every interface but lo) and, where the cgroup has no block I/O counters (no v1 blkio
    /// hierarchy, or no v2 io controller), the processes' own /proc/PID/io.
    public func stats(_ ref: String) throws -> ContainerStats {
        let rec = try container(ref)
        guard rec.liveState == .running, let pid = rec.pid else {
            throw BockerError(.invalidState, "Container '\(rec.id)' is not running")
        }
        let cg = cgroup(of: rec.id)
        let procs = cg.processes()
        var s = ContainerStats(time: WallClock.now(), cpuNanos: 0, systemNanos: Runtime.hostCPUNanos(),
                               onlineCPUs: HostFacts.cpus(), memoryUsage: 0, memoryLimit: Int64(HostFacts.memoryBytes()),
                               netRx: 0, netTx: 0, blockRead: 0, blockWrite: 0, pids: procs.count)
        func number(_ key: String) -> Int64? { (try? cg.read(key)).flatMap { Int64($0.trimmed()) } }
        func field(_ key: String, _ name: String) -> Int64? {
            guard let text = try? cg.read(key) else { return nil }
            for line in text.split(byte: 0x0a) {
                let p = line.split(byte: 0x20)
                if p.count == 2 && p[0] == name { return Int64(p[1]) }
            }
            return nil
        }
        var memoryFromCgroup = false
        if cg.version == "v2" {
            s.cpuNanos = UInt64(max(0, field("cpu.stat", "usage_usec") ?? 0)) * 1000
            if let cur = number("memory.current") {
                s.memoryUsage = max(0, cur - (field("memory.stat", "inactive_file") ?? 0))
                memoryFromCgroup = true
            }
            if let max = number("memory.max") { s.memoryLimit = min(max, s.memoryLimit) }
            if let p = number("pids.current") { s.pids = Int(p) }
            if let io = try? cg.read("io.stat") {
                for line in io.split(byte: 0x0a) {
                    for kv in line.split(byte: 0x20) {
                        if kv.hasPrefix("rbytes=") { s.blockRead += Int64(kv.dropFirst(7)) ?? 0 }
                        if kv.hasPrefix("wbytes=") { s.blockWrite += Int64(kv.dropFirst(7)) ?? 0 }
                    }
                }
            } else {
                (s.blockRead, s.blockWrite) = Runtime.processIO(procs)
            }
        } else {
            s.cpuNanos = UInt64(max(0, number("cpuacct.usage") ?? 0))
            if let cur = number("memory.usage_in_bytes") {
                s.memoryUsage = max(0, cur - (field("memory.stat", "total_inactive_file") ?? 0))
                memoryFromCgroup = true
            }
            if let limit = number("memory.limit_in_bytes") { s.memoryLimit = min(limit, s.memoryLimit) }
            if let p = number("pids.current") { s.pids = Int(p) }
            (s.blockRead, s.blockWrite) = Runtime.processIO(procs)
        }
        // No memory controller (a v2 host whose controllers v1 holds): the processes' RSS.
        if !memoryFromCgroup { s.memoryUsage = Runtime.processRSS(procs) }
        if rec.networkMode != "host" { (s.netRx, s.netTx) = Runtime.netDev(pid: pid) }
        // The pid may have gone meanwhile (a recycled one would show another netns).
        guard ProcessTable.isAlive(pid, startedAt: rec.pidStartTime) else {
            throw BockerError(.invalidState, "Container '\(rec.id)' is not running")
        }
        return s
    }

    /// Total host CPU time in nanoseconds: the "cpu" line of /proc/stat (user through steal).
    static func hostCPUNanos() -> UInt64 {
        guard let text = try? FS.readString("/proc/stat"), let line = text.split(byte: 0x0a).first else { return 0 }
        let ticks = line.split(byte: 0x20).dropFirst().prefix(8).compactMap { UInt64($0) }.reduce(0, +)
        let hz = UInt64(max(1, sysconf(Int32(_SC_CLK_TCK))))
        return ticks * (1_000_000_000 / hz)
    }

    /// Bytes received and sent on every interface but lo of pid's network namespace.
    static func netDev(pid: Int32) -> (Int64, Int64) {
        guard let text = try? FS.readString("/proc/\(pid)/net/dev") else { return (0, 0) }
        var rx: Int64 = 0, tx: Int64 = 0
        for line in text.split(byte: 0x0a).dropFirst(2) {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].trimmed()
            if name == "lo" { continue }
            let f = line[line.index(after: colon)...].split(byte: 0x20)
            if f.count >= 9 { rx += Int64(f[0]) ?? 0; tx += Int64(f[8]) ?? 0 }
        }
        return (rx, tx)
    }

    /// read_bytes and write_bytes (storage I/O) of the processes, from /proc/PID/io.
    static func processIO(_ pids: [Int32]) -> (Int64, Int64) {
        var r: Int64 = 0, w: Int64 = 0
        for pid in pids {
            guard let text = try? FS.readString("/proc/\(pid)/io") else { continue }
            for line in text.split(byte: 0x0a) {
                if line.hasPrefix("read_bytes: ") { r += Int64(line.dropFirst(12).trimmed()) ?? 0 }
                if line.hasPrefix("write_bytes: ") { w += Int64(line.dropFirst(13).trimmed()) ?? 0 }
            }
        }
        return (r, w)
    }

    /// The processes' resident memory (VmRSS), in bytes.
    static func processRSS(_ pids: [Int32]) -> Int64 {
        var total: Int64 = 0
        for pid in pids {
            guard let text = try? FS.readString("/proc/\(pid)/status") else { continue }
            for line in text.split(byte: 0x0a) where line.hasPrefix("VmRSS:") {
                let kb = line.dropFirst(6).trimmed().split(byte: 0x20).first.flatMap { Int64($0) } ?? 0
                total += kb * 1024
            }
        }
        return total
    }
}
