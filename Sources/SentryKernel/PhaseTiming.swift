// Per-phase timing of the process life cycle (fork, exec, stub hand-over), for profiling only:
// BULWARK_SENTRY_TIMING=1 makes the Sentry add up the time of each phase and print one line per phase
// (count, total, mean) on stderr when init exits. Off, a phase costs one predictable branch.
import Glibc

enum PhaseTiming {
    static let enabled = getenv("BULWARK_SENTRY_TIMING") != nil
    nonisolated(unsafe) private static var totals: [String: (count: Int, ns: Int64)] = [:]
    nonisolated(unsafe) private static var order: [String] = []
    nonisolated(unsafe) private static let mutex: UnsafeMutablePointer<pthread_mutex_t> = {
        let m = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        pthread_mutex_init(m, nil)
        return m
    }()

    @inline(__always) static func now() -> Int64 {
        guard enabled else { return 0 }
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    /// Adds the time since `start` (a value of now()) to `phase`.
    @inline(__always) static func add(_ phase: StaticString, since start: Int64) {
        guard enabled else { return }
        record(phase.description, now() - start)
    }

    private static func record(_ phase: String, _ ns: Int64) {
        pthread_mutex_lock(mutex)
        if totals[phase] == nil { order.append(phase) }
        var t = totals[phase] ?? (0, 0)
        t.count += 1
        t.ns += ns
        totals[phase] = t
        pthread_mutex_unlock(mutex)
    }

    static func report() {
        guard enabled else { return }
        pthread_mutex_lock(mutex)
        for p in order {
            let t = totals[p]!
            let mean = t.count > 0 ? t.ns / Int64(t.count) : 0
            fputs("bulwark-sentry timing: \(p) count \(t.count) total \(t.ns / 1000) us mean \(mean / 1000) us\n", stderr)
        }
        pthread_mutex_unlock(mutex)
    }
}
