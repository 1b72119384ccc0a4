#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import BockerCore
import BockerDigest
import CCurl
import Glibc

/// A client for one repository of an OCI distribution registry (Docker Hub, ghcr.io, a local
/// `registry:2`): resolves a reference to a platform's manifest and config, and downloads blobs.
///
/// Thread safety: one client may be used from several threads at once (e.g. one blob download per
/// thread); each transfer borrows its own libcurl handle from the client's pool, and the token
/// cache is locked. Connections are kept alive between transfers of the same handle.
///
/// Credentials never leave the registry's origin: redirects are followed by hand and the
/// `Authorization` header is dropped as soon as the scheme, host or port changes.
public final class RegistryClient: @unchecked Sendable {
    public let reference: ImageReference
    /// "http" or "https".
    public let scheme: String
    /// Attempts per request for 5xx answers and dropped connections (1 = no retries).
    public var maxAttempts = 4
    /// The first back-off delay in seconds; doubled after each failed attempt (capped at 8 s).
    public var retryDelay = 0.25
    /// Push: blobs larger than this go up in PATCH chunks of this size, smaller ones in one PUT.
    public var chunkSize: Int64 = 32 << 20
    /// Manifests larger than this are refused.
    public static let maxManifestSize = 4 << 20
    /// Config blobs larger than this are refused.
    public static let maxConfigSize = 16 << 20

    private let credentials: Result<Credentials?, BockerError>
    private let session: CurlSession
    private let caFile: String?
    private let lock = Lock()
    private let authLock = Lock()
    /// "Authorization" values by scope, with their expiry (CLOCK_MONOTONIC seconds; nil: never).
    private var authCache: [String: (value: String, expires: Double?)] = [:]
    private var tokenRequestCount = 0

    /// - Parameters:
    ///   - auth: credentials; nil reads bocker's auth.json, then Docker's config.json.
    ///   - insecure: plain HTTP; nil means yes only for localhost, 127.0.0.0/8, ::1 and the
    ///     registries listed (comma or space separated, `host` or `host:port`) in
    ///     `$BOCKER_INSECURE_REGISTRIES`.
    public init(_ ref: ImageReference, auth: Credentials? = nil, insecure: Bool? = nil) {
        reference = ref
        if let auth {
            credentials = .success(auth)
        } else {
            do { credentials = .success(try CredentialStore.fromEnvironment().lookup(registry: ref.registry)) }
            catch let e as BockerError { credentials = .failure(e) }
            catch { credentials = .failure(BockerError(.io, "\(error)")) }
        }
        let plain = insecure ?? RegistryClient.isInsecureByDefault(ref.registry)
        scheme = plain ? "http" : "https"
        session = CurlSession()
        caFile = plain ? nil : RegistryClient.caFile(for: ref.registry)
    }

    /// An overall time limit in seconds for everything this client does from now on: once it
    /// passes, the transfer under way is cut and every call throws `.timeout` (no retries).
    public var timeout: Double? {
        didSet { session.deadline = timeout.map { CurlSession.monotonicNow() + $0 } }
    }

    /// The `.timeout` error once the client's time limit has passed.
    func timedOut() -> BockerError {
        BockerError(.timeout, "timed out after \(Durations.format(timeout ?? 0)) talking to \(reference.registry)")
    }

    /// Throws `.timeout` when the time limit has passed (or would pass within `margin` seconds).
    public func checkDeadline(margin: Double = 0) throws {
        if let d = session.deadline, CurlSession.monotonicNow() + margin >= d { throw timedOut() }
    }

    /// The libcurl this binary runs with, e.g. "libcurl/7.88.1 OpenSSL/3.0.19 …".
    public static var curlVersion: String { CurlSession.versionString }

    /// How many token requests this client made (tests check that tokens are cached).
    public var tokenRequests: Int { lock.withLock { tokenRequestCount } }

