#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc

/// What `run` takes from an image when the user gives no value (OCI image config fields).
public struct ImageConfig: Codable, Equatable, Sendable {
    public var env: [String]?
    public var entrypoint: [String]?
    public var cmd: [String]?
    public var workingDir: String?
    public var user: String?

    public init(env: [String]? = nil, entrypoint: [String]? = nil, cmd: [String]? = nil,
                workingDir: String? = nil, user: String? = nil) {
        self.env = env
        self.entrypoint = entrypoint
        self.cmd = cmd
        self.workingDir = workingDir
        self.user = user
    }
}

/// An image: its id, where it came from, and its layers (bottom first).
public struct ImageRecord: Codable, Equatable, Sendable {
    public var id: String
    public var source: String
    public var created: Double
    public var layers: [String]
    public var config: ImageConfig
    /// For pulled images: the digest the reference resolved to, and the registry reference.
    public var digest: String?
    public var reference: String?

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

    public init(id: String, parent: String?, created: Double, origin: String) {
        self.id = id
        self.parent = parent
        self.created = created
        self.origin = origin
    }
}

/// Seconds since the epoch, with sub-second precision.
public func nowSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
