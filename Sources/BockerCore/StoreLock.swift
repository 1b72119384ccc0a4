import Glibc

/// The store lock: an exclusive flock on `<root>/lock`, held while the store changes. The
/// kernel drops it when its holder dies, so a killed bocker never leaves the store locked.
/// Threads of one process (a build's parallel stages) take turns through a recursive mutex:
/// flock alone would let them all in at once (they share the open file).
public final class StoreLock {
    private var fd: Int32 = -1
    private var depth = 0
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    public let path: String

    public init(path: String) {
        self.path = path
        mutex = .allocate(capacity: 1)
        var attr = pthread_mutexattr_t()
        pthread_mutexattr_init(&attr)
        pthread_mutexattr_settype(&attr, Int32(PTHREAD_MUTEX_RECURSIVE))
        pthread_mutex_init(mutex, &attr)
        pthread_mutexattr_destroy(&attr)
    }

    deinit {
        if fd >= 0 { close(fd) }
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs body with the lock held (re-entrant within this process).
    public func withLock<T>(_ body: () throws -> T) throws -> T {
        try acquire()
        defer { release() }
        return try body()
    }

    public func acquire() throws {
        pthread_mutex_lock(mutex)
        if depth > 0 { depth += 1; return }
        if fd < 0 {
            fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                pthread_mutex_unlock(mutex)
                throw BockerError.errno("cannot open lock '\(path)'", code: .io)
            }
        }
        while flock(fd, LOCK_EX) != 0 {
            if errno != EINTR {
                pthread_mutex_unlock(mutex)
                throw BockerError.errno("cannot lock '\(path)'", code: .io)
            }
        }
        depth = 1
    }

    public func release() {
        guard depth > 0 else { return }
        depth -= 1
        if depth == 0 { flock(fd, LOCK_UN) }
        pthread_mutex_unlock(mutex)
    }
}
