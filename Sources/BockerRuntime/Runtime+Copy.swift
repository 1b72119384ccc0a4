import Glibc
import BockerArchive
import BockerCore
import BockerStore
import CArchive
import CBocker

/// `bocker cp`: files between a container and the host (or a tar stream), in both directions,
/// for running and stopped containers. Inside the container every path is resolved by the
/// kernel with the container's root as the root (openat2 RESOLVE_IN_ROOT, no magic links) and
/// every tree is walked by fds with O_NOFOLLOW: a symlink the container plants or swaps in,
/// even halfway through the copy, never leads to a host file.
extension Runtime {
    /// Where a copy reads from: `dirFD`/`name` ("." for the directory dirFD itself), what the
    /// entry is called (`base`, "" for a root), and whether only a directory's contents go
    /// (`SRC/.`).
    struct CopySource {
        var dirFD: Int32
        var name: String
        var base: String
        var isDirectory: Bool
        var contents: Bool
    }

    /// A container path as a relative one for the resolver ("" for the root), and whether it
    /// ends in "/." (contents) or "/" (a directory, symlinks to one followed).
    static func splitContainerPath(_ path: String) -> (components: [String], contents: Bool, trailingSlash: Bool) {
        let contents = path.hasSuffix("/.") || path == "."
        let comps = path.split(separator: "/").map(String.init).filter { $0 != "." && !$0.isEmpty }
        return (comps, contents, path.hasSuffix("/"))
    }

    /// Runs `body` with a directory fd of the container's root filesystem as the container
    /// sees it: a running one's through /proc/PID/root (its overlay, volumes and tmpfs mounts
    /// included), a stopped overlay one's as a detached mount that exists only for the copy,
    /// else its rootfs directory. Stopped containers are copied under the store lock.
    func withContainerRoot<T>(_ ref: String, _ body: (ContainerRecord, Int32) throws -> T) throws -> T {
        let rec = try container(ref)
        if rec.liveState == .running, let pid = rec.pid {
            let fd = Glibc.open("/proc/\(pid)/root", bk_o_path | O_DIRECTORY | O_CLOEXEC)
            // The pid is the container's only if its start time still matches (no reuse).
            guard fd >= 0, ProcessTable.isAlive(pid, startedAt: rec.pidStartTime) else {
                if fd >= 0 { close(fd) }
                throw BockerError(.invalidState, "Container '\(rec.id)' stopped during the copy; try again")
            }
            defer { close(fd) }
            return try body(rec, fd)
        }
        return try store.withLock {
            let rec = try container(rec.id)
            let dir = root.containerDir(rec.id)
            let fd: Int32
            if store.driver.mountPlan(containerDir: dir, layerFS: rec.layers.map(store.layerFS)) != nil {
                let lowers = rec.layers.isEmpty ? [dir + "/empty"] : rec.layers.reversed().map(store.layerFS)
                var err = [CChar](repeating: 0, count: 256)
                let cstrs = lowers.map { strdup($0) }
                defer { cstrs.forEach { free($0) } }
                var ptrs: [UnsafePointer<CChar>?] = cstrs.map { UnsafePointer($0) }
                fd = bk_overlay_detached(&ptrs, Int32(ptrs.count), dir + "/upper", dir + "/work", &err, UInt(err.count))
                guard fd >= 0 else { throw BockerError(.kernel, String(cString: err)) }
            } else {
                let mounts = copyMounts(rec)
                // A plain directory takes no mounts: a detached copy of it does.
                fd = mounts.isEmpty ? Glibc.open(dir + "/rootfs", bk_o_path | O_DIRECTORY | O_CLOEXEC) : bk_tree_clone(dir + "/rootfs")
                guard fd >= 0 else { throw BockerError.errno("cannot open the root of '\(rec.id)'", code: .io) }
            }
            defer { close(fd) }
            try attachMounts(rec, fd)
            return try body(rec, fd)
        }
    }

    /// The volumes and bind mounts a stopped container's copy sees (Docker mounts them for a
    /// copy too), outer mount points first; tmpfs mounts are empty until a start, so not these.
    func copyMounts(_ rec: ContainerRecord) -> [MountSpec] {
        (rec.mounts ?? []).filter { $0.type != .tmpfs }.enumerated()
            .sorted { ($0.element.destination.split(separator: "/").count, $0.offset) < ($1.element.destination.split(separator: "/").count, $1.offset) }
            .map(\.element)
    }

