#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import BockerCore

/// Media types a pull deals with.
public enum MediaType {
    public static let ociIndex = "application/vnd.oci.image.index.v1+json"
    public static let ociManifest = "application/vnd.oci.image.manifest.v1+json"
    public static let dockerList = "application/vnd.docker.distribution.manifest.list.v2+json"
    public static let dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
    public static let ociConfig = "application/vnd.oci.image.config.v1+json"
    public static let dockerConfig = "application/vnd.docker.container.image.v1+json"
    public static let ociLayer = "application/vnd.oci.image.layer.v1.tar"
    public static let ociLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip"
    public static let ociLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd"
    public static let dockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip"
    public static let dockerLayer = "application/vnd.docker.image.rootfs.diff.tar"
    public static let dockerSchema1 = "application/vnd.docker.distribution.manifest.v1+json"
    public static let dockerSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws"

    static let indexTypes: Set<String> = [ociIndex, dockerList]
    static let manifestTypes: Set<String> = [ociManifest, dockerManifest]
    /// The Accept header for manifest requests: indexes and image manifests, OCI and Docker.
    static let manifestAccept = [ociIndex, ociManifest, dockerList, dockerManifest]
}

/// How a layer blob is compressed.
public enum LayerCompression: String, Sendable {
    case none, gzip, zstd

    /// nil for media types bocker cannot unpack (foreign/non-distributable layers, encrypted ones…).
    public init?(mediaType: String) {
        switch mediaType {
        case MediaType.ociLayer, MediaType.dockerLayer: self = .none
        case MediaType.ociLayerGzip, MediaType.dockerLayerGzip: self = .gzip
        case MediaType.ociLayerZstd: self = .zstd
        default: return nil
        }
    }
}

public struct DescriptorPlatform: Codable, Equatable, Sendable {
    public var architecture: String
    public var os: String
    public var variant: String?

    enum CodingKeys: String, CodingKey {
        case architecture, os, variant
    }
}

/// An OCI content descriptor.
public struct Descriptor: Codable, Equatable, Sendable {
    public var mediaType: String
    public var digest: String
    public var size: Int64
    public var platform: DescriptorPlatform?
    public var annotations: [String: String]?

    public init(mediaType: String, digest: String, size: Int64,
                platform: DescriptorPlatform? = nil, annotations: [String: String]? = nil) {
        self.mediaType = mediaType
        self.digest = digest
        self.size = size
        self.platform = platform
        self.annotations = annotations
    }

    enum CodingKeys: String, CodingKey {
        case mediaType, digest, size, platform, annotations
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        mediaType = try c.decodeIfPresent(String.self, forKey: .mediaType) ?? ""
        digest = try c.decode(String.self, forKey: .digest)
        size = try c.decode(Int64.self, forKey: .size)
        platform = try c.decodeIfPresent(DescriptorPlatform.self, forKey: .platform)
        annotations = try c.decodeIfPresent([String: String].self, forKey: .annotations)
    }

    /// The layer's compression, nil when the media type is not a layer bocker can unpack.
    public var compression: LayerCompression? { LayerCompression(mediaType: mediaType) }

    /// Docker's 12-hex short form of the digest ("Pulling fs layer" lines).
    public var shortDigest: String {
        String(digest.split(separator: ":").last?.prefix(12) ?? "")
    }
}

/// An image manifest for one platform.
public struct ImageManifest: Sendable {
    /// The digest of this (platform-specific) manifest.
    public let digest: String
    public let mediaType: String
    public let config: Descriptor
    public let layers: [Descriptor]
    /// The digest of what the reference names: the index for a multi-platform image, otherwise the
    /// manifest itself (Docker's "Digest:" line and RepoDigests use this one).
    public let referenceDigest: String
    /// The manifest's bytes as the registry sent them.
    public let bytes: [UInt8]

    public init(digest: String, mediaType: String, config: Descriptor, layers: [Descriptor],
                referenceDigest: String? = nil, bytes: [UInt8] = []) {
        self.digest = digest
        self.mediaType = mediaType
        self.config = config
        self.layers = layers
        self.referenceDigest = referenceDigest ?? digest
        self.bytes = bytes
    }
}

/// The parts of an image config a runtime uses.
public struct ImageConfigInfo: Sendable, Equatable {
    public var env: [String]?
    public var entrypoint: [String]?
    public var cmd: [String]?
    public var workingDir: String?
    public var user: String?
    public var exposedPorts: [String]
    public var labels: [String: String]
    public var volumes: [String]
    public var stopSignal: String?
    /// `Healthcheck.Test` and its durations (nanoseconds) and retries, when the config has one.
    public var healthcheck: WireHealthcheck?
    public var shell: [String]?
    public var onBuild: [String]?
    public var author: String?
    public var history: [WireHistory]
    /// sha256 of each uncompressed layer tar, in layer order.
    public var diffIDs: [String]
    public var os: String
    public var architecture: String
    public var variant: String?
    /// RFC 3339, when the config has one.
    public var created: String?

