import BockerCore
import CArchive
import Glibc

private func isDir(_ m: mode_t) -> Bool { m & S_IFMT == S_IFDIR }

/// Writes entries under a root fd. Parent directories are resolved with `bk_open_dir_in_root`
/// (openat2 RESOLVE_IN_ROOT) and cached by path until anything that could change a resolution
/// (a directory or symlink being removed) happens; final components are always handled with
/// `*at` calls that do not follow symlinks.
final class DiskWriter {
    let rootFD: Int32
    let mode: WhiteoutMode
    let layer: OpaquePointer
    /// Resolved parent directories (bk_o_path fds) by cleaned path.
    var dirs: [[UInt8]: Int32] = [:]
    /// fds dropped from `dirs` while an entry may still use them; closed before the next entry.
    var retired: [Int32] = []
    /// Directory times, applied after every entry is written.
    var dirTimes: [([UInt8], timespec, timespec)] = []
    /// Apply mode: every path this layer wrote, and their ancestors (opaque dirs and whiteouts
    /// leave these alone).
    var written: Set<[UInt8]> = []
    /// Maps a tar entry's uid and gid to those written (nil: as they are).
    var owner: ((Int64, Int64) -> (Int64, Int64))?

    init(rootFD: Int32, mode: WhiteoutMode, layer: OpaquePointer) {
        self.rootFD = rootFD
        self.mode = mode
        self.layer = layer
    }

    func closeAll() {
        invalidate()
        for fd in retired { close(fd) }
        retired.removeAll()
    }

    func invalidate() {
        retired.append(contentsOf: dirs.values)
        dirs.removeAll(keepingCapacity: true)
    }

    // MARK: entries

