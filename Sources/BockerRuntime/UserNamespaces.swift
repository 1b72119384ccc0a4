#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import BockerCore

/// A container's own slice of the host's ids (`--userns=auto`): its uid 0…size-1 are host uids
/// uidBase…, its gids likewise from gidBase.
public struct IDMapping: Codable, Equatable, Sendable {
    public var uidBase: UInt32
    public var gidBase: UInt32
    public var size: UInt32

    public init(uidBase: UInt32, gidBase: UInt32, size: UInt32 = IDRanges.rangeSize) {
        self.uidBase = uidBase
        self.gidBase = gidBase
        self.size = size
    }
}

/// Owns the subordinate id ranges bocker hands to `--userns=auto` containers: the entries for
/// the name `bocker` in /etc/subuid and /etc/subgid (`$BOCKER_SUBUID_FILE`,
/// `$BOCKER_SUBGID_FILE` instead when set), cut into ranges of 65,536 ids, and the leases
/// under the state root:
///
///     userns/uid-<first host uid>   a uid range in use (content: the container id)
///     userns/gid-<first host gid>   a gid range in use
///
/// Every method expects the caller to hold the store lock; a lease is a file made with O_EXCL,
/// so two containers never share a range. `rm` (and repair after a killed bocker) releases a
/// container's leases.
public struct IDRanges {
    /// The name whose entries bocker uses (podman's --userns=auto uses "containers").
    public static let owner = "bocker"
    public static let rangeSize: UInt32 = 65536
    public let root: StateRoot

    public init(root: StateRoot) { self.root = root }

    var dir: String { root.path + "/userns" }

    static func file(_ kind: String) -> String {
        let key = kind == "uid" ? "BOCKER_SUBUID_FILE" : "BOCKER_SUBGID_FILE"
        if let v = getenv(key).flatMap({ String(validatingCString: $0) }), !v.isEmpty { return v }
        return kind == "uid" ? "/etc/subuid" : "/etc/subgid"
    }

    /// The 65,536-id ranges `bocker` owns in a subid file: (first id) in file order.
    static func ranges(_ kind: String) throws -> [UInt32] {
        let path = file(kind)
        let text = (try? FS.readString(path)) ?? ""
        var out: [UInt32] = []
        for line in text.split(separator: "\n") {
            let f = line.split(separator: ":", omittingEmptySubsequences: false)
            guard f.count == 3, f[0] == Substring(owner), let start = UInt64(f[1]), let count = UInt64(f[2]) else { continue }
            var b = start
            while b + UInt64(rangeSize) <= start + count && b + UInt64(rangeSize) <= UInt64(UInt32.max) {
                out.append(UInt32(b))
                b += UInt64(rangeSize)
            }
        }
        guard !out.isEmpty else {
            throw BockerError(.invalidArgument, "--userns=auto needs subordinate \(kind)s for '\(owner)' in \(path) (at least \(rangeSize), e.g. a line '\(owner):2147483648:268435456'; scripts/setup.sh adds it)")
        }
        return out
    }

    /// Leases of one kind: (first id, container id).
    func leases(_ kind: String) -> [(base: UInt32, container: String)] {
        FS.list(dir).compactMap { name in
            guard name.hasPrefix(kind + "-"), let b = UInt32(name.dropFirst(kind.count + 1)) else { return nil }
            return (b, ((try? FS.readString(dir + "/" + name)) ?? "").trimmed())
        }
    }

    /// Leases a free uid range and a free gid range to a container. Throws when none is left.
    public func allocate(for container: String) throws -> IDMapping {
        let uid = try lease("uid", for: container)
        do {
            return IDMapping(uidBase: uid, gidBase: try lease("gid", for: container))
        } catch {
            unlink(dir + "/uid-\(uid)")
            throw error
        }
    }

    private func lease(_ kind: String, for container: String) throws -> UInt32 {
        let candidates = try IDRanges.ranges(kind)
        try FS.makeDirectories(dir, mode: 0o700)
        let taken = leases(kind).map(\.base)
        for b in candidates where !taken.contains(where: { $0 < b &+ IDRanges.rangeSize && b < $0 &+ IDRanges.rangeSize }) {
            let fd = open(dir + "/\(kind)-\(b)", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            if fd < 0 {
                if errno == EEXIST { continue }
                throw BockerError.errno("cannot lease \(kind) range \(b)", code: .io)
            }
            let bytes = Array(container.utf8)
            _ = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            close(fd)
            return b
        }
        throw BockerError(.exists, "no free user namespace range: all \(candidates.count) ranges of \(IDRanges.rangeSize) \(kind)s for '\(IDRanges.owner)' in \(IDRanges.file(kind)) are in use")
    }

    /// Gives back every range a container holds (nothing if it holds none).
    public func release(container: String) {
        for kind in ["uid", "gid"] {
            for l in leases(kind) where l.container == container { unlink(dir + "/\(kind)-\(l.base)") }
        }
    }
}

extension Runtime {
    /// What the container's root must own on the host when it is made: overlay's `upper/`
    /// (the root directory the container sees; what it writes there is owned by its mapped
    /// ids) and each named volume this container made (as podman does). The image's layers
    /// are never chowned: they reach the container through idmapped mounts.
    func giveToContainerRoot(_ m: IDMapping, containerDir: String, newVolumes: [MountSpec]) throws {
        var paths: [String] = []
        if !store.driver.cumulative { paths.append(containerDir + "/upper") }
        for v in newVolumes { paths.append(try volumes.get(v.source).mountpoint) }
        for p in paths where chown(p, m.uidBase, m.gidBase) != 0 {
            throw BockerError.errno("cannot give '\(p)' to the container's root", code: .io)
        }
    }
}

extension IDMapping {
    /// Gives a tree made from a container's overlay `upper/` (a committed layer) back its
    /// 0-based ids: an owner in this range becomes owner - base (uid and gid alike); others are
    /// kept. setuid/setgid bits, which chown clears, are set again.
    public func unshift(tree path: String) throws {
        var st = stat()
        guard lstat(path, &st) == 0 else { throw BockerError.errno("cannot read '\(path)'", code: .io) }
        let uid = st.st_uid >= uidBase && st.st_uid - uidBase < size ? st.st_uid - uidBase : st.st_uid
        let gid = st.st_gid >= gidBase && st.st_gid - gidBase < size ? st.st_gid - gidBase : st.st_gid
        let kind = st.st_mode & S_IFMT
        if uid != st.st_uid || gid != st.st_gid {
            guard lchown(path, uid, gid) == 0 else { throw BockerError.errno("cannot chown '\(path)'", code: .io) }
            if kind != S_IFLNK && st.st_mode & (S_ISUID | S_ISGID) != 0 { chmod(path, st.st_mode & 0o7777) }
        }
        if kind == S_IFDIR {
            for name in FS.list(path) { try unshift(tree: path + "/" + name) }
        }
    }
}
