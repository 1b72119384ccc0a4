#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc

/// Where bocker keeps its state (`$BOCKER_ROOT`, default `/var/bocker`) and the layout below it.
///
///     <root>/lock             the store lock (flock)
///     <root>/driver           the storage driver this store was created with
///     <root>/layers/<id>/     one layer: fs/ (content) and layer.json
///     <root>/images/<id>.json image records (ordered layer ids, source, config)
///     <root>/containers/<id>/ container.json, container.log, rootfs/ (overlay: upper/ work/)
///     <root>/pending/         markers of changes under way (kind-id), finished or undone by
///                             the next bocker that takes the lock
///     <root>/tmp/             staging for things being built
///     <root>/cache/           accelerators, never the truth: compiled seccomp programs, the
///                             containers' summaries for ps (may be removed at any time)
public struct StateRoot: Sendable {
    public let path: String

    public init(path: String) {
        var p = path
        while p.count > 1 && p.hasSuffix("/") { p.removeLast() }
        self.path = p
    }

    /// `$BOCKER_ROOT`, or `/var/bocker`.
    public static func fromEnvironment() -> StateRoot {
        if let env = getenv("BOCKER_ROOT"), let s = String(validatingCString: env), !s.isEmpty {
            return StateRoot(path: FS.absolute(s))
        }
        return StateRoot(path: "/var/bocker")
    }

    public var lockFile: String { path + "/lock" }
    public var driverFile: String { path + "/driver" }
    public var layersDir: String { path + "/layers" }
    public var imagesDir: String { path + "/images" }
    public var containersDir: String { path + "/containers" }
    public var tmpDir: String { path + "/tmp" }
    /// Container events (create, start, die, oom, destroy) as JSON lines, appended.
    public var eventsFile: String { path + "/events.jsonl" }

    public func layerDir(_ id: String) -> String { layersDir + "/" + id }
    public func imageFile(_ id: String) -> String { imagesDir + "/" + id + ".json" }
    public func containerDir(_ id: String) -> String { containersDir + "/" + id }

    /// Creates the directory layout if it is missing.
    public func ensureLayout() throws {
        for dir in [path, layersDir, imagesDir, containersDir, tmpDir] {
            try FS.makeDirectories(dir, mode: 0o700)
        }
    }
}
