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

/// One step of a push, for progress output (Docker's words: "Preparing", "Pushing", "Pushed",
/// "Layer already exists", "Mounted from …").
public struct PushEvent: Sendable {
    public var layer: String        // 12-hex short digest
    public var status: String
    public var current: Int64
    public var total: Int64
}

/// What a push sent: the manifest's digest and size, and the reference it went to.
public struct PushResult: Sendable {
    public var digest: String
    public var size: Int
    public var reference: String
}

/// Options of `push`.
public struct PushOptions: Sendable {
    /// Compression of layers made here (gzip or zstd); layers that have a blob keep it.
    public var compression: BockerArchive.LayerCompression = .gzip
    public var credentials: Credentials?
    /// The whole push must be over within this many seconds (nil: no limit); then it throws
    /// `.timeout` and the manifest (what makes the push visible) is never put.
    public var timeout: Double?
    public init() {}
}

extension Runtime {
    /// Makes sure the image has its OCI content in the blob store: for a local image (made by
    /// `init` or `commit`) a blob per layer (tar + compression, made in parallel, each cached in
    /// its layer's record), then a config (architecture, os, rootfs.diff_ids, history, the run
    /// defaults) and an OCI manifest. A pulled image already has its registry's content.
    public func ensureContent(_ ref: String, compression: BockerArchive.LayerCompression = .gzip,
                              progress: (PushEvent) -> Void = { _ in }) throws -> ImageRecord {
        let img = try store.image(ref)
        if let m = img.manifest, let c = img.configDigest, store.hasBlob(m), store.hasBlob(c), img.layerBlobs != nil { return img }

        // Layers that have no blob yet: made outside the lock, a few at a time.
        let missing = img.layers.enumerated().filter { store.layerRecord($0.element)?.blob == nil }
        if !missing.isEmpty {
            let tmp = root.tmpDir + "/push-" + Identifier.randomHex(bytes: 6)
            try FS.makeDirectories(tmp, mode: 0o700)
            defer { try? FS.removeTree(tmp) }
            let driver = store.driver
            let jobs: [(String, String?, String)] = missing.map { (i, id) in
                (store.layerFS(id), driver.cumulative && i > 0 ? store.layerFS(img.layers[i - 1]) : nil, tmp + "/" + id)
            }
            let results = parallelMap(jobs, width: 4) { job in
                try LayerWriter.write(tree: job.0, parent: job.1, overlayWhiteouts: driver.name == "overlay",
                                      compression: compression, to: job.2)
            }
            try store.withLock {
                for (k, (_, id)) in missing.enumerated() {
                    let w = try results[k].get()
                    guard store.hasLayer(id) else { throw BockerError(.notFound, "layer \(id) of image \(img.id) went away") }
                    try store.adoptBlob(file: jobs[k].2, digest: w.digest)
                    try store.setLayerBlob(id, LayerBlob(digest: w.digest, size: w.size,
                                                         mediaType: LayerWriter.ociMediaType(compression), diffID: w.diffID))
                }
            }
        }

        return try store.withLock {
            var rec = try store.image(img.id)
            guard rec.layers == img.layers else { throw BockerError(.io, "image \(img.id) changed during push; try again") }
            let blobs = try rec.layers.map { id -> LayerBlob in
                guard let b = store.layerRecord(id)?.blob else { throw BockerError(.notFound, "layer \(id) has no blob") }
                return b
            }
            let configBytes = Array(Self.ociConfig(rec, blobs: blobs, layerOrigins: rec.layers.map { store.layerRecord($0)?.origin ?? "" }).utf8)
            let configDigest = try store.putBlob(configBytes)
            let layerDescs: [JSONValue] = blobs.map {
                .object([("mediaType", .string($0.mediaType)), ("digest", .string($0.digest)), ("size", .int(Int($0.size)))])
            }
            let manifest: JSONValue = .object([
                ("schemaVersion", .int(2)),
                ("mediaType", .string(MediaType.ociManifest)),
                ("config", .object([("mediaType", .string(MediaType.ociConfig)), ("digest", .string(configDigest)),
                                    ("size", .int(configBytes.count))])),
                ("layers", .array(layerDescs)),
            ])
            let manifestBytes = Array(manifest.render().utf8)
            rec.manifest = try store.putBlob(manifestBytes)
            rec.manifestMediaType = MediaType.ociManifest
            rec.configDigest = configDigest
            rec.layerBlobs = blobs
            try store.replaceImage(rec)
            return rec
        }
    }

