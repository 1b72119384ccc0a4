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

    init(mounts: [String: String], relative: String) {
        var seen = Set<String>()
        var d: [(String, String)] = []
        for c in CgroupV1.controllers {
            guard let m = mounts[c] else { continue }
            let path = m + "/" + relative
            if seen.insert(path).inserted { d.append((c, path)) }
        }
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
        Set(dirs.map(\.controller)).intersection(["cpu", "memory", "pids"])
    }

    public func apply(_ r: CgroupResources) throws {
        if let s = r.cpuShares { try write("cpu.shares", String(s)) }
        if let m = r.memoryBytes { try write("memory.limit_in_bytes", String(m)) }
        if let p = r.pidsMax { try write("pids.max", p <= 0 ? "max" : String(p)) }
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