    /// Attaches the container's volumes and bind mounts (read-only ones read-only) inside the
    /// detached tree `treeFD` of a stopped container's root: they go with the tree's last fd,
    /// and are mounted in no namespace meanwhile. Mount points are reached through no symlink.
    /// The caller holds the store lock.
    func attachMounts(_ rec: ContainerRecord, _ treeFD: Int32) throws {
        for m in copyMounts(rec) {
            let source: String
            switch m.type {
            case .bind:
                try MountSpec.checkHostPath(m.source)
                source = m.source
            case .volume: source = try volumes.ensure(m.source).mountpoint
            case .tmpfs: continue
            }
            var err = [CChar](repeating: 0, count: 512)
            guard bk_attach_in_tree(treeFD, source, m.destination, m.readOnly ? 1 : 0, &err, UInt(err.count)) == 0 else {
                throw BockerError(.kernel, "cannot mount \(m.destination) of '\(rec.name ?? rec.id)' for the copy: " + String(cString: err))
            }
        }
    }

    /// `name` below `dirFD` with every symlink in its last component followed inside the root
    /// (`cp -L`): each link's target is resolved again from `rootFD` (absolute) or its
    /// directory (relative), never on the host. The directory fd and name of what it ends at.
    static func followInRoot(_ rootFD: Int32, parent: [String], dirFD: Int32, name: String, path: String) throws -> (Int32, String) {
        var (dir, fd, last) = (parent, dirFD, name)
        for _ in 0..<40 {
            var st = stat()
            guard fstatat(fd, last, &st, AT_SYMLINK_NOFOLLOW) == 0 else {
                close(fd)
                throw BockerError(.notFound, "\(path): the symbolic link leads to nothing in the container")
            }
            guard st.st_mode & S_IFMT == S_IFLNK else { return (fd, last) }
            var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let n = readlinkat(fd, last, &buf, buf.count - 1)
            close(fd)
            guard n >= 0 else { throw BockerError.errno("cannot read the link \(path)", code: .io) }
            buf[n] = 0
            let target = String(cString: buf)
            var comps = (target.hasPrefix("/") ? [] : dir) + target.split(separator: "/").map(String.init).filter { $0 != "." }
            if target.hasSuffix("/") || comps.last == ".." || comps.isEmpty {
                // Ends at a directory: the kernel resolves it whole, inside the root.
                let d = bk_open_dir_in_root(rootFD, comps.joined(separator: "/"))
                guard d >= 0 else { throw BockerError(.notFound, "\(path): the symbolic link leads to nothing in the container") }
                return (d, ".")
            }
            last = comps.removeLast()
            dir = comps
            fd = bk_open_dir_in_root(rootFD, dir.joined(separator: "/"))
            guard fd >= 0 else { throw BockerError(.notFound, "\(path): the symbolic link leads to nothing in the container") }
        }
        close(fd)
        throw BockerError(.invalidArgument, "\(path): too many levels of symbolic links")
    }

    /// The source `path` inside the container whose root is `rootFD`; `follow` (-L) follows a
    /// symlink at its end inside the container, the copy keeping the link's name.
    func containerSource(_ rootFD: Int32, _ path: String, _ rec: ContainerRecord, displayRef: String, follow: Bool = false) throws -> CopySource {
        let (comps, contents, slash) = Runtime.splitContainerPath(path)
        let notFound = BockerError(.notFound, "Could not find the file \(path) in container \(displayRef)")
        if contents || slash || comps.isEmpty {
            let fd = bk_open_dir_in_root(rootFD, comps.joined(separator: "/"))
            guard fd >= 0 else { throw errno == ENOTDIR ? BockerError(.invalidArgument, "\(path): not a directory") : notFound }
            return CopySource(dirFD: fd, name: ".", base: comps.last ?? "", isDirectory: true, contents: contents || comps.isEmpty)
        }
        var fd = bk_open_dir_in_root(rootFD, comps.dropLast().joined(separator: "/"))
        guard fd >= 0 else { throw notFound }
        var name = comps.last!
        var st = stat()
        guard fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { close(fd); throw notFound }
        if follow && st.st_mode & S_IFMT == S_IFLNK {
            (fd, name) = try Runtime.followInRoot(rootFD, parent: Array(comps.dropLast()), dirFD: fd, name: name, path: path)
            guard fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { close(fd); throw notFound }
        }
        return CopySource(dirFD: fd, name: name, base: comps.last!, isDirectory: st.st_mode & S_IFMT == S_IFDIR, contents: false)
    }

