import Glibc
import BockerCore
import BockerDigest
import CArchive

/// Writes an image archive (the outer tar of `save`): plain ustar entries for the few JSON
/// files and the blobs, all owned by root, mode 0644 (directories 0755), mtime 0, so the same
/// images always give the same bytes. Blob files are copied with `sendfile` (no pass through
/// user space) to the archive's fd, which may be a pipe.
public final class ArchiveTarWriter {
    let fd: Int32
    let what: String

    /// Writes to `fd` (not closed); `what` names the destination in errors.
    public init(fd: Int32, what: String) {
        self.fd = fd
        self.what = what
    }

    /// A directory entry ("blobs/", "blobs/sha256/").
    public func directory(_ name: String) throws {
        try header(name.hasSuffix("/") ? name : name + "/", size: 0, type: UInt8(ascii: "5"), mode: 0o755)
    }

    /// A file entry holding `bytes`.
    public func file(_ name: String, _ bytes: [UInt8]) throws {
        try header(name, size: Int64(bytes.count), type: UInt8(ascii: "0"), mode: 0o644)
        try bytes.withUnsafeBytes { try FS.writeAll(fd, $0, what: what) }
        try pad(Int64(bytes.count))
    }

    /// A file entry holding the content of `path` (exactly `size` bytes of it).
    public func file(_ name: String, contentOf path: String, size: Int64) throws {
        let src = open(path, O_RDONLY | O_CLOEXEC)
        guard src >= 0 else { throw BockerError.errno("cannot open '\(path)'", code: .io) }
        defer { close(src) }
        var st = stat()
        guard fstat(src, &st) == 0, Int64(st.st_size) == size else {
            throw BockerError(.io, "blob '\(path)' is not \(size) bytes long")
        }
        try header(name, size: size, type: UInt8(ascii: "0"), mode: 0o644)
        var left = size
        var useSendfile = true
        var buf: [UInt8] = []
        while left > 0 {
            if useSendfile {
                let n = sendfile(fd, src, nil, Int(min(left, 1 << 30)))
                if n > 0 { left -= Int64(n); continue }
                if n < 0 && errno == EINTR { continue }
                if n < 0 && (errno == EINVAL || errno == ENOSYS) { useSendfile = false; continue }
                if n == 0 { throw BockerError(.io, "blob '\(path)' ended early") }
                throw BockerError.errno("cannot write \(what)", code: .io)
            }
            if buf.isEmpty { buf = [UInt8](repeating: 0, count: 1 << 20) }
            let n = buf.withUnsafeMutableBytes { read(src, $0.baseAddress, min($0.count, Int(left))) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { throw BockerError.errno("cannot read '\(path)'", code: .io) }
            try buf.withUnsafeBytes { try FS.writeAll(fd, UnsafeRawBufferPointer(rebasing: $0[0..<n]), what: what) }
            left -= Int64(n)
        }
        try pad(size)
    }

    /// The two zero blocks that end a tar archive.
    public func finish() throws {
        let zero = [UInt8](repeating: 0, count: 1024)
        try zero.withUnsafeBytes { try FS.writeAll(fd, $0, what: what) }
    }

    private func pad(_ size: Int64) throws {
        let rest = Int((512 - size % 512) % 512)
        guard rest > 0 else { return }
        let zero = [UInt8](repeating: 0, count: rest)
        try zero.withUnsafeBytes { try FS.writeAll(fd, $0, what: what) }
    }

    private func header(_ name: String, size: Int64, type: UInt8, mode: Int) throws {
        var h = [UInt8](repeating: 0, count: 512)
        var n = Array(name.utf8)
        var prefix: [UInt8] = []
        if n.count > 100 {
            // ustar: a prefix (up to 155 bytes) and a name (up to 100), split at a slash.
            guard let cut = n.indices.last(where: { n[$0] == UInt8(ascii: "/") && $0 <= 155 && n.count - $0 - 1 <= 100 }) else {
                throw BockerError(.invalidArgument, "archive entry name too long: \(name)")
            }
            prefix = Array(n[..<cut])
            n = Array(n[(cut + 1)...])
        }
        func put(_ bytes: [UInt8], at off: Int) { for (i, b) in bytes.enumerated() { h[off + i] = b } }
        func octal(_ v: Int64, width: Int, at off: Int) {
            let s = String(v, radix: 8)
            put(Array((String(repeating: "0", count: max(0, width - 1 - s.utf8.count)) + s).utf8), at: off)
        }
        put(n, at: 0)
        octal(Int64(mode), width: 8, at: 100)
        octal(0, width: 8, at: 108)
        octal(0, width: 8, at: 116)
        guard size < 0o77777777777 else { throw BockerError(.invalidArgument, "archive entry too large: \(name)") }
        octal(size, width: 12, at: 124)
        octal(0, width: 12, at: 136)
        put(Array(repeating: UInt8(ascii: " "), count: 8), at: 148)
        h[156] = type
        put(Array("ustar\u{0}00".utf8), at: 257)
        put(prefix, at: 345)
        let sum = h.reduce(0) { $0 + Int64($1) }
        let s = String(sum, radix: 8)
        put(Array((String(repeating: "0", count: max(0, 6 - s.utf8.count)) + s).utf8) + [0, UInt8(ascii: " ")], at: 148)
        try h.withUnsafeBytes { try FS.writeAll(fd, $0, what: what) }
    }
}

/// Reads an image archive (the outer tar of `load`, plain, gzip or zstd) into a directory: every
/// regular file becomes `dir/f<n>`, listed by its cleaned name ("./manifest.json" and
/// "manifest.json" are the same). Nothing the archive names is used as a path: a symlink or hard
/// link to a regular file of the archive (as skopeo writes `ID/layer.tar`) is another name for
/// that file's content; devices and directories are skipped.
public enum ArchiveUnpacker {
    public struct Unpacked: Sendable {
        /// Cleaned entry name → the file holding its content.
        public var files: [String: String]
    }

