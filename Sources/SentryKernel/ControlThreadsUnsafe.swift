// Detached host threads for the Control server (pthreads, not Swift concurrency: the Sentry manages
// its own threads, see Kernel.swift).
import Glibc

private final class ThreadBody {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}

/// Starts `body` on a new detached pthread with a 1 MiB stack.
func spawnThread(_ body: @escaping () -> Void) {
    // SAFETY: the retained box is handed to the new thread, which takes it back exactly once; on
    // failure it is released here instead.
    let box = Unmanaged.passRetained(ThreadBody(body))
    var attr = pthread_attr_t()
    pthread_attr_init(&attr)
    pthread_attr_setstacksize(&attr, 1 << 20)
    var th = pthread_t()
    let rc = pthread_create(&th, &attr, { arg in
        let body = Unmanaged<ThreadBody>.fromOpaque(arg!).takeRetainedValue()
        body.run()
        return nil
    }, box.toOpaque())
    pthread_attr_destroy(&attr)
    if rc != 0 {
        box.release()
        return
    }
    pthread_detach(th)
}
