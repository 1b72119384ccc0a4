import BockerArchive
import BockerCore
import BockerDigest
import CArchive
import Glibc

/// A tar writer for the tests: ustar headers, with a pax header whenever a name or link is too
/// long, xattrs or sub-second mtimes are wanted, or raw pax records are given.
struct Tar {
    enum Kind: UInt8 {
        case file = 0x30, hardlink = 0x31, symlink = 0x32, char = 0x33, block = 0x34, dir = 0x35, fifo = 0x36
    }

    var bytes: [UInt8] = []

    mutating func add(_ name: String, _ kind: Kind = .file, mode: Int? = nil, uid: Int = 0, gid: Int = 0,
                      mtime: Int = 1_600_000_000, mtimeNsec: Int = 0, link: String = "", content: [UInt8] = [],
                      dev: (Int, Int) = (0, 0), xattrs: [(String, [UInt8])] = [], pax: [(String, [UInt8])] = [],
                      rawName: [UInt8]? = nil) {
        let nameBytes = rawName ?? Array(name.utf8)
        let linkBytes = Array(link.utf8)
        var records = pax
        if nameBytes.count > 100 || nameBytes.contains(0) { records.append(("path", nameBytes)) }
        if linkBytes.count > 100 { records.append(("linkpath", linkBytes)) }
        if mtimeNsec != 0 { records.append(("mtime", Array(String(format9(mtime, mtimeNsec)).utf8))) }
        for (k, v) in xattrs { records.append(("SCHILY.xattr." + k, v)) }
        if !records.isEmpty {
            var body: [UInt8] = []
            for (k, v) in records { body += paxRecord(k, v) }
            header(name: Array("PaxHeaders/x".utf8), type: 0x78, mode: 0o644, uid: 0, gid: 0, size: body.count,
                   mtime: mtime, link: [], dev: (0, 0))
            append(body)
        }
        let defaultMode = kind == .dir ? 0o755 : kind == .symlink ? 0o777 : 0o644
        let size = kind == .file ? content.count : 0
        header(name: Array(nameBytes.prefix(while: { $0 != 0 }).prefix(100)), type: kind.rawValue,
               mode: mode ?? defaultMode, uid: uid, gid: gid, size: size, mtime: mtime,
               link: Array(linkBytes.prefix(100)), dev: dev)
        if kind == .file { append(content) }
    }

    /// The end-of-archive marker (two zero blocks).
    mutating func finish() { bytes += [UInt8](repeating: 0, count: 1024) }

    private func format9(_ s: Int, _ ns: Int) -> String {
        var frac = String(ns)
        while frac.count < 9 { frac = "0" + frac }
        return "\(s).\(frac)"
    }

    private func paxRecord(_ key: String, _ value: [UInt8]) -> [UInt8] {
        let rest = 1 + key.utf8.count + 1 + value.count + 1  // " key=value\n"
        var len = rest + 1
        while String(len).count + rest != len { len = String(len).count + rest }
        return Array(String(len).utf8) + [0x20] + Array(key.utf8) + [0x3d] + value + [0x0a]
    }

    private mutating func append(_ data: [UInt8]) {
        bytes += data
        let pad = (512 - data.count % 512) % 512
        bytes += [UInt8](repeating: 0, count: pad)
    }

