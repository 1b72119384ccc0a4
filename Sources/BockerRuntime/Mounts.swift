#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import BockerCore
import BockerStore

/// One mount a container asked for: a host path (`-v /host:/c`), a named volume
/// (`-v data:/c`), or a tmpfs (`--tmpfs /c`).
public struct MountSpec: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, Sendable { case bind, volume, tmpfs }
    public var type: Kind
    /// Host path (bind) or volume name (volume); empty for tmpfs.
    public var source: String
    public var destination: String
    public var readOnly: Bool
    /// tmpfs only (`--mount type=tmpfs,tmpfs-size=…,tmpfs-mode=…`): size in bytes, mode bits.
    public var tmpfsSize: Int64? = nil
    public var tmpfsMode: UInt32? = nil

    /// The tmpfs's mount options (mode 1777 unless tmpfs-mode; no size limit unless tmpfs-size).
    var tmpfsOptions: String {
        "mode=" + String(tmpfsMode ?? 0o1777, radix: 8) + (tmpfsSize.map { ",size=\($0)" } ?? "")
    }

    public init(type: Kind, source: String, destination: String, readOnly: Bool) {
        self.type = type
        self.source = source
        self.destination = destination
        self.readOnly = readOnly
    }

    /// Parses `-v SOURCE:DEST[:ro|:rw]`: a SOURCE starting with `/` is a host path, anything
    /// else a volume name.
    public static func parseVolume(_ spec: String) throws -> MountSpec {
        let parts = spec.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2 || parts.count == 3, !parts[0].isEmpty, parts[1].hasPrefix("/") else {
            throw BockerError(.invalidArgument, "invalid volume specification '\(spec)': use SOURCE:/PATH[:ro]")
        }
        var ro = false
        if parts.count == 3 {
            guard parts[2] == "ro" || parts[2] == "rw" else {
                throw BockerError(.invalidArgument, "invalid volume specification '\(spec)': mode must be ro or rw")
            }
            ro = parts[2] == "ro"
        }
        try checkDestination(parts[1], spec)
        if parts[0].hasPrefix("/") {
            return MountSpec(type: .bind, source: parts[0], destination: parts[1], readOnly: ro)
        }
        guard Identifier.isSafeComponent(parts[0]) else {
            throw BockerError(.invalidArgument, "invalid volume name '\(parts[0])': use letters, digits, '_', '.' and '-'")
        }
        return MountSpec(type: .volume, source: parts[0], destination: parts[1], readOnly: ro)
    }

    public static func tmpfs(_ dest: String) throws -> MountSpec {
        try checkDestination(dest, dest)
        return MountSpec(type: .tmpfs, source: "", destination: dest, readOnly: false)
    }

    static func checkDestination(_ d: String, _ spec: String) throws {
        guard d.hasPrefix("/"), d != "/", !d.split(separator: "/").contains(".."), !d.contains("\0") else {
            throw BockerError(.invalidArgument, "invalid mount destination in '\(spec)': an absolute path other than /")
        }
    }

    /// A host path for a bind mount must exist and must not be, or pass through, a symlink:
    /// what is mounted is exactly the path the user named.
    public static func checkHostPath(_ path: String) throws {
        var built = ""
        for part in path.split(separator: "/") {
            if part == ".." || part == "." {
                throw BockerError(.invalidArgument, "bind mount source '\(path)' must be a plain absolute path")
            }
            built += "/" + part
            var st = stat()
            guard lstat(built, &st) == 0 else {
                throw BockerError(.notFound, "bind mount source path does not exist: \(path)")
            }
            if (st.st_mode & S_IFMT) == S_IFLNK {
                throw BockerError(.invalidArgument, "bind mount source '\(path)' goes through a symbolic link ('\(built)'); give the real path")
            }
        }
    }
}

/// A named volume: data under `<root>/volumes/<name>/_data`, kept when containers go.
public struct VolumeRecord: Codable, Equatable, Sendable {
    public var name: String
    public var created: Double
    public var mountpoint: String
    /// Made for an image's VOLUME (a 64-hex name): `rm -v` and `--rm` remove it with its
    /// container; `container` is the one it was made for (a crashed create's are removed).
    public var anonymous: Bool?
    public var container: String?
}

/// Named volumes under the state root; the caller holds the store lock.
public struct VolumeStore {
    public let root: StateRoot
    var dir: String { root.path + "/volumes" }
    func volumeDir(_ name: String) -> String { dir + "/" + name }

    public init(root: StateRoot) { self.root = root }

    public func list() -> [VolumeRecord] {
        FS.list(dir).sorted().compactMap { try? JSONFile.read(VolumeRecord.self, from: volumeDir($0) + "/volume.json") }
    }

    public func get(_ name: String) throws -> VolumeRecord {
        guard Identifier.isSafeComponent(name), let v = try? JSONFile.read(VolumeRecord.self, from: volumeDir(name) + "/volume.json") else {
            throw BockerError(.notFound, "no such volume: \(name)")
        }
        return v
    }

    /// Creates the volume, or returns the existing one.
    @discardableResult
    public func ensure(_ name: String) throws -> VolumeRecord {
        if let v = try? get(name) { return v }
        guard Identifier.isSafeComponent(name) else { throw BockerError(.invalidArgument, "invalid volume name '\(name)'") }
        let vdir = volumeDir(name)
        try FS.makeDirectories(vdir + "/_data", mode: 0o755)
        let rec = VolumeRecord(name: name, created: WallClock.now(), mountpoint: vdir + "/_data")
        try JSONFile.write(rec, to: vdir + "/volume.json")
        return rec
    }

    /// A new anonymous volume (Docker's form of name: 64 hex digits) for container `id`.
    public func createAnonymous(for id: String) throws -> VolumeRecord {
        var name = Identifier.randomHex(bytes: 32)
        while FS.exists(volumeDir(name)) { name = Identifier.randomHex(bytes: 32) }
        let vdir = volumeDir(name)
        try FS.makeDirectories(vdir + "/_data", mode: 0o755)
        var rec = VolumeRecord(name: name, created: WallClock.now(), mountpoint: vdir + "/_data")
        rec.anonymous = true
        rec.container = id
        do { try JSONFile.write(rec, to: vdir + "/volume.json") } catch {
            try? FS.removeTree(vdir)
            throw error
        }
        return rec
    }

    public func remove(_ name: String) throws {
        _ = try get(name)
        try FS.removeTree(volumeDir(name))
    }
}

extension Runtime {
    /// Containers (running or not) that mount a named volume.
    public func volumeUsers(_ name: String) -> [String] {
        listContainers().filter { ($0.mounts ?? []).contains { $0.type == .volume && $0.source == name } }.map(\.id)
    }

    /// Removes a named volume and its data; refused while a container uses it.
    public func removeVolume(_ name: String) throws {
        try store.withLock {
            _ = try volumes.get(name)
            let users = volumeUsers(name)
            if !users.isEmpty {
                throw BockerError(.inUse, "remove \(name): volume is in use - [\(users.joined(separator: ", "))]")
            }
            try volumes.remove(name)
        }
    }
}
