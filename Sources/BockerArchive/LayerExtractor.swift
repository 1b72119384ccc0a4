import BockerCore
import BockerDigest
import CArchive
import Glibc

enum ArchiveErrors {
    static func open(_ path: String) -> BockerError {
        BockerError.errno("cannot open '\(path)'", code: errno == ENOENT ? .notFound : .io)
    }
    static func invalid(_ what: String) -> BockerError {
        BockerError(.invalidArgument, "invalid layer: \(what)")
    }
}

/// Applies an OCI image layer (a tar, plain or compressed) to a directory.
public enum LayerExtractor {
    /// Size of each uncompressed buffer handed to libarchive.
    static let bufferSize = 1 << 20

    /// Decompresses `blob` (a file), hashes the uncompressed tar (the diff_id) and extracts it
    /// into `root`. Every path is resolved inside `root` (symlinks and `..` included); nothing
    /// outside it is ever created, changed or removed. Entries that would climb out of the root,
    /// invalid whiteouts and corrupt streams fail the whole extraction (what was written before
    /// stays: the caller discards the directory).
    ///
    /// `maxBytes` (0: no limit) bounds the uncompressed tar stream: past it the extraction stops
    /// with `LayerTooLarge` (a decompression bomb never reaches the disk in full).
    public static func extract(blob: String, compression: LayerCompression, into root: String,
                               whiteouts: WhiteoutMode, maxBytes: UInt64 = 0) throws -> ExtractResult {
        let fd = open(blob, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ArchiveErrors.open(blob) }
        defer { close(fd) }
        _ = posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)
        return try extract(fd: fd, compression: compression, into: root, whiteouts: whiteouts, maxBytes: maxBytes)
    }

    /// As `extract(blob:…)`, reading the blob from `fd` (from its current offset; not closed).
    public static func extract(fd: Int32, compression: LayerCompression, into root: String,
                               whiteouts: WhiteoutMode, maxBytes: UInt64 = 0) throws -> ExtractResult {
        let rootFD = open(root, bk_o_path | O_DIRECTORY | O_CLOEXEC)
        guard rootFD >= 0 else { throw ArchiveErrors.open(root) }
        defer { close(rootFD) }
        return try extract(fd: fd, compression: compression, rootFD: rootFD, whiteouts: whiteouts, maxBytes: maxBytes)
    }

    /// As `extract(fd:…)`, into the directory open as `rootFD` (not closed). `owner` maps each
    /// entry's uid and gid to those written (nil: as in the tar).
    static func extract(fd: Int32, compression: LayerCompression, rootFD: Int32, whiteouts: WhiteoutMode,
                        maxBytes: UInt64 = 0, owner: ((Int64, Int64) -> (Int64, Int64))? = nil) throws -> ExtractResult {
        let hasher = SHA256()
        let comp: Int32
        switch compression {
        case .none: comp = Int32(BK_COMP_NONE)
        case .gzip: comp = Int32(BK_COMP_GZIP)
        case .zstd: comp = Int32(BK_COMP_ZSTD)
        }
        // The reader's helper thread hashes through an unretained pointer: keep the hasher alive
        // until bk_layer_free has joined that thread.
        return try withExtendedLifetime(hasher) {
            guard let layer = bk_layer_open(fd, comp, bufferSize, hashChunk,
                                            Unmanaged.passUnretained(hasher).toOpaque()) else {
                if let why = bk_archive_load_error() { throw BockerError(.io, String(cString: why)) }
                throw BockerError(.io, "cannot read layer: out of memory")
            }
            defer { bk_layer_free(layer) }
            bk_layer_set_limit(layer, maxBytes)

            let writer = DiskWriter(rootFD: rootFD, mode: whiteouts, layer: layer)
            writer.owner = owner
            defer { writer.closeAll() }
            var entry = bk_entry()
            var count = 0
            do {
                while true {
                    let r = bk_layer_next(layer, &entry)
                    if r == 0 { break }
                    if r < 0 { throw ArchiveErrors.invalid(String(cString: bk_layer_error(layer))) }
                    count += 1
                    try writer.apply(entry)
                }
                guard bk_layer_drain(layer) == 0 else {
                    throw ArchiveErrors.invalid(String(cString: bk_layer_error(layer)))
                }
            } catch {
                // Whatever step noticed it (a header, a file's data, the drain), the cause is the limit.
                if bk_layer_over_limit(layer) != 0 { throw LayerTooLarge(limit: maxBytes) }
                throw error
            }
            try writer.finish()
            return ExtractResult(diffID: hasher.finalizeDigest(), entries: count, bytes: Int(bk_layer_bytes(layer)))
        }
    }
}

