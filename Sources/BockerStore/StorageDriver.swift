#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import BockerCore
import CBocker

/// How layer content and container root filesystems are made on disk.
///
/// Layers are ordered (bottom first). A *cumulative* driver (btrfs, copy) keeps in each layer's
/// `fs/` the whole tree up to that layer, so a container starts from the top layer alone; a
/// *diff* driver (overlay) keeps only the layer's own changes and stacks them at mount time.
public protocol StorageDriver: Sendable {
    var name: String { get }
    var cumulative: Bool { get }
    /// Makes an empty layer tree at fsPath, or a writable copy of parentFS when cumulative.
    func createLayerFS(at fsPath: String, parentFS: String?) throws
    /// Removes a layer tree (or a container rootfs) made by this driver.
    func removeFS(at path: String) throws
    /// Prepares a container's writable root under containerDir from its layers (bottom first).
    func createContainerFS(containerDir: String, layerFS: [String]) throws
    /// The overlay mount (chdir dir, options) the container's child makes; nil: rootfs is ready.
    func mountPlan(containerDir: String, layerFS: [String]) -> (dir: String, options: String)?
    /// Fills newFS (already created with createLayerFS) with what the container changed.
    func commitContainer(containerDir: String, into newFS: String) throws
    func removeContainerFS(containerDir: String) throws
}

extension StorageDriver {
    public static func rootfs(_ containerDir: String) -> String { containerDir + "/rootfs" }
}

/// Picks the driver: `BOCKER_DRIVER` (btrfs, overlay, copy) if set, else btrfs on a btrfs
/// root, else overlay when the kernel has it, else copy.
public enum StorageDrivers {
    public static func named(_ name: String) throws -> StorageDriver {
        switch name {
        case "btrfs": return BtrfsDriver()
        case "overlay", "overlayfs", "overlay2": return OverlayDriver()
        case "copy", "vfs": return CopyDriver()
        default: throw BockerError(.invalidArgument, "unknown storage driver '\(name)' (use btrfs, overlay or copy)")
        }
    }

    public static func choose(for root: String) -> String {
        if bk_fs_type(root) == BK_BTRFS_MAGIC { return "btrfs" }
        if let fs = try? FS.readString("/proc/filesystems"), fs.contains("\toverlay\n") { return "overlay" }
        return "copy"
    }
}

/// Copies the contents of src into the existing directory dst, keeping owners, modes, links,
/// device nodes, xattrs and times; reflinks where the filesystem can.
public func copyTree(from src: String, to dst: String) throws {
    try HostTool.run(["/bin/cp", "-a", "--reflink=auto", "--no-target-directory", src + "/.", dst], failure: .io)
}

/// btrfs: each layer is a subvolume snapshotted from its parent; a container is a snapshot of
/// its top layer (the original's design, done with ioctls instead of btrfs(8)).
public struct BtrfsDriver: StorageDriver {
    public init() {}
    public var name: String { "btrfs" }
    public var cumulative: Bool { true }

    public func createLayerFS(at fsPath: String, parentFS: String?) throws {
        let dir = FS.parent(fsPath), base = FS.basename(fsPath)
        if let p = parentFS {
            guard bk_btrfs_snapshot(p, dir, base, 0) == 0 else { throw BockerError.errno("cannot snapshot '\(p)'") }
        } else {
            guard bk_btrfs_subvol_create(dir, base) == 0 else {
                throw BockerError.errno("cannot create btrfs subvolume '\(fsPath)'")
            }
        }
    }

    public func removeFS(at path: String) throws {
        guard FS.exists(path) else { return }
        if bk_btrfs_is_subvolume(path) != 0 {
            // Nested subvolumes a container made must go first.
            try removeNestedSubvolumes(in: path)
            if bk_btrfs_subvol_delete(FS.parent(path), FS.basename(path)) == 0 { return }
            throw BockerError.errno("cannot delete btrfs subvolume '\(path)'")
        }
        try FS.removeTree(path)
    }

