import BockerCore
import CCurl
import Glibc

/// How a blob reached the registry.
public enum BlobPushOutcome: Equatable, Sendable {
    /// The registry had it already (a HEAD said so).
    case existed
    /// Mounted from another repository of the same registry (nothing sent).
    case mounted(from: String)
    /// Sent.
    case uploaded
}

/// OCI distribution push: blob existence checks, cross-repository mounts, monolithic and
/// chunked uploads, and manifest PUTs. Set `pushAccess` first so tokens carry `push`.
extension RegistryClient {

    /// Whether the repository has the blob (HEAD /v2/<name>/blobs/<digest>).
    public func hasBlob(_ digest: String) throws -> Bool {
        let what = "blob \(digest)"
        return try withRetries(what: what) { _ in
            let r = try send(url: repositoryURL + "/blobs/" + digest, method: "HEAD", headers: [], sink: { _ in .continue })
            if r.ok { return .done(true) }
            if r.curlCode == CURLE_OK && r.status == 404 { return .done(false) }
            return try classify(r, what: what, notFound: BockerError(.notFound, "\(what) not found"))
        }
    }

    /// Sends a blob: skipped when the registry has it, mounted from `mountFrom` (a repository
    /// path on the same registry) when it can, otherwise uploaded from `file` (checked by the
    /// registry against `digest`). `file` may be nil when the blob is not here: then only the
    /// first two can work. `progress` gets the bytes sent so far.
    public func pushBlob(digest: String, size: Int64, file: String?, mountFrom: String?,
                         progress: ((Int64) -> Void)? = nil) throws -> BlobPushOutcome {
        guard ImageReference.isValidDigest(digest) else { throw BockerError(.invalidArgument, "invalid blob digest '\(digest)'") }
        if try hasBlob(digest) { return .existed }
        var location: String?
        if let from = mountFrom, from != reference.repository {
            let (status, loc) = try startUpload(query: "?mount=" + percentEncode(digest) + "&from=" + percentEncode(from))
            if status == 201 { return .mounted(from: from) }
            location = loc
        }
        guard let file else {
            throw BockerError(.notFound, "blob \(digest) is neither in \(displayName) nor in the local store")
        }
        let fd = open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw BockerError.errno("cannot open '\(file)'", code: .io) }
        defer { close(fd) }
        // A failed upload session is started afresh (a new POST) on the next attempt.
        var attempt = 0
        while true {
            attempt += 1
            do {
                let start = try location ?? startUpload(query: "").location
                location = nil
                try upload(fd: fd, size: size, digest: digest, to: start, progress: progress)
                return .uploaded
            } catch let e as BockerError where e.code == .io && attempt < maxAttempts {
                try checkDeadline(margin: min(retryDelay * Double(1 << (attempt - 1)), 8))
                usleep(useconds_t(min(retryDelay * Double(1 << (attempt - 1)), 8) * 1_000_000))
                continue
            }
        }
    }

    /// POST /v2/<name>/blobs/uploads/<query>: the status (201 mounted, 202 started) and the
    /// upload URL (absolute).
    func startUpload(query: String) throws -> (status: Int, location: String) {
        let what = "an upload to \(displayName)"
        return try withRetries(what: what) { _ in
            let r = try send(url: repositoryURL + "/blobs/uploads/" + query, method: "POST", headers: [],
                             body: .bytes([]), sink: { _ in .continue })
            if r.curlCode == CURLE_OK && (r.status == 201 || r.status == 202) {
                guard let loc = r.header("location") else {
                    if r.status == 201 { return .done((201, "")) }
                    throw BockerError(.io, "registry \(reference.registry) started an upload without a Location")
                }
                return .done((r.status, absoluteURL(loc)))
            }
            return try pushFailure(r, what: what)
        }
    }

    /// Sends the blob to an upload URL: one PUT when small, PATCH chunks then a closing PUT when large.
    private func upload(fd: Int32, size: Int64, digest: String, to start: String,
                        progress: ((Int64) -> Void)?) throws {
        var url = start
        var offset: Int64 = 0
        let what = "blob \(digest)"
        if size > chunkSize {
            while offset < size {
                let n = min(chunkSize, size - offset)
                let base = offset
                let r = try send(url: url, method: "PATCH",
                                 headers: ["Content-Type: application/octet-stream",
                                           "Content-Range: \(offset)-\(offset + n - 1)"],
                                 body: .file(fd, offset: offset, length: n, sent: { progress?(base + $0) }),
                                 sink: { _ in .continue })
                guard r.curlCode == CURLE_OK, r.status == 202, let loc = r.header("location") else {
                    _ = try pushFailure(r, what: what) as Attempt<Void>
                    throw BockerError(.io, "cannot upload \(what) to \(reference.registry): HTTP \(r.status)")
                }
                url = absoluteURL(loc)
                offset += n
            }
        }
        let rest = size - offset
        let sep = url.contains("?") ? "&" : "?"
        let base = offset
        let r = try send(url: url + sep + "digest=" + percentEncode(digest), method: "PUT",
                         headers: ["Content-Type: application/octet-stream"],
                         body: .file(fd, offset: offset, length: rest, sent: { progress?(base + $0) }),
                         sink: { _ in .continue })
        if r.curlCode == CURLE_OK && r.status == 201 { return }
        _ = try pushFailure(r, what: what) as Attempt<Void>
        throw BockerError(.io, "cannot upload \(what) to \(reference.registry): HTTP \(r.status)")
    }

    /// PUT /v2/<name>/manifests/<tag>; returns the digest the registry gives it.
    @discardableResult
    public func putManifest(_ bytes: [UInt8], mediaType: String, tag: String) throws -> String {
        let what = "manifest for \(reference.familiar)"
        return try withRetries(what: what) { _ in
            let r = try send(url: repositoryURL + "/manifests/" + tag, method: "PUT",
                             headers: ["Content-Type: " + mediaType], body: .bytes(bytes), sink: { _ in .continue })
            if r.curlCode == CURLE_OK && r.status == 201 {
                return .done(r.header("docker-content-digest") ?? sha256Digest(bytes))
            }
            return try pushFailure(r, what: what)
        }
    }

    /// Like `classify`, with push's words (a transient failure is worth a retry).
    private func pushFailure<T>(_ r: HTTPResult, what: String) throws -> Attempt<T> {
        if r.curlCode != CURLE_OK {
            let err = BockerError(.io, "cannot upload \(what) to \(reference.registry): \(r.curlMessage)")
            if r.isTransientTransportError || r.status == 0 { return .retry(err, nil) }
            throw err
        }
        let (code, message) = Self.registryError(r.errorBody)
        let detail = message.map { ": " + ($0.isEmpty ? (code ?? "") : $0) } ?? (code.map { ": " + $0 } ?? "")
        if r.status == 401 || r.status == 403 || code == "DENIED" || code == "UNAUTHORIZED" {
            throw BockerError(.invalidArgument, "denied: cannot push to \(displayName)\(detail)")
        }
        let err = BockerError(.io, "registry \(reference.registry) answered HTTP \(r.status) for \(what)\(detail)")
        if r.status >= 500 || r.status == 429 || r.status == 408 { return .retry(err, nil) }
        throw err
    }

    /// A Location value made absolute against the registry's origin.
    func absoluteURL(_ loc: String) -> String {
        if loc.hasPrefix("http://") || loc.hasPrefix("https://") { return loc }
        return registryOrigin + (loc.hasPrefix("/") ? "" : "/") + loc
    }
}
