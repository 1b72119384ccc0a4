import Glibc
import BockerCore
import BockerDigest
import BockerArchive
import BockerStore
import CArchive

/// One file, directory or symlink a COPY/ADD writes: where it comes from (a host path found
/// through a `TreeView`), where it goes (clean components under the image root), and the owner
/// and mode it gets there.
struct CopyItem {
    var source: String
    var st: stat
    var dest: [String]
    var uid: UInt32
    var gid: UInt32
    var mode: UInt32
    /// ADD: a local archive unpacked into `dest` (a directory).
    var extract = false
}

/// Plans and performs the file side of COPY/ADD: expands sources (globs, `.dockerignore`'s
/// included set), works out Docker's destination rules, hashes the plan for the cache key, and
/// writes it into a layer tree without ever following a symlink out of it.
struct CopyPlan {
    var items: [CopyItem] = []
    /// Directories the plan needs that the image may lack (created 0755, owned by `owner`).
    var owner: (UInt32, UInt32)?

    static let globChars: Set<Character> = ["*", "?", "["]

    /// Makes the plan. `view`: where the sources are; `included`: what may be copied from it
    /// (nil: all); `dest`: the destination components' path (already joined with the working
    /// directory); `target`: the image's filesystem before the step (symlinks in the
    /// destination resolve in it); `fromContext`: files get 0:0 unless `chown` says otherwise.
    static func make(_ step: CopyStep, view: TreeView, included: Set<String>?, dest: String, target: TreeView,
                     owner: (UInt32, UInt32)?, mode: UInt32?, fromContext: Bool) throws -> CopyPlan {
        let what = step.add ? "ADD" : "COPY"
        var ancestors = Set<String>()
        if let inc = included {
            for p in inc {
                var comps = p.split(separator: "/").map(String.init)
                while !comps.isEmpty { comps.removeLast(); ancestors.insert(comps.joined(separator: "/")) }
            }
        }
        func allowed(_ comps: [String], dir: Bool) -> Bool {
            guard let inc = included else { return true }
            let rel = comps.joined(separator: "/")
            return rel.isEmpty || inc.contains(rel) || (dir && ancestors.contains(rel))
        }
        // Sources → (components in the view) list.
        var sources: [[String]] = []
        for src in step.sources {
            if src.hasPrefix("http://") || src.hasPrefix("https://") {
                throw BockerError(.invalidArgument, "\(what) from a URL ('\(src)') is not supported in this version: download it in a RUN step")
            }
            var depth = 0
            for c in src.split(separator: "/") where c != "." {
                depth += c == ".." ? -1 : 1
                if depth < 0 && fromContext {
                    throw BockerError(.invalidArgument, "\(what) failed: forbidden path outside the build context: \(src)")
                }
            }
            if src.contains(where: { globChars.contains($0) }) {
                let matches = try glob(src, view: view, allowed: allowed)
                if matches.isEmpty { throw BockerError(.notFound, "\(what) failed: no source files were specified (nothing matches '\(src)')") }
                sources += matches
            } else {
                let r = try view.resolve(src, followLast: true)
                guard r.exists, view.entry(r.comps) != nil || r.comps.isEmpty,
                      allowed(r.comps, dir: true) else {
                    throw BockerError(.notFound, "\(what) failed: file not found in build context or excluded by .dockerignore: stat \(src): file does not exist")
                }
                sources.append(r.comps)
            }
        }
        let many = sources.count > 1
        let destIsDirSyntax = dest.hasSuffix("/") || dest.hasSuffix("/.") || many
        let d = try target.resolve(dest, followLast: true)
        let destIsDir = destIsDirSyntax || (d.exists && target.entry(d.comps).map { TreeView.isDir($0.st) } ?? d.comps.isEmpty)
        if many && !(dest.hasSuffix("/")) {
            throw BockerError(.invalidArgument, "When using \(what) with more than one source file, the destination must be a directory and end with a /")
        }
        var plan = CopyPlan()
        plan.owner = owner
        func add(_ path: String, _ st: stat, _ destComps: [String], extract: Bool = false) {
            plan.items.append(CopyItem(source: path, st: st, dest: destComps,
                                       uid: owner?.0 ?? (fromContext ? 0 : st.st_uid), gid: owner?.1 ?? (fromContext ? 0 : st.st_gid),
                                       mode: mode.map { TreeView.isLink(st) ? 0o777 : $0 } ?? (st.st_mode & 0o7777), extract: extract))
        }
        func walk(_ comps: [String], into destComps: [String]) {
            for e in view.entries(comps) {
                let c = comps + [e.name]
                let isDir = TreeView.isDir(e.st)
                guard included == nil || allowed(c, dir: isDir) else { continue }
                if isDir {
                    add(e.path, e.st, destComps + [e.name])
                    walk(c, into: destComps + [e.name])
                } else if TreeView.isLink(e.st) || (e.st.st_mode & S_IFMT) == S_IFREG {
                    add(e.path, e.st, destComps + [e.name])
                }
            }
        }
        for s in sources {
            var st = stat()
            var path = view.layers.first ?? "/"
            if let e = view.entry(s) { st = e.st; path = e.path } else if lstat(path, &st) != 0 { continue }
            if TreeView.isDir(st) {
                walk(s, into: d.comps)
            } else if step.add, (st.st_mode & S_IFMT) == S_IFREG, ArchiveKind.sniff(path) != nil {
                add(path, st, d.comps, extract: true)
            } else {
                add(path, st, destIsDir ? d.comps + [s.last ?? ""] : d.comps)
            }
        }
        return plan
    }