    private mutating func header(name: [UInt8], type: UInt8, mode: Int, uid: Int, gid: Int, size: Int, mtime: Int,
                                 link: [UInt8], dev: (Int, Int)) {
        var h = [UInt8](repeating: 0, count: 512)
        func put(_ off: Int, _ b: [UInt8]) { for (i, x) in b.enumerated() { h[off + i] = x } }
        func octal(_ off: Int, _ width: Int, _ v: Int) {
            var s = String(v, radix: 8)
            while s.count < width - 1 { s = "0" + s }
            put(off, Array(s.utf8) + [0])
        }
        put(0, name)
        octal(100, 8, mode)
        octal(108, 8, uid)
        octal(116, 8, gid)
        octal(124, 12, size)
        octal(136, 12, mtime)
        put(148, [UInt8](repeating: 0x20, count: 8))
        h[156] = type
        put(157, link)
        put(257, Array("ustar".utf8) + [0])
        put(263, Array("00".utf8))
        put(265, Array("root".utf8))
        put(297, Array("root".utf8))
        octal(329, 8, dev.0)
        octal(337, 8, dev.1)
        let sum = h.reduce(0) { $0 + Int($1) }
        var s = String(sum, radix: 8)
        while s.count < 6 { s = "0" + s }
        put(148, Array(s.utf8) + [0, 0x20])
        bytes += h
    }
}

struct TestFailure: Error, CustomStringConvertible { let description: String }

func check(_ ok: Bool, _ what: @autoclosure () -> String) throws {
    if !ok { throw TestFailure(description: what()) }
}

/// Compresses bytes into a file with the C shim's streaming compressors.
func writeBlob(_ data: [UInt8], to path: String, _ compression: LayerCompression, level: Int32 = 3) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    try check(fd >= 0, "cannot create \(path)")
    defer { close(fd) }
    switch compression {
    case .none:
        try data.withUnsafeBytes { try FS.writeAll(fd, $0, what: path) }
    case .gzip, .zstd:
        let c = bk_compressor_new(compression == .gzip ? Int32(BK_COMP_GZIP) : Int32(BK_COMP_ZSTD), level)!
        defer { bk_compressor_free(c) }
        try check(data.withUnsafeBytes { bk_compressor_write(c, $0.baseAddress, $0.count, fd) } == 0, "compress")
        try check(bk_compressor_finish(c, fd) == 0, "compress finish")
    }
}

func compressed(_ data: [UInt8], _ compression: LayerCompression) throws -> [UInt8] {
    let s = try Sandbox()
    defer { s.remove() }
    try writeBlob(data, to: s.top + "/c", compression)
    return try FS.read(s.top + "/c")
}

/// A temporary directory `base` holding the extraction `root` and sentinels outside it:
/// `victim` (a file), `victimdir/` (with `victimdir/file`), `root-evil/` (a sibling-prefix dir).
final class Sandbox {
    /// The temporary directory: blobs go here, the "host" in `base`.
    let top: String
    let base: String
    var root: String { base + "/root" }

    init() throws {
        var template = Array("/tmp/bkarch.XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else { throw TestFailure(description: "mkdtemp failed") }
        top = String(cString: p)
        base = top + "/host"
        mkdir(base, 0o755)
        mkdir(root, 0o755)
        try write(base + "/victim", "secret", mode: 0o640)
        mkdir(base + "/victimdir", 0o750)
        try write(base + "/victimdir/file", "dir secret", mode: 0o600)
        mkdir(base + "/root-evil", 0o755)
        try write(base + "/root-evil/keep", "evil sibling", mode: 0o644)
        for p in [base + "/victim", base + "/victimdir/file", base + "/victimdir", base + "/root-evil"] {
            var ts = (timespec(tv_sec: 1_000_000_000, tv_nsec: 0), timespec(tv_sec: 1_000_000_000, tv_nsec: 0))
            _ = withUnsafePointer(to: &ts) { $0.withMemoryRebound(to: timespec.self, capacity: 2) { utimensat(AT_FDCWD, p, $0, AT_SYMLINK_NOFOLLOW) } }
        }
    }

    func remove() { removeAll(AT_FDCWD, Array(top.utf8)) }

    func write(_ path: String, _ s: String, mode: mode_t = 0o644) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        try check(fd >= 0, "cannot create \(path): \(String(cString: strerror(errno)))")
        defer { close(fd) }
        try Array(s.utf8).withUnsafeBytes { try FS.writeAll(fd, $0, what: path) }
        fchmod(fd, mode)
    }