    func removeNestedSubvolumes(in dir: String) throws {
        var st = stat()
        for name in FS.list(dir) {
            let child = dir + "/" + name
            guard lstat(child, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else { continue }
            if st.st_ino == 256 { try removeFS(at: child) } else { try removeNestedSubvolumes(in: child) }
        }
    }

    public func createContainerFS(containerDir: String, layerFS: [String]) throws {
        let root = Self.rootfs(containerDir)
        if let top = layerFS.last {
            try createLayerFS(at: root, parentFS: top)
        } else {
            try createLayerFS(at: root, parentFS: nil)
        }
    }

    public func mountPlan(containerDir: String, layerFS: [String]) -> (dir: String, options: String)? { nil }

    public func commitContainer(containerDir: String, into newFS: String) throws {
        // newFS was made as an empty subvolume by the caller; replace it with a snapshot.
        try removeFS(at: newFS)
        try createLayerFS(at: newFS, parentFS: Self.rootfs(containerDir))
    }

    public func removeContainerFS(containerDir: String) throws {
        try removeFS(at: Self.rootfs(containerDir))
    }
}

/// overlayfs: each layer holds its own changes; a container gets upper/ and work/ and the
/// child mounts the stack on rootfs/ inside its own mount namespace, so the mount vanishes
/// with the container and nothing is ever left mounted on the host.
public struct OverlayDriver: StorageDriver {
    public init() {}
    public var name: String { "overlay" }
    public var cumulative: Bool { false }

    public func createLayerFS(at fsPath: String, parentFS: String?) throws {
        guard mkdir(fsPath, 0o755) == 0 else { throw BockerError.errno("cannot create '\(fsPath)'", code: .io) }
    }

    public func removeFS(at path: String) throws { try FS.removeTree(path) }

    public func createContainerFS(containerDir: String, layerFS: [String]) throws {
        for d in ["upper", "work", "rootfs"] {
            guard mkdir(containerDir + "/" + d, 0o755) == 0 else {
                throw BockerError.errno("cannot create '\(containerDir)/\(d)'", code: .io)
            }
        }
    }

    public func mountPlan(containerDir: String, layerFS: [String]) -> (dir: String, options: String)? {
        // Paths relative to the store root keep the option string short (it must fit a page).
        let storeRoot = FS.parent(FS.parent(containerDir))
        func rel(_ p: String) -> String { p.hasPrefix(storeRoot + "/") ? String(p.dropFirst(storeRoot.count + 1)) : p }
        let c = rel(containerDir)
        // overlay needs at least one lower layer; an image with none gets an empty one.
        let lowers = layerFS.isEmpty ? [c + "/empty"] : layerFS.reversed().map(rel)
        if layerFS.isEmpty { mkdir(containerDir + "/empty", 0o755) }
        return (storeRoot, "lowerdir=\(lowers.joined(separator: ":")),upperdir=\(c)/upper,workdir=\(c)/work")
    }

    public func commitContainer(containerDir: String, into newFS: String) throws {
        // upper/ already holds the changes in overlay's own format (whiteouts, opaque dirs).
        try copyTree(from: containerDir + "/upper", to: newFS)
    }

    public func removeContainerFS(containerDir: String) throws {
        for d in ["rootfs", "upper", "work", "empty"] { try FS.removeTree(containerDir + "/" + d) }
    }
}

/// Plain copies: works on any filesystem, slowly. Each layer and container is a full tree.
public struct CopyDriver: StorageDriver {
    public init() {}
    public var name: String { "copy" }
    public var cumulative: Bool { true }

    public func createLayerFS(at fsPath: String, parentFS: String?) throws {
        guard mkdir(fsPath, 0o755) == 0 else { throw BockerError.errno("cannot create '\(fsPath)'", code: .io) }
        if let p = parentFS { try copyTree(from: p, to: fsPath) }
    }

    public func removeFS(at path: String) throws { try FS.removeTree(path) }

    public func createContainerFS(containerDir: String, layerFS: [String]) throws {
        try createLayerFS(at: Self.rootfs(containerDir), parentFS: layerFS.last)
    }

    public func mountPlan(containerDir: String, layerFS: [String]) -> (dir: String, options: String)? { nil }

    public func commitContainer(containerDir: String, into newFS: String) throws {
        // newFS starts as a copy of the parent: start over from empty, or files the container
        // deleted would come back.
        try FS.removeTree(newFS)
        guard mkdir(newFS, 0o755) == 0 else { throw BockerError.errno("cannot create '\(newFS)'", code: .io) }
        try copyTree(from: Self.rootfs(containerDir), to: newFS)
    }

    public func removeContainerFS(containerDir: String) throws {
        try FS.removeTree(Self.rootfs(containerDir))
    }
}
