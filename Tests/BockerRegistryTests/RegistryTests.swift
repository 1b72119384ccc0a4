import Foundation
import Glibc
import Testing
import BockerCore
@testable import BockerRegistry

private var h: RegistryHarness { RegistryHarness.current! }

/// Fetches every layer of `m` into `dir` on its own thread each; returns the paths.
private func fetchConcurrently(_ client: RegistryClient, _ layers: [Descriptor], into dir: String) throws -> [String] {
    final class Results: @unchecked Sendable {
        let lock = NSLock()
        var errors: [Error] = []
    }
    let results = Results()
    let group = DispatchGroup()
    var paths: [String] = []
    for (i, l) in layers.enumerated() {
        let path = dir + "/layer-\(i)"
        paths.append(path)
        group.enter()
        Thread.detachNewThread {
            do { try client.fetchBlob(l, to: path) } catch {
                results.lock.lock(); results.errors.append(error); results.lock.unlock()
            }
            group.leave()
        }
    }
    group.wait()
    if let e = results.errors.first { throw e }
    return paths
}

@Suite("Registry: pulling from an open registry", .registry { h in
    try h.build(tag: "oci", [
        "--compression", "gzip", "--layer", #"f:etc/hello=hi\n;d:var;l:bin/sh->busybox"#,
        "--compression", "zstd", "--layer", "r:data/big.bin=1500000;w:etc/hello",
        "--compression", "none", "--layer", "o:var;f:var/x=1",
        "--config-env", "PATH=/bin", "--config-env", "A=b", "--entrypoint", #"["/bin/sh","-c"]"#,
        "--cmd", "echo hi", "--workdir", "/tmp", "--user", "1000:1000", "--expose", "8080/tcp",
        "--expose", "53/udp", "--label", "k=v", "--stop-signal", "SIGINT",
    ])
    try h.push(tag: "oci", to: "library/oci:latest")
    try h.build(tag: "gz", ["--layer", "f:a=1", "--layer", "f:b=2", "--cmd", "/bin/true"])
    try h.push(tag: "gz", to: "library/v2s2:latest", v2s2: true)
    try h.build(tag: "multi", ["--platform", "linux/amd64", "--index-with", "linux/arm64/v8",
                               "--index-with", "linux/arm/v7", "--attestation", "--layer", "f:x=1"])
    try h.push(tag: "multi", to: "library/multi:latest")
})
struct OpenRegistryTests {
    func client(_ name: String, port: Int? = nil) throws -> RegistryClient {
        let c = RegistryClient(try h.ref(name, port: port))
        c.retryDelay = 0.05
        return c
    }

    @Test func ociManifestAndConfig() throws {
        let s = h.images["oci"]!.images[0]
        let (m, cfg, bytes) = try client("library/oci").resolve(platform: try .parse("linux/amd64"))
        #expect(m.digest == s.digest)
        #expect(m.referenceDigest == s.digest)
        #expect(m.mediaType == MediaType.ociManifest)
        #expect(sha256Digest(m.bytes) == m.digest)
        #expect(m.config.digest == s.config.digest)
        #expect(sha256Digest(bytes) == s.config.digest)
        #expect(m.layers.map(\.compression) == [.gzip, .zstd, LayerCompression.none])
        #expect(m.layers.map(\.digest) == s.layers.map(\.digest))
        #expect(cfg.diffIDs == s.layers.map(\.diffID))
        #expect(cfg.env == ["PATH=/bin", "A=b"])
        #expect(cfg.entrypoint == ["/bin/sh", "-c"])
        #expect(cfg.cmd == ["echo", "hi"])
        #expect(cfg.workingDir == "/tmp")
        #expect(cfg.user == "1000:1000")
        #expect(cfg.exposedPorts == ["53/udp", "8080/tcp"])
        #expect(cfg.labels == ["k": "v"])
        #expect(cfg.stopSignal == "SIGINT")
        #expect(cfg.os == "linux" && cfg.architecture == "amd64")
    }

    @Test func dockerSchema2() throws {
        let (m, cfg, _) = try client("library/v2s2").resolve(platform: try .parse("linux/amd64"))
        #expect(m.mediaType == MediaType.dockerManifest)
        #expect(m.config.mediaType == MediaType.dockerConfig)
        #expect(m.layers.count == 2)
        #expect(m.layers.allSatisfy { $0.mediaType == MediaType.dockerLayerGzip })
        #expect(cfg.cmd == ["/bin/true"])
        #expect(cfg.diffIDs == h.images["gz"]!.images[0].layers.map(\.diffID))
        let dir = h.scratch("v2s2")
        try client("library/v2s2").fetchBlob(m.layers[1], to: dir + "/l1")
        #expect(try fileDigest(dir + "/l1") == m.layers[1].digest)
    }