    func apply(_ e: bk_entry) throws {
        if !retired.isEmpty {
            for fd in retired { close(fd) }
            retired.removeAll(keepingCapacity: true)
        }
        let raw = bytesOf(e.path)
        guard let path = cleanEntryPath(raw) else {
            throw ArchiveErrors.invalid("entry '\(show(raw))' points outside the root")
        }
        let kind = Int(e.kind)
        if path.isEmpty {
            // "./" or "/": the root itself, whose metadata belongs to whoever made it.
            if kind == BK_KIND_DIR { return }
            throw ArchiveErrors.invalid("entry '\(show(raw))' has an empty name")
        }
        let (parent, name) = splitParent(path)

        // AUFS metadata (.wh..wh.plnk, .wh..wh.aufs) carries nothing a runtime needs.
        if mode != .plain && hasPrefix(path, whMetaPrefix) && name != whOpaque { return }
        if mode != .plain && hasPrefix(name, whPrefix) {
            if name == whOpaque { return try opaque(parent) }
            if hasPrefix(name, whMetaPrefix) { return }
            let target = Array(name[whPrefix.count...])
            if target.isEmpty || target == [dot] || target == [dot, dot] {
                throw ArchiveErrors.invalid("invalid whiteout '\(show(raw))'")
            }
            return try whiteout(parent, target)
        }

        switch kind {
        case BK_KIND_DIR:
            let pfd = try parentFD(parent, create: true)
            let c = cString(name)
            try makeDirectory(pfd, c, path)
            try chownChmod(pfd, c, e, chmod: true, path)
            if e.xattr_count > 0 {
                let dfd = openat(pfd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                guard dfd >= 0 else { throw BockerError.errno("cannot open '\(show(path))'", code: .io) }
                defer { close(dfd) }
                try setXattrs(fd: dfd, nil, path)
            }
            dirTimes.append((path, atime(e), mtime(e)))
        case BK_KIND_FILE:
            let pfd = try parentFD(parent, create: true)
            try writeFile(pfd, cString(name), path, e)
        case BK_KIND_SYMLINK:
            let pfd = try parentFD(parent, create: true)
            let c = cString(name)
            try create(pfd, c, path) { symlinkat(e.link, pfd, c) }
            try finishNode(pfd, c, path, e, chmod: false)
        case BK_KIND_HARDLINK:
            try hardlink(parent, name, path, e)
        case BK_KIND_CHAR, BK_KIND_BLOCK, BK_KIND_FIFO:
            let pfd = try parentFD(parent, create: true)
            let c = cString(name)
            let type: mode_t = kind == BK_KIND_CHAR ? S_IFCHR : kind == BK_KIND_BLOCK ? S_IFBLK : S_IFIFO
            let dev = kind == BK_KIND_FIFO ? 0 : bk_makedev(e.rdev_major, e.rdev_minor)
            try create(pfd, c, path) { mknodat(pfd, c, type | 0o600, dev) }
            try finishNode(pfd, c, path, e, chmod: true)
        default:
            return  // sockets and unknown types are not extracted
        }
        track(path)
    }

    private func atime(_ e: bk_entry) -> timespec {
        e.atime_set != 0 ? timespec(tv_sec: Int(e.atime), tv_nsec: Int(e.atime_nsec)) : mtime(e)
    }

    private func mtime(_ e: bk_entry) -> timespec { timespec(tv_sec: Int(e.mtime), tv_nsec: Int(e.mtime_nsec)) }

    private func ids(_ e: bk_entry, _ path: [UInt8]) throws -> (uid_t, gid_t) {
        let (u, g) = owner?(e.uid, e.gid) ?? (e.uid, e.gid)
        guard u >= 0 && u < Int64(UInt32.max) && g >= 0 && g < Int64(UInt32.max) else {
            throw ArchiveErrors.invalid("entry '\(show(path))' has an invalid owner \(u):\(g)")
        }
        return (uid_t(u), gid_t(g))
    }

    private func writeFile(_ pfd: Int32, _ name: [CChar], _ path: [UInt8], _ e: bk_entry) throws {
        let flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC
        var fd = openat(pfd, name, flags, 0o600)
        if fd < 0 && errno == EEXIST {
            try removeExisting(pfd, name, path)
            fd = openat(pfd, name, flags, 0o600)
        }
        guard fd >= 0 else { throw BockerError.errno("cannot create '\(show(path))'", code: .io) }
        defer { close(fd) }
        switch bk_layer_write_data(layer, fd, e.size) {
        case 0: break
        case -1: throw ArchiveErrors.invalid(String(cString: bk_layer_error(layer)))
        default: throw BockerError.errno("cannot write '\(show(path))'", code: .io)
        }
        let (uid, gid) = try ids(e, path)
        // chown first: it clears setuid/setgid, which the chmod then sets.
        guard fchown(fd, uid, gid) == 0 else { throw BockerError.errno("cannot chown '\(show(path))'", code: .io) }
        guard fchmod(fd, mode_t(e.perm)) == 0 else { throw BockerError.errno("cannot chmod '\(show(path))'", code: .io) }
        if e.xattr_count > 0 { try setXattrs(fd: fd, nil, path) }
        var ts = (atime(e), mtime(e))
        let r = withUnsafePointer(to: &ts) { $0.withMemoryRebound(to: timespec.self, capacity: 2) { futimens(fd, $0) } }
        guard r == 0 else { throw BockerError.errno("cannot set times of '\(show(path))'", code: .io) }
    }

    /// Creates a node with `make` (0 or -1 with errno); whatever is in the way is removed first.
    private func create(_ pfd: Int32, _ name: [CChar], _ path: [UInt8], _ make: () -> Int32) throws {
        if make() == 0 { return }
        if errno == EEXIST {
            try removeExisting(pfd, name, path)
            if make() == 0 { return }
        }
        throw BockerError.errno("cannot create '\(show(path))'", code: .io)
    }

    /// Owner, mode (not for symlinks), xattrs and times of a node that is not opened.
    private func finishNode(_ pfd: Int32, _ name: [CChar], _ path: [UInt8], _ e: bk_entry, chmod: Bool) throws {
        try chownChmod(pfd, name, e, chmod: chmod, path)
        if e.xattr_count > 0 { try setXattrs(fd: -1, procPath(pfd, name), path) }
        var ts = (atime(e), mtime(e))
        let r = withUnsafePointer(to: &ts) {
            $0.withMemoryRebound(to: timespec.self, capacity: 2) { utimensat(pfd, name, $0, AT_SYMLINK_NOFOLLOW) }
        }
        guard r == 0 else { throw BockerError.errno("cannot set times of '\(show(path))'", code: .io) }
    }

    private func chownChmod(_ pfd: Int32, _ name: [CChar], _ e: bk_entry, chmod: Bool, _ path: [UInt8]) throws {
        let (uid, gid) = try ids(e, path)
        guard fchownat(pfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) == 0 else {
            throw BockerError.errno("cannot chown '\(show(path))'", code: .io)
        }
        if chmod && bk_fchmodat_nofollow(pfd, name, mode_t(e.perm)) != 0 {
            throw BockerError.errno("cannot chmod '\(show(path))'", code: .io)
        }
    }

    /// "/proc/self/fd/<pfd>/<name>": a path to an unopened node whose last component is not
    /// followed by the l*xattr calls.
    private func procPath(_ pfd: Int32, _ name: [CChar]) -> [CChar] {
        var p = cString(Array("/proc/self/fd/\(pfd)/".utf8))
        p.removeLast()
        p.append(contentsOf: name)
        return p
    }

    /// The entry's xattrs, on fd when it is >= 0, else on path (not following it).
    /// `trusted.overlay.*` / `user.overlay.*` from a tar are never set: only whiteouts make those.
    private func setXattrs(fd: Int32, _ path: [CChar]?, _ shown: [UInt8]) throws {
        bk_layer_xattr_reset(layer)
        var name: UnsafePointer<CChar>?
        var value: UnsafeRawPointer?
        var size = 0
        while bk_layer_xattr_next(layer, &name, &value, &size) == 1 {
            guard let name = name else { continue }
            if strncmp(name, "trusted.overlay.", 16) == 0 || strncmp(name, "user.overlay.", 13) == 0 { continue }
            let r = fd >= 0 ? fsetxattr(fd, name, value, size, 0) : lsetxattr(path!, name, value, size, 0)
            if r != 0 && errno != ENOTSUP && errno != EOPNOTSUPP && errno != EPERM {
                throw BockerError.errno("cannot set xattr \(String(cString: name)) on '\(show(shown))'", code: .io)
            }
        }
    }

    private func makeDirectory(_ pfd: Int32, _ name: [CChar], _ path: [UInt8]) throws {
        if mkdirat(pfd, name, 0o700) == 0 { return }
        guard errno == EEXIST else { throw BockerError.errno("cannot create directory '\(show(path))'", code: .io) }
        var st = stat()
        if fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && isDir(st.st_mode) { return }  // keeps its contents
        try removeExisting(pfd, name, path)
        guard mkdirat(pfd, name, 0o700) == 0 else {
            throw BockerError.errno("cannot create directory '\(show(path))'", code: .io)
        }
    }

    private func hardlink(_ parent: [UInt8], _ name: [UInt8], _ path: [UInt8], _ e: bk_entry) throws {
        guard let link = e.link, let target = cleanEntryPath(bytesOf(link)), !target.isEmpty else {
            throw ArchiveErrors.invalid("hard link '\(show(path))' points outside the root")
        }
        if target == path { return }
        let (tparent, tname) = splitParent(target)
        let tpfd = try parentFD(tparent, create: false)
        let tc = cString(tname)
        var st = stat()
        guard fstatat(tpfd, tc, &st, AT_SYMLINK_NOFOLLOW) == 0 else {
            throw BockerError.errno("hard link '\(show(path))': cannot find its target '\(show(target))'", code: .io)
        }
        if isDir(st.st_mode) {
            throw ArchiveErrors.invalid("hard link '\(show(path))' points to the directory '\(show(target))'")
        }
        let pfd = try parentFD(parent, create: true)
        let c = cString(name)
        var existing = stat()
        if fstatat(pfd, c, &existing, AT_SYMLINK_NOFOLLOW) == 0 && existing.st_ino == st.st_ino && existing.st_dev == st.st_dev {
            return  // already that file (a link to itself, or through a symlinked parent)
        }
        // flags 0: a symlink target is linked itself, never followed; no metadata is applied.
        try create(pfd, c, path) { linkat(tpfd, tc, pfd, c, 0) }
    }

    /// Removes whatever is at pfd/name (a directory recursively, a symlink itself).
    private func removeExisting(_ pfd: Int32, _ name: [CChar], _ path: [UInt8]) throws {
        var st = stat()
        guard fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else {
            if errno == ENOENT { return }
            throw BockerError.errno("cannot replace '\(show(path))'", code: .io)
        }
        if isDir(st.st_mode) {
            try removeTree(pfd, name, path)
        } else {
            if st.st_mode & S_IFMT == S_IFLNK { invalidate() }
            guard unlinkat(pfd, name, 0) == 0 || errno == ENOENT else {
                throw BockerError.errno("cannot replace '\(show(path))'", code: .io)
            }
        }
    }

    /// rm -rf of dirfd/name without following symlinks.
    private func removeTree(_ dirfd: Int32, _ name: [CChar], _ path: [UInt8]) throws {
        invalidate()
        if unlinkat(dirfd, name, 0) == 0 || errno == ENOENT { return }
        guard errno == EISDIR else { throw BockerError.errno("cannot remove '\(show(path))'", code: .io) }
        let fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw BockerError.errno("cannot remove '\(show(path))'", code: .io) }
        for (child, _) in try listDirectory(fd, path) {
            try removeTree(fd, cString(child), join(path, child))
        }
        close(fd)
        guard unlinkat(dirfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT else {
            throw BockerError.errno("cannot remove '\(show(path))'", code: .io)
        }
    }

    /// Names (and d_type) in the directory open as fd; fd stays open.
    private func listDirectory(_ fd: Int32, _ path: [UInt8]) throws -> [([UInt8], UInt8)] {
        let dup = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dup >= 0, let d = fdopendir(dup) else {
            if dup >= 0 { close(dup) }
            throw BockerError.errno("cannot list '\(show(path))'", code: .io)
        }
        defer { closedir(d) }
        var out: [([UInt8], UInt8)] = []
        while let ent = readdir(d) {
            let name: [UInt8] = withUnsafeBytes(of: ent.pointee.d_name) { raw in
                Array(raw.prefix(while: { $0 != 0 }))
            }
            if name == [dot] || name == [dot, dot] { continue }
            out.append((name, ent.pointee.d_type))
        }
        return out
    }

    // MARK: parents

    /// The directory at `path` (cleaned, relative), resolved inside the root. With `create`,
    /// missing directories are made (0755, like tar), following symlinks inside the root.
    private func parentFD(_ path: [UInt8], create: Bool) throws -> Int32 {
        if path.isEmpty { return rootFD }
        if let fd = dirs[path] { return fd }
        var fd = bk_open_dir_in_root(rootFD, cString(path))
        if fd < 0 && errno == ENOENT && create {
            linkHops = 0
            try makeDirectories(path)
            fd = bk_open_dir_in_root(rootFD, cString(path))
        }
        guard fd >= 0 else { throw BockerError.errno("cannot open directory '\(show(path))'", code: .io) }
        if dirs.count >= 512 { invalidate() }
        dirs[path] = fd
        return fd
    }

    /// Symlinks followed by the current makeDirectories.
    private var linkHops = 0

    /// mkdir -p of `path` (relative to the root, may hold ".." and symlinks, all resolved inside
    /// the root by the kernel): each directory is made with mkdirat under a parent opened in the
    /// root; a dangling symlink in the way is followed (its target made, inside the root), as
    /// containerd does.
    private func makeDirectories(_ path: [UInt8]) throws {
        let (pp, last) = splitParent(path)
        var pfd = bk_open_dir_in_root(rootFD, cString(pp))
        if pfd < 0 && errno == ENOENT {
            try makeDirectories(pp)
            pfd = bk_open_dir_in_root(rootFD, cString(pp))
        }
        guard pfd >= 0 else { throw BockerError.errno("cannot open directory '\(show(pp))'", code: .io) }
        defer { close(pfd) }
        if last.isEmpty || last == [dot, dot] { return }
        let lc = cString(last)
        if mkdirat(pfd, lc, 0o755) == 0 {
            _ = bk_fchmodat_nofollow(pfd, lc, 0o755)
            return
        }
        guard errno == EEXIST else { throw BockerError.errno("cannot create directory '\(show(path))'", code: .io) }
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX))
        let n = readlinkat(pfd, lc, &buf, buf.count - 1)
        guard n > 0 else { return }  // not a symlink: the caller's open reports what it is
        linkHops += 1
        guard linkHops <= 40 else { throw BockerError.errno("cannot create directory '\(show(path))'", ELOOP, code: .io) }
        let target = buf[0..<n].map { UInt8(bitPattern: $0) }
        let next = target.first == slash || pp.isEmpty ? target : pp + [slash] + target
        try makeDirectories(tidy(next))
    }

    // MARK: whiteouts

    private func track(_ path: [UInt8]) {
        guard mode == .apply, written.insert(path).inserted else { return }
        var p = path[...]
        while let j = p.lastIndex(of: slash) {
            p = p[..<j]
            if !written.insert(Array(p)).inserted { break }
        }
    }

    private func whiteout(_ parent: [UInt8], _ target: [UInt8]) throws {
        let c = cString(target)
        let path = join(parent, target)
        switch mode {
        case .overlay:
            let pfd = try parentFD(parent, create: true)
            if mknodat(pfd, c, S_IFCHR | 0, bk_makedev(0, 0)) != 0 {
                // Something of this layer already has the name; a whiteout hides only lower layers.
                guard errno == EEXIST else { throw BockerError.errno("cannot create whiteout '\(show(path))'", code: .io) }
            }
        case .plain:
            return
        case .apply:
            let pfd = bk_open_dir_in_root(rootFD, cString(parent))
            guard pfd >= 0 else {
                if errno == ENOENT || errno == ENOTDIR { return }  // nothing below to hide
                throw BockerError.errno("cannot open directory '\(show(parent))'", code: .io)
            }
            defer { close(pfd) }
            if written.contains(path) {
                // This layer also has entries at or under the name: only what lower layers left there goes.
                var st = stat()
                if fstatat(pfd, c, &st, AT_SYMLINK_NOFOLLOW) == 0 && isDir(st.st_mode) {
                    let dfd = openat(pfd, c, bk_o_path | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                    guard dfd >= 0 else { throw BockerError.errno("cannot open '\(show(path))'", code: .io) }
                    defer { close(dfd) }
                    try emptyLower(dfd, path)
                }
                return
            }
            try removeTree(pfd, c, path)
        }
    }

    private func opaque(_ dir: [UInt8]) throws {
        switch mode {
        case .overlay:
            let pfd = try parentFD(dir, create: true)
            let fd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            guard fd >= 0 else { throw BockerError.errno("cannot open '\(show(dir))'", code: .io) }
            defer { close(fd) }
            guard fsetxattr(fd, "trusted.overlay.opaque", "y", 1, 0) == 0 else {
                throw BockerError.errno("cannot mark '\(show(dir))' opaque", code: .io)
            }
        case .plain:
            return
        case .apply:
            let fd = bk_open_dir_in_root(rootFD, cString(dir))
            guard fd >= 0 else {
                if errno == ENOENT || errno == ENOTDIR { return }
                throw BockerError.errno("cannot open directory '\(show(dir))'", code: .io)
            }
            defer { close(fd) }
            track(dir)
            try emptyLower(fd, dir)
        }
    }

    /// Removes from the directory fd (at `path`) everything this layer did not write,
    /// descending into the directories it did.
    private func emptyLower(_ fd: Int32, _ path: [UInt8]) throws {
        for (name, type) in try listDirectory(fd, path) {
            let child = join(path, name)
            let c = cString(name)
            if written.contains(child) {
                var dir = type == UInt8(DT_DIR)
                if type == UInt8(DT_UNKNOWN) {
                    var st = stat()
                    dir = fstatat(fd, c, &st, AT_SYMLINK_NOFOLLOW) == 0 && isDir(st.st_mode)
                }
                if dir {
                    let cfd = openat(fd, c, bk_o_path | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                    guard cfd >= 0 else { throw BockerError.errno("cannot open '\(show(child))'", code: .io) }
                    defer { close(cfd) }
                    try emptyLower(cfd, child)
                }
            } else {
                try removeTree(fd, c, child)
            }
        }
    }

    // MARK: end

    /// Directory times, now that nothing more is written into them.
    func finish() throws {
        for (path, at, mt) in dirTimes {
            let (parent, name) = splitParent(path)
            guard let pfd = try? parentFD(parent, create: false) else { continue }  // removed since
            var ts = (at, mt)
            let r = withUnsafePointer(to: &ts) {
                $0.withMemoryRebound(to: timespec.self, capacity: 2) { utimensat(pfd, cString(name), $0, AT_SYMLINK_NOFOLLOW) }
            }
            if r != 0 && errno != ENOENT {
                throw BockerError.errno("cannot set times of '\(show(path))'", code: .io)
            }
        }
    }
}
