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

/// One step of a pull, for progress output (Docker's words: "Pulling fs layer",
/// "Downloading", "Download complete", "Extracting", "Pull complete", "Already exists").
public struct PullEvent: Sendable {
    public var layer: String        // 12-hex short digest ("" for the image itself)
    public var status: String
    public var current: Int64
    public var total: Int64
}

/// What a pull ended with.
public struct PullResult: Sendable {
    public var image: ImageRecord
    public var digest: String
    /// False when the image was already up to date.
    public var downloaded: Bool
}

extension Runtime {
    /// The default bound on one layer's uncompressed size: larger than any real layer, small
    /// enough that a decompression bomb cannot fill a disk.
    public static let defaultMaxLayerSize: UInt64 = 10 << 30

    /// `BOCKER_MAX_LAYER_SIZE` (bytes, or with a k/m/g/t suffix), else 10g.
    static func maxLayerSize() throws -> UInt64 {
        guard let raw = getenv("BOCKER_MAX_LAYER_SIZE").flatMap({ String(validatingCString: $0) }), !raw.isEmpty else {
            return defaultMaxLayerSize
        }
        guard let n = ByteSize.parse(raw), n > 0 else {
            throw BockerError(.invalidArgument, "invalid BOCKER_MAX_LAYER_SIZE '\(raw)': expected a size such as 512m or 10g")
        }
        return n
    }

    /// Pulls `ref` (`alpine:3.20`, `127.0.0.1:5000/x@sha256:…`) from its registry: resolves
    /// the manifest for `platform`, downloads the missing layers (three at a time, each
    /// verified for size and sha256 before use), extracts them in order into the layer
    /// store (shared by chain id: a layer pulled once serves every image), checks each
    /// layer's diff_id, and records the image under the reference's familiar name.
    /// `progress` is called on this thread only.
    /// With `timeout`, the whole pull must be over within that many seconds: the transfer under
    /// way is cut, what it made is removed, and it throws `.timeout`.
    public func pull(_ refText: String, platform: String? = nil, timeout: Double? = nil,
                     progress: (PullEvent) -> Void) throws -> PullResult {
        do {
            return try pullOnce(refText, platform: platform, timeout: timeout, progress: progress)
        } catch let e as BockerError where e.code == .timeout && timeout != nil {
            throw BockerError(.timeout, "timed out after \(Durations.format(timeout ?? 0)) pulling '\(refText)'")
        }
    }

