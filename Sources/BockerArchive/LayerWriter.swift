import Glibc
import BockerCore
import BockerDigest
import CArchive

/// What writing a layer blob produced: the blob's digest and size, and the diff_id (the
/// sha256 of the uncompressed tar).
public struct WrittenLayer: Sendable, Equatable {
    public var digest: String
    public var size: Int64
    public var diffID: String
}

/// Makes a layer blob from a directory tree: a deterministic tar stream (see
/// `bk_tar_write_tree`) compressed with gzip or zstd (or not), hashed on the way.
public enum LayerWriter {
    /// Writes the tree under `tree` (only what differs from `parent`, when given) to `path`
    /// (created; a temp name beside it until complete), and returns its digests.
    /// `overlayWhiteouts`: the tree is an overlayfs upper layer (its whiteouts are translated).
    public static func write(tree: String, parent: String?, overlayWhiteouts: Bool,
                             compression: LayerCompression, level: Int32? = nil, to path: String) throws -> WrittenLayer {
        let tmp = path + ".partial-" + Identifier.randomHex(bytes: 6)
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw BockerError.errno("cannot create '\(tmp)'", code: .io) }
        var ok = false
        defer {
            close(fd)
            if !ok { unlink(tmp) }
        }
        let sink = Sink(fd: fd, compression: compression, level: level)
        var err = [CChar](repeating: 0, count: 512)
        let rc = withExtendedLifetime(sink) {
            bk_tar_write_tree(tree, parent, overlayWhiteouts ? 1 : 0, sinkChunk,
                              Unmanaged.passUnretained(sink).toOpaque(), &err, err.count)
        }
        if let e = sink.error { throw e }
        guard rc == 0 else { throw BockerError(.io, "cannot write a layer of '\(tree)': \(String(cString: err))") }
        try sink.finish()
        if fsync(fd) != 0 { throw BockerError.errno("cannot sync '\(tmp)'", code: .io) }
        // The blob's own digest: read back (cheaper than a second hashing pass inside the compressor).
        let blobHash = SHA256()
        var size: Int64 = 0
        let rfd = open(tmp, O_RDONLY | O_CLOEXEC)
        guard rfd >= 0 else { throw BockerError.errno("cannot read '\(tmp)'", code: .io) }
        defer { close(rfd) }
        var buf = [UInt8](repeating: 0, count: 1 << 18)
        while true {
            let n = buf.withUnsafeMutableBytes { read(rfd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { throw BockerError.errno("cannot read '\(tmp)'", code: .io) }
            if n == 0 { break }
            buf.withUnsafeBytes { blobHash.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            size += Int64(n)
        }
        if rename(tmp, path) != 0 { throw BockerError.errno("cannot rename '\(tmp)'", code: .io) }
        ok = true
        return WrittenLayer(digest: blobHash.finalizeDigest(), size: size, diffID: sink.hasher.finalizeDigest())
    }

    /// The media type of an OCI layer with this compression.
    public static func ociMediaType(_ c: LayerCompression) -> String {
        switch c {
        case .none: return "application/vnd.oci.image.layer.v1.tar"
        case .gzip: return "application/vnd.oci.image.layer.v1.tar+gzip"
        case .zstd: return "application/vnd.oci.image.layer.v1.tar+zstd"
        }
    }
}

/// Hashes the tar stream (the diff_id) and compresses it into the file.
private final class Sink {
    let fd: Int32
    let hasher = SHA256()
    let compressor: OpaquePointer?
    var error: BockerError?

    init(fd: Int32, compression: LayerCompression, level: Int32?) {
        self.fd = fd
        switch compression {
        case .none: compressor = nil
        case .gzip: compressor = bk_compressor_new(Int32(BK_COMP_GZIP), level ?? 6)
        case .zstd: compressor = bk_compressor_new(Int32(BK_COMP_ZSTD), level ?? 3)
        }
        if compression != .none && compressor == nil { error = BockerError(.io, "cannot start the layer compressor") }
    }

    deinit { if let c = compressor { bk_compressor_free(c) } }

    func put(_ data: UnsafeRawBufferPointer) -> Int32 {
        if error != nil { return -1 }
        hasher.update(data)
        if let c = compressor {
            if bk_compressor_write(c, data.baseAddress, data.count, fd) != 0 {
                error = BockerError.errno("cannot write a compressed layer", code: .io)
                return -1
            }
        } else {
            do { try FS.writeAll(fd, data, what: "a layer blob") } catch {
                self.error = error as? BockerError ?? BockerError(.io, "cannot write a layer blob")
                return -1
            }
        }
        return 0
    }

    func finish() throws {
        if let c = compressor, bk_compressor_finish(c, fd) != 0 {
            throw BockerError.errno("cannot finish a compressed layer", code: .io)
        }
    }
}

private let sinkChunk: @convention(c) (UnsafeMutableRawPointer?, UnsafeRawPointer?, Int) -> Int32 = { ctx, data, len in
    guard let ctx else { return -1 }
    let sink = Unmanaged<Sink>.fromOpaque(ctx).takeUnretainedValue()
    return sink.put(UnsafeRawBufferPointer(start: data, count: len))
}
