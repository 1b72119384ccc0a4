#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import BockerCore
import BockerStore
import BockerArchive

/// What `commit` does besides saving the files: a config patch (`--change`), the history
/// entry's comment (`-m`) and author (`-a`, also the image's author), and whether a running
/// container is frozen while its files are read (`--pause`, default true as Docker).
public struct CommitOptions: Sendable {
    public var changes = ImageConfigChange()
    public var message: String?
    public var author: String?
    public var pause = true
    public init() {}
}

extension Runtime {
    /// Saves a container's filesystem as an image: one new layer holding the container's
    /// changes on top of its image's layers, the image's config with `options.changes`
    /// applied, its history plus one entry. Replaces the image `target` names (same id) when
    /// that is its only name or its id; else makes a new image named `target` (nil: no name).
    public func commit(_ ref: String, to target: String?, options: CommitOptions = CommitOptions()) throws
        -> (image: ImageRecord, replaced: Bool) {
        if target?.isEmpty == true { throw BockerError(.invalidArgument, "commit needs an image name") }
        return try store.withLock {
            let rec = try container(ref)
            let found = try target.flatMap { t -> ImageMatch? in
                do { return try store.resolveImage(t) } catch let e as BockerError where e.code == .notFound { return nil }
            }
            // A re-commit to an image's only name (or its id) replaces that image in place.
            let existing = found.flatMap { m in m.name == nil || m.image.names.count == 1 ? m.image : nil }
            let base = try? store.image(rec.image)
            let config = try options.changes.applied(to: base?.config ?? ImageConfig())
            if let s = config.stopSignal { _ = try Signals.parse(s) }
            let history = commitHistory(rec, base: base, options: options)

            let dir = root.containerDir(rec.id)
            let cg = cgroup(of: rec.id)
            let running = !cg.processes().isEmpty
            // A running container is frozen while its files are copied, as Docker pauses it:
            // a path-walking copy (cp) must not meet a directory the container swaps for a
            // symlink to a host path halfway through (it would copy host files into the image).
            // A container `pause` froze stays frozen (and is not thawed afterwards). A marker
            // names the freeze, so a commit killed halfway is thawed by the next bocker's repair.
            let paused = running && rec.paused == true
            let freeze = running && options.pause && !paused
            if freeze {
                try store.beginPending("freeze", rec.id)
                do { try cg.freeze() } catch let e as BockerError {
                    store.endPending("freeze", rec.id)
                    throw BockerError(e.code, "cannot pause container '\(rec.id)' for commit: \(e.message)")
                }
            }
            defer { if freeze { cg.thaw(); store.endPending("freeze", rec.id) } }
            let layer = try store.createLayer(parent: rec.layers.last, origin: "commit \(rec.id)") { fs in
                if running && !options.pause && !paused && store.driver.name != "btrfs" {
                    // Not frozen: read the changes with a walk that never follows a symlink
                    // (openat, O_NOFOLLOW at every step) instead of cp. A btrfs snapshot is atomic.
                    try copyChangesWithoutFollowing(containerDir: dir, into: fs)
                } else {
                    try store.driver.commitContainer(containerDir: dir, into: fs)
                }
                dropMountPlaceholders(in: fs, imageLayers: rec.layers)
                // overlay's upper/ of a --userns=auto container holds its mapped host ids.
                if let m = rec.idMapping, !store.driver.cumulative { try m.unshift(tree: fs) }
                FaultPoint.hit("commit.layer")
            }
            let layers = rec.layers + [layer]
            FaultPoint.hit("commit.image")
            if var img = existing {
                img.layers = layers
                img.config = config
                img.created = WallClock.now()
                img.author = options.author
                img.history = history
                // Content made for the old layers no longer describes the image.
                img.manifest = nil
                img.manifestMediaType = nil
                img.configDigest = nil
                img.layerBlobs = nil
                img.digest = nil
                try store.beginPending("collect", img.id)
                try store.replaceImage(img)
                store.endPending("layer", layer)
                try store.collectLayers(inUse: layersInUse())
                store.endPending("collect", img.id)
                return (img, true)
            }
            var img = try store.saveNewImage(source: target ?? "<none>", layers: layers, config: config)
            img.author = options.author
            img.history = history
            try store.replaceImage(img)
            if let name = found?.name {   // the name moves to the new image
                img.source = "<none>"
                try store.replaceImage(img)
                try store.claimName(name, for: img.id)
                img = try store.image(img.id)
            }
            store.endPending("layer", layer)
            return (img, false)
        }
    }

