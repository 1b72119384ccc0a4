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
    }

    /// A record from its file: the fast reader, Codable if that cannot.
    public static func load(_ path: String) throws -> ImageRecord {
        let bytes = try FS.read(path)
        if let j = try? JSONValue.parse(bytes), let r = ImageRecord(json: j) { return r }
        return try JSONFile.read(ImageRecord.self, from: path)
    }
}
