#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import BockerCore

/// What `run` takes from an image when the user gives no value (OCI image config fields).
public struct ImageConfig: Codable, Equatable, Sendable {
    public var env: [String]?
    public var entrypoint: [String]?
    public var cmd: [String]?
    public var workingDir: String?
    public var user: String?
    /// Kept from a pulled image's config for a re-made config (nil when the image had none).
    public var exposedPorts: [String]?
    public var labels: [String: String]?
    public var stopSignal: String?
    /// Paths that get an anonymous volume at run (`Volumes`).
    public var volumes: [String]?
    /// The image's healthcheck (`Healthcheck`); `test == ["NONE"]` disables an inherited one.
    public var healthcheck: HealthcheckConfig?
    /// The shell for shell-form commands of a build (`Shell`, default `["/bin/sh", "-c"]`).
    public var shell: [String]?
    /// Instructions stored for images built FROM this one (`OnBuild`).
    public var onBuild: [String]?

    public init(env: [String]? = nil, entrypoint: [String]? = nil, cmd: [String]? = nil,
                workingDir: String? = nil, user: String? = nil) {
        self.env = env
        self.entrypoint = entrypoint
        self.cmd = cmd
        self.workingDir = workingDir
        self.user = user
    }
}

/// An image's or container's healthcheck as the OCI/Docker config writes it: `test` is
/// `["CMD", arg...]`, `["CMD-SHELL", "cmd"]` or `["NONE"]`; durations in nanoseconds, nil = the
/// default (interval 30s, timeout 30s, start period 0, retries 3).
public struct HealthcheckConfig: Codable, Equatable, Sendable {
    public var test: [String]
    public var interval: Int64?
    public var timeout: Int64?
    public var startPeriod: Int64?
    public var startInterval: Int64?
    public var retries: Int?

    public init(test: [String], interval: Int64? = nil, timeout: Int64? = nil, startPeriod: Int64? = nil,
                startInterval: Int64? = nil, retries: Int? = nil) {
        self.test = test
        self.interval = interval
        self.timeout = timeout
        self.startPeriod = startPeriod
        self.startInterval = startInterval
        self.retries = retries
    }

    /// Reads the record form (camelCase keys, as Codable writes it).
    public init?(json j: JSONValue?) {
        guard let j, let test = j["test"]?.strings else { return nil }
        self.init(test: test, interval: j["interval"]?.int.map(Int64.init), timeout: j["timeout"]?.int.map(Int64.init),
                  startPeriod: j["startPeriod"]?.int.map(Int64.init), startInterval: j["startInterval"]?.int.map(Int64.init),
                  retries: j["retries"]?.int)
    }
}

/// One entry of an image's history (the OCI config's `history`): what made a layer, or a
/// config-only step (`emptyLayer`).
public struct ImageHistory: Codable, Equatable, Sendable {
    /// RFC 3339, as the OCI config writes it.
    public var created: String?
    public var createdBy: String?
    public var author: String?
    public var comment: String?
    public var emptyLayer: Bool?

    public init(created: String? = nil, createdBy: String? = nil, author: String? = nil, comment: String? = nil,
                emptyLayer: Bool? = nil) {
        self.created = created
        self.createdBy = createdBy
        self.author = author
        self.comment = comment
        self.emptyLayer = emptyLayer
    }

    init?(json j: JSONValue) {
        guard case .object = j else { return nil }
        self.init(created: j["created"]?.string, createdBy: j["createdBy"]?.string, author: j["author"]?.string,
                  comment: j["comment"]?.string, emptyLayer: j["emptyLayer"]?.bool)
    }
}

/// One layer as content: the blob's digest, size and media type, and the uncompressed tar's
/// diff_id (an OCI manifest's layer descriptor plus the config's rootfs entry).
public struct LayerBlob: Codable, Equatable, Sendable {
    public var digest: String
    public var size: Int64
    public var mediaType: String
    public var diffID: String

    public init(digest: String, size: Int64, mediaType: String, diffID: String) {
        self.digest = digest
        self.size = size
        self.mediaType = mediaType
        self.diffID = diffID
    }
}