let hashChunk: @convention(c) (UnsafeMutableRawPointer?, UnsafeRawPointer?, Int) -> Void = { ctx, data, len in
    Unmanaged<SHA256>.fromOpaque(ctx!).takeUnretainedValue().update(UnsafeRawBufferPointer(start: data, count: len))
}

let slash = UInt8(ascii: "/")
let dot = UInt8(ascii: ".")
let whPrefix: [UInt8] = Array(".wh.".utf8)
let whMetaPrefix: [UInt8] = Array(".wh..wh.".utf8)
let whOpaque: [UInt8] = Array(".wh..wh..opq".utf8)

/// A tar entry name made relative to the root: leading "/" and "./" dropped, "." and empty
/// components removed, ".." applied; nil when ".." would climb above the root.
func cleanEntryPath(_ raw: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
    var out: [UInt8] = []
    out.reserveCapacity(raw.count)
    var i = 0
    let n = raw.count
    while i < n {
        while i < n && raw[i] == slash { i += 1 }
        let start = i
        while i < n && raw[i] != slash { i += 1 }
        let len = i - start
        if len == 0 || (len == 1 && raw[start] == dot) { continue }
        if len == 2 && raw[start] == dot && raw[start + 1] == dot {
            guard !out.isEmpty else { return nil }
            if let j = out.lastIndex(of: slash) { out.removeSubrange(j...) } else { out.removeAll(keepingCapacity: true) }
            continue
        }
        if !out.isEmpty { out.append(slash) }
        out.append(contentsOf: UnsafeBufferPointer(rebasing: raw[start..<i]))
    }
    return out
}

func bytesOf(_ s: UnsafePointer<CChar>) -> UnsafeBufferPointer<UInt8> {
    UnsafeBufferPointer(start: UnsafeRawPointer(s).assumingMemoryBound(to: UInt8.self), count: strlen(s))
}

/// A NUL-terminated copy of bytes, for the C calls.
@inline(__always) func cString<S: Collection>(_ bytes: S) -> [CChar] where S.Element == UInt8 {
    var c = [CChar]()
    c.reserveCapacity(bytes.count + 1)
    for b in bytes { c.append(CChar(bitPattern: b)) }
    c.append(0)
    return c
}

/// A path for a message (long ones shortened).
func show<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
    let b = Array(bytes)
    if b.count > 160 { return String(decoding: b.prefix(80), as: UTF8.self) + "…" + String(decoding: b.suffix(60), as: UTF8.self) }
    return String(decoding: b, as: UTF8.self)
}

func hasPrefix(_ a: [UInt8], _ p: [UInt8]) -> Bool { a.count >= p.count && a[0..<p.count].elementsEqual(p) }

/// Splits "a/b/c" into ("a/b", "c"); ("", "c") for a top-level name.
func splitParent(_ path: [UInt8]) -> ([UInt8], [UInt8]) {
    if let j = path.lastIndex(of: slash) { return (Array(path[..<j]), Array(path[(j + 1)...])) }
    return ([], path)
}

/// Drops empty and "." components (and so leading/trailing slashes); ".." stays for the kernel.
func tidy(_ path: [UInt8]) -> [UInt8] {
    var out: [UInt8] = []
    for comp in path.split(separator: slash) where !(comp.count == 1 && comp.first == dot) {
        if !out.isEmpty { out.append(slash) }
        out.append(contentsOf: comp)
    }
    return out
}

func join(_ parent: [UInt8], _ name: [UInt8]) -> [UInt8] {
    parent.isEmpty ? name : parent + [slash] + name
}
