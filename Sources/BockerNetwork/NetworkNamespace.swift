import Glibc
import CBocker
import BockerCore

/// An open network namespace: owns the fd that keeps it alive (the kernel frees the namespace
/// once the fd is closed and no process or mount still uses it).
public final class NetworkNamespace {
    private var descriptor: Int32

    /// Takes ownership of an open namespace fd.
    public init(fd: Int32) { descriptor = fd }

    deinit { close() }

    /// The namespace fd (-1 after close()); pass it to setns or IFLA_NET_NS_FD.
    public var fd: Int32 { descriptor }

    /// A path naming the namespace while it is open, e.g. for `nsenter --net=<path>`.
    public var path: String { "/proc/\(getpid())/fd/\(descriptor)" }

    /// A new, empty network namespace (only lo, down). The calling thread does not enter it.
    public static func create() throws -> NetworkNamespace {
        let fd = bk_netns_new()
        guard fd >= 0 else { throw BockerError.errno("cannot create network namespace") }
        return NetworkNamespace(fd: fd)
    }

    /// The calling thread's own network namespace.
    public static func current() throws -> NetworkNamespace {
        let fd = bk_netns_current()
        guard fd >= 0 else { throw BockerError.errno("cannot open the current network namespace") }
        return NetworkNamespace(fd: fd)
    }

    /// The network namespace at `path`, e.g. a container's /proc/<pid>/ns/net.
    public static func open(_ path: String) throws -> NetworkNamespace {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw BockerError.errno("cannot open network namespace '\(path)'", code: errno == ENOENT ? .notFound : .kernel) }
        return NetworkNamespace(fd: fd)
    }

    /// An rtnetlink session whose socket lives in this namespace. The session stays usable after
    /// close() and keeps the namespace alive until it is released.
    public func session() throws -> NetlinkSession {
        guard descriptor >= 0 else { throw BockerError(.invalidState, "network namespace is closed") }
        return try NetlinkSession(namespaceFD: descriptor)
    }

    /// Sets `net.ipv6.conf.<interface>.accept_ra` to 0 inside this namespace. Nothing to do
    /// when the kernel has no IPv6 (the file does not exist).
    public func disableRouterAdvertisements(_ interface: String) throws {
        guard descriptor >= 0 else { throw BockerError(.invalidState, "network namespace is closed") }
        guard Identifier.isSafeComponent(interface) else { throw BockerError(.invalidArgument, "invalid interface '\(interface)'") }
        let key = "net.ipv6.conf.\(interface).accept_ra"
        if bk_sysctl_write_in(descriptor, "/proc/sys/net/ipv6/conf/\(interface)/accept_ra", "0") != 0 && errno != ENOENT {
            throw BockerError.errno("cannot set sysctl \(key)=0 in the container's network namespace")
        }
    }

    /// Closes the fd; idempotent.
    public func close() {
        if descriptor >= 0 { _ = Glibc.close(descriptor) }
        descriptor = -1
    }
}

/// Writes a sysctl in the calling thread's network namespace: `writeSysctl("net.ipv4.ip_forward", "1")`.
public func writeSysctl(_ name: String, _ value: String) throws {
    guard !name.isEmpty, !name.contains(".."), !name.hasPrefix("."), !name.contains("/") else {
        throw BockerError(.invalidArgument, "invalid sysctl name '\(name)'")
    }
    var path = "/proc/sys/"
    for c in name.unicodeScalars { path.unicodeScalars.append(c == "." ? "/" : c) }
    guard bk_sysctl_write(path, value) == 0 else {
        let err = errno
        throw BockerError.errno("cannot set sysctl \(name)=\(value)", err, code: err == ENOENT ? .notFound : .kernel)
    }
}
