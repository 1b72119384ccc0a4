#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import BockerCore

/// A container cgroup on a unified (v2) host: one directory, limits as cpu.weight, memory.max,
/// pids.max; the device allow-list as a BPF_CGROUP_DEVICE program attached to the directory
/// (it goes with the directory). Controllers the hierarchy lacks are left out, not an error.
public struct CgroupV2: CgroupManager {
    let root: String
    let path: String
    let parentPath: String

    init(root: String, relative: String, parentRelative: String) {
        self.root = root
        self.path = root + "/" + relative
        self.parentPath = parentRelative.isEmpty ? root : root + "/" + parentRelative
    }

    public var version: String { "v2" }
    public var paths: [String] { [path] }
    public var procsFiles: [String] { [path + "/cgroup.procs"] }

    public func exists() -> Bool { FS.isDirectory(path) }

    public func create(devices: [DeviceRule]?) throws {
        try FS.makeDirectories(parentPath)
        // Delegate the controllers down to the parent's children (no-op when already on), one
        // at a time: a controller the hierarchy lacks must not keep the others off.
        var dir = root
        let rel = parentPath.dropFirst(root.count).split(separator: "/")
        for part in [""] + rel.map(String.init) {
            if !part.isEmpty { dir += "/" + part }
            let offered = CgroupV2.controllers(in: dir + "/cgroup.controllers")
            for c in ["cpu", "memory", "pids", "cpuset"] where offered.contains(c) {
                try? FS.writeInPlace(dir + "/cgroup.subtree_control", "+" + c)
            }
        }
        try FS.makeDirectories(path)
        if let rules = devices {
            do { try DeviceFilter.attach(rules, to: path) } catch { _ = rmdir(path); throw error }
        }
    }

    static func controllers(in file: String) -> Set<String> {
        let text = (try? FS.readString(file)) ?? ""
        return Set(text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))
    }

    public func availableControllers() -> Set<String> {
        CgroupV2.controllers(in: path + "/cgroup.controllers").intersection(["cpu", "memory", "pids", "cpuset"])
    }

    public func apply(_ r: CgroupResources) throws {
        if let s = r.cpuShares { try write("cpu.weight", String(CgroupResources.cpuWeight(forShares: s))) }
        if let q = r.cpuQuota { try write("cpu.max", "\(q) \(r.cpuPeriod ?? 100_000)") }
        if let m = r.memoryBytes { try write("memory.max", String(m)) }
        if let s = r.memorySwap {   // v2 counts swap alone
            try write("memory.swap.max", s == -1 ? "max" : String(max(0, s - (r.memoryBytes ?? 0))))
        }
        if let s = r.memoryReservation { try write("memory.low", String(s)) }
        if let p = r.pidsMax { try write("pids.max", p <= 0 ? "max" : String(p)) }
        if let c = r.cpusetCpus { try write("cpuset.cpus", c) }
    }

    public func addProcess(_ pid: Int32) throws {
        try FS.writeInPlace(path + "/cgroup.procs", String(pid))
    }

    public func processes() -> [Int32] {
        parsePids((try? FS.readString(path + "/cgroup.procs")) ?? "")
    }

    public func read(_ key: String) throws -> String {
        guard Identifier.isSafeComponent(key) else { throw BockerError(.invalidArgument, "no cgroup file '\(key)'") }
        return try FS.readString(path + "/" + key).trimmed()
    }

    public func write(_ key: String, _ value: String) throws {
        guard Identifier.isSafeComponent(key) else { throw BockerError(.invalidArgument, "no cgroup file '\(key)'") }
        try FS.writeInPlace(path + "/" + key, value)
    }

    public func freeze() throws {
        try write("cgroup.freeze", "1")
        if !waitForCgroupState(path + "/cgroup.events", { $0.split(byte: 0x0a).contains("frozen 1") }) {
            thaw()
            throw BockerError(.kernel, "the container's processes did not freeze")
        }
    }

    public func thaw() { try? FS.writeInPlace(path + "/cgroup.freeze", "0") }

    public func remove() throws {
        if FS.isDirectory(path) {
            try? FS.writeInPlace(path + "/cgroup.kill", "1")
            killAll()
        }
        try removeCgroupDir(path)
    }
}
