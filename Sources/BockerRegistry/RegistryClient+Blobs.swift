#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import BockerCore
import BockerDigest
import CCurl
import Glibc

/// Blob downloads: verified, resumable, into place only once whole.
extension RegistryClient {
    /// Downloads a blob to `path`: into a temp file beside it, checked for size and sha256, then
    /// renamed into place (so `path` only ever holds verified content). Dropped connections and 5xx
    /// answers are retried with back-off, resuming with a Range request where the server allows.
    /// `progress` gets the bytes received so far, on the calling thread.
    public func fetchBlob(_ d: Descriptor, to path: String, progress: ((Int64) -> Void)? = nil) throws {
        guard ImageReference.isValidDigest(d.digest) else {
            throw BockerError(.invalidArgument, "invalid blob digest '\(d.digest)'")
        }
        guard d.size >= 0 else { throw BockerError(.invalidArgument, "invalid size \(d.size) for \(d.digest)") }
        let tmp = path + ".partial-" + Identifier.randomHex(bytes: 6)
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw BockerError.errno("cannot create '\(tmp)'", code: .io) }
        var done = false
        defer {
            close(fd)
            if !done { unlink(tmp) }
        }

        var hasher = SHA256()
        var written: Int64 = 0
        var sinkError: BockerError?
        let url = repositoryURL + "/blobs/" + d.digest
        let notFound = BockerError(.notFound, "blob \(d.digest) not found in \(displayName)")

        func restart() -> Bool {
            if written == 0 { return true }
            if ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0 {
                sinkError = BockerError.errno("cannot rewrite '\(tmp)'", code: .io)
                return false
            }
            hasher = SHA256()
            written = 0
            return true
        }

        try withRetries(what: "blob \(d.digest)") { _ in
            var headers: [String] = []
            let resumeFrom = written
            if resumeFrom > 0 { headers.append("Range: bytes=\(resumeFrom)-") }
            let r = try send(url: url, headers: headers, onHead: { status, headers in
                guard resumeFrom > 0 else { return .continue }
                if status == 206 {
                    let range = headers.first(where: { $0.name == "content-range" })?.value ?? ""
                    if Self.contentRangeStart(range) == resumeFrom { return .continue }
                    // A range we did not ask for: start over on the next attempt.
                    _ = restart()
                    return .abort
                }
                return restart() ? .continue : .abort   // 200: the whole blob again
            }, sink: { chunk in
                if written + Int64(chunk.count) > d.size {
                    sinkError = BockerError(.io, "size mismatch for \(d.digest): expected \(d.size) bytes, got more")
                    return .abort
                }
                do {
                    try FS.writeAll(fd, chunk, what: tmp)
                } catch {
                    sinkError = error as? BockerError ?? BockerError(.io, "cannot write '\(tmp)'")
                    return .abort
                }
                hasher.update(chunk)
                written += Int64(chunk.count)
                progress?(written)
                return .continue
            })
            if let e = sinkError { throw e }
            if r.ok {
                if written != d.size {
                    throw BockerError(.io, "size mismatch for \(d.digest): expected \(d.size) bytes, got \(written)")
                }
                return .done(())
            }
            if r.abortedBySink {
                // Our own abort after an unusable 206: retry from scratch.
                return .retry(BockerError(.io, "registry \(reference.registry) sent an unexpected range for \(d.digest)"), nil)
            }
            return try classify(r, what: "blob \(d.digest)", notFound: notFound)
        }

        let got = hasher.finalizeDigest()
        if got != d.digest { throw BockerError(.io, "digest mismatch for \(d.digest): got \(got)") }
        if fsync(fd) != 0 { throw BockerError.errno("cannot sync '\(tmp)'", code: .io) }
        if rename(tmp, path) != 0 { throw BockerError.errno("cannot rename '\(tmp)' to '\(path)'", code: .io) }
        done = true
    }

    /// "bytes 100-199/200" → 100.
    static func contentRangeStart(_ v: String) -> Int64? {
        let s = v.lowercased()
        guard s.hasPrefix("bytes ") else { return nil }
        let rest = s.dropFirst(6)
        guard let dash = rest.firstIndex(of: "-") else { return nil }
        return Int64(String(rest[..<dash]).trimmingCharacters(in: " "))
    }
}