    /// The committed image's history: the base image's (when it still describes the
    /// container's layers), else one entry per layer from its origin; then the commit's entry.
    func commitHistory(_ rec: ContainerRecord, base: ImageRecord?, options: CommitOptions) -> [ImageHistory] {
        var history: [ImageHistory]
        if let b = base, b.layers == rec.layers, let h = b.history {
            history = h
        } else {
            history = rec.layers.map { id in
                let l = store.layerRecord(id)
                return ImageHistory(created: l.map { WallClock.rfc3339(seconds: $0.created.rounded(.down)) },
                                    createdBy: "bocker " + (l?.origin ?? "layer \(id)"))
            }
        }
        history.append(ImageHistory(created: WallClock.rfc3339Now(), createdBy: "bocker commit",
                                    author: options.author, comment: options.message))
        return history
    }

    /// Copies what a running, unfrozen container changed into the new layer `fs` through a tar
    /// stream: LayerWriter walks the tree with openat and O_NOFOLLOW (a directory swapped for a
    /// symlink mid-walk fails the commit, it is never followed out of the tree), and the
    /// extractor resolves every path inside `fs`.
    func copyChangesWithoutFollowing(containerDir: String, into fs: String) throws {
        let overlay = !store.driver.cumulative
        let source = overlay ? containerDir + "/upper" : containerDir + "/rootfs"
        if !overlay {
            // A cumulative driver's new layer starts as a copy of its parent: start from empty,
            // or files the container deleted would come back.
            try FS.removeTree(fs)
            guard mkdir(fs, 0o755) == 0 else { throw BockerError.errno("cannot create '\(fs)'", code: .io) }
        }
        let tmp = root.tmpDir + "/commit-" + Identifier.randomHex(bytes: 6) + ".tar"
        try FS.makeDirectories(root.tmpDir, mode: 0o700)
        defer { unlink(tmp) }
        _ = try LayerWriter.write(tree: source, parent: nil, overlayWhiteouts: overlay, compression: .none, to: tmp)
        _ = try LayerExtractor.extract(blob: tmp, compression: .none, into: fs, whiteouts: overlay ? .overlay : .apply)
    }

    /// What the container's start made only to mount on (empty `/etc/hosts`, `/etc/resolv.conf`,
    /// `/etc/hostname`, empty `/dev`, `/proc`, `/sys`) is not a change of the container: left
    /// out of the layer when the image does not have it (as Docker's init layer is). Every path
    /// is opened component by component without following symlinks.
    func dropMountPlaceholders(in fs: String, imageLayers: [String]) {
        let placeholders: [(dir: String, name: String, isDir: Bool)] = [
            ("etc", "hosts", false), ("etc", "resolv.conf", false), ("etc", "hostname", false),
            ("", "dev", true), ("", "proc", true), ("", "sys", true),
        ]
        func openDir(_ root: String, _ sub: String) -> Int32 {
            let r = Glibc.open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            guard r >= 0, !sub.isEmpty else { return r }
            defer { close(r) }
            return openat(r, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        }
        func exists(_ root: String, _ dir: String, _ name: String) -> Bool {
            let d = openDir(root, dir)
            guard d >= 0 else { return false }
            defer { close(d) }
            var st = stat()
            return fstatat(d, name, &st, AT_SYMLINK_NOFOLLOW) == 0
        }
        let lower = store.driver.cumulative ? imageLayers.suffix(1).map(store.layerFS) : imageLayers.map(store.layerFS)
        for p in placeholders {
            let d = openDir(fs, p.dir)
            guard d >= 0 else { continue }
            defer { close(d) }
            var st = stat()
            guard fstatat(d, p.name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
            let kind = st.st_mode & S_IFMT
            if p.isDir {
                guard kind == S_IFDIR else { continue }
                let sub = openat(d, p.name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                guard sub >= 0 else { continue }
                var empty = true
                if let dir = fdopendir(sub) {
                    while let e = readdir(dir) {
                        let n = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                        if n != "." && n != ".." { empty = false; break }
                    }
                    closedir(dir)
                } else {
                    close(sub)
                    continue
                }
                guard empty else { continue }
            } else {
                guard kind == S_IFREG, st.st_size == 0 else { continue }
            }
            if lower.contains(where: { exists($0, p.dir, p.name) }) { continue }
            _ = unlinkat(d, p.name, p.isDir ? AT_REMOVEDIR : 0)
        }
    }
}
