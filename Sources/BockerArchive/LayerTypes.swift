import Glibc

/// How a layer blob is compressed.
public enum LayerCompression: Sendable, Equatable {
    case none, gzip, zstd

    /// From an OCI/Docker layer media type (`…tar`, `…tar+gzip`, `…tar+zstd`, Docker's
    /// `…rootfs.diff.tar.gzip`, the non-distributable/foreign variants); nil for anything else.
    public static func from(mediaType: String) -> LayerCompression? {
        let prefixes = [
            "application/vnd.oci.image.layer.nondistributable.v1.",
            "application/vnd.oci.image.layer.v1.",
            "application/vnd.docker.image.rootfs.foreign.diff.",
            "application/vnd.docker.image.rootfs.diff.",
        ]
        // Parameters ("; charset=…") are not part of the type.
        let type = mediaType.split(separator: ";", maxSplits: 1).first.map { String($0).lowercased() } ?? ""
        for p in prefixes where type.hasPrefix(p) {
            switch type.dropFirst(p.count) {
            case "tar": return LayerCompression.none
            case "tar+gzip", "tar.gzip": return .gzip
            case "tar+zstd", "tar.zstd": return .zstd
            default: return nil
            }
        }
        return nil
    }

    /// From the blob's first bytes (gzip `1f 8b`, zstd `28 b5 2f fd`); `.none` otherwise. For
    /// blobs whose media type says nothing useful (`application/octet-stream`).
    public static func sniff(path: String) throws -> LayerCompression {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ArchiveErrors.open(path) }
        defer { close(fd) }
        var magic: (UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0)
        let n = withUnsafeMutableBytes(of: &magic) { read(fd, $0.baseAddress, 4) }
        if n >= 2 && magic.0 == 0x1f && magic.1 == 0x8b { return .gzip }
        if n == 4 && magic == (0x28, 0xb5, 0x2f, 0xfd) { return .zstd }
        return LayerCompression.none
    }
}

/// How whiteout entries (`.wh.NAME`, `.wh..wh..opq`) are applied.
public enum WhiteoutMode: Sendable, Equatable {
    /// The target is an empty overlay layer directory: `.wh.NAME` becomes an overlay whiteout (a
    /// 0/0 character device named NAME); `.wh..wh..opq` sets `trusted.overlay.opaque=y` on its
    /// directory.
    case overlay
    /// The target already holds the lower layers (btrfs snapshot, copy driver): `.wh.NAME` deletes
    /// NAME (recursively); `.wh..wh..opq` empties its directory of everything that came from lower
    /// layers (what this layer adds there stays, whatever the tar order).
    case apply
    /// Not a layer (`bocker cp`): `.wh.` names are ordinary files.
    case plain
}

/// What an extraction read and wrote.
public struct ExtractResult: Sendable, Equatable {
    /// sha256 of the uncompressed tar stream, "sha256:<hex>" (the layer's diff_id).
    public let diffID: String
    /// Tar entries read (whiteouts and skipped entries included).
    public let entries: Int
    /// Uncompressed bytes (the tar stream's length).
    public let bytes: Int

    public init(diffID: String, entries: Int, bytes: Int) {
        self.diffID = diffID
        self.entries = entries
        self.bytes = bytes
    }
}

/// Thrown by `LayerExtractor.extract` when the uncompressed layer is larger than `maxBytes`;
/// the caller names the layer in the message it shows.
public struct LayerTooLarge: Error, Equatable {
    /// The limit that was passed (bytes).
    public let limit: UInt64

    public init(limit: UInt64) { self.limit = limit }
}
