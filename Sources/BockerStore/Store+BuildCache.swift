#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import BockerCore

/// One entry of the build cache (`<root>/build-cache/<key>.json`): the state a build step
/// produced (every layer, bottom first, the config and the history so far), or the output of a
/// cached command (`output`). The layers an entry lists stay in the store for as long as the
/// entry does (`collectLayers` counts them as used); `builder prune` removes the entries.
public struct BuildCacheEntry: Codable, Equatable, Sendable {
    public var key: String
    public var layers: [String]
    public var config: ImageConfig
    public var history: [ImageHistory]
    public var output: String?
    public var created: Double

    public init(key: String, layers: [String], config: ImageConfig, history: [ImageHistory], output: String? = nil) {
        self.key = key
        self.layers = layers
        self.config = config
        self.history = history
        self.output = output
        self.created = WallClock.now()
    }
}

extension Store {
    public var buildCacheDir: String { root.path + "/build-cache" }

    func buildCacheFile(_ key: String) -> String { buildCacheDir + "/" + key + ".json" }

    /// The entry for `key` when there is one whose layers are all still complete.
    public func buildCacheEntry(_ key: String) -> BuildCacheEntry? {
        guard Identifier.isSafeComponent(key), FS.exists(buildCacheFile(key)),
              let e = try? JSONFile.read(BuildCacheEntry.self, from: buildCacheFile(key)) else { return nil }
        return e.layers.allSatisfy(hasLayer) ? e : nil
    }

    /// Writes an entry (call with the lock held, before the new layer's `layer-` marker goes).
    public func putBuildCache(_ e: BuildCacheEntry) throws {
        guard Identifier.isSafeComponent(e.key) else { throw BockerError(.invalidArgument, "bad build cache key '\(e.key)'") }
        try FS.makeDirectories(buildCacheDir, mode: 0o700)
        try JSONFile.write(e, to: buildCacheFile(e.key), durable: false)
    }

    public func listBuildCache() -> [BuildCacheEntry] {
        FS.list(buildCacheDir).filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") }
            .compactMap { try? JSONFile.read(BuildCacheEntry.self, from: buildCacheDir + "/" + $0) }
    }

    /// The layers build cache entries keep alive.
    public func buildCacheLayers() -> Set<String> {
        Set(listBuildCache().flatMap(\.layers))
    }

    /// What the build cache holds: its entries, and the layers and bytes only it keeps (no image
    /// or container lists them).
    public func buildCacheUsage(inUse: Set<String>) -> (entries: Int, layers: Int, bytes: Int) {
        let entries = listBuildCache()
        var used = inUse
        for img in listImages() { used.formUnion(img.layers) }
        let only = Set(entries.flatMap(\.layers)).subtracting(used)
        return (entries.count, only.count, only.reduce(0) { $0 + FS.diskUsage(layerFS($1)) })
    }

    /// Removes every build cache entry and the layers only they kept (call with the lock held);
    /// returns how many entries and layers went.
    public func pruneBuildCache(inUse: Set<String>) throws -> (entries: Int, layers: Int) {
        let before = Set(FS.list(root.layersDir))
        var n = 0
        for f in FS.list(buildCacheDir) where f.hasSuffix(".json") {
            unlink(buildCacheDir + "/" + f)
            n += 1
        }
        try collectLayers(inUse: inUse)
        return (n, before.subtracting(FS.list(root.layersDir)).count)
    }
}
