#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import BockerCore
import BockerStore
import BockerRegistry
import BockerArchive

/// The two archive formats of `save` and `load`.
public enum ImageArchiveFormat: String, Sendable {
    /// What `docker load` reads: manifest.json (+ repositories). bocker writes Docker 25's
    /// layout, which is also an OCI layout (oci-layout, index.json, blobs/sha256/…).
    case dockerArchive = "docker-archive"
    /// An OCI image layout in a tar (what `skopeo copy … oci-archive:` writes).
    case ociArchive = "oci-archive"
}

/// One image to save: a reference (id or name) and the names to record for it (nil: the name
/// the reference gave, none for an id).
public struct SaveItem: Sendable {
    public var ref: String
    public var tags: [String]?
    public init(ref: String, tags: [String]? = nil) {
        self.ref = ref
        self.tags = tags
    }
}

extension Runtime {
    /// Writes images to an archive at `path` ("-": standard output). Each image's content is
    /// its blobs as stored (a pulled image's registry blobs; for a local image the blobs `push`
    /// makes, made now if needed), so saved and pushed layers have the same digests. A file is
    /// written under a temp name and renamed when complete: a failed save leaves no file.
    public func save(_ items: [SaveItem], to path: String, format: ImageArchiveFormat) throws {
        guard !items.isEmpty else { throw BockerError(.invalidArgument, "save needs at least one image") }
        // Images (once each, in order) and the names each gets.
        var images: [ImageRecord] = []
        var names: [String: [String]] = [:]
        for item in items {
            let match = try store.resolveImage(item.ref)
            var tags: [String] = []
            for t in item.tags ?? (match.name.map { [$0] } ?? []) {
                let r = try ImageReference.parse(t)
                guard r.digest == nil else { throw BockerError(.invalidArgument, "cannot save under a digest reference '\(t)'") }
                tags.append(r.familiar)
            }
            if names[match.image.id] == nil { images.append(match.image) }
            names[match.image.id, default: []].append(contentsOf: tags.filter { !(names[match.image.id] ?? []).contains($0) })
        }
        let contents = try images.map { try ensureContent($0.id) }

        try writeOutput(path) { fd, display in
            try writeArchive(ArchiveTarWriter(fd: fd, what: display), images: contents, names: names, format: format)
        }
    }

