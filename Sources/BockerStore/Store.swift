#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import BockerCore

/// The image and layer store under a state root: creates, finds and removes images and the
/// layers they share, and repairs what a killed bocker left half-made.
///
/// Every change happens under the store lock and is bracketed by a marker in `<root>/pending`
/// (written before, removed after). Whoever next takes the lock finishes or undoes any marker
/// it finds: nothing half-made survives a kill.
public final class Store {
    public let root: StateRoot
    public let lock: StoreLock
    public let driver: StorageDriver
    /// Repair steps for pending markers of kinds this module does not know (containers), by
    /// kind. A handler returns true when the change is settled and its marker can go.
    public var repairHandlers: [String: (String) throws -> Bool] = [:]
    /// Layers that containers use (the runtime knows them); a layer is only ever collected
    /// when neither an image nor a container lists it.
    public var containerLayers: () -> Set<String> = { [] }

    /// Opens (creating if needed) the store. The driver is fixed when the store is created:
    /// `BOCKER_DRIVER` or the filesystem's best; a later, different `BOCKER_DRIVER` is an error.
    public init(root: StateRoot, requestedDriver: String? = nil) throws {
        self.root = root
        try root.ensureLayout()
        try FS.makeDirectories(root.path + "/pending", mode: 0o700)
        self.lock = StoreLock(path: root.lockFile)
        let requested = requestedDriver.flatMap { $0.isEmpty ? nil : $0 }
        var recorded = (try? FS.readString(root.driverFile))?.trimmed()
        if recorded == nil {
            try lock.withLock {
                recorded = (try? FS.readString(root.driverFile))?.trimmed()
                if recorded == nil {
                    let chosen = try StorageDrivers.named(requested ?? StorageDrivers.choose(for: root.path)).name
                    if chosen == "btrfs" && StorageDrivers.choose(for: root.path) != "btrfs" {
                        throw BockerError(.invalidArgument, "storage driver btrfs needs '\(root.path)' on a btrfs filesystem")
                    }
                    try FS.writeString(root.driverFile, chosen + "\n")
                    recorded = chosen
                }
            }
        }
        let name = recorded ?? "copy"
        if let r = requested, try StorageDrivers.named(r).name != name {
            throw BockerError(.invalidArgument, "store '\(root.path)' uses the \(name) driver; BOCKER_DRIVER=\(r) cannot apply to it")
        }
        self.driver = try StorageDrivers.named(name)
    }

    // MARK: Locking and repair

    /// Runs body under the store lock. The first time in this process, it first finishes
    /// whatever a killed bocker left pending ("repaired on the next start").
    public func withLock<T>(_ body: () throws -> T) throws -> T {
        try lock.withLock {
            if !repaired {
                try repairPending()
                repaired = true
            }
            return try body()
        }
    }

    private var repaired = false

    var pendingDir: String { root.path + "/pending" }

    /// Marks the start of a change; `kind-id` names it for repair, and its content names the
    /// owner (pid and start time): a marker whose owner still lives is not touched.
    public func beginPending(_ kind: String, _ id: String) throws {
        let path = pendingDir + "/" + kind + "-" + id
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw BockerError.errno("cannot write '\(path)'", code: .io) }
        let owner = Array("\(getpid()) \(ProcessTable.selfStartTime ?? 0)\n".utf8)
        _ = owner.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    /// Whether the bocker that wrote a marker is still at work (then it is not ours to repair).
    func ownerAlive(_ marker: String) -> Bool {
        guard let text = try? FS.readString(pendingDir + "/" + marker) else { return false }
        let f = text.split(byte: 0x20)
        guard f.count == 2, let pid = Int32(f[0]), let start = UInt64(f[1].trimmed()) else { return false }
        return ProcessTable.isAlive(pid, startedAt: start)
    }

    public func endPending(_ kind: String, _ id: String) {
        unlink(pendingDir + "/" + kind + "-" + id)
    }

    /// Undoes every pending change (called with the lock held; cheap when nothing is pending).
    public func repairPending() throws {
        for entry in FS.list(pendingDir) where !entry.hasPrefix(".") && !ownerAlive(entry) {
            guard let dash = entry.firstIndex(of: "-") else { continue }
            let kind = String(entry[..<dash]), id = String(entry[entry.index(after: dash)...])
            switch kind {
            case "layer":
                // A layer whose image record made it to disk stays; any other is half-made.
                if !listImages().contains(where: { $0.layers.contains(id) }) && !containerLayers().contains(id)
                    && !buildCacheLayers().contains(id) {
                    try removeLayerFiles(id)
                }
            case "image": unlink(root.imageFile(id))
            case "collect": try collectLayers(inUse: containerLayers())
            default:
                guard let handler = repairHandlers[kind], try handler(id) else { continue }
            }
            unlink(pendingDir + "/" + entry)
        }
    }

