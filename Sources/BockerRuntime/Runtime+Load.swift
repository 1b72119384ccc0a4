#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import BockerCore
import BockerStore
import BockerDigest
import BockerRegistry
import BockerArchive

/// An image `load` read: the image, the names the archive gave it, and its image id in
/// Docker's form (the config's digest).
public struct LoadedImage: Sendable {
    public var image: ImageRecord
    public var names: [String]
    public var imageID: String
}

/// One image as an archive describes it: its config, its layer files and their descriptors.
struct ArchivedImage {
    var configFile: String
    var configDigest: String
    /// The manifest's bytes when the archive has one (OCI); nil for docker-archive entries.
    var manifest: (bytes: [UInt8], digest: String, mediaType: String)?
    var layers: [(file: String, digest: String, size: Int64, compression: BockerArchive.LayerCompression, mediaType: String)]
    var names: [String]
}

extension Runtime {
    /// Loads the images of an archive at `path` ("-": standard input): docker-archive (as
    /// `docker save`, `podman save` and skopeo write it, layers plain, gzip or zstd, with or
    /// without an OCI index) or an OCI image layout tar. Every blob is checked against its
    /// digest and every layer against its config's diff_id; layers are extracted with the
    /// layer extractor into the layer store (shared by chain id, as pull does) under pending
    /// markers, so a bad archive leaves nothing behind. An image already here (same config,
    /// same layers) gets the archive's names and is not made again.
    public func load(from path: String) throws -> [LoadedImage] {
        let display = path == "-" ? "standard input" : "'\(path)'"
        func bad(_ why: String) -> BockerError { BockerError(.invalidArgument, "cannot load \(display): \(why)") }
        let tmp = root.tmpDir + "/load-" + Identifier.randomHex(bytes: 6)
        try FS.makeDirectories(tmp + "/e", mode: 0o700)
        defer { try? FS.removeTree(tmp) }

        let file = try regularInput(path, display: display, verb: "load", tmp: tmp)
        let unpacked: ArchiveUnpacker.Unpacked
        do {
            let compression = try BockerArchive.LayerCompression.sniff(path: file)
            let fd = Glibc.open(file, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw BockerError.errno("cannot open \(display)", code: .io) }
            defer { close(fd) }
            unpacked = try ArchiveUnpacker.unpack(fd: fd, compression: compression, into: tmp + "/e")
        } catch let e as BockerError where e.code == .invalidArgument {
            throw bad("not a valid tar archive (\(e.message))")
        }
        if path == "-" || file != path { unlink(file) }
        let images = try describe(unpacked.files, bad: bad)
        if images.isEmpty { throw bad("the archive holds no image") }
        return try images.map { try loadOne($0, display: display, bad: bad) }
    }

    /// An input archive as a regular file (so its compression can be sniffed): `path` itself
    /// when it is one; stdin (`-`) or anything else (a pipe) copied to `tmp/input` first.
    func regularInput(_ path: String, display: String, verb: String, tmp: String) throws -> String {
        var st = stat()
        if path == "-" || (stat(path, &st) == 0 && st.st_mode & S_IFMT != S_IFREG) {
            let src = path == "-" ? 0 : Glibc.open(path, O_RDONLY | O_CLOEXEC)
            guard src >= 0 else { throw BockerError.errno("cannot open \(display)", code: .io) }
            defer { if src != 0 { close(src) } }
            let file = tmp + "/input"
            try spool(src, to: file, what: display)
            return file
        }
        guard FS.exists(path) else { throw BockerError(.notFound, "cannot \(verb) \(display): no such file") }
        return path
    }