    @Test func multiPlatformIndex() throws {
        let s = h.images["multi"]!
        #expect(s.mediaType == MediaType.ociIndex)
        let c = try client("library/multi")
        for (platform, i, arch) in [("linux/amd64", 0, "amd64"), ("linux/arm64/v8", 1, "arm64"),
                                    ("linux/arm64", 1, "arm64"), ("linux/arm/v7", 2, "arm")] {
            let (m, cfg, _) = try c.resolve(platform: try .parse(platform))
            #expect(m.digest == s.images[i].digest, "\(platform)")
            #expect(m.referenceDigest == s.digest)
            #expect(cfg.architecture == arch)
        }
        let e = bockerError { _ = try c.resolve(platform: try .parse("linux/s390x")) }
        #expect(e?.code == .notFound)
        #expect(e?.message == "no manifest for platform linux/s390x in '127.0.0.1:\(h.port)/library/multi:latest' (it has: linux/amd64, linux/arm64/v8, linux/arm/v7)")
    }

    @Test func layerBlobsAreFetchedAndVerified() throws {
        let c = try client("library/oci")
        let (m, _, _) = try c.resolve(platform: try .parse("linux/amd64"))
        let dir = h.scratch("layers")
        var seen: [Int64] = []
        try c.fetchBlob(m.layers[1], to: dir + "/zstd") { seen.append($0) }
        #expect(seen.last == m.layers[1].size)
        #expect(seen == seen.sorted())
        #expect(try fileDigest(dir + "/zstd") == m.layers[1].digest)
        // All three layers at once, one thread each, one client.
        let paths = try fetchConcurrently(c, m.layers, into: dir)
        for (p, l) in zip(paths, m.layers) { #expect(try fileDigest(p) == l.digest) }
        #expect(directoryEntries(dir) == ["layer-0", "layer-1", "layer-2", "zstd"])
        // The uncompressed layer is the tar whose sha256 is its diff_id.
        #expect(m.layers[2].digest == h.images["oci"]!.images[0].layers[2].diffID)
    }

    @Test func remoteDigestByHead() throws {
        #expect(try client("library/multi").remoteDigest() == h.images["multi"]!.digest)
        #expect(try client("library/oci").remoteDigest() == h.images["oci"]!.images[0].digest)
        let e = bockerError { _ = try client("library/nope").remoteDigest() }
        #expect(e?.message == "No image named '127.0.0.1:\(h.port)/library/nope:latest' exists")
    }

    @Test func digestReferences() throws {
        let s = h.images["multi"]!
        let (m, _, _) = try client("library/multi@" + s.digest).resolve(platform: try .parse("linux/arm64/v8"))
        #expect(m.digest == s.images[1].digest)
        let oci = h.images["oci"]!.images[0].digest
        #expect(try client("library/oci@" + oci).resolve(platform: try .parse("linux/amd64")).manifest.digest == oci)
        let missing = "sha256:" + String(repeating: "0", count: 64)
        let e = bockerError { _ = try client("library/oci@" + missing).resolve() }
        #expect(e?.code == .notFound)
        #expect(e?.message == "No image named '127.0.0.1:\(h.port)/library/oci@\(missing)' exists")
    }

    @Test func missingImagesAndBlobs() throws {
        for name in ["library/nope:latest", "library/oci:missing", "nope/deeper/name:1"] {
            let e = bockerError { _ = try client(name).resolve() }
            #expect(e?.code == .notFound)
            #expect(e?.message == "No image named '127.0.0.1:\(h.port)/\(name)' exists")
        }
        let dir = h.scratch("missing")
        let d = Descriptor(mediaType: MediaType.ociLayerGzip, digest: "sha256:" + String(repeating: "1", count: 64), size: 10)
        let e = bockerError { try client("library/oci").fetchBlob(d, to: dir + "/x") }
        #expect(e?.code == .notFound)
        #expect(directoryEntries(dir) == [])
    }

    @Test func wrongDeclaredSizes() throws {
        let c = try client("library/oci")
        let layer = h.images["oci"]!.images[0].layers[0]
        let dir = h.scratch("sizes")
        let smaller = Descriptor(mediaType: layer.mediaType, digest: layer.digest, size: layer.size - 1)
        let e1 = bockerError { try c.fetchBlob(smaller, to: dir + "/a") }
        #expect(e1?.message == "size mismatch for \(layer.digest): expected \(layer.size - 1) bytes, got more")
        let larger = Descriptor(mediaType: layer.mediaType, digest: layer.digest, size: layer.size + 1)
        let e2 = bockerError { try c.fetchBlob(larger, to: dir + "/b") }
        #expect(e2?.message == "size mismatch for \(layer.digest): expected \(layer.size + 1) bytes, got \(layer.size)")
        #expect(directoryEntries(dir) == [])
    }

    @Test func corruptedContentIsRefusedAndNotKept() throws {
        let shim = try h.shim("corrupt", mode: "corrupt")
        let c = try client("library/oci", port: shim.port)
        // The manifest by tag: checked against the registry's Docker-Content-Digest.
        let e0 = bockerError { _ = try c.resolve(platform: try .parse("linux/amd64")) }
        #expect(e0?.message.hasPrefix("digest mismatch for \(h.images["oci"]!.images[0].digest): got sha256:") == true)
        // By digest, against the reference.
        let pinned = try client("library/oci@" + h.images["oci"]!.images[0].digest, port: shim.port)
        let e1 = bockerError { _ = try pinned.resolve() }
        #expect(e1?.message.hasPrefix("digest mismatch for \(h.images["oci"]!.images[0].digest): got sha256:") == true)
        // A blob: an error, and nothing at the path or beside it.
        let layer = h.images["oci"]!.images[0].layers[1]
        let d = Descriptor(mediaType: layer.mediaType, digest: layer.digest, size: layer.size)
        let dir = h.scratch("corrupt")
        let e2 = bockerError { try c.fetchBlob(d, to: dir + "/blob") }
        #expect(e2?.code == .io)
        #expect(e2?.message.hasPrefix("digest mismatch for \(layer.digest): got sha256:") == true)
        #expect(e2?.message != "digest mismatch for \(layer.digest): got \(layer.digest)")
        #expect(directoryEntries(dir) == [])
    }

    @Test func shortBodyIsASizeMismatch() throws {
        let shim = try h.shim("short", mode: "short")
        let layer = h.images["oci"]!.images[0].layers[0]
        let d = Descriptor(mediaType: layer.mediaType, digest: layer.digest, size: layer.size)
        let dir = h.scratch("short")
        let e = bockerError { try client("library/oci", port: shim.port).fetchBlob(d, to: dir + "/blob") }
        #expect(e?.message == "size mismatch for \(layer.digest): expected \(layer.size) bytes, got \(layer.size - 1)")
        #expect(directoryEntries(dir) == [])
    }

    @Test func droppedConnectionResumesWithRange() throws {
        let shim = try h.shim("truncate", mode: "truncate-once")
        let layer = h.images["oci"]!.images[0].layers[1]   // the 1.5 MB zstd one
        let d = Descriptor(mediaType: layer.mediaType, digest: layer.digest, size: layer.size)
        let dir = h.scratch("truncate")
        try client("library/oci", port: shim.port).fetchBlob(d, to: dir + "/blob")
        #expect(try fileDigest(dir + "/blob") == layer.digest)
        #expect(directoryEntries(dir) == ["blob"])
        let gets = h.logEntries("shim-truncate.log").filter { ($0["path"] as? String)?.hasSuffix(layer.digest) == true }
        #expect(gets.count == 2)
        #expect(gets.first?["truncated"] as? Bool == true)
        #expect(gets.last?["range"] as? String == "bytes=\(layer.size / 2)-")
        #expect(gets.last?["status"] as? Int == 206)
    }

    @Test func serverErrorsAreRetried() throws {
        let shim = try h.shim("fail", mode: "fail-once")
        let c = try client("library/oci", port: shim.port)
        let (m, _, _) = try c.resolve(platform: try .parse("linux/amd64"))
        let dir = h.scratch("fail")
        try c.fetchBlob(m.layers[0], to: dir + "/blob")
        #expect(try fileDigest(dir + "/blob") == m.layers[0].digest)
        let log = h.logEntries("shim-fail.log")
        let statuses = log.map { "\($0["status"] ?? "")" }
        #expect(statuses == ["503", "200", "503", "200", "503", "200"])   // manifest, config, layer
        // Retries exhausted: the last error is reported.
        c.maxAttempts = 1
        let other = m.layers[2]
        let e = bockerError { try c.fetchBlob(other, to: dir + "/other") }
        #expect(e?.message == "registry 127.0.0.1:\(shim.port) answered HTTP 503 for blob \(other.digest): injected 503")
        #expect(!FileManager.default.fileExists(atPath: dir + "/other"))
    }

    @Test func connectionsAreKeptAlive() throws {
        let session = CurlSession()
        let url = "http://127.0.0.1:\(h.port)/v2/"
        let r1 = session.perform(HTTPRequest(url: url)) { _ in .continue }
        let r2 = session.perform(HTTPRequest(url: url)) { _ in .continue }
        #expect(r1.status == 200 && r2.status == 200)
        #expect(r1.newConnections == 1)
        #expect(r2.newConnections == 0)
    }

    @Test func oversizedManifestIsRefused() throws {
        let shim = try h.shim("huge", mode: "huge-manifest")
        let e = bockerError { _ = try client("library/oci", port: shim.port).resolve() }
        #expect(e?.message == "manifest for 127.0.0.1:\(shim.port)/library/oci:latest is larger than 4 MiB; refused")
    }

    @Test func unreachableRegistry() throws {
        // A port nothing listens on (the registry's port + a shim nobody started is not safe to
        // guess): bind one, close it, and use it.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        let port = Int(UInt16(bigEndian: addr.sin_port))
        close(fd)
        let c = try client("library/oci", port: port)
        c.maxAttempts = 2
        let e = bockerError { _ = try c.resolve() }
        #expect(e?.code == .io)
        #expect(e?.message.hasPrefix("cannot download manifest for 127.0.0.1:\(port)/library/oci:latest from 127.0.0.1:\(port): ") == true)
    }
}

@Suite("Registry: Basic auth and redirects", .registry(auth: "basic") { h in
    try h.build(tag: "img", ["--layer", "f:a=1", "--compression", "zstd", "--layer", "r:b=200000", "--cmd", "/bin/true"])
    try h.push(tag: "img", to: "library/img:latest")
})
struct BasicAuthTests {
    @Test func rightCredentials() throws {
        let c = RegistryClient(try h.ref("library/img"), auth: h.credentials)
        let (m, cfg, _) = try c.resolve(platform: try .parse("linux/amd64"))
        #expect(m.digest == h.images["img"]!.images[0].digest)
        #expect(cfg.cmd == ["/bin/true"])
        let dir = h.scratch("basic")
        try c.fetchBlob(m.layers[1], to: dir + "/b")
        #expect(try fileDigest(dir + "/b") == m.layers[1].digest)
        #expect(c.tokenRequests == 0)
    }

