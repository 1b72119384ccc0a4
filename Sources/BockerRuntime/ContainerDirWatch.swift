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

    deinit { if fd >= 0 { close(fd) } }

    /// Returns once the directory changed, `pid` (when given) exited, or a second passed.
    func sleep(untilExitOf pid: Int32?) {
        var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0)]
        let pidfd = pid.map { bk_pidfd_open($0) } ?? -1
        if pidfd >= 0 { fds.append(pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)) }
        _ = poll(&fds, nfds_t(fds.count), 1000)
        if pidfd >= 0 { close(pidfd) }
        if fd >= 0 && fds[0].revents != 0 {
            var buf = [UInt8](repeating: 0, count: 4096)
            _ = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        }
    }
}
