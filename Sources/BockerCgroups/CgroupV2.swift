#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import BockerCore

/// A container cgroup on a unified (v2) host: one directory, limits as cpu.weight, memory.max,
/// pids.max. (The device allow-list needs an eBPF program on v2; not applied yet.)
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

    public func create() throws {
        try FS.makeDirectories(parentPath)
        // Delegate the controllers down to the parent's children (no-op when already on).
        var dir = root
        let rel = parentPath.dropFirst(root.count).split(separator: "/")
        for part in [""] + rel.map(String.init) {
            if !part.isEmpty { dir += "/" + part }
            try? FS.writeInPlace(dir + "/cgroup.subtree_control", "+cpu +memory +pids")
        }
        try FS.makeDirectories(path)
    }

    public func apply(_ r: CgroupResources) throws {
        if let s = r.cpuShares { try write("cpu.weight", String(CgroupResources.cpuWeight(forShares: s))) }
        if let m = r.memoryBytes { try write("memory.max", String(m)) }
        if let p = r.pidsMax { try write("pids.max", p <= 0 ? "max" : String(p)) }
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

    public func remove() throws {
        if FS.isDirectory(path) {
            try? FS.writeInPlace(path + "/cgroup.kill", "1")
            killAll()
        }
        try removeCgroupDir(path)
    }
}
