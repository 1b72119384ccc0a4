#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import BockerCore
import BockerStore
import BockerRegistry
import BockerArchive

extension Runtime {
    /// Writes a container's filesystem (its image's layers with its own changes applied, owners
    /// as the container sees them) as one flat tar to `path` ("-": standard output); a failure
    /// leaves no file.
    public func export(_ ref: String, to path: String) throws {
        let rec = try container(ref)
        let dir = root.containerDir(rec.id)
        try writeOutput(path) { fd, display in
            if store.driver.name == "overlay" {
                guard let plan = store.driver.mountPlan(containerDir: dir, layerFS: rec.layers.map(store.layerFS)) else {
                    throw BockerError(.io, "container \(rec.id) has no overlay plan")
                }
                var lower = "", upper = ""
                for opt in plan.options.split(separator: ",") {
                    if opt.hasPrefix("lowerdir=") { lower = String(opt.dropFirst(9)) }
                    if opt.hasPrefix("upperdir=") { upper = String(opt.dropFirst(9)) }
                }
                let mnt = root.tmpDir + "/export-" + Identifier.randomHex(bytes: 6)
                try FS.makeDirectories(mnt, mode: 0o700)
                defer { rmdir(mnt) }
                // A --userns=auto container's upper/ holds its mapped host ids: a copy gets the
                // 0-based ids back (as commit does) and stands in for it.
                if let m = rec.idMapping {
                    let name = "export-upper-" + Identifier.randomHex(bytes: 6)
                    let copy = root.tmpDir + "/" + name
                    try FS.makeDirectories(copy, mode: 0o700)
                    try copyTree(from: dir + "/upper", to: copy)
                    try m.unshift(tree: copy)
                    upper = "tmp/" + name
                }
                defer { if upper.hasPrefix("tmp/") { try? FS.removeTree(root.path + "/" + upper) } }
                try LayerWriter.writeMergedTar(base: plan.dir, lowerdirs: upper + ":" + lower, mountpoint: mnt, to: fd, what: display)
            } else {
                try LayerWriter.writeFlatTar(tree: dir + "/rootfs", to: fd, what: display)
            }
        }
    }

    /// Makes a one-layer image from a flat filesystem tar at `path` ("-": standard input;
    /// plain, gzip or zstd), named `reference` when given. The tar is extracted with the
    /// layer extractor (every path stays inside the new layer); a bad tar leaves nothing.
    public func importImage(from path: String, reference: String?, message: String?) throws -> ImageRecord {
        let display = path == "-" ? "standard input" : "'\(path)'"
        var name: String?
        if let reference {
            let r = try ImageReference.parse(reference)
            guard r.digest == nil else { throw BockerError(.invalidArgument, "invalid reference format '\(reference)': a tag cannot hold a digest") }
            name = r.familiar
        }
        let tmp = root.tmpDir + "/import-" + Identifier.randomHex(bytes: 6)
        try FS.makeDirectories(tmp, mode: 0o700)
        defer { try? FS.removeTree(tmp) }
        let file = try regularInput(path, display: display, verb: "import", tmp: tmp)
        let compression = try BockerArchive.LayerCompression.sniff(path: file)
        let maxLayerSize = try Self.maxLayerSize()
        let origin = "import " + (path == "-" ? "-" : FS.absolute(path))
        return try store.withLock {
            let layer = try store.createLayer(parent: nil, origin: origin) { fs in
                do {
                    _ = try LayerExtractor.extract(blob: file, compression: compression, into: fs,
                                                   whiteouts: store.driver.cumulative ? .apply : .overlay, maxBytes: maxLayerSize)
                } catch let e as LayerTooLarge {
                    throw BockerError(.invalidArgument, "cannot import \(display): larger than the maximum layer size of \(ByteSize.format(e.limit)) (BOCKER_MAX_LAYER_SIZE)")
                } catch let e as BockerError {
                    throw BockerError(e.code, "cannot import \(display): \(e.message)")
                }
                FaultPoint.hit("import.layer")
            }
            var img = try store.saveNewImage(source: "<none>", layers: [layer], config: ImageConfig())
            // Docker's history entry for an import: the message as its comment.
            img.history = [ImageHistory(created: WallClock.rfc3339(seconds: img.created.rounded(.down)), createdBy: "bocker " + origin,
                                        comment: message ?? "Imported from " + (path == "-" ? "-" : FS.absolute(path)))]
            try store.replaceImage(img)
            if let name {
                try store.claimName(name, for: img.id)
                img = try store.image(img.id)
            }
            store.endPending("layer", layer)
            return img
        }
    }
}