    func spool(_ src: Int32, to file: String, what: String) throws {
        let out = Glibc.open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard out >= 0 else { throw BockerError.errno("cannot create '\(file)'", code: .io) }
        defer { close(out) }
        var buf = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buf.withUnsafeMutableBytes { read(src, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { try Interrupt.check(); continue }
            if n < 0 { throw BockerError.errno("cannot read \(what)", code: .io) }
            if n == 0 { break }
            try buf.withUnsafeBytes { try FS.writeAll(out, UnsafeRawBufferPointer(rebasing: $0[0..<n]), what: "'\(file)'") }
        }
    }

    /// The images an unpacked archive holds: from manifest.json (docker-archive) when it has
    /// one, else from index.json (OCI layout).
    private func describe(_ files: [String: String], bad: (String) -> BockerError) throws -> [ArchivedImage] {
        func need(_ name: String) throws -> String {
            guard let f = files[name] else { throw bad("the archive names '\(name)' but does not contain it") }
            return f
        }
        func json(_ name: String) throws -> JSONValue {
            do { return try JSONValue.parse(try FS.read(need(name))) } catch let e as BockerError where e.code == .io {
                throw bad("\(name): \(e.message)")
            }
        }
        func blob(_ digest: String) throws -> String {
            guard ImageReference.isValidDigest(digest), digest.hasPrefix("sha256:") else { throw bad("unsupported digest '\(digest)'") }
            return try need("blobs/sha256/" + digest.dropFirst(7))
        }
        func checked(_ digest: String, _ file: String) throws {
            let got = try Store.fileDigest(file)
            guard got == digest else { throw bad("blob \(digest) is corrupt (its content is \(got))") }
        }
        func names(_ raw: [String]) throws -> [String] {
            try raw.map { n in
                do { return try ImageReference.parse(n).familiar } catch { throw bad("invalid image name '\(n)'") }
            }
        }

        if files["manifest.json"] != nil {
            guard let entries = try json("manifest.json").array else { throw bad("manifest.json is not a list") }
            return try entries.map { e in
                guard let config = e["Config"]?.string, let layers = e["Layers"]?.strings else {
                    throw bad("manifest.json: an entry lacks Config or Layers")
                }
                let cfile = try need(config)
                let layerInfo = try layers.map { l -> (String, String, Int64, BockerArchive.LayerCompression, String) in
                    let f = try need(l)
                    let c = try BockerArchive.LayerCompression.sniff(path: f)
                    var st = stat()
                    _ = stat(f, &st)
                    return (f, try Store.fileDigest(f), Int64(st.st_size), c, LayerWriter.ociMediaType(c))
                }
                return ArchivedImage(configFile: cfile, configDigest: try Store.fileDigest(cfile), manifest: nil,
                                     layers: layerInfo.map { ($0.0, $0.1, $0.2, $0.3, $0.4) },
                                     names: try names(e["RepoTags"]?.strings ?? []))
            }
        }
        guard files["index.json"] != nil else {
            throw bad("not an image archive (it has neither manifest.json nor index.json)")
        }
        guard let list = try json("index.json")["manifests"]?.array else { throw bad("index.json has no manifests") }
        var out: [ArchivedImage] = []
        for var d in list {
            guard var digest = d["digest"]?.string, var mediaType = d["mediaType"]?.string else {
                throw bad("index.json: a manifest lacks digest or mediaType")
            }
            // A nested index (a multi-platform image): the host's entry.
            if mediaType == MediaType.ociIndex || mediaType == MediaType.dockerList {
                let f = try blob(digest)
                try checked(digest, f)
                let host = Platform.host
                let nested = (try? JSONValue.parse(FS.read(f)))?["manifests"]?.array ?? []
                guard let pick = nested.first(where: { $0["platform"]?["os"]?.string == host.os
                                                      && $0["platform"]?["architecture"]?.string == host.architecture }) else {
                    throw bad("index \(digest) has no manifest for \(host)")
                }
                d = .object(((d["annotations"]).map { [("annotations", $0)] } ?? []) + [
                    ("digest", pick["digest"] ?? .null), ("mediaType", pick["mediaType"] ?? .null)])
                guard let pd = pick["digest"]?.string, let pm = pick["mediaType"]?.string else { throw bad("index \(digest) is malformed") }
                digest = pd
                mediaType = pm
            }
            guard mediaType == MediaType.ociManifest || mediaType == MediaType.dockerManifest else {
                throw bad("unsupported manifest type \(mediaType)")
            }
            let mfile = try blob(digest)
            try checked(digest, mfile)
            let mbytes = try FS.read(mfile)
            guard let m = try? JSONValue.parse(mbytes), let cdigest = m["config"]?["digest"]?.string,
                  let layers = m["layers"]?.array else { throw bad("manifest \(digest) is malformed") }
            let cfile = try blob(cdigest)
            try checked(cdigest, cfile)
            let layerInfo = try layers.map { l -> (String, String, Int64, BockerArchive.LayerCompression, String) in
                guard let ld = l["digest"]?.string, let lm = l["mediaType"]?.string, let size = l["size"]?.int else {
                    throw bad("manifest \(digest): a layer lacks digest, mediaType or size")
                }
                let f = try blob(ld)
                try checked(ld, f)
                var st = stat()
                guard stat(f, &st) == 0, Int(st.st_size) == size else { throw bad("layer \(ld) is not \(size) bytes long") }
                let c = try BockerArchive.LayerCompression.from(mediaType: lm) ?? BockerArchive.LayerCompression.sniff(path: f)
                return (f, ld, Int64(size), c, lm)
            }
            // The name: containerd's full name, else an OCI ref.name that is a whole name (a
            // bare tag names no repository).
            var name: [String] = []
            if let n = d["annotations"]?["io.containerd.image.name"]?.string { name = [n] }
            else if let n = d["annotations"]?["org.opencontainers.image.ref.name"]?.string, n.contains(":") || n.contains("/") { name = [n] }
            let entry = ArchivedImage(configFile: cfile, configDigest: cdigest, manifest: (mbytes, digest, mediaType),
                                      layers: layerInfo.map { ($0.0, $0.1, $0.2, $0.3, $0.4) }, names: try names(name))
            // Several tags of one image are several index entries.
            if let i = out.firstIndex(where: { $0.manifest?.digest == digest }) {
                out[i].names += entry.names.filter { !out[i].names.contains($0) }
            } else {
                out.append(entry)
            }
        }
        return out
    }

    private func loadOne(_ a: ArchivedImage, display: String, bad: (String) -> BockerError) throws -> LoadedImage {
        let configBytes = try FS.read(a.configFile)
        let config: ImageConfigInfo
        do { config = try ImageConfigInfo(configBytes: configBytes) } catch let e as BockerError {
            throw bad("image config \(a.configDigest): \(e.message)")
        }
        guard config.diffIDs.count == a.layers.count else {
            throw bad("image \(a.configDigest): \(a.layers.count) layers but \(config.diffIDs.count) diff_ids in its config")
        }
        var chain: [String] = []
        for d in config.diffIDs {
            guard Store.sha256Hex(d) != nil else { throw bad("image \(a.configDigest): invalid diff_id '\(d)'") }
            if let prev = chain.last { chain.append(SHA256.hex(Array(("sha256:" + prev + " " + d).utf8))) }
            else { chain.append(String(d.dropFirst(7))) }
        }
        let maxLayerSize = try Self.maxLayerSize()
        var made: [String] = []
        do {
            for (i, var l) in a.layers.enumerated() {
                try Interrupt.check()
                // An earlier image of this archive may have moved a shared blob into the store.
                if !FS.exists(l.file), store.hasBlob(l.digest) { l.file = try store.blobPath(l.digest) }
                let short = String(l.digest.dropFirst(7).prefix(12))
                if store.hasLayer(chain[i]) {
                    // The layer is here. A blob with the digest it was made from is those very bytes.
                    if store.layerRecord(chain[i])?.blob?.digest == l.digest { continue }
                    // Any other blob from the archive is kept only if it is this layer.
                    let got = try LayerExtractor.diffID(blob: l.file, compression: l.compression)
                    guard got == config.diffIDs[i] else {
                        throw bad("layer \(short): diff_id mismatch: the config says \(config.diffIDs[i]), the layer is \(got)")
                    }
                    continue
                }
                let mode: WhiteoutMode = store.driver.cumulative ? .apply : .overlay
                try store.withLock {
                    if store.hasLayer(chain[i]) { return }
                    let id = try store.createLayer(parent: i > 0 ? chain[i - 1] : nil, origin: "load \(l.digest)", id: chain[i]) { fs in
                        let r: ExtractResult
                        do {
                            r = try LayerExtractor.extract(blob: l.file, compression: l.compression, into: fs, whiteouts: mode,
                                                           maxBytes: maxLayerSize)
                        } catch let e as LayerTooLarge {
                            throw bad("layer \(short) exceeds the maximum size of \(ByteSize.format(e.limit)) (BOCKER_MAX_LAYER_SIZE)")
                        } catch let e as BockerError {
                            throw bad("layer \(short): \(e.message)")
                        }
                        guard r.diffID == config.diffIDs[i] else {
                            throw bad("layer \(short): diff_id mismatch: the config says \(config.diffIDs[i]), the layer is \(r.diffID)")
                        }
                        FaultPoint.hit("load.layer")
                    }
                    made.append(id)
                }
            }
            return try store.withLock {
                guard chain.allSatisfy({ store.hasLayer($0) || made.contains($0) }) else { throw BockerError(.io, "a layer went away during load; try again") }
                let blobs = a.layers.enumerated().map {
                    LayerBlob(digest: $0.element.digest, size: $0.element.size, mediaType: $0.element.mediaType,
                              diffID: config.diffIDs[$0.offset])
                }
                // A docker-archive has no manifest: an OCI one is made for its blobs.
                let manifest = a.manifest ?? {
                    let m: JSONValue = .object([
                        ("schemaVersion", .int(2)), ("mediaType", .string(MediaType.ociManifest)),
                        ("config", .object([("mediaType", .string(MediaType.ociConfig)), ("digest", .string(a.configDigest)),
                                            ("size", .int(configBytes.count))])),
                        ("layers", .array(blobs.map { .object([("mediaType", .string($0.mediaType)), ("digest", .string($0.digest)),
                                                              ("size", .int(Int($0.size)))]) })),
                    ])
                    let bytes = Array(m.render().utf8)
                    return (bytes, "sha256:" + SHA256.hex(bytes), MediaType.ociManifest)
                }()
                try store.putBlob(manifest.bytes, expected: manifest.digest)
                try store.putBlob(configBytes, expected: a.configDigest)
                for l in a.layers where FS.exists(l.file) { try store.adoptBlob(file: l.file, digest: l.digest, verified: true) }
                for (i, id) in chain.enumerated() where store.layerRecord(id)?.blob == nil { try store.setLayerBlob(id, blobs[i]) }

                // As pull reads a config.
                var imageConfig = ImageConfig(env: config.env, entrypoint: config.entrypoint, cmd: config.cmd,
                                              workingDir: config.workingDir, user: config.user)
                imageConfig.exposedPorts = config.exposedPorts.isEmpty ? nil : config.exposedPorts
                imageConfig.labels = config.labels.isEmpty ? nil : config.labels
                imageConfig.stopSignal = config.stopSignal
                imageConfig.volumes = config.volumes.isEmpty ? nil : config.volumes
                imageConfig.healthcheck = config.healthcheck.flatMap { h in
                    h.Test.map { HealthcheckConfig(test: $0, interval: h.Interval, timeout: h.Timeout, startPeriod: h.StartPeriod,
                                                   startInterval: h.StartInterval, retries: h.Retries) }
                }
                imageConfig.shell = config.shell
                imageConfig.onBuild = config.onBuild
                var rec: ImageRecord
                if let same = store.listImages().last(where: { $0.configDigest == a.configDigest && $0.layers == chain }) {
                    rec = same
                } else {
                    rec = try store.saveNewImage(source: "<none>", layers: chain, config: imageConfig)
                    rec.manifest = manifest.digest
                    rec.manifestMediaType = manifest.mediaType
                    rec.configDigest = a.configDigest
                    rec.layerBlobs = blobs
                    rec.author = config.author
                    rec.history = config.history.isEmpty ? nil : config.history.map {
                        ImageHistory(created: $0.created, createdBy: $0.created_by, author: $0.author, comment: $0.comment,
                                     emptyLayer: $0.empty_layer)
                    }
                    try store.replaceImage(rec)
                }
                for n in a.names { try store.claimName(n, for: rec.id) }
                for id in made { store.endPending("layer", id) }
                made = []
                return LoadedImage(image: try store.image(rec.id), names: a.names, imageID: a.configDigest)
            }
        } catch {
            try? store.withLock { for id in made { store.endPending("layer", id) }; try store.collectLayers(inUse: layersInUse()) }
            throw error
        }
    }
}
