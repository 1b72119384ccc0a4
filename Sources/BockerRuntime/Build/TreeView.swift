import Glibc
import BockerCore
import CArchive

/// A read-only view of a filesystem made of layer trees, top first: overlay layers merge (a 0/0
/// character device is a whiteout, `trusted.overlay.opaque=y` hides what is below a directory);
/// a cumulative driver's top layer or a host directory is a single tree. Paths resolve inside
/// the view's root: symlinks (absolute ones restart at the root) and `..` never leave it.
struct TreeView {
    let layers: [String]
    let overlay: Bool

    init(layers: [String], overlay: Bool) {
        self.layers = layers
        self.overlay = overlay
    }

    /// A single directory tree (a build context, a cumulative layer).
    init(directory: String) { self.init(layers: [directory], overlay: false) }

    enum Probe { case absent(stop: Bool), hidden, found(String, stat, opaque: Bool) }

    static func isDir(_ st: stat) -> Bool { (st.st_mode & S_IFMT) == S_IFDIR }
    static func isLink(_ st: stat) -> Bool { (st.st_mode & S_IFMT) == S_IFLNK }

    func isWhiteout(_ st: stat) -> Bool {
        overlay && (st.st_mode & S_IFMT) == S_IFCHR && st.st_rdev == 0
    }

    func isOpaque(_ path: String) -> Bool {
        guard overlay else { return false }
        var v: (UInt8, UInt8) = (0, 0)
        let n = withUnsafeMutableBytes(of: &v) { lgetxattr(path, "trusted.overlay.opaque", $0.baseAddress, 2) }
        return n == 1 && v.0 == UInt8(ascii: "y")
    }

    /// What one layer holds at comps (every prefix a directory there).
    func probe(_ layer: String, _ comps: [String]) -> Probe {
        var p = layer
        var stop = false
        var st = stat()
        if comps.isEmpty {
            guard lstat(layer, &st) == 0 else { return .absent(stop: false) }
            return .found(layer, st, opaque: false)
        }
        for (k, c) in comps.enumerated() {
            p += "/" + c
            guard lstat(p, &st) == 0 else { return .absent(stop: stop) }
            if isWhiteout(st) { return .hidden }
            if k == comps.count - 1 { return .found(p, st, opaque: Self.isDir(st) && isOpaque(p)) }
            if !Self.isDir(st) { return .hidden }
            if isOpaque(p) { stop = true }
        }
        return .absent(stop: stop)
    }

    /// The visible entry at comps (already resolved: no symlink among the prefixes): its path on
    /// the host and its lstat.
    func entry(_ comps: [String]) -> (path: String, st: stat)? {
        for l in layers {
            switch probe(l, comps) {
            case .absent(let stop): if stop { return nil }
            case .hidden: return nil
            case .found(let p, let st, _): return (p, st)
            }
        }
        return nil
    }

    /// The names in the directory at comps (resolved), merged over the layers, sorted.
    func list(_ comps: [String]) -> [String] { entries(comps).map(\.name) }

    /// The visible entries of the directory at comps (resolved), merged over the layers, sorted
    /// by name: each with its path on the host and its lstat (one lstat per name and layer).
    func entries(_ comps: [String]) -> [(name: String, path: String, st: stat)] {
        var seen = Set<String>()
        var out: [(name: String, path: String, st: stat)] = []
        loop: for l in layers {
            switch probe(l, comps) {
            case .absent(let stop): if stop { break loop }
            case .hidden: break loop
            case .found(let p, let st, let opaque):
                guard Self.isDir(st) else { break loop }
                for n in FS.list(p) where seen.insert(n).inserted {
                    var cst = stat()
                    guard lstat(p + "/" + n, &cst) == 0, !isWhiteout(cst) else { continue }
                    out.append((n, p + "/" + n, cst))
                }
                if opaque || !overlay { break loop }
            }
        }
        return out.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
    }

    /// Resolves a path (absolute or relative to the root) inside the view: the clean
    /// components, and whether the final entry exists. `followLast`: a final symlink is followed.
    func resolve(_ path: String, followLast: Bool) throws -> (comps: [String], exists: Bool) {
        var stack: [String] = []
        var queue = path.split(separator: "/").map(String.init)
        var links = 0
        while !queue.isEmpty {
            let c = queue.removeFirst()
            if c.isEmpty || c == "." { continue }
            if c == ".." { _ = stack.popLast(); continue }
            let cand = stack + [c]
            if let e = entry(cand), Self.isLink(e.st), !queue.isEmpty || followLast {
                links += 1
                if links > 40 { throw BockerError(.invalidArgument, "too many levels of symbolic links in '\(path)'") }
                let target = Self.readlink(e.path) ?? ""
                if target.hasPrefix("/") { stack = [] }
                queue = target.split(separator: "/").map(String.init) + queue
                continue
            }
            stack = cand
        }
        return (stack, stack.isEmpty || entry(stack) != nil)
    }

    static func readlink(_ path: String) -> String? {
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = Glibc.readlink(path, &buf, buf.count - 1)
        guard n >= 0 else { return nil }
        buf[n] = 0
        return String(cString: buf)
    }

    /// Reads a small file of the view (nil when missing or not a regular file).
    func readFile(_ path: String) -> String? {
        guard let r = try? resolve(path, followLast: true), r.exists, let e = entry(r.comps),
              (e.st.st_mode & S_IFMT) == S_IFREG else { return nil }
        let fd = open(e.path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while out.count < 16 << 20 {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            out += buf[0..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }
}