    public static func unpack(fd: Int32, compression: LayerCompression, into dir: String) throws -> Unpacked {
        let comp: Int32
        switch compression {
        case .none: comp = Int32(BK_COMP_NONE)
        case .gzip: comp = Int32(BK_COMP_GZIP)
        case .zstd: comp = Int32(BK_COMP_ZSTD)
        }
        guard let layer = bk_layer_open(fd, comp, LayerExtractor.bufferSize, nil, nil) else {
            if let why = bk_archive_load_error() { throw BockerError(.io, String(cString: why)) }
            throw BockerError(.io, "cannot read the archive: out of memory")
        }
        defer { bk_layer_free(layer) }
        var out = Unpacked(files: [:])
        var entry = bk_entry()
        var n = 0
        var links: [(String, String)] = []
        func clean(_ raw: UnsafePointer<CChar>, under dir: [UInt8] = []) -> String? {
            let bytes = Array(UnsafeBufferPointer(start: UnsafeRawPointer(raw).assumingMemoryBound(to: UInt8.self), count: strlen(raw)))
            let joined = raw.pointee == CChar(UInt8(ascii: "/")) || dir.isEmpty ? bytes : dir + [UInt8(ascii: "/")] + bytes
            guard let c = joined.withUnsafeBufferPointer(cleanEntryPath), !c.isEmpty else { return nil }
            return String(decoding: c, as: UTF8.self)
        }
        while true {
            let r = bk_layer_next(layer, &entry)
            if r == 0 { break }
            if r < 0 { throw BockerError(.invalidArgument, String(cString: bk_layer_error(layer))) }
            if (entry.kind == BK_KIND_SYMLINK || entry.kind == BK_KIND_HARDLINK), let p = entry.path, let l = entry.link,
               let name = clean(p) {
                // A symlink's target is relative to its directory; a hard link's to the archive.
                var dir: [UInt8] = []
                if entry.kind == BK_KIND_SYMLINK, let slashAt = Array(name.utf8).lastIndex(of: UInt8(ascii: "/")) {
                    dir = Array(Array(name.utf8)[..<slashAt])
                }
                if let target = clean(l, under: dir) { links.append((name, target)) }
                continue
            }
            guard entry.kind == BK_KIND_FILE, let raw = entry.path, let cleanName = clean(raw) else { continue }
            n += 1
            let file = dir + "/f\(n)"
            let out_fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard out_fd >= 0 else { throw BockerError.errno("cannot create '\(file)'", code: .io) }
            let w = bk_layer_write_data(layer, out_fd, entry.size)
            close(out_fd)
            if w == -1 { throw BockerError(.invalidArgument, String(cString: bk_layer_error(layer))) }
            if w != 0 { throw BockerError.errno("cannot write '\(file)'", code: .io) }
            out.files[cleanName] = file
        }
        for (name, target) in links where out.files[name] == nil {
            if let f = out.files[target] { out.files[name] = f }
        }
        guard bk_layer_drain(layer) == 0 else { throw BockerError(.invalidArgument, String(cString: bk_layer_error(layer))) }
        return out
    }
}

extension LayerExtractor {
    /// The diff_id of a layer blob (sha256 of its uncompressed tar), reading the whole tar
    /// (so a corrupt stream fails) without writing anything.
    public static func diffID(blob: String, compression: LayerCompression) throws -> String {
        let fd = open(blob, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ArchiveErrors.open(blob) }
        defer { close(fd) }
        let hasher = SHA256()
        let comp: Int32
        switch compression {
        case .none: comp = Int32(BK_COMP_NONE)
        case .gzip: comp = Int32(BK_COMP_GZIP)
        case .zstd: comp = Int32(BK_COMP_ZSTD)
        }
        return try withExtendedLifetime(hasher) {
            guard let layer = bk_layer_open(fd, comp, bufferSize, diffHashChunk, Unmanaged.passUnretained(hasher).toOpaque()) else {
                if let why = bk_archive_load_error() { throw BockerError(.io, String(cString: why)) }
                throw BockerError(.io, "cannot read layer: out of memory")
            }
            defer { bk_layer_free(layer) }
            var entry = bk_entry()
            while true {
                let r = bk_layer_next(layer, &entry)
                if r == 0 { break }
                if r < 0 { throw ArchiveErrors.invalid(String(cString: bk_layer_error(layer))) }
            }
            guard bk_layer_drain(layer) == 0 else { throw ArchiveErrors.invalid(String(cString: bk_layer_error(layer))) }
            return hasher.finalizeDigest()
        }
    }
}

private let diffHashChunk: @convention(c) (UnsafeMutableRawPointer?, UnsafeRawPointer?, Int) -> Void = { ctx, data, len in
    Unmanaged<SHA256>.fromOpaque(ctx!).takeUnretainedValue().update(UnsafeRawBufferPointer(start: data, count: len))
}

extension LayerWriter {
    /// Writes the whole tree under `tree` as one uncompressed tar stream to `fd` (not closed):
    /// the same deterministic tar as a layer blob (see `bk_tar_write_tree`), for `export`.
    public static func writeFlatTar(tree: String, to fd: Int32, what: String) throws {
        let sink = FDSink(fd: fd, what: what)
        var err = [CChar](repeating: 0, count: 512)
        let rc = withExtendedLifetime(sink) {
            bk_tar_write_tree(tree, nil, 0, fdSinkChunk, Unmanaged.passUnretained(sink).toOpaque(), &err, err.count)
        }
        if let e = sink.error { throw e }
        guard rc == 0 else { throw BockerError(.io, "cannot write a tar of '\(tree)': \(String(cString: err))") }
    }
}

private final class FDSink {
    let fd: Int32
    let what: String
    var error: BockerError?
    init(fd: Int32, what: String) {
        self.fd = fd
        self.what = what
    }
}

private let fdSinkChunk: @convention(c) (UnsafeMutableRawPointer?, UnsafeRawPointer?, Int) -> Int32 = { ctx, data, len in
    guard let ctx else { return -1 }
    let sink = Unmanaged<FDSink>.fromOpaque(ctx).takeUnretainedValue()
    do { try FS.writeAll(sink.fd, UnsafeRawBufferPointer(start: data, count: len), what: sink.what) } catch {
        sink.error = error as? BockerError ?? BockerError(.io, "cannot write \(sink.what)")
        return -1
    }
    return 0
}

extension LayerWriter {
    /// Writes the merged view of overlay layers (`lowerdirs`: "top:…:bottom", relative to
    /// `base`) as one flat tar to `fd`: on a thread of its own that mounts them read-only on
    /// `mountpoint` (an empty directory) in a private mount namespace, which ends with the
    /// thread (nothing is ever mounted on the host).
    public static func writeMergedTar(base: String, lowerdirs: String, mountpoint: String, to fd: Int32, what: String) throws {
        var result: Result<Void, Error> = .success(())
        let box = MergedBox()
        let threads = WorkerThreads.start(1) {
            box.result = Result {
                if bk_private_overlay(base, lowerdirs, mountpoint) != 0 {
                    throw BockerError.errno("cannot mount the container's layers for export", code: .io)
                }
                try writeFlatTar(tree: mountpoint, to: fd, what: what)
            }
        }
        guard let t = threads.first else { throw BockerError(.io, "cannot start a thread for export") }
        pthread_join(t, nil)
        result = box.result
        try result.get()
    }
}

private final class MergedBox: @unchecked Sendable {
    var result: Result<Void, Error> = .success(())
}
