import Glibc

/// The store lock: an exclusive flock on `<root>/lock`, held while the store changes. The
/// kernel drops it when its holder dies, so a killed bocker never leaves the store locked.
public final class StoreLock {
    private var fd: Int32 = -1
    private var depth = 0
    public let path: String

    public init(path: String) { self.path = path }

    deinit { if fd >= 0 { close(fd) } }

    /// Runs body with the lock held (re-entrant within this process).
    public func withLock<T>(_ body: () throws -> T) throws -> T {
        try acquire()
        defer { release() }
        return try body()
    }

    public func acquire() throws {
        if depth > 0 { depth += 1; return }
        if fd < 0 {
            fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw BockerError.errno("cannot open lock '\(path)'", code: .io) }
        }
        while flock(fd, LOCK_EX) != 0 {
            if errno != EINTR { throw BockerError.errno("cannot lock '\(path)'", code: .io) }
        }
        depth = 1
    }

    public func release() {
        guard depth > 0 else { return }
        depth -= 1
        if depth == 0 { flock(fd, LOCK_UN) }
    }
}