    /// Runs `body` with the fd of output `path` ("-": standard output) and its name for
    /// messages. A file is written under a temp name beside it and renamed once `body` and an
    /// fsync succeeded: a failure leaves no file (and an old one unchanged).
    func writeOutput(_ path: String, _ body: (Int32, String) throws -> Void) throws {
        let display = path == "-" ? "standard output" : "'\(path)'"
        var fd: Int32 = 1
        var tmp: String?
        if path != "-" {
            var st = stat()
            if stat(path, &st) == 0 && st.st_mode & S_IFMT == S_IFDIR {
                throw BockerError(.invalidArgument, "cannot write to '\(path)': it is a directory")
            }
            if stat(path, &st) == 0 && st.st_mode & S_IFMT != S_IFREG {
                fd = Glibc.open(path, O_WRONLY | O_CLOEXEC)   // a fifo or a device: written in place
            } else {
                let t = FS.parent(FS.absolute(path)) + "/." + FS.basename(path) + ".partial-" + Identifier.randomHex(bytes: 4)
                fd = Glibc.open(t, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
                tmp = t
            }
            guard fd >= 0 else { throw BockerError.errno("cannot write \(display)", code: errno == ENOENT ? .notFound : .io) }
        }
        var done = false
        defer {
            if fd != 1 { close(fd) }
            if let tmp, !done { unlink(tmp) }
        }
        try body(fd, display)
        if let tmp {
            if fsync(fd) != 0 { throw BockerError.errno("cannot write \(display)", code: .io) }
            if Glibc.rename(tmp, path) != 0 { throw BockerError.errno("cannot write \(display)", code: .io) }
        }
        done = true
    }

    private func writeArchive(_ tar: ArchiveTarWriter, images: [ImageRecord], names: [String: [String]],
                              format: ImageArchiveFormat) throws {
        func hex(_ d: String) -> String { String(d.dropFirst(7)) }
        var index: [JSONValue] = []
        var dockerManifest: [JSONValue] = []
        var repositories: [(String, [(String, JSONValue)])] = []
        var blobs: [(String, Int64)] = []   // digest, size (each once)
        var seen = Set<String>()
        func addBlob(_ d: String) throws {
            guard seen.insert(d).inserted else { return }
            let p = try store.blobPath(d)
            var st = stat()
            guard stat(p, &st) == 0 else { throw BockerError(.notFound, "blob \(d) is not in the store") }
            blobs.append((d, Int64(st.st_size)))
        }
        for img in images {
            guard let m = img.manifest, let c = img.configDigest, let layers = img.layerBlobs else {
                throw BockerError(.io, "image \(img.id) has no manifest")
            }
            try addBlob(m)
            try addBlob(c)
            for l in layers { try addBlob(l.digest) }
            let mSize = try store.readBlob(m).count
            let desc: [(String, JSONValue)] = [("mediaType", .string(img.manifestMediaType ?? MediaType.ociManifest)),
                                              ("digest", .string(m)), ("size", .int(mSize))]
            let tags = names[img.id] ?? []
            if tags.isEmpty { index.append(.object(desc)) }
            for t in tags {
                let r = try ImageReference.parse(t)
                index.append(.object(desc + [("annotations", .object([
                    ("io.containerd.image.name", .string(r.description)),
                    ("org.opencontainers.image.ref.name", .string(r.tag ?? "latest")),
                ]))]))
                let repo = r.familiarName
                if let i = repositories.firstIndex(where: { $0.0 == repo }) {
                    repositories[i].1.append((r.tag ?? "latest", .string(hex(layers.last?.digest ?? c))))
                } else {
                    repositories.append((repo, [(r.tag ?? "latest", .string(hex(layers.last?.digest ?? c)))]))
                }
            }
            dockerManifest.append(.object([
                ("Config", .string("blobs/sha256/" + hex(c))),
                ("RepoTags", tags.isEmpty ? .null : .array(tags.map(JSONValue.string))),
                ("Layers", .array(layers.map { .string("blobs/sha256/" + hex($0.digest)) })),
            ]))
        }
        let indexJSON: JSONValue = .object([("schemaVersion", .int(2)), ("mediaType", .string(MediaType.ociIndex)),
                                            ("manifests", .array(index))])
        try tar.file("oci-layout", Array(#"{"imageLayoutVersion":"1.0.0"}"#.utf8))
        try tar.file("index.json", Array(indexJSON.render().utf8))
        if format == .dockerArchive {
            try tar.file("manifest.json", Array(JSONValue.array(dockerManifest).render().utf8))
            if !repositories.isEmpty {
                try tar.file("repositories", Array(JSONValue.object(repositories.map { ($0.0, .object($0.1)) }).render().utf8))
            }
        }
        try tar.directory("blobs")
        try tar.directory("blobs/sha256")
        for (d, size) in blobs {
            try Interrupt.check()
            try tar.file("blobs/sha256/" + hex(d), contentOf: store.blobPath(d), size: size)
        }
        try tar.finish()
    }

    /// The history of an image, from its OCI config (`created`, `created_by`, `author`,
    /// `comment`, `empty_layer` of each entry); for a local image with no config yet, what its
    /// config will say (its recorded history, else one entry per layer).
    public func history(_ ref: String) throws -> [JSONValue] {
        let img = try store.image(ref)
        if let c = img.configDigest, store.hasBlob(c) {
            let j = try JSONValue.parse(try store.readBlob(c))
            return j["history"]?.array ?? []
        }
        let created = WallClock.rfc3339(seconds: img.created.rounded(.down))
        if let h = img.history {
            return h.map { e in
                var o: [(String, JSONValue)] = [("created", .string(e.created ?? created))]
                if let a = e.author { o.append(("author", .string(a))) }
                if let b = e.createdBy { o.append(("created_by", .string(b))) }
                if let c = e.comment { o.append(("comment", .string(c))) }
                if e.emptyLayer == true { o.append(("empty_layer", .bool(true))) }
                return .object(o)
            }
        }
        return img.layers.map { id in
            .object([("created", .string(created)),
                     ("created_by", .string("bocker " + (store.layerRecord(id)?.origin ?? "")))])
        }
    }
}
