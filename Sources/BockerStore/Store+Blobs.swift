#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import BockerCore
import BockerDigest

/// The blob store: content-addressed files under `<root>/blobs/sha256/<hex>` (manifests,
/// configs, layer blobs). A blob is written under a temp name, checked against its digest and
/// renamed into place, so a blob file always holds exactly its digest's content. Blobs no
/// image or layer lists are removed by `collectBlobs` (with the lock held).
extension Store {
    public var blobsDir: String { root.path + "/blobs/sha256" }

    /// The file of a blob ("sha256:<64 hex>"); throws for anything else (digests become names).
    public func blobPath(_ digest: String) throws -> String {
        guard let hex = Self.sha256Hex(digest) else {
            throw BockerError(.invalidArgument, "invalid digest '\(digest)'")
        }
        return blobsDir + "/" + hex
    }

    public func hasBlob(_ digest: String) -> Bool {
        (try? blobPath(digest)).map(FS.exists) ?? false
    }

    public func readBlob(_ digest: String) throws -> [UInt8] {
        let path = try blobPath(digest)
        guard FS.exists(path) else { throw BockerError(.notFound, "blob \(digest) is not in the store") }
        return try FS.read(path)
    }

    /// Stores bytes as a blob; returns their digest (checked against `expected` when given).
    @discardableResult
    public func putBlob(_ bytes: [UInt8], expected: String? = nil) throws -> String {
        let h = SHA256()
        h.update(bytes)
        let digest = h.finalizeDigest()
        if let e = expected, e != digest { throw BockerError(.io, "digest mismatch for \(e): got \(digest)") }
        let path = try blobPath(digest)
        if FS.exists(path) { return digest }
        try FS.makeDirectories(blobsDir, mode: 0o700)
        try FS.writeAtomically(path, bytes, mode: 0o644)
        return digest
    }

    /// Moves a file (on the store's filesystem) into the blob store as `digest`, after checking
    /// that its content is that digest (unless the caller just did: `verified`).
    public func adoptBlob(file: String, digest: String, verified: Bool = false) throws {
        let path = try blobPath(digest)
        if FS.exists(path) { unlink(file); return }
        let got = verified ? digest : try Self.fileDigest(file)
        guard got == digest else { throw BockerError(.io, "digest mismatch for \(digest): got \(got)") }
        try FS.makeDirectories(blobsDir, mode: 0o700)
        if rename(file, path) != 0 { throw BockerError.errno("cannot move '\(file)' into the blob store", code: .io) }
    }

    /// The sha256 digest ("sha256:<hex>") of a file's content; with `followSymlinks` false a
    /// symlink at `path` is refused (O_NOFOLLOW) rather than read through.
    public static func fileDigest(_ path: String, followSymlinks: Bool = true) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC | (followSymlinks ? 0 : O_NOFOLLOW))
        guard fd >= 0 else { throw BockerError.errno("cannot open '\(path)'", code: .io) }
        defer { close(fd) }
        let h = SHA256()
        var buf = [UInt8](repeating: 0, count: 1 << 18)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { throw BockerError.errno("cannot read '\(path)'", code: .io) }
            if n == 0 { break }
            buf.withUnsafeBytes { h.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
        return h.finalizeDigest()
    }

    public static func sha256Hex(_ d: String) -> String? {
        guard d.hasPrefix("sha256:") else { return nil }
        let hex = d.dropFirst(7)
        guard hex.utf8.count == 64, hex.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else { return nil }
        return String(hex)
    }

    /// A layer's record (nil when the layer is not in the store).
    public func layerRecord(_ id: String) -> LayerRecord? {
        guard Identifier.isSafeComponent(id) else { return nil }
        return try? JSONFile.read(LayerRecord.self, from: root.layerDir(id) + "/layer.json")
    }

    /// Records the blob made from a layer (call with the lock held).
    public func setLayerBlob(_ id: String, _ blob: LayerBlob) throws {
        guard var rec = layerRecord(id) else { throw BockerError(.notFound, "layer \(id) is not in the store") }
        rec.blob = blob
        try JSONFile.write(rec, to: root.layerDir(id) + "/layer.json")
    }

    /// Removes every blob no image and no layer lists (call with the lock held; whoever adds a
    /// blob lists it in the same locked step).
    public func collectBlobs() {
        var used = Set<String>()
        for img in listImages() { used.formUnion(img.blobDigests.compactMap(Self.sha256Hex)) }
        for id in FS.list(root.layersDir) {
            if let d = layerRecord(id)?.blob?.digest, let hex = Self.sha256Hex(d) { used.insert(hex) }
        }
        for name in FS.list(blobsDir) where !used.contains(name) {
            unlink(blobsDir + "/" + name)
        }
    }
}