    /// An OCI image config for a local image (deterministic: the same image gives the same bytes).
    static func ociConfig(_ img: ImageRecord, blobs: [LayerBlob], layerOrigins: [String]) -> String {
        let p = Platform.host
        let created = WallClock.rfc3339(seconds: img.created.rounded(.down))
        var cfg: [(String, JSONValue)] = []
        let c = img.config
        if let e = c.env { cfg.append(("Env", .array(e.map(JSONValue.string)))) }
        if let e = c.entrypoint { cfg.append(("Entrypoint", .array(e.map(JSONValue.string)))) }
        if let e = c.cmd { cfg.append(("Cmd", .array(e.map(JSONValue.string)))) }
        if let w = c.workingDir { cfg.append(("WorkingDir", .string(w))) }
        if let u = c.user { cfg.append(("User", .string(u))) }
        if let ports = c.exposedPorts, !ports.isEmpty { cfg.append(("ExposedPorts", .object(ports.sorted().map { ($0, .object([])) }))) }
        if let l = c.labels, !l.isEmpty { cfg.append(("Labels", .object(l.keys.sorted().map { ($0, .string(l[$0]!)) }))) }
        if let s = c.stopSignal { cfg.append(("StopSignal", .string(s))) }
        if let v = c.volumes, !v.isEmpty { cfg.append(("Volumes", .object(v.sorted().map { ($0, .object([])) }))) }
        if let h = c.healthcheck {
            var hc: [(String, JSONValue)] = [("Test", .array(h.test.map(JSONValue.string)))]
            if let v = h.interval { hc.append(("Interval", .int(Int(v)))) }
            if let v = h.timeout { hc.append(("Timeout", .int(Int(v)))) }
            if let v = h.startPeriod { hc.append(("StartPeriod", .int(Int(v)))) }
            if let v = h.startInterval { hc.append(("StartInterval", .int(Int(v)))) }
            if let v = h.retries { hc.append(("Retries", .int(v))) }
            cfg.append(("Healthcheck", .object(hc)))
        }
        if let s = c.shell { cfg.append(("Shell", .array(s.map(JSONValue.string)))) }
        if let o = c.onBuild, !o.isEmpty { cfg.append(("OnBuild", .array(o.map(JSONValue.string)))) }
        var top: [(String, JSONValue)] = [("created", .string(created))]
        if let a = img.author { top.append(("author", .string(a))) }
        top.append(("architecture", .string(p.architecture)))
        if let v = p.variant, p.architecture != "amd64" { top.append(("variant", .string(v))) }
        top.append(("os", .string(p.os)))
        top.append(("config", .object(cfg)))
        top.append(("rootfs", .object([("type", .string("layers")), ("diff_ids", .array(blobs.map { .string($0.diffID) }))])))
        if let h = img.history {
            top.append(("history", .array(h.map { e in
                var o: [(String, JSONValue)] = [("created", .string(e.created ?? created))]
                if let a = e.author { o.append(("author", .string(a))) }
                if let b = e.createdBy { o.append(("created_by", .string(b))) }
                if let c = e.comment { o.append(("comment", .string(c))) }
                if e.emptyLayer == true { o.append(("empty_layer", .bool(true))) }
                return .object(o)
            })))
        } else {
            top.append(("history", .array(layerOrigins.map { .object([("created", .string(created)), ("created_by", .string("bocker " + $0))]) })))
        }
        return JSONValue.object(top).render()
    }

    /// Pushes image `ref` (an id or a name) to `target` (`REGISTRY/NAME[:TAG]`; default: the
    /// image's own name when `ref` is one): each layer blob and the config (skipped when the
    /// registry has them, mounted from the repository they were pulled from when it is on the
    /// same registry, uploaded otherwise; layers three at a time), then the manifest, byte for
    /// byte as stored (a pulled image keeps its digest). `progress` is called on this thread.
    public func push(_ ref: String, to target: String? = nil, options: PushOptions = PushOptions(),
                     progress: (PushEvent) -> Void) throws -> PushResult {
        let started = WallClock.now()
        do {
            return try pushOnce(ref, to: target, options: options, started: started, progress: progress)
        } catch let e as BockerError where e.code == .timeout && options.timeout != nil {
            throw BockerError(.timeout, "timed out after \(Durations.format(options.timeout ?? 0)) pushing '\(target ?? ref)'")
        }
    }