    private func pullOnce(_ refText: String, platform: String?, timeout: Double?, progress: (PullEvent) -> Void) throws -> PullResult {
        let ref = try ImageReference.parse(refText)
        let client = RegistryClient(ref)
        client.timeout = timeout
        let plat = try platform.map(Platform.parse) ?? .host
        let (manifest, config, configBytes) = try client.resolve(platform: plat)
        guard config.diffIDs.count == manifest.layers.count else {
            throw BockerError(.io, "image \(ref.familiar): \(manifest.layers.count) layers but \(config.diffIDs.count) diff_ids in its config")
        }
        // Layer ids are chain ids: the same layer on the same parents is the same directory.
        var chain: [String] = []
        for d in config.diffIDs {
            let hex = d.hasPrefix("sha256:") ? String(d.dropFirst(7)) : d
            if let prev = chain.last { chain.append(SHA256.hex(Array(("sha256:" + prev + " " + d).utf8))) }
            else { chain.append(hex) }
        }
        let name = ref.familiar
        if let existing = try? store.image(name), existing.digest == manifest.referenceDigest,
           existing.manifest == manifest.digest, existing.names.contains(name),
           existing.layers == chain, existing.layers.allSatisfy(store.hasLayer) {
            return PullResult(image: existing, digest: manifest.referenceDigest, downloaded: false)
        }

        let maxLayerSize = try Self.maxLayerSize()
        let tmp = root.tmpDir + "/pull-" + Identifier.randomHex(bytes: 6)
        try FS.makeDirectories(tmp, mode: 0o700)
        defer { try? FS.removeTree(tmp) }
        let missing = manifest.layers.indices.filter { !store.hasLayer(chain[$0]) }
        for (i, d) in manifest.layers.enumerated() {
            progress(PullEvent(layer: d.shortDigest, status: missing.contains(i) ? "Pulling fs layer" : "Already exists",
                               current: 0, total: d.size))
        }

        // Downloads run on worker threads (a registry client each); extraction runs here, in
        // layer order, each layer as soon as it and the ones below it are in.
        let downloads = ParallelDownloads(client: client, layers: manifest.layers, indices: missing, dir: tmp, width: 3)
        downloads.start()
        defer { downloads.cancelAndJoin() }
        var made: [String] = []
        do {
            for i in manifest.layers.indices {
                let d = manifest.layers[i]
                guard missing.contains(i) else { continue }
                let path = try downloads.waitFor(i) { progress($0) }
                try client.checkDeadline()
                guard let compression = BockerArchive.LayerCompression.from(mediaType: d.mediaType) else {
                    throw BockerError(.invalidArgument, "layer \(d.shortDigest) has an unknown media type \(d.mediaType)")
                }
                progress(PullEvent(layer: d.shortDigest, status: "Extracting", current: 0, total: d.size))
                let parent = i > 0 ? chain[i - 1] : nil
                let mode: WhiteoutMode = store.driver.cumulative ? .apply : .overlay
                try store.withLock {
                    if store.hasLayer(chain[i]) { return }   // another pull made it meanwhile
                    let id = try store.createLayer(parent: parent, origin: "pull \(name) \(d.digest)", id: chain[i]) { fs in
                        let r: ExtractResult
                        do {
                            r = try LayerExtractor.extract(blob: path, compression: compression, into: fs, whiteouts: mode,
                                                           maxBytes: maxLayerSize)
                        } catch let e as LayerTooLarge {
                            throw BockerError(.invalidArgument, "layer \(d.digest) exceeds the maximum size of \(ByteSize.format(e.limit)) (BOCKER_MAX_LAYER_SIZE)")
                        }
                        guard r.diffID == config.diffIDs[i] else {
                            throw BockerError(.io, "layer \(d.shortDigest): diff_id mismatch: the config says \(config.diffIDs[i]), the layer is \(r.diffID)")
                        }
                        FaultPoint.hit("pull.layer")
                    }
                    made.append(id)
                    // The blob as served stays (a push elsewhere sends these very bytes).
                    try store.adoptBlob(file: path, digest: d.digest)
                    try store.setLayerBlob(id, LayerBlob(digest: d.digest, size: d.size, mediaType: d.mediaType,
                                                         diffID: config.diffIDs[i]))
                }
                unlink(path)
                progress(PullEvent(layer: d.shortDigest, status: "Pull complete", current: d.size, total: d.size))
            }
        } catch {
            // Layers made by this pull that no image uses yet go (their markers say so).
            try? store.withLock { for id in made { store.endPending("layer", id) }; try store.collectLayers(inUse: layersInUse()) }
            throw error
        }

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
        let blobs = manifest.layers.indices.map {
            LayerBlob(digest: manifest.layers[$0].digest, size: manifest.layers[$0].size,
                      mediaType: manifest.layers[$0].mediaType, diffID: config.diffIDs[$0])
        }
        let image: ImageRecord = try store.withLock {
            // The manifest and config exactly as served: a push of this image keeps its digest.
            try store.putBlob(manifest.bytes, expected: manifest.digest)
            try store.putBlob(configBytes, expected: manifest.config.digest)
            func fill(_ r: inout ImageRecord) {
                r.layers = chain
                r.config = imageConfig
                r.digest = manifest.referenceDigest
                r.reference = ref.description
                r.manifest = manifest.digest
                r.manifestMediaType = manifest.mediaType
                r.configDigest = manifest.config.digest
                r.layerBlobs = blobs
                r.blobSource = ref.registry + "/" + ref.repository
                r.author = config.author
                r.history = config.history.isEmpty ? nil : config.history.map {
                    ImageHistory(created: $0.created, createdBy: $0.created_by, author: $0.author, comment: $0.comment,
                                 emptyLayer: $0.empty_layer)
                }
            }
            var rec: ImageRecord
            if var old = try? store.image(name), old.source == name, old.tags == nil {
                fill(&old)
                old.created = WallClock.now()
                try store.beginPending("collect", old.id)
                try store.replaceImage(old)
                rec = old
            } else {
                rec = try store.saveNewImage(source: "<none>", layers: chain, config: imageConfig)
                fill(&rec)
                try store.beginPending("collect", rec.id)
                try store.replaceImage(rec)
                try store.claimName(name, for: rec.id)
                rec = try store.image(rec.id)
            }
            for id in made { store.endPending("layer", id) }
            try store.collectLayers(inUse: layersInUse())
            store.endPending("collect", rec.id)
            return rec
        }
        return PullResult(image: image, digest: manifest.referenceDigest, downloaded: true)
    }
}

