import CCrypto

/// Streaming SHA-256 (OpenSSL's, hardware-accelerated): feed bytes with `update`, read the
/// `sha256:<hex>` digest OCI uses with `finalize`.
public final class SHA256 {
    private var handle: OpaquePointer?

    public init() {
        handle = bk_sha256_new()
        precondition(handle != nil, "cannot load OpenSSL's libcrypto.so.3 for SHA-256 (install libssl3)")
    }

    deinit { if let h = handle { bk_sha256_free(h) } }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard let h = handle, let base = bytes.baseAddress, bytes.count > 0 else { return }
        bk_sha256_update(h, base, bytes.count)
    }

    public func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The lowercase hex digest; the hasher cannot be used afterwards.
    public func finalizeHex() -> String {
        var out = [UInt8](repeating: 0, count: 32)
        if let h = handle { bk_sha256_final(h, &out) }
        handle = nil
        let hex = Array("0123456789abcdef".utf8)
        var s: [UInt8] = []
        s.reserveCapacity(64)
        for b in out { s.append(hex[Int(b >> 4)]); s.append(hex[Int(b & 0xf)]) }
        return String(decoding: s, as: UTF8.self)
    }

    /// "sha256:<hex>".
    public func finalizeDigest() -> String { "sha256:" + finalizeHex() }

    public static func hex(_ bytes: [UInt8]) -> String {
        let h = SHA256()
        h.update(bytes)
        return h.finalizeHex()
    }
}
