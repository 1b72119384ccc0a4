import Glibc
import BockerCore

/// How a reference found an image: by its id (or an id prefix or a digest), or by one of its names.
public struct ImageMatch: Sendable {
    public var image: ImageRecord
    /// The name the reference denotes (nil when it named the image by id, prefix or digest).
    public var name: String?
}

/// Image names: what a reference means (`myapp` is `myapp:latest`, `docker.io/library/alpine`
/// is `alpine`), and the rule that a name belongs to one image at a time.
extension Store {
    /// A name in the familiar form images are recorded under: Docker Hub's prefixes dropped.
    public static func familiarName(_ s: String) -> String {
        for p in ["docker.io/library/", "index.docker.io/library/", "docker.io/", "index.docker.io/"] where s.hasPrefix(p) {
            let rest = String(s.dropFirst(p.count))
            return rest
        }
        return s
    }

    /// The repository part of a name: without its `:tag` and `@digest`.
    public static func repository(of name: String) -> String {
        var n = Substring(name)
        if let at = n.firstIndex(of: "@") { n = n[..<at] }
        if let colon = n.lastIndex(of: ":"), !n[colon...].contains("/") { n = n[..<colon] }
        return String(n)
    }

    /// Resolves a reference (see `image(_:)`); `.notFound` when nothing matches, `.invalidArgument`
    /// for a prefix of several ids.
    public func resolveImage(_ ref: String) throws -> ImageMatch {
        if Identifier.isSafeComponent(ref), FS.exists(root.imageFile(ref)) {
            return ImageMatch(image: try ImageRecord.load(root.imageFile(ref)), name: nil)
        }
        let all = ref.isEmpty ? [] : listImages()
        let r = Self.familiarName(ref)
        // Newest first: after a re-pull or a re-commit the newest image holding a name wins.
        for img in all.reversed() {
            if let n = img.names.first(where: { $0 == r || $0 == r + ":latest" }) { return ImageMatch(image: img, name: n) }
        }
        if let at = r.firstIndex(of: "@") {
            let repo = String(r[..<at]), digest = String(r[r.index(after: at)...])
            if let img = all.last(where: { ($0.digest == digest || $0.manifest == digest)
                                            && $0.names.contains(where: { Self.repository(of: $0) == repo }) }) {
                return ImageMatch(image: img, name: nil)
            }
        }
        // Docker's image id (what `load` prints): the config's digest, or a start of it.
        if ref.hasPrefix("sha256:"), ref.utf8.count >= 10 {
            let hits = all.filter { $0.configDigest?.hasPrefix(ref) == true }
            if hits.count == 1 { return ImageMatch(image: hits[0], name: nil) }
            if hits.count > 1 {
                throw BockerError(.invalidArgument, "'\(ref)' is the start of several image ids (\(hits.map(\.id).joined(separator: ", ")))")
            }
        }
        if ref.utf8.count >= 3, Identifier.isSafeComponent(ref) {
            let hits = all.filter { $0.id.hasPrefix(ref) || $0.id.dropFirst(4).hasPrefix(ref) }
            if hits.count == 1 { return ImageMatch(image: hits[0], name: nil) }
            if hits.count > 1 {
                throw BockerError(.invalidArgument, "'\(ref)' is the start of several image ids (\(hits.map(\.id).joined(separator: ", ")))")
            }
        }
        throw BockerError(.notFound, "No image named '\(ref)' exists")
    }

    /// Gives `name` to image `id` (call with the lock held): any other image holding it loses it
    /// (its next name becomes its source, or it is left with none: "<none>").
    public func claimName(_ name: String, for id: String) throws {
        for var other in listImages() where other.id != id && other.names.contains(name) {
            dropName(name, from: &other)
            try replaceImage(other)
        }
        var img = try ImageRecord.load(root.imageFile(id))
        if !img.names.contains(name) {
            if img.source == "<none>" { img.source = name } else { img.tags = (img.tags ?? []) + [name] }
            try replaceImage(img)
        }
    }

    /// Removes one name from an image record (in memory).
    public func dropName(_ name: String, from img: inout ImageRecord) {
        var tags = img.tags ?? []
        if img.source == name {
            img.source = tags.isEmpty ? "<none>" : tags.removeFirst()
        } else {
            tags.removeAll { $0 == name }
        }
        img.tags = tags.isEmpty ? nil : tags
    }
}