    // MARK: Images

    public func listImages() -> [ImageRecord] {
        FS.list(root.imagesDir).filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") }
            .compactMap { try? ImageRecord.load(root.imagesDir + "/" + $0) }
            .sorted { $0.created < $1.created }
    }

    /// Finds an image by id, by one of its names (`NAME[:TAG]`, `NAME@DIGEST`, the directory
    /// it was made from; `alpine` finds `alpine:latest`), or by an unambiguous id prefix.
    public func image(_ ref: String) throws -> ImageRecord {
        try resolveImage(ref).image
    }

    public func layerFS(_ id: String) -> String { root.layerDir(id) + "/fs" }

    /// Makes a new image whose single layer is a copy of directory dir.
    public func createImage(fromDirectory dir: String, source: String) throws -> ImageRecord {
        guard FS.isDirectory(dir) else { throw BockerError(.notFound, "No directory named '\(dir)' exists") }
        return try withLock {
            let layer = try createLayer(parent: nil, origin: "init \(source)") { fs in
                try copyTree(from: dir, to: fs)
                FaultPoint.hit("init.layer")
            }
            FaultPoint.hit("init.image")
            let img = try saveNewImage(source: source, layers: [layer], config: ImageConfig())
            endPending("layer", layer)
            return img
        }
    }

    /// Writes a new image record with a fresh id (call with the lock held).
    public func saveNewImage(source: String, layers: [String], config: ImageConfig) throws -> ImageRecord {
        var id = Identifier.random(prefix: "img_")
        while FS.exists(root.imageFile(id)) { id = Identifier.random(prefix: "img_") }
        let rec = ImageRecord(id: id, source: source, created: WallClock.now(), layers: layers, config: config)
        try JSONFile.write(rec, to: root.imageFile(id))
        return rec
    }

    /// Replaces an existing image's record (same id). The caller collects the layers nothing
    /// uses any more (`collectLayers`).
    public func replaceImage(_ rec: ImageRecord) throws {
        try JSONFile.write(rec, to: root.imageFile(rec.id))
    }

    /// Removes an image record and any layers no other image or container uses.
    public func removeImage(_ id: String, layersInUse: Set<String>) throws {
        try beginPending("image", id)
        unlink(root.imageFile(id))
        endPending("image", id)
        try collectLayers(inUse: layersInUse)
    }

    // MARK: Layers

    /// Creates a layer: a marker first, the content via fill(fsPath), the record last.
    /// For a cumulative driver the new layer starts as a copy of its parent. The marker stays
    /// until the caller has written the image that lists the layer and calls
    /// `endPending("layer", id)`: a kill in between leaves a layer that repair removes.
    public func createLayer(parent: String?, origin: String, id fixedID: String? = nil,
                            fill: (String) throws -> Void) throws -> String {
        var id = fixedID ?? Identifier.randomHex(bytes: 8)
        if fixedID == nil {
            while FS.exists(root.layerDir(id)) { id = Identifier.randomHex(bytes: 8) }
        } else if FS.exists(root.layerDir(id)) {
            throw BockerError(.exists, "layer \(id) exists")
        }
        try beginPending("layer", id)
        do {
            try FS.makeDirectories(root.layerDir(id), mode: 0o700)
            let fs = layerFS(id)
            try driver.createLayerFS(at: fs, parentFS: driver.cumulative ? parent.map(layerFS) : nil)
            try fill(fs)
            try JSONFile.write(LayerRecord(id: id, parent: parent, created: WallClock.now(), origin: origin),
                               to: root.layerDir(id) + "/layer.json")
        } catch {
            try? removeLayerFiles(id)
            endPending("layer", id)
            throw error
        }
        return id
    }

    /// Whether a complete layer with this id is in the store (its record is written last).
    public func hasLayer(_ id: String) -> Bool {
        FS.exists(root.layerDir(id) + "/layer.json") && !FS.exists(pendingDir + "/layer-" + id)
    }

    func removeLayerFiles(_ id: String) throws {
        guard Identifier.isSafeComponent(id) else { return }
        let dir = root.layerDir(id)
        guard FS.exists(dir) else { return }
        unlink(dir + "/layer.json")
        try driver.removeFS(at: dir + "/fs")
        try FS.removeTree(dir)
    }

    /// Removes every layer that no image or build cache entry lists and that is not in `inUse`
    /// (containers' layers).
    public func collectLayers(inUse: Set<String>) throws {
        var used = inUse.union(buildCacheLayers())
        for img in listImages() { used.formUnion(img.layers) }
        for id in FS.list(root.layersDir) where !used.contains(id) {
            try removeLayerFiles(id)
        }
        collectBlobs()
    }
}