    /// Extracts the tar (compressed as asked) into root.
    @discardableResult
    func extract(_ tar: Tar, _ compression: LayerCompression = .none, mode: WhiteoutMode = .overlay) throws -> ExtractResult {
        let blob = top + "/layer.blob"
        try writeBlob(tar.bytes, to: blob, compression)
        defer { unlink(blob) }
        return try LayerExtractor.extract(blob: blob, compression: compression, into: root, whiteouts: mode)
    }

    /// Everything outside root (type, mode, owner, size, times, content or link target), by path.
    func outside() -> [String: String] {
        var out: [String: String] = [:]
        walk(base, into: &out, skip: root)
        return out
    }
}

/// A description of every node under dir (skipping `skip`).
func walk(_ dir: String, into out: inout [String: String], skip: String? = nil) {
    out[dir] = describe(dir)
    var st = stat()
    guard lstat(dir, &st) == 0, st.st_mode & S_IFMT == S_IFDIR else { return }
    for name in FS.list(dir).sorted() {
        let p = dir + "/" + name
        if p == skip { continue }
        walk(p, into: &out, skip: skip)
    }
}

func describe(_ path: String) -> String {
    var st = stat()
    guard lstat(path, &st) == 0 else { return "missing" }
    var d = "mode=\(String(st.st_mode, radix: 8)) uid=\(st.st_uid) gid=\(st.st_gid) size=\(st.st_size) nlink=\(st.st_nlink) "
    d += "mtime=\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec) ctime=\(st.st_ctim.tv_sec).\(st.st_ctim.tv_nsec)"
    switch st.st_mode & S_IFMT {
    case S_IFREG: d += " sha=" + SHA256.hex((try? FS.read(path)) ?? [])
    case S_IFLNK: d += " -> " + (readLink(path) ?? "?")
    default: break
    }
    return d
}

func readLink(_ path: String) -> String? {
    var buf = [CChar](repeating: 0, count: 4097)
    let n = readlink(path, &buf, 4096)
    guard n >= 0 else { return nil }
    return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

func lstatOf(_ path: String) -> stat? {
    var st = stat()
    return lstat(path, &st) == 0 ? st : nil
}

func isType(_ path: String, _ type: mode_t) -> Bool {
    guard let st = lstatOf(path) else { return false }
    return st.st_mode & S_IFMT == type
}

func content(_ path: String) -> String? {
    (try? FS.read(path)).map { String(decoding: $0, as: UTF8.self) }
}

func getXattr(_ path: String, _ name: String) -> [UInt8]? {
    var buf = [UInt8](repeating: 0, count: 4096)
    let n = lgetxattr(path, name, &buf, buf.count)
    return n >= 0 ? Array(buf[0..<n]) : nil
}

/// Runs body in a fresh sandbox that is removed afterwards, whatever happens.
func withSandbox<T>(_ body: (Sandbox) throws -> T) throws -> T {
    let s = try Sandbox()
    defer { s.remove() }
    return try body(s)
}

/// rm -rf by raw names (FS.removeTree goes through String, which cannot name non-UTF-8 files).
func removeAll(_ dirfd: Int32, _ name: [UInt8]) {
    let c = name.map { CChar(bitPattern: $0) } + [0]
    if unlinkat(dirfd, c, 0) == 0 || errno == ENOENT { return }
    let fd = openat(dirfd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
    guard fd >= 0 else { return }
    if let d = fdopendir(dup(fd)) {
        var names: [[UInt8]] = []
        while let e = readdir(d) {
            let n = withUnsafeBytes(of: e.pointee.d_name) { Array($0.prefix(while: { $0 != 0 })) }
            if n != [0x2e] && n != [0x2e, 0x2e] { names.append(n) }
        }
        closedir(d)
        for n in names { removeAll(fd, n) }
    }
    close(fd)
    unlinkat(dirfd, c, AT_REMOVEDIR)
}
