import Glibc
import CBocker

/// Owns an inotify watch on one container's directory and sleeps until it changes (its
/// record or log is written) or a given process exits: how `wait`, `stop` and `logs -f`
/// block without sleep loops. Each sleep lasts a second at most, so a missed event costs a
/// second, never a hang.
final class ContainerDirWatch {
    private let fd: Int32

    init(directory: String, events: Int32) {
        fd = inotify_init1(Int32(IN_CLOEXEC))
        if fd >= 0 { _ = inotify_add_watch(fd, directory, UInt32(events)) }
    }

    /// One watch over several containers' directories.
    init(directories: [String], events: Int32) {
        fd = inotify_init1(Int32(IN_CLOEXEC))
        if fd >= 0 { for d in directories { _ = inotify_add_watch(fd, d, UInt32(events)) } }
    }

    deinit { if fd >= 0 { close(fd) } }

    /// The inotify descriptor, for a caller's own poll (then `drain` it when readable).
    var pollFD: Int32 { fd }

    /// Consumes the pending events.
    func drain() {
        var buf = [UInt8](repeating: 0, count: 4096)
        _ = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
    }

    /// Returns once the directory changed, `pid` (when given) exited, or `atMost` seconds (at
    /// most one) passed.
    func sleep(untilExitOf pid: Int32?, atMost seconds: Double = 1) {
        sleep(untilExitOfAny: pid.map { [$0] } ?? [], atMost: seconds)
    }

    /// Returns once a watched directory changed, one of `pids` exited, or `atMost` seconds
    /// (at most one) passed.
    func sleep(untilExitOfAny pids: [Int32], atMost seconds: Double = 1) {
        var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0)]
        var pidfds: [Int32] = []
        for pid in pids.prefix(64) {
            let pidfd = bk_pidfd_open(pid)
            if pidfd >= 0 { pidfds.append(pidfd); fds.append(pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)) }
        }
        _ = poll(&fds, nfds_t(fds.count), Int32(max(0, min(seconds, 1)) * 1000))
        pidfds.forEach { close($0) }
        if fd >= 0 && fds[0].revents != 0 {
            var buf = [UInt8](repeating: 0, count: 4096)
            _ = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        }
    }
}
