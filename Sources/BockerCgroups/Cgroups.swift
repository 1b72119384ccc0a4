#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import BockerCore
import CBocker

/// The resource limits bocker applies to a container, in cgroup-v1 terms (cpu.shares, bytes).
public struct CgroupResources: Codable, Equatable, Sendable {
    public var cpuShares: UInt64?
    public var memoryBytes: Int64?
    public var pidsMax: Int64?
    /// `--cpus`: CFS quota (µs) per period (µs): v1 cpu.cfs_quota_us/cpu.cfs_period_us, v2 cpu.max.
    public var cpuQuota: Int64?
    public var cpuPeriod: UInt64?
    /// `--cpuset-cpus`: the CPUs the container may run on ("0-2,4"): cpuset.cpus.
    public var cpusetCpus: String?
    /// `--memory-swap`: memory plus swap, in bytes; -1 = unlimited swap (v1
    /// memory.memsw.limit_in_bytes, v2 memory.swap.max = this - memoryBytes).
    public var memorySwap: Int64?
    /// `--memory-reservation`: the soft limit (v1 memory.soft_limit_in_bytes, v2 memory.low).
    public var memoryReservation: Int64?

    public init(cpuShares: UInt64? = nil, memoryBytes: Int64? = nil, pidsMax: Int64? = nil) {
        self.cpuShares = cpuShares
        self.memoryBytes = memoryBytes
        self.pidsMax = pidsMax
    }

    /// Docker's `--cpus N`: a quota of N periods of 100 ms.
    public mutating func setCPUs(_ cpus: Double) throws {
        guard cpus > 0, cpus <= 1024, cpus.isFinite else {
            throw BockerError(.invalidArgument, "invalid --cpus \(cpus): must be a number of CPUs greater than 0")
        }
        cpuPeriod = 100_000
        cpuQuota = max(1000, Int64((cpus * 100_000).rounded()))
    }

    /// The CFS quota as Docker's NanoCpus (`--cpus` × 10⁹); 0 without a quota.
    public var nanoCPUs: Int {
        guard let q = cpuQuota, let p = cpuPeriod, p > 0 else { return 0 }
        return Int(q * 1_000_000_000 / Int64(p))
    }

    /// The CPU list syntax of cpuset.cpus: "0-3", "1,3", "0-1,4".
    static func isCPUList(_ s: String) -> Bool {
        !s.isEmpty && s.split(separator: ",", omittingEmptySubsequences: false).allSatisfy { part in
            let r = part.split(separator: "-", omittingEmptySubsequences: false)
            guard (1...2).contains(r.count), r.allSatisfy({ !$0.isEmpty && $0.count <= 4 && $0.allSatisfy({ $0 >= "0" && $0 <= "9" }) }) else { return false }
            return r.count == 1 || Int(r[0])! <= Int(r[1])!
        }
    }

    /// Refuses values no cgroup takes: CPU shares outside 2-262144, a memory limit under 6 MiB
    /// (Docker's minimum). A pids limit of 0 or less means none.
    public func validate() throws {
        if let s = cpuShares, !(2...262144).contains(s) {
            throw BockerError(.invalidArgument, "invalid CPU shares \(s): must be between 2 and 262144")
        }
        if let m = memoryBytes, m < 6 * 1024 * 1024 {
            throw BockerError(.invalidArgument, "invalid memory limit \(m) bytes: the minimum is 6 MiB (6m)")
        }
        if let c = cpusetCpus, !CgroupResources.isCPUList(c) {
            throw BockerError(.invalidArgument, "invalid --cpuset-cpus '\(c)': use a CPU list such as 0-2,4")
        }
        if let s = memorySwap, s != -1 {
            guard let m = memoryBytes else {
                throw BockerError(.invalidArgument, "--memory-swap needs a memory limit (--memory) too")
            }
            if s < m { throw BockerError(.invalidArgument, "--memory-swap (\(s) bytes) must be at least the memory limit (\(m) bytes)") }
        }
        if let r = memoryReservation {
            if r < 0 { throw BockerError(.invalidArgument, "invalid --memory-reservation \(r)") }
            if let m = memoryBytes, r > m {
                throw BockerError(.invalidArgument, "--memory-reservation (\(r) bytes) must be at most the memory limit (\(m) bytes)")
            }
        }
    }

