import Glibc

/// The body a worker thread runs, passed through pthread_create's context pointer.
private final class ThreadBody {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}

/// Plain pthreads for the few places that fan work out (parallel downloads, uploads, layer
/// packing): Dispatch is not linked into the start-up path.
public enum WorkerThreads {
    /// Starts `count` threads that each run `body` once; returns the handles of those that
    /// started (the caller joins them, and does the work itself when none could start).
    public static func start(_ count: Int, _ body: @escaping () -> Void) -> [pthread_t] {
        var threads: [pthread_t] = []
        for _ in 0..<max(0, count) {
            var t = pthread_t()
            let box = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
            if pthread_create(&t, nil, { arg in
                Unmanaged<ThreadBody>.fromOpaque(arg!).takeRetainedValue().run()
                return nil
            }, box) == 0 {
                threads.append(t)
            } else {
                Unmanaged<ThreadBody>.fromOpaque(box).release()
            }
        }
        return threads
    }
}