    @Test func wrongOrMissingCredentials() throws {
        for creds in [Credentials(username: "testuser", password: "wrong"), Credentials(username: "x", password: "testpass"), nil] {
            let c = RegistryClient(try h.ref("library/img"), auth: creds)
            let e = bockerError { _ = try c.resolve() }
            #expect(e?.code == .invalidArgument)
            #expect(e?.message == "unauthorized: authentication required for 127.0.0.1:\(h.port)/library/img")
        }
    }

    @Test func authorizationNeverCrossesHosts() throws {
        let shim = try h.shim("redirect", mode: "redirect")
        let c = RegistryClient(try h.ref("library/img", port: shim.port), auth: h.credentials)
        let (m, _, _) = try c.resolve(platform: try .parse("linux/amd64"))
        let dir = h.scratch("redirect")
        let paths = try fetchConcurrently(c, m.layers, into: dir)
        for (p, l) in zip(paths, m.layers) { #expect(try fileDigest(p) == l.digest) }
        #expect(h.fileText("shim-redirect.violations") == nil)
        let log = h.logEntries("shim-redirect.log")
        let redirected = log.filter { $0["listener"] as? String == "main" && $0["status"] as? Int == 307 }
        let cdn = log.filter { $0["listener"] as? String == "cdn" }
        #expect(redirected.count == 3)   // config + 2 layers
        #expect(redirected.allSatisfy { $0["authorization"] as? Bool == true })
        #expect(cdn.count == 3)
        #expect(cdn.allSatisfy { $0["authorization"] as? Bool == false && $0["status"] as? Int == 200 })
    }

    /// libcurl's own redirect following (not what the client uses, but the claim that it drops a
    /// custom Authorization header on a cross-host redirect is checked, not assumed).
    @Test func libcurlDropsAuthorizationAcrossHostsItself() throws {
        let shim = try h.shim("curlcheck", mode: "redirect")
        let layer = h.images["img"]!.images[0].layers[0]
        let session = CurlSession()
        var body: [UInt8] = []
        var req = HTTPRequest(url: "http://127.0.0.1:\(shim.port)/v2/library/img/blobs/\(layer.digest)")
        req.headers = ["Authorization: " + h.credentials!.basicHeaderValue]
        req.followRedirects = true
        let r = session.perform(req) { body.append(contentsOf: $0); return .continue }
        #expect(r.status == 200)
        #expect(sha256Digest(body) == layer.digest)
        #expect(h.fileText("shim-curlcheck.violations") == nil)
        let main = h.logEntries("shim-curlcheck.log").filter { $0["listener"] as? String == "main" }
        #expect(main.first?["authorization"] as? Bool == true)
        print("libcurl \(RegistryClient.curlVersion): custom Authorization not forwarded on a 307 from 127.0.0.1:\(shim.port) to localhost:\(shim.cdnPort!)")

        // And the shim does catch a leak: send one to the redirect target on purpose.
        var leak = HTTPRequest(url: "http://localhost:\(shim.cdnPort!)/cdn/\(layer.digest)?sig=x")
        leak.headers = ["Authorization: Bearer leaked"]
        let r2 = session.perform(leak) { _ in .continue }
        #expect(r2.status == 400)
        #expect(h.fileText("shim-curlcheck.violations")?.contains("Authorization sent to the CDN host") == true)
    }
}

@Suite("Registry: bearer tokens", .serialized, .registry(auth: "token") { h in
    try h.build(tag: "img", ["--layer", "f:a=1", "--layer", "f:b=2", "--compression", "none", "--layer", "f:c=3"])
    try h.push(tag: "img", to: "library/img:latest")
})
struct TokenAuthTests {
    func newTokenRequests(after n: Int) -> [[String: Any]] {
        Array(h.logEntries("token-requests.log").dropFirst(n))
    }

