import Testing
import Glibc
@testable import BockerArchive
import BockerCore
import BockerDigest
import CArchive

/// A scratch directory removed after the body.
private func withDir(_ body: (String) throws -> Void) throws {
    var template = Array("/tmp/bklw.XXXXXX".utf8CString)
    let dir = String(cString: mkdtemp(&template)!)
    defer { try? FS.removeTree(dir) }
    try body(dir)
}

private func put(_ path: String, _ s: String) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    try check(fd >= 0, "create \(path)")
    defer { close(fd) }
    try Array(s.utf8).withUnsafeBytes { try FS.writeAll(fd, $0, what: path) }
}

/// A description of every node under dir, relative paths, without ctime (extraction sets it).
private func tree(_ dir: String) -> [String: String] {
    var all: [String: String] = [:]
    walk(dir, into: &all)
    var out: [String: String] = [:]
    for (k, v) in all where k != dir {
        out[String(k.dropFirst(dir.count + 1))] = v.replacing(#/ ctime=\S+/#, with: "").replacing(#/ mtime=(\d+)\.\d+/#, with: " mtime=$1")
    }
    return out
}

@Suite("Layer writer")
struct LayerWriterTests {
    @Test(arguments: [LayerCompression.gzip, .zstd, .none])
    func deterministicAndRoundTrips(_ c: LayerCompression) throws {
        try withDir { d in
            let src = d + "/src"
            mkdir(src, 0o755); mkdir(src + "/etc", 0o700); mkdir(src + "/bin", 0o755)
            try put(src + "/etc/b", "bee"); try put(src + "/etc/a", String(repeating: "a", count: 300_000))
            link(src + "/etc/a", src + "/bin/hard")
            symlink("../etc/b", src + "/bin/soft")
            mkfifo(src + "/fifo", 0o600)
            chown(src + "/etc/b", 1000, 2000)
            let one = try LayerWriter.write(tree: src, parent: nil, overlayWhiteouts: false, compression: c, to: d + "/1")
            let two = try LayerWriter.write(tree: src, parent: nil, overlayWhiteouts: false, compression: c, to: d + "/2")
            #expect(one == two)
            #expect(one.digest == (try fileSHA(d + "/1")))
            let out = d + "/out"
            mkdir(out, 0o755)
            let r = try LayerExtractor.extract(blob: d + "/1", compression: c, into: out, whiteouts: .apply)
            #expect(r.diffID == one.diffID)
            #expect(tree(out) == tree(src))
            #expect(lstatOf(out + "/bin/hard")?.st_ino == lstatOf(out + "/etc/a")?.st_ino)
        }
    }

    @Test func aTreeMadeFromAParentGivesOnlyItsChanges() throws {
        try withDir { d in
            let parent = d + "/parent", child = d + "/child"
            mkdir(parent, 0o755)
            mkdir(parent + "/data", 0o755)
            try put(parent + "/keep", "k"); try put(parent + "/gone", "g"); try put(parent + "/data/old", "o")
            try check(runCP(parent, child), "cp")
            unlink(child + "/gone")
            try put(child + "/new", "n")
            try put(child + "/keep", "changed")
            let w = try LayerWriter.write(tree: child, parent: parent, overlayWhiteouts: false, compression: .none, to: d + "/l")
            // Applied on the parent, it gives the child.
            let applied = d + "/applied"
            try check(runCP(parent, applied), "cp")
            let r = try LayerExtractor.extract(blob: d + "/l", compression: .none, into: applied, whiteouts: .apply)
            #expect(r.diffID == w.diffID)
            #expect(Set(FS.list(applied)) == ["keep", "new", "data"])
            #expect(try FS.readString(applied + "/keep") == "changed")
            // Unchanged files are not in it.
            let names = try tarNames(d + "/l")
            #expect(names.contains(".wh.gone") && names.contains("new") && names.contains("keep"))
            #expect(!names.contains("data/old") && !names.contains("data"), "\(names)")
        }
    }

    @Test func overlayWhiteoutsBecomeOCIWhiteouts() throws {
        try withDir { d in
            let upper = d + "/upper"
            mkdir(upper, 0o755); mkdir(upper + "/opaque", 0o755)
            try check(mknod(upper + "/deleted", S_IFCHR | 0o000, 0) == 0, "mknod")
            try check(setxattr(upper + "/opaque", "trusted.overlay.opaque", "y", 1, 0) == 0, "setxattr")
            try put(upper + "/opaque/inside", "i")
            _ = try LayerWriter.write(tree: upper, parent: nil, overlayWhiteouts: true, compression: .none, to: d + "/l")
            let names = try tarNames(d + "/l")
            #expect(names == [".wh.deleted", "opaque", "opaque/.wh..wh..opq", "opaque/inside"], "\(names)")
        }
    }
}

private func fileSHA(_ path: String) throws -> String {
    let h = SHA256()
    h.update(try FS.read(path))
    return h.finalizeDigest()
}

private func runCP(_ from: String, _ to: String) -> Bool {
    var pid: pid_t = 0
    let argv: [UnsafeMutablePointer<CChar>?] = ["/bin/cp", "-a", from, to].map { (s: String) -> UnsafeMutablePointer<CChar>? in strdup(s) } + [nil]
    defer { argv.forEach { free($0) } }
    guard posix_spawn(&pid, "/bin/cp", nil, nil, argv, environ) == 0 else { return false }
    var status: Int32 = 0
    waitpid(pid, &status, 0)
    return status == 0
}

/// Entry names of an uncompressed tar, in order (via tar -t).
private func tarNames(_ path: String) throws -> [String] {
    var fds: [Int32] = [0, 0]
    try check(pipe(&fds) == 0, "pipe")
    var fa = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&fa)
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1)
    let argv: [UnsafeMutablePointer<CChar>?] = ["/bin/tar", "-tf", path].map { (s: String) -> UnsafeMutablePointer<CChar>? in strdup(s) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid: pid_t = 0
    try check(posix_spawn(&pid, "/bin/tar", &fa, nil, argv, environ) == 0, "spawn tar")
    close(fds[1])
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = read(fds[0], &buf, 4096)
        if n <= 0 { break }
        out += buf[0..<n]
    }
    close(fds[0])
    var status: Int32 = 0
    waitpid(pid, &status, 0)
    return String(decoding: out, as: UTF8.self).split(separator: "\n").map { String($0).hasSuffix("/") ? String(String($0).dropLast()) : String($0) }
}

