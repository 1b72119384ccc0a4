import Glibc
import BockerCore
import CArchive

/// One line of `bocker diff`: A (added), C (changed) or D (deleted), and the path inside the
/// container.
public struct FileChange: Sendable, Equatable {
    public var kind: String
    public var path: String
}

extension Runtime {
    /// What the container changed in its filesystem against its image, sorted by path as Docker
    /// lists it: overlay from its upper directory (whiteouts are deletions, an opaque directory
    /// hides what the layers had), btrfs and copy by comparing its root with the image's top
    /// layer. A directory is "C" when something under it changed or its own mode or owner did.
    /// The files bocker itself mounts over (/etc/hosts, /etc/resolv.conf, /etc/hostname) are
    /// not the container's changes. Everything is walked by fds without following symlinks.
    public func diff(_ ref: String) throws -> [FileChange] {
        let rec = try container(ref)
        let dir = root.containerDir(rec.id)
        var out: [FileChange] = []
        let layers = rec.layers.reversed().map(store.layerFS)   // topmost first
        let lowerFDs = layers.compactMap { p -> Int32? in
            let fd = Glibc.open(p, bk_o_path | O_DIRECTORY | O_CLOEXEC)
            return fd >= 0 ? fd : nil
        }
        defer { lowerFDs.forEach { close($0) } }
        if store.driver.mountPlan(containerDir: dir, layerFS: rec.layers.map(store.layerFS)) != nil {
            let upper = Glibc.open(dir + "/upper", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            guard upper >= 0 else { throw BockerError.errno("cannot open the container's changes", code: .io) }
            defer { close(upper) }
            _ = DiffWalk(lowers: lowerFDs).overlay(upper, "", &out)
        } else {
            let top = Glibc.open(dir + "/rootfs", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            guard top >= 0 else { throw BockerError.errno("cannot open the container's root", code: .io) }
            defer { close(top) }
            let base = lowerFDs.first.map { openat($0, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) } ?? -1
            defer { if base >= 0 { close(base) } }
            _ = DiffWalk(lowers: []).compare(top, base, "", &out)
        }
        return out.sorted { $0.path < $1.path }
    }
}

/// The tree walks behind `diff` (directory fds, names, fstatat without following).
struct DiffWalk {
    /// The image's layer roots, topmost first (overlay: to tell added from changed).
    let lowers: [Int32]
    static let mountedOver: Set<String> = ["/etc/hosts", "/etc/resolv.conf", "/etc/hostname"]

    static func names(_ fd: Int32) -> [String] {
        let dup = Glibc.dup(fd)
        guard dup >= 0, let d = fdopendir(dup) else { if dup >= 0 { close(dup) }; return [] }
        defer { closedir(d) }
        var out: [String] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { out.append(name) }
        }
        return out.sorted()
    }

    static func lstat(_ dirFD: Int32, _ name: String) -> stat? {
        var st = stat()
        return fstatat(dirFD, name, &st, AT_SYMLINK_NOFOLLOW) == 0 ? st : nil
    }

    static func isDir(_ st: stat) -> Bool { st.st_mode & S_IFMT == S_IFDIR }

    /// The entry `path` (relative, "a/b") in the lower layers: the topmost stat of it.
    func lower(_ path: String) -> stat? {
        let parent = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : ""
        let name = FS.basename(path)
        for l in lowers {
            let fd = bk_open_dir_in_root(l, parent)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            if let st = DiffWalk.lstat(fd, name) { return st }
        }
        return nil
    }

    /// Lists the overlay upper directory `fd` (at `rel`); true when anything was reported.
    func overlay(_ fd: Int32, _ rel: String, _ out: inout [FileChange]) -> Bool {
        var any = false
        let here = DiffWalk.names(fd)
        for name in here {
            let path = rel.isEmpty ? name : rel + "/" + name
            if DiffWalk.mountedOver.contains("/" + path) { continue }
            guard let st = DiffWalk.lstat(fd, name) else { continue }
            if st.st_mode & S_IFMT == S_IFCHR && st.st_rdev == 0 {
                out.append(FileChange(kind: "D", path: "/" + path)); any = true
                continue
            }
            let below = lower(path)
            if DiffWalk.isDir(st) {
                let sub = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                var inner = false
                if sub >= 0 {
                    inner = overlay(sub, path, &out)
                    if below != nil && DiffWalk.isOpaque(sub) {
                        // Everything the layers had there is gone, except what is here again.
                        let mine = Set(DiffWalk.names(sub))
                        for l in lowers {
                            let lfd = bk_open_dir_in_root(l, path)
                            guard lfd >= 0 else { continue }
                            for n in DiffWalk.names(lfd) where !mine.contains(n) {
                                out.append(FileChange(kind: "D", path: "/" + path + "/" + n)); inner = true
                            }
                            close(lfd)
                        }
                    }
                    close(sub)
                }
                if let b = below, DiffWalk.isDir(b) {
                    if inner || b.st_mode != st.st_mode || b.st_uid != st.st_uid || b.st_gid != st.st_gid {
                        out.append(FileChange(kind: "C", path: "/" + path)); any = true
                    }
                } else {
                    out.append(FileChange(kind: below == nil ? "A" : "C", path: "/" + path)); any = true
                }
                any = any || inner
            } else {
                out.append(FileChange(kind: below == nil ? "A" : "C", path: "/" + path)); any = true
            }
        }
        return any
    }

    static func isOpaque(_ fd: Int32) -> Bool {
        var v: [UInt8] = [0, 0]
        let n = fgetxattr(fd, "trusted.overlay.opaque", &v, 2)
        return n == 1 && v[0] == UInt8(ascii: "y")
    }

    /// Compares the container's directory `top` with the image's `base` (-1: none) at `rel`.
    func compare(_ top: Int32, _ base: Int32, _ rel: String, _ out: inout [FileChange]) -> Bool {
        var any = false
        let mine = DiffWalk.names(top)
        let theirs = base >= 0 ? Set(DiffWalk.names(base)) : []
        for name in theirs.subtracting(mine).sorted() {
            let path = rel.isEmpty ? name : rel + "/" + name
            if DiffWalk.mountedOver.contains("/" + path) { continue }
            out.append(FileChange(kind: "D", path: "/" + path)); any = true
        }
        for name in mine {
            let path = rel.isEmpty ? name : rel + "/" + name
            if DiffWalk.mountedOver.contains("/" + path) { continue }
            guard let st = DiffWalk.lstat(top, name) else { continue }
            let old = theirs.contains(name) ? DiffWalk.lstat(base, name) : nil
            if DiffWalk.isDir(st) {
                let sub = openat(top, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                let bsub = old.map { DiffWalk.isDir($0) ? openat(base, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1 } ?? -1
                let inner = sub >= 0 ? compare(sub, bsub, path, &out) : false
                if sub >= 0 { close(sub) }
                if bsub >= 0 { close(bsub) }
                if let o = old, DiffWalk.isDir(o) {
                    if inner || o.st_mode != st.st_mode || o.st_uid != st.st_uid || o.st_gid != st.st_gid {
                        out.append(FileChange(kind: "C", path: "/" + path)); any = true
                    }
                } else {
                    out.append(FileChange(kind: old == nil ? "A" : "C", path: "/" + path)); any = true
                }
                any = any || inner
            } else if let o = old {
                if !DiffWalk.same(top, base, name, st, o) { out.append(FileChange(kind: "C", path: "/" + path)); any = true }
            } else {
                out.append(FileChange(kind: "A", path: "/" + path)); any = true
            }
        }
        return any
    }

    static func same(_ a: Int32, _ b: Int32, _ name: String, _ x: stat, _ y: stat) -> Bool {
        guard x.st_mode == y.st_mode, x.st_uid == y.st_uid, x.st_gid == y.st_gid, x.st_size == y.st_size,
              x.st_mtim.tv_sec == y.st_mtim.tv_sec, x.st_mtim.tv_nsec == y.st_mtim.tv_nsec else { return false }
        if x.st_mode & S_IFMT == S_IFLNK {
            var p = [CChar](repeating: 0, count: 4096), q = [CChar](repeating: 0, count: 4096)
            let n = readlinkat(a, name, &p, p.count), m = readlinkat(b, name, &q, q.count)
            return n == m && p[0..<max(0, n)] == q[0..<max(0, m)]
        }
        return true
    }
}
