#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import BockerCore
import BockerCgroups

/// A host device node given to a container (`--device HOST[:CONTAINER][:rwm]`), as found on
/// the host: its type, numbers, mode and owner, where it appears inside (under /dev) and what
/// the container may do with it. Owns the checks of a device mapping and its allow-list entry.
public struct ContainerDevice: Equatable, Sendable {
    public var hostPath: String
    public var containerPath: String
    public var kind: DeviceRule.Kind
    public var major: UInt32
    public var minor: UInt32
    /// Permission bits of the host node (the container's node gets the same, and its owner).
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32
    public var access: DeviceRule.Access

    /// Looks the host node up (following symlinks, as Docker does: /dev/disk/by-id/… works).
    /// A missing path, or one that is not a character or block device, is refused with one
    /// line naming it; so is a container path that is not a plain path under /dev/.
    public static func resolve(hostPath: String, containerPath: String?, permissions: String?) throws -> ContainerDevice {
        let inside = (containerPath?.isEmpty == false ? containerPath! : hostPath)
        guard inside.hasPrefix("/dev/"), inside.count > 5, !inside.hasSuffix("/"),
              !inside.split(separator: "/").contains(where: { $0 == ".." || $0 == "." }),
              !["/dev/pts", "/dev/shm"].contains(where: { inside == $0 || inside.hasPrefix($0 + "/") }) else {
            throw BockerError(.invalidArgument, "invalid device '\(hostPath)': the path in the container ('\(inside)') must be under /dev/ (not /dev/pts or /dev/shm)")
        }
        let access = try DeviceRule.Access(letters: permissions ?? "rwm")
        var st = stat()
        guard hostPath.hasPrefix("/"), stat(hostPath, &st) == 0 else {
            throw BockerError(.notFound, "error gathering device information while adding device \"\(hostPath)\": no such file or directory")
        }
        let type = st.st_mode & S_IFMT
        guard type == S_IFCHR || type == S_IFBLK else {
            throw BockerError(.invalidArgument, "\"\(hostPath)\" is not a device node (a character or block device)")
        }
        return ContainerDevice(hostPath: hostPath, containerPath: inside, kind: type == S_IFCHR ? .char : .block,
                               major: majorOf(UInt64(st.st_rdev)), minor: minorOf(UInt64(st.st_rdev)),
                               mode: UInt32(st.st_mode & 0o7777), uid: st.st_uid, gid: st.st_gid, access: access)
    }

    /// Its entry in the device allow-list.
    public var rule: DeviceRule { DeviceRule(kind, major, minor, access) }

    /// The dev_t the node is made with.
    public var number: UInt64 {
        let ma = UInt64(major), mi = UInt64(minor)
        return (ma & 0xfff) << 8 | (ma & ~0xfff) << 32 | (mi & 0xff) | (mi & ~0xff) << 12
    }

    // glibc's encoding of dev_t (sys/sysmacros.h, which Swift does not import).
    static func majorOf(_ d: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: (d >> 8) & 0xfff | (d >> 32) & ~0xfff) }
    static func minorOf(_ d: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: d & 0xff | (d >> 12) & ~0xff) }

    /// st_mode for mknod: the type and the host node's permission bits.
    public var nodeMode: UInt32 { (kind == .block ? UInt32(S_IFBLK) : UInt32(S_IFCHR)) | mode }
}

extension ContainerDevice {
    /// The node a `--device` mapping names, looked up now.
    public init(_ m: DeviceMapping) throws {
        self = try ContainerDevice.resolve(hostPath: m.hostPath, containerPath: m.containerPath, permissions: m.permissions)
    }
}

extension Runtime {
    /// The device allow-list of a new container: nil (every device) when privileged, else
    /// Docker's default list and the devices it was given.
    static func deviceRules(privileged: Bool, devices: [ContainerDevice]) -> [DeviceRule]? {
        privileged ? nil : DeviceRule.defaults + devices.map(\.rule)
    }
}