    /// The source `path` on the host (the host's own symlinks are the user's: followed, except
    /// the last component, as cp -a).
    static func hostSource(_ path: String, follow: Bool = false) throws -> CopySource {
        let contents = path.hasSuffix("/.") || path == "."
        var trimmed = path
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        if contents || path.hasSuffix("/") || trimmed == "/" {
            let dir = contents ? String(path.dropLast(path == "." ? 0 : 1)) : trimmed
            let fd = Glibc.open(dir.isEmpty ? "." : dir, bk_o_path | O_DIRECTORY | O_CLOEXEC)
            guard fd >= 0 else { throw BockerError.errno("cannot open '\(path)'", code: errno == ENOENT ? .notFound : .io) }
            return CopySource(dirFD: fd, name: ".", base: FS.basename(trimmed == "/" ? "" : trimmed), isDirectory: true,
                              contents: contents || trimmed == "/")
        }
        let name = FS.basename(trimmed)
        if follow, let real = realpath(trimmed, nil) {
            // -L: the host's link followed as the host resolves it; the copy keeps its name.
            defer { free(real) }
            var src = try hostSource(String(cString: real))
            src.base = name
            return src
        }
        let parent = trimmed.contains("/") ? FS.parent(trimmed) : "."
        let fd = Glibc.open(parent.isEmpty ? "/" : parent, bk_o_path | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw BockerError.errno("cannot open '\(parent)'", code: errno == ENOENT ? .notFound : .io) }
        var st = stat()
        guard fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else {
            close(fd)
            throw BockerError(.notFound, "no such file or directory: '\(path)'")
        }
        return CopySource(dirFD: fd, name: name, base: name, isDirectory: st.st_mode & S_IFMT == S_IFDIR, contents: false)
    }

    /// Where the source goes: the directory to extract into and the name of the top entry
    /// ("" when a directory's contents go straight into it), Docker's rules: into DEST when it
    /// is a directory, as DEST when it is not there (its parent must be), over DEST when both
    /// are files. `openDir` opens a path (a directory, symlinks followed in the right root).
    static func destination(_ dest: String, components: [String], source: CopySource,
                            openDir: (String) -> Int32, isPresent: (Int32, String) -> Bool) throws -> (Int32, String) {
        let whole = openDir(components.joined(separator: "/"))
        if whole >= 0 { return (whole, source.contents || source.base.isEmpty ? "" : source.base) }
        guard let last = components.last else { throw BockerError(.io, "cannot open the destination '\(dest)'") }
        if dest.hasSuffix("/") {
            throw BockerError(.notFound, "destination directory '\(dest)' does not exist")
        }
        let parent = openDir(components.dropLast().joined(separator: "/"))
        guard parent >= 0 else { throw BockerError(.notFound, "destination directory '\(FS.parent(dest))' does not exist") }
        if source.isDirectory && isPresent(parent, last) {
            close(parent)
            throw BockerError(.invalidArgument, "cannot copy a directory to the file '\(dest)'")
        }
        return (parent, last)
    }

    /// uid/gid as the container root sees them → host ids (a --userns=auto container's range).
    static func shift(_ m: IDMapping?) -> ((Int64, Int64) -> (Int64, Int64))? {
        guard let m else { return nil }
        return { u, g in (u < Int64(m.size) ? u + Int64(m.uidBase) : u, g < Int64(m.size) ? g + Int64(m.gidBase) : g) }
    }

    static func unshift(_ m: IDMapping?) -> ((Int64, Int64) -> (Int64, Int64))? {
        guard let m else { return nil }
        func back(_ v: Int64, _ base: UInt32) -> Int64 { v >= Int64(base) && v < Int64(base) + Int64(m.size) ? v - Int64(base) : v }
        return { u, g in (back(u, m.uidBase), back(g, m.gidBase)) }
    }