    /// The controllers these limits need, in a fixed order ("cpu", "memory", "pids"). A pids
    /// limit of 0 or less means none and needs nothing.
    public var controllersNeeded: [String] {
        (cpuShares != nil || cpuQuota != nil ? ["cpu"] : [])
            + (memoryBytes != nil || memorySwap != nil || memoryReservation != nil ? ["memory"] : [])
            + ((pidsMax ?? 0) > 0 ? ["pids"] : []) + (cpusetCpus != nil ? ["cpuset"] : [])
    }

    /// These limits, each one that is missing taken from `defaults`.
    public func filled(from defaults: CgroupResources) -> CgroupResources {
        var r = self
        r.cpuShares = cpuShares ?? defaults.cpuShares
        r.memoryBytes = memoryBytes ?? defaults.memoryBytes
        r.pidsMax = pidsMax ?? defaults.pidsMax
        return r
    }

    /// These limits without those that need one of `controllers`.
    public func dropping(_ controllers: Set<String>) -> CgroupResources {
        var r = self
        if controllers.contains("cpu") { r.cpuShares = nil; r.cpuQuota = nil; r.cpuPeriod = nil }
        if controllers.contains("memory") { r.memoryBytes = nil; r.memorySwap = nil; r.memoryReservation = nil }
        if controllers.contains("pids") { r.pidsMax = nil }
        if controllers.contains("cpuset") { r.cpusetCpus = nil }
        return r
    }

    /// What the user asked for of `controller`'s limits, for messages: `--cpus` names the CPU
    /// quota, not the shares; `--memory-swap` alone names itself.
    public func limitName(_ controller: String) -> String {
        switch controller {
        case "cpu" where cpuShares == nil && cpuQuota != nil: return "CPU quota (--cpus)"
        case "memory" where memoryBytes == nil && memorySwap != nil: return "memory+swap limit (--memory-swap)"
        case "memory" where memoryBytes == nil && memoryReservation != nil: return "memory reservation (--memory-reservation)"
        default: return CgroupResources.limitName(controller)
        }
    }

    /// What the user calls the limit a controller enforces, for messages.
    public static func limitName(_ controller: String) -> String {
        switch controller {
        case "cpu": return "CPU shares limit (--cpu-shares)"
        case "memory": return "memory limit (--memory)"
        case "pids": return "process count limit (--pids-limit)"
        case "cpuset": return "CPU set (--cpuset-cpus)"
        default: return controller + " limit"
        }
    }

    /// bocker's default limits, for every container that does not set its own: cpu.shares
    /// `$BOCKER_CPU_SHARE` or 512, memory `$BOCKER_MEM_LIMIT` MB (× 1,000,000, as the original
    /// counted) or 512 MB, 4096 processes. The variables are defaults, not requests: on a host
    /// without the controller they give way with a warning, like the built-in values.
    public static func defaults(environment env: (String) -> String? = { getenv($0).flatMap { String(validatingCString: $0) } }) throws -> CgroupResources {
        func integer(_ name: String, _ fallback: Int64, _ min: Int64, _ max: Int64) throws -> Int64 {
            guard let text = env(name) else { return fallback }
            guard let n = Int64(text.trimmed()) else {
                throw BockerError(.invalidArgument, "invalid value '\(text)' for \(name): expected a whole number")
            }
            guard n >= min && n <= max else {
                throw BockerError(.invalidArgument, "invalid value '\(text)' for \(name): must be between \(min) and \(max)")
            }
            return n
        }
        let shares = try integer("BOCKER_CPU_SHARE", 512, 2, 262144)
        let mb = try integer("BOCKER_MEM_LIMIT", 512, 7, 1_099_511_627_776 / 1_000_000)
        return CgroupResources(cpuShares: UInt64(shares), memoryBytes: mb * 1_000_000, pidsMax: 4096)
    }

    /// cgroup v2 cpu.weight for v1 cpu.shares, as runc converts (its quadratic mapping on the
    /// log scale): 2 → 1, 1024 → 100 (both defaults agree), 262144 → 10000.
    public static func cpuWeight(forShares shares: UInt64) -> UInt64 {
        if shares == 0 { return 0 }
        if shares <= 2 { return 1 }
        if shares >= 262144 { return 10000 }
        let l = log2(Double(shares))
        let exponent = (l * l + 125 * l) / 612.0 - 7.0 / 34.0
        return UInt64(ceil(pow(10, exponent)))
    }
}