    /// Expands a glob pattern component by component over the view.
    static func glob(_ pattern: String, view: TreeView, allowed: ([String], Bool) -> Bool) throws -> [[String]] {
        var current: [[String]] = [[]]
        for part in pattern.split(separator: "/").map(String.init) where part != "." && !part.isEmpty {
            var next: [[String]] = []
            for base in current {
                if !part.contains(where: { globChars.contains($0) }) {
                    if view.entry(base + [part]) != nil { next.append(base + [part]) }
                    continue
                }
                for name in view.list(base) where fnmatch(part, name, FNM_PERIOD) == 0 {
                    let c = base + [name]
                    if let e = view.entry(c), allowed(c, TreeView.isDir(e.st)) { next.append(c) }
                }
            }
            current = next
        }
        return current.filter { !$0.isEmpty }
    }

    /// The plan's digest: every item's destination, kind, owner, mode, size, link target and
    /// content (mtimes are not part of it, as in BuildKit).
    func digest() throws -> String {
        let h = SHA256()
        for it in items {
            let kind = it.st.st_mode & S_IFMT
            var line = "\(it.dest.joined(separator: "/"))\0\(kind)\0\(it.uid):\(it.gid)\0\(String(it.mode, radix: 8))\0\(it.extract)\0"
            if kind == S_IFLNK { line += TreeView.readlink(it.source) ?? "" }
            if kind == S_IFREG { line += "\(it.st.st_size)\0" + String(try Store.fileDigest(it.source, followSymlinks: false).dropFirst("sha256:".count)) }
            h.update(Array((line + "\n").utf8))
        }
        return h.finalizeHex()
    }

    // MARK: Writing

    /// Writes the plan into the layer tree at `root`. `target` is the image before the step:
    /// directories the layer lacks (overlay keeps only the changes) are made with its metadata.
    func apply(root: String, target: TreeView, tmpDir: String) throws {
        let rootFD = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard rootFD >= 0 else { throw BockerError.errno("cannot open '\(root)'", code: .io) }
        defer { close(rootFD) }
        var dirTimes: [([String], timespec)] = []
        var openParent: [String]?
        var cachedFD: Int32 = -1
        defer { if cachedFD >= 0 { close(cachedFD) } }
        for it in items {
            if it.extract {
                try extractArchive(it, root: root, target: target, tmpDir: tmpDir)
                continue
            }
            guard let name = it.dest.last else {
                // The root itself: only a directory's contents (already items) can go there.
                continue
            }
            // Items come directory by directory: the parent of the last item is kept open.
            let parent = Array(it.dest.dropLast())
            if parent != openParent {
                if cachedFD >= 0 { close(cachedFD); cachedFD = -1 }
                cachedFD = try openDir(rootFD, parent, target: target)
                openParent = parent
            }
            let dirFD = cachedFD
            switch it.st.st_mode & S_IFMT {
            case S_IFDIR:
                if mkdirat(dirFD, name, 0o700) != 0 && errno != EEXIST {
                    throw BockerError.errno("cannot create '/\(it.dest.joined(separator: "/"))'", code: .io)
                }
                let fd = openat(dirFD, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                guard fd >= 0 else { throw BockerError.errno("cannot open '/\(it.dest.joined(separator: "/"))' as a directory", code: .io) }
                fchown(fd, it.uid, it.gid)
                fchmod(fd, mode_t(it.mode))
                close(fd)
                dirTimes.append((it.dest, it.st.st_mtim))
            case S_IFLNK:
                try clear(dirFD, name)
                guard let target = TreeView.readlink(it.source), symlinkat(target, dirFD, name) == 0 else {
                    throw BockerError.errno("cannot create the link '/\(it.dest.joined(separator: "/"))'", code: .io)
                }
                fchownat(dirFD, name, it.uid, it.gid, AT_SYMLINK_NOFOLLOW)
                var ts = [it.st.st_atim, it.st.st_mtim]
                utimensat(dirFD, name, &ts, AT_SYMLINK_NOFOLLOW)
            default:
                try clear(dirFD, name)
                let out = openat(dirFD, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
                guard out >= 0 else { throw BockerError.errno("cannot create '/\(it.dest.joined(separator: "/"))'", code: .io) }
                defer { close(out) }
                try copyData(from: it.source, to: out)
                fchown(out, it.uid, it.gid)
                fchmod(out, mode_t(it.mode))
                var ts = [it.st.st_atim, it.st.st_mtim]
                futimens(out, &ts)
            }
        }
        // Directory times last: writing into them changed them.
        for (comps, mtime) in dirTimes.reversed() {
            guard let name = comps.last, let parent = try? openDir(rootFD, Array(comps.dropLast()), target: target) else { continue }
            var ts = [mtime, mtime]
            utimensat(parent, name, &ts, AT_SYMLINK_NOFOLLOW)
            close(parent)
        }
    }

    /// Removes a non-directory at dirFD/name (a file or symlink the image had there).
    func clear(_ dirFD: Int32, _ name: String) throws {
        var st = stat()
        guard fstatat(dirFD, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { return }
        if TreeView.isDir(st) { throw BockerError(.invalidArgument, "cannot copy a file over the directory '\(name)'") }
        unlinkat(dirFD, name, 0)
    }

    /// Opens (making what is missing) the directory at comps under rootFD, one component at a
    /// time, never following a symlink.
    func openDir(_ rootFD: Int32, _ comps: [String], target: TreeView) throws -> Int32 {
        var fd = dup(rootFD)
        for (k, c) in comps.enumerated() {
            var next = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if next < 0 && errno == ENOENT {
                let meta = target.entry(Array(comps[0...k])).map(\.st)
                let mode = meta.map { mode_t($0.st_mode & 0o7777) } ?? 0o755
                if mkdirat(fd, c, mode) != 0 && errno != EEXIST {
                    close(fd)
                    throw BockerError.errno("cannot create '/\(comps[0...k].joined(separator: "/"))'", code: .io)
                }
                next = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                if next >= 0 {
                    if let m = meta { fchown(next, m.st_uid, m.st_gid); fchmod(next, mode); var ts = [m.st_atim, m.st_mtim]; futimens(next, &ts) }
                    else if let o = owner { fchown(next, o.0, o.1) }
                }
            }
            close(fd)
            guard next >= 0 else {
                throw BockerError.errno("cannot open '/\(comps[0...k].joined(separator: "/"))' as a directory", code: .io)
            }
            fd = next
        }
        return fd
    }

    func copyData(from path: String, to out: Int32) throws {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw BockerError.errno("cannot read '\(path)'", code: .io) }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 1 << 17)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { throw BockerError.errno("cannot read '\(path)'", code: .io) }
            if n == 0 { break }
            try buf.withUnsafeBytes { try FS.writeAll(out, UnsafeRawBufferPointer(rebasing: $0[0..<n]), what: "a copied file") }
        }
    }