    public init(env: [String]? = nil, entrypoint: [String]? = nil, cmd: [String]? = nil,
                workingDir: String? = nil, user: String? = nil, exposedPorts: [String] = [],
                labels: [String: String] = [:], volumes: [String] = [], stopSignal: String? = nil,
                diffIDs: [String] = [], os: String = "linux", architecture: String = "amd64",
                variant: String? = nil, created: String? = nil, healthcheck: WireHealthcheck? = nil,
                shell: [String]? = nil, onBuild: [String]? = nil, author: String? = nil, history: [WireHistory] = []) {
        self.healthcheck = healthcheck
        self.shell = shell
        self.onBuild = onBuild
        self.author = author
        self.history = history
        self.env = env
        self.entrypoint = entrypoint
        self.cmd = cmd
        self.workingDir = workingDir
        self.user = user
        self.exposedPorts = exposedPorts
        self.labels = labels
        self.volumes = volumes
        self.stopSignal = stopSignal
        self.diffIDs = diffIDs
        self.os = os
        self.architecture = architecture
        self.variant = variant
        self.created = created
    }

    /// Parses an image config blob (OCI or Docker).
    public init(configBytes: [UInt8]) throws {
        self = try ImageConfigInfo.parse(configBytes)
    }
}

// MARK: - Wire formats

struct WireIndex: Decodable {
    var mediaType: String?
    var manifests: [Descriptor]
}

struct WireManifest: Decodable {
    var mediaType: String?
    var schemaVersion: Int?
    var config: Descriptor
    var layers: [Descriptor]
}

/// An image config's `Healthcheck` object as written on the wire.
public struct WireHealthcheck: Decodable, Sendable, Equatable {
    public var Test: [String]?
    public var Interval: Int64?
    public var Timeout: Int64?
    public var StartPeriod: Int64?
    public var StartInterval: Int64?
    public var Retries: Int?
}

/// One entry of an image config's `history` as written on the wire.
public struct WireHistory: Decodable, Sendable, Equatable {
    public var created: String?
    public var created_by: String?
    public var author: String?
    public var comment: String?
    public var empty_layer: Bool?
}

struct WireConfig: Decodable {
    struct Inner: Decodable {
        var Healthcheck: WireHealthcheck?
        var Shell: [String]?
        var OnBuild: [String]?
        var Env: [String]?
        var Entrypoint: [String]?
        var Cmd: [String]?
        var WorkingDir: String?
        var User: String?
        var ExposedPorts: [String: Empty]?
        var Labels: [String: String]?
        var Volumes: [String: Empty]?
        var StopSignal: String?
    }
    struct Empty: Decodable {}
    struct RootFS: Decodable {
        var type: String?
        var diff_ids: [String]?
    }
    var architecture: String?
    var os: String?
    var variant: String?
    var created: String?
    var author: String?
    var config: Inner?
    var rootfs: RootFS?
    var history: [WireHistory]?
}

/// A mediaType-sniffing view, for responses whose Content-Type says nothing useful.
struct WireProbe: Decodable {
    var mediaType: String?
    var schemaVersion: Int?
    var manifests: [Descriptor]?
    var config: Descriptor?
    var fsLayers: [Empty]?
    struct Empty: Decodable {}
}

func decodeJSON<T: Decodable>(_ type: T.Type, _ bytes: [UInt8], what: String) throws -> T {
    do {
        return try JSONDecoder().decode(T.self, from: Data(bytes))
    } catch {
        throw BockerError(.io, "malformed \(what): \(jsonErrorSummary(error))")
    }
}

/// A one-line description of a decoding error (Swift's own are multi-line and long).
func jsonErrorSummary(_ error: Error) -> String {
    if let e = error as? DecodingError {
        switch e {
        case .keyNotFound(let key, _): return "missing field '\(key.stringValue)'"
        case .typeMismatch(_, let ctx), .valueNotFound(_, let ctx), .dataCorrupted(let ctx):
            let path = ctx.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? "not valid JSON" : "bad value at '\(path)'"
        @unknown default: return "not valid JSON"
        }
    }
    return "not valid JSON"
}

extension ImageConfigInfo {
    static func parse(_ bytes: [UInt8]) throws -> ImageConfigInfo {
        let w = try decodeJSON(WireConfig.self, bytes, what: "image config")
        let c = w.config
        return ImageConfigInfo(
            env: c?.Env, entrypoint: c?.Entrypoint, cmd: c?.Cmd,
            workingDir: (c?.WorkingDir).flatMap { $0.isEmpty ? nil : $0 },
            user: (c?.User).flatMap { $0.isEmpty ? nil : $0 },
            exposedPorts: (c?.ExposedPorts.map { Array($0.keys) } ?? []).sorted(),
            labels: c?.Labels ?? [:],
            volumes: (c?.Volumes.map { Array($0.keys) } ?? []).sorted(),
            stopSignal: (c?.StopSignal).flatMap { $0.isEmpty ? nil : $0 },
            diffIDs: w.rootfs?.diff_ids ?? [],
            os: w.os ?? "", architecture: w.architecture ?? "", variant: w.variant,
            created: w.created, healthcheck: c?.Healthcheck, shell: c?.Shell, onBuild: c?.OnBuild,
            author: w.author, history: w.history ?? [])
    }
}

/// Picks the entry of an index that best serves `platform`: skips attestation manifests and
/// entries of media types that are not image manifests; among matches, the best variant rank
/// wins and the first entry wins ties.
func selectManifest(from index: [Descriptor], for platform: Platform) -> Descriptor? {
    var best: (rank: Int, d: Descriptor)?
    for d in index {
        guard MediaType.manifestTypes.contains(d.mediaType) else { continue }
        if d.annotations?["vnd.docker.reference.type"] == "attestation-manifest" { continue }
        guard let p = d.platform else { continue }
        let candidate = Platform(os: p.os, architecture: p.architecture, variant: p.variant)
        guard let rank = platform.matchRank(candidate) else { continue }
        if best == nil || rank < best!.rank { best = (rank, d) }
    }
    return best?.d
}