    /// localhost, 127.0.0.0/8, ::1, or listed in $BOCKER_INSECURE_REGISTRIES.
    public static func isInsecureByDefault(_ registry: String) -> Bool {
        let host = hostPart(registry)
        if host == "localhost" || host == "::1" { return true }
        var addr = in_addr()
        if inet_pton(AF_INET, host, &addr) == 1, UInt32(bigEndian: addr.s_addr) >> 24 == 127 { return true }
        guard let list = env("BOCKER_INSECURE_REGISTRIES") else { return false }
        for item in list.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\n" || $0 == "\t" }) {
            let entry = String(item).lowercased()
            if entry == registry.lowercased() || entry == host { return true }
        }
        return false
    }

    static func hostPart(_ registry: String) -> String {
        let r = registry.lowercased()
        if r.hasPrefix("["), let close = r.firstIndex(of: "]") {
            return String(r[r.index(after: r.startIndex)..<close])
        }
        if let colon = r.firstIndex(of: ":") { return String(r[..<colon]) }
        return r
    }

    /// A private registry's CA: $BOCKER_CONFIG/certs.d/REGISTRY/ca.crt or Docker's
    /// /etc/docker/certs.d/REGISTRY/ca.crt.
    static func caFile(for registry: String) -> String? {
        let bockerConfig = env("BOCKER_CONFIG") ?? (homeDirectory() + "/.config/bocker")
        for dir in [bockerConfig + "/certs.d", "/etc/docker/certs.d"] {
            let f = dir + "/" + registry + "/ca.crt"
            if FS.exists(f) { return f }
        }
        return nil
    }

    var registryOrigin: String { scheme + "://" + reference.apiHost }
    var repositoryURL: String { registryOrigin + "/v2/" + reference.repository }
    /// Also ask for push access (`push`): tokens then carry pull,push for this repository.
    public var pushAccess = false
    private var pullScope: String { "repository:\(reference.repository):" + (pushAccess ? "pull,push" : "pull") }
    var displayName: String { reference.registry + "/" + reference.repository }

    // MARK: - Resolving

    /// The manifest and config for the reference on `platform`. Indexes are resolved to the
    /// platform's entry (attestations and unknown media types skipped); every manifest and the
    /// config are checked against their digests.
    public func resolve(platform: Platform = .host) throws -> (manifest: ImageManifest, config: ImageConfigInfo, configBytes: [UInt8]) {
        let top = try fetchManifest(reference.manifestReference, topLevel: true)
        let topDigest = sha256Digest(top.bytes)
        if let want = reference.digest, want != topDigest {
            throw BockerError(.io, "digest mismatch for \(want): got \(topDigest)")
        }
        if let claimed = top.claimedDigest, claimed.hasPrefix("sha256:"), claimed != topDigest {
            throw BockerError(.io, "digest mismatch for \(claimed): got \(topDigest)")
        }

        var manifestBytes = top.bytes
        var manifestDigest = topDigest
        var kind = try manifestKind(top)
        if kind == .index {
            let index = try decodeJSON(WireIndex.self, top.bytes, what: "image index for \(reference.familiar)")
            guard let entry = selectManifest(from: index.manifests, for: platform) else {
                let available = index.manifests.compactMap { d -> String? in
                    guard MediaType.manifestTypes.contains(d.mediaType),
                          d.annotations?["vnd.docker.reference.type"] != "attestation-manifest",
                          let p = d.platform else { return nil }
                    return Platform(os: p.os, architecture: p.architecture, variant: p.variant).description
                }
                throw BockerError(.notFound, "no manifest for platform \(platform) in '\(reference.familiar)'"
                    + (available.isEmpty ? "" : " (it has: \(available.joined(separator: ", ")))"))
            }
            guard ImageReference.isValidDigest(entry.digest) else {
                throw BockerError(.io, "malformed image index for \(reference.familiar): invalid digest '\(entry.digest)'")
            }
            if entry.size > Int64(Self.maxManifestSize) {
                throw BockerError(.io, "manifest \(entry.digest) is larger than 4 MiB; refused")
            }
            let child = try fetchManifest(entry.digest, topLevel: false)
            let childDigest = sha256Digest(child.bytes)
            if childDigest != entry.digest {
                throw BockerError(.io, "digest mismatch for \(entry.digest): got \(childDigest)")
            }
            if Int64(child.bytes.count) != entry.size {
                throw BockerError(.io, "size mismatch for \(entry.digest): expected \(entry.size) bytes, got \(child.bytes.count)")
            }
            kind = try manifestKind(child)
            if kind == .index {
                throw BockerError(.io, "nested image indexes are not supported (\(entry.digest) in \(reference.familiar))")
            }
            manifestBytes = child.bytes
            manifestDigest = childDigest
        }
        let wire = try decodeJSON(WireManifest.self, manifestBytes, what: "manifest for \(reference.familiar)")
        let mediaType = kind == .dockerManifest ? MediaType.dockerManifest : MediaType.ociManifest
        try validate(wire)

        let configBytes = try fetchBlobBytes(wire.config, limit: Self.maxConfigSize, what: "image config")
        let config = try ImageConfigInfo.parse(configBytes)
        if config.diffIDs.count != wire.layers.count {
            throw BockerError(.io, "malformed image config for \(reference.familiar): \(config.diffIDs.count) diff_ids for \(wire.layers.count) layers")
        }
        if let bad = config.diffIDs.first(where: { !ImageReference.isValidDigest($0) }) {
            throw BockerError(.io, "malformed image config for \(reference.familiar): invalid diff_id '\(bad)'")
        }
        let manifest = ImageManifest(digest: manifestDigest, mediaType: mediaType, config: wire.config,
                                     layers: wire.layers, referenceDigest: topDigest, bytes: manifestBytes)
        return (manifest, config, configBytes)
    }

    /// The digest the reference currently points at, from a HEAD request (Docker Hub does not
    /// count HEADs toward its pull rate limit): lets a caller skip a pull that would change nothing.
    /// nil when the registry sends no Docker-Content-Digest; `.notFound` like `resolve`.
    public func remoteDigest() throws -> String? {
        let notFound = BockerError(.notFound, "No image named '\(reference.familiar)' exists")
        let what = "manifest for \(reference.familiar)"
        let r: HTTPResult = try withRetries(what: what) { _ in
            let r = try send(url: repositoryURL + "/manifests/" + reference.manifestReference, method: "HEAD",
                             headers: ["Accept: " + MediaType.manifestAccept.joined(separator: ", ")],
                             sink: { _ in .continue })
            if r.ok { return .done(r) }
            return try classify(r, what: what, notFound: notFound)
        }
        guard let d = r.header("docker-content-digest"), ImageReference.isValidDigest(d) else { return nil }
        return d
    }

    private func validate(_ m: WireManifest) throws {
        let cfg = m.config
        if cfg.mediaType != MediaType.ociConfig && cfg.mediaType != MediaType.dockerConfig {
            throw BockerError(.invalidArgument, "'\(reference.familiar)' is not a container image (config media type '\(cfg.mediaType)')")
        }
        for d in [cfg] + m.layers {
            guard ImageReference.isValidDigest(d.digest) else {
                throw BockerError(.io, "malformed manifest for \(reference.familiar): invalid digest '\(d.digest)'")
            }
            guard d.size >= 0 else {
                throw BockerError(.io, "malformed manifest for \(reference.familiar): negative size for \(d.digest)")
            }
        }
        for l in m.layers where l.compression == nil {
            throw BockerError(.invalidArgument, "unsupported layer media type '\(l.mediaType)' in \(reference.familiar) (layer \(l.digest))")
        }
    }

    private enum ManifestKind { case index, ociManifest, dockerManifest }

    private struct FetchedManifest {
        var bytes: [UInt8]
        var contentType: String
        var claimedDigest: String?
    }

    private func manifestKind(_ m: FetchedManifest) throws -> ManifestKind {
        var type = m.contentType
        if !MediaType.indexTypes.contains(type) && !MediaType.manifestTypes.contains(type)
            && type != MediaType.dockerSchema1 && type != MediaType.dockerSchema1Signed {
            // No useful Content-Type (application/json, text/plain, none): look inside.
            let probe = try decodeJSON(WireProbe.self, m.bytes, what: "manifest for \(reference.familiar)")
            if let t = probe.mediaType { type = t }
            else if probe.manifests != nil { type = MediaType.ociIndex }
            else if probe.config != nil { type = MediaType.ociManifest }
            else if probe.schemaVersion == 1 || probe.fsLayers != nil { type = MediaType.dockerSchema1 }
        }
        switch type {
        case MediaType.ociIndex, MediaType.dockerList: return .index
        case MediaType.ociManifest: return .ociManifest
        case MediaType.dockerManifest: return .dockerManifest
        case MediaType.dockerSchema1, MediaType.dockerSchema1Signed:
            throw BockerError(.invalidArgument, "'\(reference.familiar)' uses the Docker schema 1 manifest format, which bocker does not support")
        default:
            throw BockerError(.invalidArgument, "unsupported manifest media type '\(type)' for \(reference.familiar)")
        }
    }

    private func fetchManifest(_ ref: String, topLevel: Bool) throws -> FetchedManifest {
        let notFound = topLevel
            ? BockerError(.notFound, "No image named '\(reference.familiar)' exists")
            : BockerError(.notFound, "manifest \(ref) of '\(reference.familiar)' not found")
        let (bytes, head) = try fetchToMemory(
            url: repositoryURL + "/manifests/" + ref,
            headers: ["Accept: " + MediaType.manifestAccept.joined(separator: ", ")],
            limit: Self.maxManifestSize,
            tooLarge: "manifest for \(reference.familiar) is larger than 4 MiB; refused",
            what: "manifest for \(reference.familiar)", notFound: notFound)
        let ct = (head.header("content-type") ?? "").split(separator: ";").first.map {
            String($0).trimmingCharacters(in: " \t").lowercased()
        } ?? ""
        return FetchedManifest(bytes: bytes, contentType: ct, claimedDigest: head.header("docker-content-digest"))
    }

    /// A small blob (the config) in memory, verified against its descriptor.
    private func fetchBlobBytes(_ d: Descriptor, limit: Int, what: String) throws -> [UInt8] {
        if d.size > Int64(limit) {
            throw BockerError(.io, "\(what) \(d.digest) is larger than \(limit >> 20) MiB; refused")
        }
        let (bytes, _) = try fetchToMemory(
            url: repositoryURL + "/blobs/" + d.digest, headers: [], limit: Int(d.size),
            tooLarge: "size mismatch for \(d.digest): expected \(d.size) bytes, got more",
            what: "\(what) \(d.digest)",
            notFound: BockerError(.notFound, "blob \(d.digest) not found in \(displayName)"))
        if Int64(bytes.count) != d.size {
            throw BockerError(.io, "size mismatch for \(d.digest): expected \(d.size) bytes, got \(bytes.count)")
        }
        let got = sha256Digest(bytes)
        if got != d.digest { throw BockerError(.io, "digest mismatch for \(d.digest): got \(got)") }
        return bytes
    }

    private func fetchToMemory(url: String, headers: [String], limit: Int, tooLarge: String,
                               what: String, notFound: BockerError) throws -> ([UInt8], HTTPResult) {
        try withRetries(what: what) { _ in
            var buf: [UInt8] = []
            var overflow = false
            let r = try send(url: url, headers: headers, onHead: { _, headers in
                if let cl = headers.first(where: { $0.name == "content-length" }).flatMap({ Int($0.value) }), cl > limit {
                    overflow = true
                    return .abort
                }
                return .continue
            }, sink: { chunk in
                if buf.count + chunk.count > limit { overflow = true; return .abort }
                buf.append(contentsOf: chunk)
                return .continue
            })
            if overflow { throw BockerError(.io, tooLarge) }
            if r.ok { return .done((buf, r)) }
            return try classify(r, what: what, notFound: notFound)
        }
    }

    // MARK: - Retries and errors

    enum Attempt<T> {
        case done(T)
        /// Worth another try; the error is what the caller sees when attempts run out.
        case retry(BockerError, Double?)
    }

    func withRetries<T>(what: String, _ body: (Int) throws -> Attempt<T>) throws -> T {
        var delay = retryDelay
        var attempt = 1
        while true {
            switch try body(attempt) {
            case .done(let v):
                return v
            case .retry(let err, let retryAfter):
                if attempt >= maxAttempts { throw err }
                let wait = min(retryAfter.map { max($0, delay) } ?? delay, 8)
                try checkDeadline(margin: wait)
                usleep(useconds_t(wait * 1_000_000))
                delay = min(delay * 2, 8)
                attempt += 1
            }
        }
    }

    /// Maps a failed exchange to a retry or a one-line error.
    func classify<T>(_ r: HTTPResult, what: String, notFound: BockerError) throws -> Attempt<T> {
        if r.deadlinePassed { throw timedOut() }
        if r.curlCode != CURLE_OK && r.status == 0 || r.isTransientTransportError {
            let err = BockerError(.io, "cannot download \(what) from \(reference.registry): \(r.curlMessage)")
            if r.isTransientTransportError { return .retry(err, nil) }
            throw err
        }
        if r.curlCode != CURLE_OK {
            throw BockerError(.io, "cannot download \(what) from \(reference.registry): \(r.curlMessage)")
        }
        let (code, message) = Self.registryError(r.errorBody)
        if r.status == 404 || code == "MANIFEST_UNKNOWN" || code == "NAME_UNKNOWN" || code == "BLOB_UNKNOWN" {
            throw notFound
        }
        let detail = message.map { ": " + ($0.isEmpty ? (code ?? "") : $0) } ?? ""
        if r.status == 403 || code == "DENIED" {
            throw BockerError(.invalidArgument, "denied: access to \(displayName) is forbidden\(detail)")
        }
        let err = BockerError(.io, "registry \(reference.registry) answered HTTP \(r.status) for \(what)\(detail)")
        if r.status >= 500 || r.status == 429 || r.status == 408 {
            let retryAfter = r.header("retry-after").flatMap(Double.init)
            return .retry(err, retryAfter)
        }
        throw err
    }

    /// The first entry of a registry error body: {"errors":[{"code":…,"message":…}]}.
    static func registryError(_ body: [UInt8]) -> (code: String?, message: String?) {
        struct Body: Decodable {
            struct E: Decodable { var code: String?; var message: String? }
            var errors: [E]?
        }
        guard !body.isEmpty, let b = try? JSONDecoder().decode(Body.self, from: Data(body)),
              let first = b.errors?.first else { return (nil, nil) }
        return (first.code, first.message)
    }

    // MARK: - Auth and redirects

    private var unauthorized: BockerError {
        BockerError(.invalidArgument, "unauthorized: authentication required for \(displayName)")
    }

    /// One exchange with the registry: authenticates on a 401 (once), follows redirects.
    func send(url: String, method: String = "GET", headers: [String], body: HTTPBody? = nil,
                      onHead: ((Int, [(name: String, value: String)]) -> SinkVerdict)? = nil,
                      sink: @escaping (UnsafeRawBufferPointer) -> SinkVerdict) throws -> HTTPResult {
        let scope = pullScope
        var auth = cachedAuth(scope)
        var r = sendFollowingRedirects(url: url, method: method, headers: headers, body: body, authorization: auth, onHead: onHead, sink: sink)
        if r.deadlinePassed { throw timedOut() }
        if r.curlCode == CURLE_OK && r.status == 401 {
            auth = try authenticate(challenges: r.headers("www-authenticate"), scope: scope, stale: auth)
            r = sendFollowingRedirects(url: url, method: method, headers: headers, body: body, authorization: auth, onHead: onHead, sink: sink)
            if r.deadlinePassed { throw timedOut() }
            if r.curlCode == CURLE_OK && r.status == 401 { throw unauthorized }
        }
        return r
    }

    /// Follows up to 10 redirects; Authorization goes only to the origin it was meant for.
    func sendFollowingRedirects(url: String, method: String = "GET", headers: [String], body: HTTPBody? = nil, authorization: String?,
                                onHead: ((Int, [(name: String, value: String)]) -> SinkVerdict)? = nil,
                                sink: @escaping (UnsafeRawBufferPointer) -> SinkVerdict) -> HTTPResult {
        var current = url
        var auth = authorization
        let authOrigin = urlOrigin(url)
        var result = HTTPResult()
        for _ in 0...10 {
            var req = HTTPRequest(url: current)
            req.method = method
            req.headers = headers
            req.body = body
            if let a = auth, urlOrigin(current) == authOrigin { req.headers.append("Authorization: " + a) } else { auth = nil }
            if urlOrigin(current) == urlOrigin(registryOrigin) { req.caFile = caFile }
            result = session.perform(req, onHead: onHead, sink: sink)
            guard result.curlCode == CURLE_OK, [301, 302, 303, 307, 308].contains(result.status),
                  let next = result.redirectURL, urlOrigin(next) != nil else {
                return result
            }
            current = next
        }
        result.curlCode = CURLE_TOO_MANY_REDIRECTS
        result.curlMessage = "too many redirects"
        result.status = 0
        return result
    }

    private func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    private func cachedAuth(_ scope: String) -> String? {
        let t = now()
        return lock.withLock {
            guard let e = authCache[scope] else { return nil }
            if let exp = e.expires, exp <= t { authCache.removeValue(forKey: scope); return nil }
            return e.value
        }
    }

    /// Answers a 401's challenges: a bearer token from the realm (anonymous or with Basic
    /// credentials), or Basic credentials. Serialised, so concurrent 401s fetch one token.
    private func authenticate(challenges headers: [String], scope: String, stale: String?) throws -> String {
        try authLock.withLock {
            if let fresh = cachedAuth(scope), fresh != stale { return fresh }
            let challenges = headers.flatMap { AuthChallenge.parse($0) }
            let creds: Credentials?
            switch credentials {
            case .success(let c): creds = c
            case .failure(let e): throw e
            }
            if let bearer = challenges.first(where: { $0.scheme == "bearer" }) {
                let (token, ttl) = try fetchToken(bearer, scope: scope, credentials: creds)
                let value = "Bearer " + token
                let t = now()
                lock.withLock { authCache[scope] = (value, t + max(Double(ttl) - min(10, Double(ttl) / 2), 1)) }
                return value
            }
            if challenges.contains(where: { $0.scheme == "basic" }), let creds {
                // A Basic challenge with the same credentials already sent: they are wrong.
                let value = creds.basicHeaderValue
                if value == stale { throw unauthorized }
                lock.withLock { authCache[scope] = (value, nil) }
                return value
            }
            throw unauthorized
        }
    }

    private func fetchToken(_ c: AuthChallenge, scope: String, credentials creds: Credentials?) throws -> (String, Int) {
        guard let realm = c.parameters["realm"], urlOrigin(realm) != nil else {
            throw BockerError(.io, "registry \(reference.registry) sent a bearer challenge without a usable realm")
        }
        var query: [String] = []
        if let service = c.parameters["service"] { query.append("service=" + percentEncode(service)) }
        if pushAccess {
            // Ask for push at once (a HEAD's challenge names pull only), plus whatever else the
            // challenge names (a mount's source repository).
            query.append("scope=" + percentEncode(scope))
            for extra in (c.parameters["scope"] ?? "").split(separator: " ").map(String.init) where extra != scope {
                query.append("scope=" + percentEncode(extra))
            }
        } else {
            query.append("scope=" + percentEncode(c.parameters["scope"] ?? scope))
        }
        if let creds { query.append("account=" + percentEncode(creds.username)) }
        let url = realm + (realm.contains("?") ? "&" : "?") + query.joined(separator: "&")
        lock.withLock { tokenRequestCount += 1 }
        return try withRetries(what: "token from \(realm)") { _ in
            var body: [UInt8] = []
            var overflow = false
            let r = sendFollowingRedirects(url: url, headers: [], authorization: creds?.basicHeaderValue, sink: { chunk in
                if body.count + chunk.count > 1 << 20 { overflow = true; return .abort }
                body.append(contentsOf: chunk)
                return .continue
            })
            if r.deadlinePassed { throw timedOut() }
            if overflow { throw BockerError(.io, "token server \(realm) sent more than 1 MiB") }
            if r.ok {
                let t = try decodeJSON(TokenResponse.self, body, what: "token response from \(realm)")
                guard let token = t.token ?? t.access_token, !token.isEmpty else {
                    throw BockerError(.io, "token server \(realm) sent no token")
                }
                return .done((token, t.expires_in.map { max($0, 1) } ?? 60))
            }
            if r.curlCode == CURLE_OK && (r.status == 401 || r.status == 403) { throw unauthorized }
            return try classify(r, what: "token from \(realm)",
                                notFound: BockerError(.io, "token server \(realm) answered HTTP 404"))
        }
    }
}

func sha256Digest(_ bytes: [UInt8]) -> String {
    let h = SHA256()
    h.update(bytes)
    return h.finalizeDigest()
}