    /// ADD of a local archive: unpacked (safely, inside a staging directory) and its tree
    /// copied into the destination directory with the archive's owners (or `--chown`'s).
    func extractArchive(_ it: CopyItem, root: String, target: TreeView, tmpDir: String) throws {
        let stage = tmpDir + "/add-" + Identifier.randomHex(bytes: 6)
        try FS.makeDirectories(stage + "/tree", mode: 0o700)
        defer { try? FS.removeTree(stage) }
        guard let kind = ArchiveKind.sniff(it.source) else { return }
        var blob = it.source
        var comp = LayerCompression.none
        switch kind {
        case .tar: break
        case .gzip: comp = .gzip
        case .zstd: comp = .zstd
        case .bzip2, .xz:
            blob = stage + "/archive.tar"
            let tool = kind == .xz ? "/usr/bin/xz" : "/bin/bzip2"
            guard FS.exists(tool) else { throw BockerError(.notFound, "ADD of '\(FS.basename(it.source))' needs \(tool) on the host") }
            try HostTool.run(["/bin/sh", "-c", "\"$0\" -dc < \"$1\" > \"$2\"", tool, it.source, blob], failure: .io)
        }
        _ = try LayerExtractor.extract(blob: blob, compression: comp, into: stage + "/tree", whiteouts: .apply)
        let view = TreeView(directory: stage + "/tree")
        var sub = CopyPlan()
        sub.owner = owner
        var queue: [[String]] = [[]]
        while !queue.isEmpty {
            let c = queue.removeFirst()
            for n in view.list(c) {
                guard let e = view.entry(c + [n]) else { continue }
                sub.items.append(CopyItem(source: e.path, st: e.st, dest: it.dest + c + [n],
                                          uid: owner?.0 ?? e.st.st_uid, gid: owner?.1 ?? e.st.st_gid, mode: e.st.st_mode & 0o7777))
                if TreeView.isDir(e.st) { queue.append(c + [n]) }
            }
        }
        if sub.items.isEmpty { return }
        try sub.apply(root: root, target: target, tmpDir: tmpDir)
    }
}

/// The archive formats ADD unpacks, by their first bytes.
enum ArchiveKind {
    case tar, gzip, zstd, bzip2, xz

    static func sniff(_ path: String) -> ArchiveKind? {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var b = [UInt8](repeating: 0, count: 512)
        let n = b.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n >= 4 else { return nil }
        if b[0] == 0x1f && b[1] == 0x8b { return .gzip }
        if b[0...3] == [0x28, 0xb5, 0x2f, 0xfd] { return .zstd }
        if b[0...2] == [0x42, 0x5a, 0x68] { return .bzip2 }
        if n >= 6 && b[0...5] == [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00] { return .xz }
        if n >= 262 && b[257...261] == Array("ustar".utf8)[...] { return .tar }
        return nil
    }
}