/// One container's cgroup, in every hierarchy it uses: create, limit, join, read, remove.
public protocol CgroupManager {
    /// "v1" or "v2".
    var version: String { get }
    /// The cgroup directories, one per hierarchy.
    var paths: [String] { get }
    /// The cgroup.procs files a process writes its pid into to join.
    var procsFiles: [String] { get }
    func exists() -> Bool
    /// Makes the directories. `devices` is the device allow-list (v1 devices.allow lines, v2 a
    /// BPF device program attached before any process joins); nil allows every device.
    func create(devices: [DeviceRule]?) throws
    /// Which of the limit controllers ("cpu", "memory", "pids") this cgroup has, once created.
    func availableControllers() -> Set<String>
    /// Writes the limits; each one needs its controller (see `availableControllers`).
    func apply(_ resources: CgroupResources) throws
    func addProcess(_ pid: Int32) throws
    /// Pids of every process in the cgroup.
    func processes() -> [Int32]
    /// Reads a control file by its name ("memory.limit_in_bytes", "cpu.weight", …).
    func read(_ key: String) throws -> String
    func write(_ key: String, _ value: String) throws
    /// Kills whatever is left and removes the directories. Missing directories are fine.
    func remove() throws
    /// Stops every process of the cgroup (v1 `freezer.state`, v2 `cgroup.freeze`) and returns
    /// once the kernel reports them all frozen; throws when the cgroup cannot be frozen.
    func freeze() throws
    /// Lets frozen processes run again (nothing when they are not frozen).
    func thaw()
}

/// Finds the host's cgroup layout and hands out managers for named cgroups.
public struct Cgroups: Sendable {
    /// v1 controller name → mount point (a co-mounted "cpu,cpuacct" maps both names).
    public let v1Mounts: [String: String]
    /// The cgroup2 mount when it is the unified hierarchy holding the controllers.
    public let v2Root: String?
    /// The parent directory (relative to each hierarchy) that container cgroups live under.
    public let parent: String

    public var version: String { v2Root != nil ? "v2" : "v1" }

    /// The limit controllers ("cpu", "memory", "pids") the host offers: v1 those with a
    /// hierarchy, v2 those in the root's cgroup.controllers.
    public func availableControllers() -> Set<String> {
        let wanted: Set<String> = ["cpu", "memory", "pids", "cpuset"]
        if let root = v2Root {
            let text = (try? FS.readString(root + "/cgroup.controllers")) ?? ""
            return wanted.intersection(text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))
        }
        return wanted.intersection(v1Mounts.keys)
    }

    /// The usual layouts first (a few statfs calls: this runs at every start), then
    /// /proc/self/mountinfo. `parent` defaults to `$BOCKER_CGROUP_PARENT` or "bocker".
    public static func detect(parent: String? = nil) -> Cgroups {
        let p = parent ?? (getenv("BOCKER_CGROUP_PARENT").flatMap { String(validatingCString: $0) } ?? "bocker")
        if let fast = standardLayout(parent: p) { return fast }
        return fromMountinfo(parent: p)
    }

    /// /sys/fs/cgroup as cgroup2 with the memory controller, or the v1 hierarchies each
    /// mounted at /sys/fs/cgroup/<controller>.
    static func standardLayout(parent: String) -> Cgroups? {
        func fsType(_ path: String) -> Int { Int(bk_fs_type(path)) }
        let cgroup2Magic = 0x63677270, cgroupMagic = 0x27e0eb
        if fsType("/sys/fs/cgroup") == cgroup2Magic {
            // The unified hierarchy, whatever controllers it has (missing ones are handled
            // limit by limit at create).
            return Cgroups(v1Mounts: [:], v2Root: "/sys/fs/cgroup", parent: cleaned(parent))
        }
        var v1: [String: String] = [:]
        for c in ["cpu", "cpuacct", "memory", "pids", "devices", "freezer"] {
            let path = "/sys/fs/cgroup/" + c
            var st = stat()
            // A co-mounted "cpu,cpuacct" shows as symlinks to the joint mount: not the usual layout.
            guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR, fsType(path) == cgroupMagic else { return nil }
            v1[c] = path
        }
        // cpuset is optional: only a container with --cpuset-cpus uses it.
        var st = stat()
        if lstat("/sys/fs/cgroup/cpuset", &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR, fsType("/sys/fs/cgroup/cpuset") == cgroupMagic {
            v1["cpuset"] = "/sys/fs/cgroup/cpuset"
        }
        return Cgroups(v1Mounts: v1, v2Root: nil, parent: cleaned(parent))
    }

    static func cleaned(_ parent: String) -> String {
        var p = parent
        while p.hasPrefix("/") { p.removeFirst() }
        while p.hasSuffix("/") { p.removeLast() }
        return p
    }

    static func fromMountinfo(parent: String) -> Cgroups {
        var v1: [String: String] = [:]
        var v2: String? = nil, anyV2: String? = nil
        let info = (try? FS.readString("/proc/self/mountinfo")) ?? ""
        // Byte-level parsing: this runs at every start, so no generic string machinery.
        for line in info.split(byte: 0x0a) {
            let halves = line.split(separatorString: " - ")
            guard halves.count == 2 else { continue }
            let left = halves[0].split(byte: 0x20)
            let right = halves[1].split(byte: 0x20)
            guard left.count >= 5, right.count >= 3 else { continue }
            let mountPoint = left[4]
            if right[0] == "cgroup2" {
                // Only a cgroup2 that has controllers counts (hybrid hosts mount an empty one).
                let controllers = (try? FS.readString(mountPoint + "/cgroup.controllers")) ?? ""
                if controllers.contains("memory") { v2 = mountPoint }
                if anyV2 == nil { anyV2 = mountPoint }
            } else if right[0] == "cgroup" {
                for o in right[2].split(byte: 0x2c) {
                    if ["cpu", "cpuacct", "memory", "pids", "devices", "freezer", "cpuset"].contains(o) && v1[o] == nil {
                        v1[o] = mountPoint
                    }
                }
            }
        }
        // Without a v1 memory hierarchy, cgroup2 is the unified one even when it lacks
        // controllers (limits then give way one by one at create).
        if v1.isEmpty { v2 = v2 ?? anyV2 }
        return Cgroups(v1Mounts: v1, v2Root: v1["memory"] == nil ? v2 : nil, parent: cleaned(parent))
    }

    public init(v1Mounts: [String: String], v2Root: String?, parent: String) {
        self.v1Mounts = v1Mounts
        self.v2Root = v2Root
        self.parent = parent
    }

    /// The manager for the cgroup called `name` (a container id).
    public func manager(for name: String) -> CgroupManager {
        let rel = parent.isEmpty ? name : parent + "/" + name
        if let root = v2Root {
            return CgroupV2(root: root, relative: rel, parentRelative: parent)
        }
        return CgroupV1(mounts: v1Mounts, relative: rel)
    }
}