    @Test func anonymousPullFetchesOneToken() throws {
        let before = h.logEntries("token-requests.log").count
        let c = RegistryClient(try h.ref("library/img"))   // no credentials anywhere
        let (m, _, _) = try c.resolve(platform: try .parse("linux/amd64"))
        let paths = try fetchConcurrently(c, m.layers, into: h.scratch("token"))
        for (p, l) in zip(paths, m.layers) { #expect(try fileDigest(p) == l.digest) }
        #expect(c.tokenRequests == 1)
        let log = newTokenRequests(after: before)
        #expect(log.count == 1)
        #expect(log.first?["auth"] as? String == "none")
        #expect(log.first?["scope"] as? [String] == ["repository:library/img:pull"])
        #expect(log.first?["service"] as? String == "bocker-test-registry")
    }

    @Test func credentialedToken() throws {
        let before = h.logEntries("token-requests.log").count
        let c = RegistryClient(try h.ref("library/img"), auth: h.credentials)
        _ = try c.resolve(platform: try .parse("linux/amd64"))
        let log = newTokenRequests(after: before)
        #expect(log.count == 1)
        #expect(log.first?["auth"] as? String == "basic-ok")
        #expect(log.first?["account"] as? String == "testuser")
    }

    @Test func wrongCredentialsForTheTokenServer() throws {
        let before = h.logEntries("token-requests.log").count
        let c = RegistryClient(try h.ref("library/img"), auth: Credentials(username: "testuser", password: "nope"))
        let e = bockerError { _ = try c.resolve() }
        #expect(e?.message == "unauthorized: authentication required for 127.0.0.1:\(h.port)/library/img")
        #expect(newTokenRequests(after: before).first?["auth"] as? String == "basic-bad")
    }

    @Test func missingRepositoryWithToken() throws {
        let e = bockerError { _ = try RegistryClient(try h.ref("library/absent:1")).resolve() }
        #expect(e?.code == .notFound)
        #expect(e?.message == "No image named '127.0.0.1:\(h.port)/library/absent:1' exists")
    }
}