    // MARK: out of the container

    /// `bocker cp CTR:PATH DEST`: the file or tree at PATH to the host path DEST (`followLink`,
    /// -L: a symlink PATH followed inside the container).
    public func copyOut(_ ref: String, path: String, toHost dest: String, followLink: Bool = false) throws {
        try withContainerRoot(ref) { rec, rootFD in
            let src = try containerSource(rootFD, path, rec, displayRef: rec.name ?? rec.id, follow: followLink)
            defer { close(src.dirFD) }
            // An absolute DEST keeps its "/" as the first component ("//a" opens as "/a").
            let comps = (dest.hasPrefix("/") ? ["/"] : []) + dest.split(separator: "/").map(String.init).filter { $0 != "." }
            let (into, tarName) = try Runtime.destination(dest, components: comps, source: src, openDir: { p in
                Glibc.open(p.isEmpty ? "." : p, bk_o_path | O_DIRECTORY | O_CLOEXEC)
            }, isPresent: { fd, name in var st = stat(); return fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 })
            defer { close(into) }
            try TreeCopy.copy(fromDirFD: src.dirFD, name: src.name, tarName: tarName, intoDirFD: into,
                              owner: Runtime.unshift(rec.idMapping))
        }
    }

    /// `bocker cp CTR:PATH -`: the file or tree at PATH as a tar stream on `fd`.
    public func copyOut(_ ref: String, path: String, toTarFD fd: Int32, followLink: Bool = false) throws {
        try withContainerRoot(ref) { rec, rootFD in
            let src = try containerSource(rootFD, path, rec, displayRef: rec.name ?? rec.id, follow: followLink)
            defer { close(src.dirFD) }
            try TreeCopy.writeTar(dirFD: src.dirFD, name: src.name, tarName: src.contents ? "" : src.base.isEmpty ? "." : src.base, to: fd)
        }
    }

    // MARK: into the container

    /// `bocker cp SRC CTR:PATH`: the host file or tree SRC into the container. Owners become the
    /// container's root unless `archive` (-a) keeps those of SRC; modes and times are kept.
    /// `followLink` (-L): a symlink SRC is followed on the host.
    public func copyIn(_ ref: String, fromHost source: String, path: String, archive: Bool, followLink: Bool = false) throws {
        let src = try Runtime.hostSource(source, follow: followLink)
        defer { close(src.dirFD) }
        try withContainerRoot(ref) { rec, rootFD in
            let (into, tarName) = try containerDestination(rootFD, path, src)
            defer { close(into) }
            try TreeCopy.copy(fromDirFD: src.dirFD, name: src.name, tarName: tarName, intoDirFD: into,
                              owner: owner(archive: archive, rec.idMapping))
        }
    }

    /// `bocker cp - CTR:PATH`: a tar stream read from `fd` extracted into the directory PATH.
    public func copyIn(_ ref: String, fromTarFD fd: Int32, path: String, archive: Bool) throws {
        try withContainerRoot(ref) { rec, rootFD in
            let (comps, _, _) = Runtime.splitContainerPath(path)
            let into = bk_open_dir_in_root(rootFD, comps.joined(separator: "/"))
            guard into >= 0 else {
                throw BockerError(.notFound, "destination directory '\(path)' must exist in the container (a tar stream is extracted into it)")
            }
            defer { close(into) }
            try TreeCopy.extractTar(from: fd, intoDirFD: into, owner: owner(archive: archive, rec.idMapping))
        }
    }

    func containerDestination(_ rootFD: Int32, _ path: String, _ src: CopySource) throws -> (Int32, String) {
        let comps = Runtime.splitContainerPath(path).components
        return try Runtime.destination(path, components: comps, source: src, openDir: { bk_open_dir_in_root(rootFD, $0) },
                                       isPresent: { fd, name in var st = stat(); return fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 })
    }

    func owner(archive: Bool, _ m: IDMapping?) -> (Int64, Int64) -> (Int64, Int64) {
        let toHost = Runtime.shift(m)
        return { u, g in
            let ids = archive ? (u, g) : (0, 0)
            return toHost?(ids.0, ids.1) ?? ids
        }
    }
}
