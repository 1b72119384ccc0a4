#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import BockerCore

/// A container cgroup on a v1 host: one directory in each of the cpu, cpuacct, memory, pids,
/// devices and freezer hierarchies (the original made cpu,cpuacct,memory and removed only the
/// first). The freezer pauses the container while `commit` copies its files.
public struct CgroupV1: CgroupManager {
    static let controllers = ["cpu", "cpuacct", "memory", "pids", "devices", "freezer"]

    let dirs: [(controller: String, path: String)]
    /// The cpuset hierarchy's mount and this cgroup's directory there: made only for a
    /// container with `--cpuset-cpus` (by `apply`), and one of `dirs` once it exists.
    let cpusetMount: String?
    let cpusetDir: String?

    init(mounts: [String: String], relative: String) {
        var seen = Set<String>()
        var d: [(String, String)] = []
        for c in CgroupV1.controllers {
            guard let m = mounts[c] else { continue }
            let path = m + "/" + relative
            if seen.insert(path).inserted { d.append((c, path)) }
        }
        cpusetMount = mounts["cpuset"]
        cpusetDir = mounts["cpuset"].map { $0 + "/" + relative }
        if let c = cpusetDir, !seen.contains(c), FS.isDirectory(c) { d.append(("cpuset", c)) }
        dirs = d
    }

    public var version: String { "v1" }
    public var paths: [String] { dirs.map(\.path) }
    public var procsFiles: [String] { dirs.map { $0.path + "/cgroup.procs" } }

    public func exists() -> Bool { dirs.contains { FS.isDirectory($0.path) } }

    public func create(devices: [DeviceRule]?) throws {
        for (controller, path) in dirs {
            try FS.makeDirectories(path)
            if controller == "devices" {
                // nil: every device (a new devices cgroup starts as its parent allows).
                guard let rules = devices else { try FS.writeInPlace(path + "/devices.allow", "a"); continue }
                try FS.writeInPlace(path + "/devices.deny", "a")
                for rule in rules {
                    try FS.writeInPlace(path + "/devices.allow", rule.description)
                }
            }
        }
    }

    public func availableControllers() -> Set<String> {
        Set(dirs.map(\.controller) + (cpusetDir != nil ? ["cpuset"] : [])).intersection(["cpu", "memory", "pids", "cpuset"])
    }

    public func apply(_ r: CgroupResources) throws {
        if let s = r.cpuShares { try write("cpu.shares", String(s)) }
        if let q = r.cpuQuota {
            try write("cpu.cfs_period_us", String(r.cpuPeriod ?? 100_000))
            try write("cpu.cfs_quota_us", String(q))
        }
        if let m = r.memoryBytes { try write("memory.limit_in_bytes", String(m)) }
        if let s = r.memorySwap {   // after the memory limit: memsw may never be below it
            let f = try file("memory.memsw.limit_in_bytes")
            guard FS.exists(f) else {
                throw BockerError(.invalidArgument, "cannot apply --memory-swap: swap accounting is off on this host (no memory.memsw.limit_in_bytes; boot with swapaccount=1)")
            }
            try FS.writeInPlace(f, String(s))
        }
        if let s = r.memoryReservation { try write("memory.soft_limit_in_bytes", String(s)) }
        if let p = r.pidsMax { try write("pids.max", p <= 0 ? "max" : String(p)) }
        if let c = r.cpusetCpus { try applyCpuset(c) }
    }

    /// Makes the cpuset directory (a new v1 cpuset starts with no CPUs and no memory nodes:
    /// each level takes its parent's) and writes the CPU list.
    func applyCpuset(_ cpus: String) throws {
        guard let mount = cpusetMount, let dir = cpusetDir else {
            throw BockerError(.invalidArgument, "cannot apply the CPU set (--cpuset-cpus): no cpuset hierarchy on this host")
        }
        var level = mount
        for part in dir.dropFirst(mount.count).split(separator: "/") {
            let parent = level
            level += "/" + part
            if mkdir(level, 0o755) != 0 && errno != EEXIST { throw BockerError.errno("cannot create '\(level)'") }
            for key in ["cpuset.cpus", "cpuset.mems"] where ((try? FS.readString(level + "/" + key)) ?? "").trimmed().isEmpty {
                try FS.writeInPlace(level + "/" + key, try FS.readString(parent + "/" + key).trimmed())
            }
        }
        do { try FS.writeInPlace(dir + "/cpuset.cpus", cpus) } catch {
            let host = ((try? FS.readString(mount + "/cpuset.cpus")) ?? "?").trimmed()
            throw BockerError(.invalidArgument, "invalid --cpuset-cpus '\(cpus)': this host's CPUs are \(host)")
        }
    }

    public func addProcess(_ pid: Int32) throws {
        for f in procsFiles { try FS.writeInPlace(f, String(pid)) }
    }

    public func processes() -> [Int32] {
        var all = Set<Int32>()
        for f in procsFiles { all.formUnion(parsePids((try? FS.readString(f)) ?? "")) }
        return all.sorted()
    }

    func file(_ key: String) throws -> String {
        let controller = String(key.prefix { $0 != "." })
        let hierarchy = controller == "cgroup" ? dirs.first : dirs.first { $0.controller == controller }
        guard let dir = hierarchy?.path, Identifier.isSafeComponent(key) else {
            throw BockerError(.invalidArgument, "no cgroup v1 control file '\(key)'")
        }
        return dir + "/" + key
    }

    public func read(_ key: String) throws -> String {
        try FS.readString(try file(key)).trimmed()
    }

    public func write(_ key: String, _ value: String) throws {
        try FS.writeInPlace(try file(key), value)
    }

    var freezerDir: String? { dirs.first { $0.controller == "freezer" }?.path }

    public func freeze() throws {
        guard let dir = freezerDir, FS.isDirectory(dir) else {
            throw BockerError(.kernel, "the container has no freezer cgroup (is the v1 freezer hierarchy mounted?)")
        }
        try FS.writeInPlace(dir + "/freezer.state", "FROZEN")
        if !waitForCgroupState(dir + "/freezer.state", { $0.trimmed() == "FROZEN" }) {
            thaw()
            throw BockerError(.kernel, "the container's processes did not freeze")
        }
    }

    public func thaw() {
        if let dir = freezerDir { try? FS.writeInPlace(dir + "/freezer.state", "THAWED") }
    }

    public func remove() throws {
        thaw()   // a frozen process would not die of SIGKILL until thawed
        killAll()
        for (_, path) in dirs { try removeCgroupDir(path) }
    }
}