/// Downloads some of an image's layers on a few worker threads; the caller takes them in
/// layer order with `waitFor`, receiving progress events on its own thread meanwhile.
final class ParallelDownloads: @unchecked Sendable {
    let client: RegistryClient
    let layers: [Descriptor]
    let queue: [Int]
    let dir: String
    let width: Int
    private var mutex = pthread_mutex_t()
    private var cond = pthread_cond_t()
    private var next = 0
    private var done: [Int: Result<String, Error>] = [:]
    private var events: [PullEvent] = []
    private var cancelled = false
    private var threads: [pthread_t] = []

    init(client: RegistryClient, layers: [Descriptor], indices: [Int], dir: String, width: Int) {
        self.client = client
        self.layers = layers
        self.queue = indices
        self.dir = dir
        self.width = max(1, min(width, indices.count))
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&cond, nil)
    }

    deinit {
        pthread_mutex_destroy(&mutex)
        pthread_cond_destroy(&cond)
    }

    func start() {
        guard !queue.isEmpty else { return }
        threads = WorkerThreads.start(width) { self.work() }
    }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return body()
    }

    private func work() {
        while true {
            let i: Int? = locked {
                guard !cancelled, next < queue.count else { return nil }
                defer { next += 1 }
                return queue[next]
            }
            guard let idx = i else { return }
            let d = layers[idx]
            let path = dir + "/" + (d.digest.split(separator: ":").last.map(String.init) ?? "blob")
            var lastReport: Int64 = -1
            let result: Result<String, Error>
            do {
                try client.fetchBlob(d, to: path) { [self] got in
                    // At most ~50 progress events per layer.
                    if got == d.size || got - lastReport >= max(d.size / 50, 65536) {
                        lastReport = got
                        locked { events.append(PullEvent(layer: d.shortDigest, status: "Downloading", current: got, total: d.size)) }
                        pthread_cond_broadcast(&cond)
                    }
                }
                result = .success(path)
            } catch {
                result = .failure(error)
            }
            locked {
                if case .success = result {
                    events.append(PullEvent(layer: d.shortDigest, status: "Download complete", current: d.size, total: d.size))
                }
                done[idx] = result
            }
            pthread_cond_broadcast(&cond)
        }
    }

    /// Blocks until layer `i` is downloaded, passing progress events on meanwhile; returns
    /// its file, or throws its download error.
    func waitFor(_ i: Int, progress: (PullEvent) -> Void) throws -> String {
        while true {
            pthread_mutex_lock(&mutex)
            while events.isEmpty && done[i] == nil { pthread_cond_wait(&cond, &mutex) }
            let pending = events
            events.removeAll()
            let result = done[i]
            pthread_mutex_unlock(&mutex)
            pending.forEach(progress)
            if let r = result { return try r.get() }
        }
    }

    func cancelAndJoin() {
        locked { cancelled = true }
        for t in threads { pthread_join(t, nil) }
        threads = []
    }
}