extension CgroupManager {
    /// How many processes the kernel's OOM killer has killed in this cgroup so far
    /// (v1 memory.oom_control, v2 memory.events: the `oom_kill` line).
    public func oomKillCount() -> Int {
        for key in [version == "v1" ? "memory.oom_control" : "memory.events"] {
            guard let text = try? read(key) else { continue }
            for line in text.split(byte: 0x0a) where line.hasPrefix("oom_kill ") {
                return Int(line.dropFirst("oom_kill ".count).trimmed()) ?? 0
            }
        }
        return 0
    }

    /// SIGKILLs every process in the cgroup and waits for each to exit (pidfds: woken by the
    /// kernel, not by polling), again while new ones appear (a fork bomb), a bounded number of
    /// rounds.
    public func killAll() {
        for _ in 0..<50 {
            let pids = processes()
            if pids.isEmpty { return }
            _ = pids.withUnsafeBufferPointer { bk_kill_and_wait($0.baseAddress, Int32($0.count), 2000) }
        }
    }
}

func parsePids(_ text: String) -> [Int32] {
    text.split(separator: "\n").compactMap { Int32($0.trimmed()) }
}

/// rmdir, retrying briefly while the kernel finishes tearing down exited tasks (EBUSY).
func removeCgroupDir(_ path: String) throws {
    for _ in 0..<200 {
        if rmdir(path) == 0 || errno == ENOENT { return }
        if errno != EBUSY { throw BockerError.errno("cannot remove cgroup '\(path)'") }
        var ts = timespec(tv_sec: 0, tv_nsec: 5_000_000)
        nanosleep(&ts, nil)
    }
    throw BockerError.errno("cannot remove cgroup '\(path)'")
}

/// Reads `file` until `done` holds for its text: the kernel finishes freezing asynchronously
/// (v1 advances the FREEZING state on each read). Bounded to about `seconds`.
func waitForCgroupState(_ file: String, seconds: Int = 10, _ done: (String) -> Bool) -> Bool {
    for _ in 0..<(seconds * 1000) {
        if let t = try? FS.readString(file), done(t) { return true }
        usleep(1000)
    }
    return false
}
