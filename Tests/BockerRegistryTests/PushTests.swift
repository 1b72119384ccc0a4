import Foundation
import Glibc
import Testing
import BockerCore
@testable import BockerRegistry

/// A file of `size` random bytes in a scratch directory; its path and digest.
private func randomBlob(_ h: RegistryHarness, _ name: String, size: Int) throws -> (String, String) {
    var bytes = [UInt8](repeating: 0, count: size)
    for i in stride(from: 0, to: size, by: 8) {
        var r = UInt64.random(in: 0...UInt64.max)
        withUnsafeBytes(of: &r) { raw in for k in 0..<min(8, size - i) { bytes[i + k] = raw[k] } }
    }
    let path = h.scratch(name) + "/blob"
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return (path, sha256Digest(bytes))
}

/// A manifest for one config and one layer (both already pushed), with its bytes.
private func manifest(config: [UInt8], layer: (digest: String, size: Int64)) -> [UInt8] {
    let text = #"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"\#(sha256Digest(config))","size":\#(config.count)},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"\#(layer.digest)","size":\#(layer.size)}]}"#
    return Array(text.utf8)
}

private let configBytes = Array(#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:0000000000000000000000000000000000000000000000000000000000000000"]},"config":{}}"#.utf8)

@Suite("Registry push: uploads, chunks, mounts, manifests", .serialized, .registry { _ in })
struct OpenPushTests {
    var h: RegistryHarness { RegistryHarness.current! }

    func client(_ name: String, port: Int? = nil) throws -> RegistryClient {
        let c = RegistryClient(try h.ref(name, port: port))
        c.retryDelay = 0.05
        c.pushAccess = true
        return c
    }

    @Test func chunkedUploadThenExistsThenMount() throws {
        let (path, digest) = try randomBlob(h, "chunked", size: 3_500_000)
        let c = try client("push/a:1")
        c.chunkSize = 1 << 20
        var sent: [Int64] = []
        #expect(try c.pushBlob(digest: digest, size: 3_500_000, file: path, mountFrom: nil) { sent.append($0) } == .uploaded)
        #expect(sent.last == 3_500_000)
        #expect(try c.hasBlob(digest))
        // What comes back is what went up.
        let back = h.scratch("chunked-back") + "/blob"
        try c.fetchBlob(Descriptor(mediaType: "application/octet-stream", digest: digest, size: 3_500_000), to: back)
        #expect(try fileDigest(back) == digest)
        // Again: nothing sent.
        #expect(try c.pushBlob(digest: digest, size: 3_500_000, file: path, mountFrom: nil) == .existed)
        // Another repository of the same registry mounts it, with no file at hand.
        let other = try client("push/b:1")
        #expect(try other.pushBlob(digest: digest, size: 3_500_000, file: nil, mountFrom: "push/a") == .mounted(from: "push/a"))
        #expect(try other.hasBlob(digest))
    }

    @Test func manifestPutAndResolve() throws {
        let (path, digest) = try randomBlob(h, "layer", size: 10_000)
        let c = try client("push/m:v1")
        _ = try c.pushBlob(digest: digest, size: 10_000, file: path, mountFrom: nil)
        let cfgPath = h.scratch("cfg") + "/config"
        try Data(configBytes).write(to: URL(fileURLWithPath: cfgPath))
        _ = try c.pushBlob(digest: sha256Digest(configBytes), size: Int64(configBytes.count), file: cfgPath, mountFrom: nil)
        let m = manifest(config: configBytes, layer: (digest, 10_000))
        #expect(try c.putManifest(m, mediaType: MediaType.ociManifest, tag: "v1") == sha256Digest(m))
        let r = try RegistryClient(try h.ref("push/m:v1")).resolve(platform: try .parse("linux/amd64"))
        #expect(r.manifest.bytes == m)
        #expect(r.manifest.layers.map(\.digest) == [digest])
    }

    @Test func aMissingBlobWithNoFileIsOneClearError() throws {
        let e = bockerError {
            _ = try client("push/c:1").pushBlob(digest: "sha256:" + String(repeating: "ab", count: 32), size: 1, file: nil, mountFrom: nil)
        }
        #expect(e?.code == .notFound)
        #expect(e?.message.contains("neither in 127.0.0.1:\(h.port)/push/c nor in the local store") == true)
    }

    @Test func droppedUploadStartsAgain() throws {
        let shim = try h.shim("drop", mode: "drop-upload-once")
        let (path, digest) = try randomBlob(h, "dropped", size: 2_000_000)
        let c = try client("push/drop:1", port: shim.port)
        #expect(try c.pushBlob(digest: digest, size: 2_000_000, file: path, mountFrom: nil) == .uploaded)
        let log = h.logEntries("shim-drop.log")
        #expect(log.contains { $0["dropped"] as? Bool == true })
        #expect(log.filter { $0["method"] as? String == "POST" }.count == 2, "\(log)")
        #expect(try c.hasBlob(digest))
    }
}

@Suite("Registry push: Basic auth", .serialized, .registry(auth: "basic") { _ in })
struct BasicAuthPushTests {
    var h: RegistryHarness { RegistryHarness.current! }

    @Test func pushWithAndWithoutCredentials() throws {
        let (path, digest) = try randomBlob(h, "basic", size: 50_000)
        let anon = RegistryClient(try h.ref("push/basic:1"))
        anon.pushAccess = true
        let e = bockerError { _ = try anon.pushBlob(digest: digest, size: 50_000, file: path, mountFrom: nil) }
        #expect(e?.message == "unauthorized: authentication required for 127.0.0.1:\(h.port)/push/basic")
        let c = RegistryClient(try h.ref("push/basic:1"), auth: h.credentials)
        c.pushAccess = true
        #expect(try c.pushBlob(digest: digest, size: 50_000, file: path, mountFrom: nil) == .uploaded)
    }
}

@Suite("Registry push: bearer tokens", .serialized, .registry(auth: "token") { _ in })
struct TokenAuthPushTests {
    var h: RegistryHarness { RegistryHarness.current! }

    @Test func pushNeedsAPushToken() throws {
        let (path, digest) = try randomBlob(h, "token", size: 50_000)
        // Anonymous tokens carry pull only: the registry refuses the upload.
        let anon = RegistryClient(try h.ref("push/tok:1"))
        anon.pushAccess = true
        anon.retryDelay = 0.05
        let e = bockerError { _ = try anon.pushBlob(digest: digest, size: 50_000, file: path, mountFrom: nil) }
        #expect(e?.message == "unauthorized: authentication required for 127.0.0.1:\(h.port)/push/tok")
        let before = h.logEntries("token-requests.log").count
        let c = RegistryClient(try h.ref("push/tok:1"), auth: h.credentials)
        c.pushAccess = true
        #expect(try c.pushBlob(digest: digest, size: 50_000, file: path, mountFrom: nil) == .uploaded)
        let log = Array(h.logEntries("token-requests.log").dropFirst(before))
        #expect(log.first?["auth"] as? String == "basic-ok")
        #expect((log.first?["scope"] as? [String])?.contains("repository:push/tok:pull,push") == true, "\(log)")
    }
}