/// gzip of layers: windows at fixed offsets, stored blocks for data deflate cannot shrink.
@Suite("Layer writer: gzip of incompressible data")
struct LayerGzipTests {
    /// Compresses `data` with writes of the sizes `cuts` gives in turn; the compressed bytes.
    private func gzip(_ data: [UInt8], cuts: [Int], into path: String) throws -> [UInt8] {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        try check(fd >= 0, "create \(path)")
        let c = bk_compressor_new(Int32(BK_COMP_GZIP), 6)!
        var at = 0, i = 0
        while at < data.count {
            let n = min(cuts[i % cuts.count], data.count - at)
            let r = data[at..<at + n].withUnsafeBytes { bk_compressor_write(c, $0.baseAddress, n, fd) }
            try check(r == 0, "bk_compressor_write")
            at += n; i += 1
        }
        try check(bk_compressor_finish(c, fd) == 0, "bk_compressor_finish")
        bk_compressor_free(c)
        close(fd)
        return try readAll(path)
    }

    private func readAll(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        try check(fd >= 0, "open \(path)")
        defer { close(fd) }
        var out: [UInt8] = [], buf = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = read(fd, &buf, buf.count)
            if n <= 0 { break }
            out += buf[0..<n]
        }
        return out
    }

    @Test("text, random data, text: the same bytes whatever the write sizes; the text after the random part is compressed again; gzip -d gives the input back")
    func windowsAtFixedOffsets() throws {
        try withDir { d in
            var rng = SystemRandomNumberGenerator()
            let random = (0..<(3 << 20)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let words = ["layer", "whiteout", "digest", "manifest", "config", "blob", "tar", "gzip\n"]
            var text: [UInt8] = []
            var n = 0
            while text.count < 2 << 20 { text += Array((words[n % words.count] + " \(n % 977) ").utf8); n += 1 }
            let data = text + random + text
            let a = try gzip(data, cuts: [10_000], into: d + "/a.gz")
            let b = try gzip(data, cuts: [1, 65_536, 333_333, 4_096, 1 << 20], into: d + "/b.gz")
            #expect(a == b, "the same input gave different gzip bytes for different write sizes")
            // The random part switches the stream to stored blocks (which only a benchmark can
            // tell from deflate's own stored fallback: they differ in CPU, not in size); the
            // text after it must be compressed again, not stored. Each switch lags a window
            // (256 KiB) at most; the 2 MiB of text stored would be far past that.
            let textAlone = try gzip(text, cuts: [1 << 20], into: d + "/t.gz")
            #expect(textAlone.count < text.count / 3)
            #expect(a.count < random.count + 2 * textAlone.count + (512 << 10),
                    "\(a.count) bytes: the text after the random part was not compressed again")
            let back = d + "/back"
            #expect(system("gzip -dc < \(d)/a.gz > \(back)") == 0)
            #expect(try readAll(back) == data)
        }
    }
}