    private func pushOnce(_ ref: String, to target: String?, options: PushOptions, started: Double,
                          progress: (PushEvent) -> Void) throws -> PushResult {
        if target == nil, try store.resolveImage(ref).name == nil {
            throw BockerError(.invalidArgument, "push needs a name to push '\(ref)' to (give the image one with bocker tag)")
        }
        let dest = try ImageReference.parse(target ?? ref)
        if dest.digest != nil && dest.tag == nil {
            throw BockerError(.invalidArgument, "cannot push to a digest reference '\(target ?? ref)': give a tag")
        }
        let img = try ensureContent(ref, compression: options.compression, progress: progress)
        guard let manifestDigest = img.manifest, let configDigest = img.configDigest, let blobs = img.layerBlobs,
              let mediaType = img.manifestMediaType else {
            throw BockerError(.io, "image \(img.id) has no manifest")
        }
        let manifestBytes = try store.readBlob(manifestDigest)
        let configBytes = try store.readBlob(configDigest)
        let client = RegistryClient(dest, auth: options.credentials)
        client.pushAccess = true
        if let t = options.timeout {
            client.timeout = t - (WallClock.now() - started)
            try client.checkDeadline()
        }
        // A blob pulled from another repository of this registry can be mounted from there.
        var mountFrom: String?
        if let src = img.blobSource, let slash = src.firstIndex(of: "/"), String(src[..<slash]) == dest.registry {
            mountFrom = String(src[src.index(after: slash)...])
        }
        for b in blobs { progress(PushEvent(layer: short(b.digest), status: "Preparing", current: 0, total: b.size)) }

        let pushes = ParallelWork(width: 3, count: blobs.count) { [store] i, report in
            let b = blobs[i]
            let file = try? store.blobPath(b.digest)
            let outcome = try client.pushBlob(digest: b.digest, size: b.size, file: file.flatMap { FS.exists($0) ? $0 : nil },
                                              mountFrom: mountFrom) { sent in
                report(PushEvent(layer: short(b.digest), status: "Pushing", current: sent, total: b.size))
            }
            switch outcome {
            case .existed: report(PushEvent(layer: short(b.digest), status: "Layer already exists", current: b.size, total: b.size))
            case .mounted(let from): report(PushEvent(layer: short(b.digest), status: "Mounted from \(from)", current: b.size, total: b.size))
            case .uploaded: report(PushEvent(layer: short(b.digest), status: "Pushed", current: b.size, total: b.size))
            }
            FaultPoint.hit("push.layer")
        }
        try pushes.run(progress: progress)
        // The config is small: after the layers (a registry may check a manifest's blobs in any order).
        let configFile = try store.blobPath(configDigest)
        _ = try client.pushBlob(digest: configDigest, size: Int64(configBytes.count), file: configFile, mountFrom: mountFrom)
        let tag = dest.tag ?? "latest"
        try client.putManifest(manifestBytes, mediaType: mediaType, tag: tag)
        return PushResult(digest: manifestDigest, size: manifestBytes.count, reference: dest.familiar)
    }
}

private func short(_ digest: String) -> String {
    String(digest.split(separator: ":").last?.prefix(12) ?? "")
}

/// Runs `body` over items on `width` threads; results in item order.
func parallelMap<T, R>(_ items: [T], width: Int, _ body: @escaping (T) throws -> R) -> [Result<R, Error>] {
    let box = ResultBox<R>(count: items.count)
    let work = ParallelWork(width: width, count: items.count) { i, _ in box.set(i, Result { try body(items[i]) }) }
    try? work.run(progress: { _ in })
    return box.values.map { $0 ?? .failure(BockerError(.io, "a worker did not finish")) }
}

private final class ResultBox<R>: @unchecked Sendable {
    private let lock = NSLockish()
    private(set) var values: [Result<R, Error>?]
    init(count: Int) { values = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ r: Result<R, Error>) { lock.locked { values[i] = r } }
}

/// A pthread mutex.
final class NSLockish: @unchecked Sendable {
    private var m = pthread_mutex_t()
    init() { pthread_mutex_init(&m, nil) }
    deinit { pthread_mutex_destroy(&m) }
    func locked<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(&m)
        defer { pthread_mutex_unlock(&m) }
        return try body()
    }
}

/// Runs jobs 0..<count on a few threads. Jobs report progress events, which `run` hands to
/// its caller on the caller's own thread; the first failure stops jobs not yet started and is
/// thrown once the running ones have ended.
final class ParallelWork: @unchecked Sendable {
    let width: Int
    let count: Int
    let job: (Int, @escaping (PushEvent) -> Void) throws -> Void
    private var mutex = pthread_mutex_t()
    private var cond = pthread_cond_t()
    private var next = 0
    private var finished = 0
    private var events: [PushEvent] = []
    private var failure: Error?

    init(width: Int, count: Int, job: @escaping (Int, @escaping (PushEvent) -> Void) throws -> Void) {
        self.width = max(1, min(width, count))
        self.count = count
        self.job = job
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&cond, nil)
    }

    deinit {
        pthread_mutex_destroy(&mutex)
        pthread_cond_destroy(&cond)
    }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return body()
    }

    private func work() {
        while true {
            let i: Int? = locked {
                guard failure == nil, next < count else { return nil }
                defer { next += 1 }
                return next
            }
            guard let i else { return }
            var err: Error?
            do {
                try job(i) { [self] ev in
                    locked { events.append(ev) }
                    pthread_cond_broadcast(&cond)
                }
            } catch { err = error }
            locked {
                if let err, failure == nil { failure = err }
                finished += 1
            }
            pthread_cond_broadcast(&cond)
        }
    }

    func run(progress: (PushEvent) -> Void) throws {
        guard count > 0 else { return }
        let threads = WorkerThreads.start(width) { self.work() }
        if threads.isEmpty { work() }
        while true {
            pthread_mutex_lock(&mutex)
            func done() -> Bool { finished == count || (failure != nil && finished == next) }
            while events.isEmpty && !done() { pthread_cond_wait(&cond, &mutex) }
            let pending = events
            events.removeAll()
            let allDone = done()
            pthread_mutex_unlock(&mutex)
            pending.forEach(progress)
            if allDone { break }
        }
        for t in threads { pthread_join(t, nil) }
        let rest = locked { let e = events; events.removeAll(); return e }
        rest.forEach(progress)
        if let f = locked({ failure }) { throw f }
    }
}