/// An image: its id, where it came from, and its layers (bottom first). `source` is its first
/// name (the `images` SOURCE column); `tags` are the names `tag` gave it since. `manifest`,
/// `config` and the layer blobs are content in the blob store (`blobs/sha256/…`): for a pulled
/// image the registry's bytes as served, for a local one made by `push` when first needed.
public struct ImageRecord: Codable, Equatable, Sendable {
    public var id: String
    public var source: String
    public var created: Double
    public var layers: [String]
    public var config: ImageConfig
    /// For pulled images: the digest the reference resolved to, and the registry reference.
    public var digest: String?
    public var reference: String?
    /// More names (`tag`), familiar form ("myapp:1", "127.0.0.1:5000/x:y").
    public var tags: [String]?
    /// The image manifest's digest and media type (OCI or Docker schema 2), its config's digest.
    public var manifest: String?
    public var manifestMediaType: String?
    public var configDigest: String?
    /// The layers as blobs, in layer order, when known (always with `manifest`).
    public var layerBlobs: [LayerBlob]?
    /// The repository (registry/path) the layer blobs came from, for cross-repository mounts.
    public var blobSource: String?
    /// The OCI config's top-level `author`, and `history` (one entry per layer plus config-only
    /// steps; nil: made from the layers' origins when the config is written).
    public var author: String?
    public var history: [ImageHistory]?

    public init(id: String, source: String, created: Double, layers: [String], config: ImageConfig) {
        self.id = id
        self.source = source
        self.created = created
        self.layers = layers
        self.config = config
    }
}

/// A layer: content under layers/<id>/fs, with the layer below it for cumulative drivers.
public struct LayerRecord: Codable, Equatable, Sendable {
    public var id: String
    public var parent: String?
    public var created: Double
    public var origin: String
    /// This layer as a blob once `push` made one (digest, size, media type, diff_id); the blob
    /// lives in the blob store for as long as the layer does.
    public var blob: LayerBlob?

    public init(id: String, parent: String?, created: Double, origin: String) {
        self.id = id
        self.parent = parent
        self.created = created
        self.origin = origin
    }
}

extension ImageRecord {
    /// Reads a record from parsed JSON without Codable (every `run` reads one).
    public init?(json j: JSONValue) {
        guard let id = j["id"]?.string, let source = j["source"]?.string, let created = j["created"]?.double else { return nil }
        let c = j["config"]
        self.init(id: id, source: source, created: created, layers: j["layers"]?.strings ?? [],
                  config: ImageConfig(env: c?["env"]?.strings, entrypoint: c?["entrypoint"]?.strings, cmd: c?["cmd"]?.strings,
                                      workingDir: c?["workingDir"]?.string, user: c?["user"]?.string))
        digest = j["digest"]?.string
        reference = j["reference"]?.string
        tags = j["tags"]?.strings
        manifest = j["manifest"]?.string
        manifestMediaType = j["manifestMediaType"]?.string
        configDigest = j["configDigest"]?.string
        blobSource = j["blobSource"]?.string
        if let c {
            config.exposedPorts = c["exposedPorts"]?.strings
            config.stopSignal = c["stopSignal"]?.string
            config.volumes = c["volumes"]?.strings
            config.healthcheck = HealthcheckConfig(json: c["healthcheck"])
            config.shell = c["shell"]?.strings
            config.onBuild = c["onBuild"]?.strings
            if case .object(let fields)? = c["labels"] {
                var l: [String: String] = [:]
                for (k, v) in fields { if let s = v.string { l[k] = s } }
                config.labels = l
            }
        }
        author = j["author"]?.string
        history = j["history"]?.array?.compactMap(ImageHistory.init(json:))
        layerBlobs = j["layerBlobs"]?.array?.compactMap { b in
            guard let d = b["digest"]?.string, let size = b["size"]?.int, let m = b["mediaType"]?.string,
                  let diff = b["diffID"]?.string else { return nil }
            return LayerBlob(digest: d, size: Int64(size), mediaType: m, diffID: diff)
        }
    }

    /// Every name of the image: its source, then its tags.
    public var names: [String] { (source == "<none>" ? [] : [source]) + (tags ?? []) }

    /// The blobs this image keeps alive in the blob store.
    public var blobDigests: [String] {
        [manifest, configDigest].compactMap { $0 } + (layerBlobs ?? []).map(\.digest)
    }

    /// A record from its file: the fast reader, Codable if that cannot.
    public static func load(_ path: String) throws -> ImageRecord {
        let bytes = try FS.read(path)
        if let j = try? JSONValue.parse(bytes), let r = ImageRecord(json: j) { return r }
        return try JSONFile.read(ImageRecord.self, from: path)
    }
}
