// Blocking signals and taking them synchronously (sigtimedwait), so the launcher's supervisor can forward
// signals to its child and reap it without any Swift code running in a signal handler.
import CBulwark
import Glibc

public enum Signals {
    /// The signals a supervisor forwards to its child (and SIGCHLD), as a blocked set.
    public static func forwardableSet() -> sigset_t {
        var set = sigset_t()
        _ = bw_sigset_fill_forwardable(&set)
        return set
    }

    /// Blocks `set` in the calling thread (threads created later inherit the mask).
    public static func block(_ set: sigset_t) throws(HostError) {
        var copy = set
        _ = try hostCall("sigprocmask") { bw_sigprocmask_block(&copy) }
    }

    /// Unblocks `set` in the calling thread.
    public static func unblock(_ set: sigset_t) throws(HostError) {
        var copy = set
        _ = try hostCall("sigprocmask") { bw_sigprocmask_unblock(&copy) }
    }

    /// Waits up to `milliseconds` for a signal of `set` (which must be blocked); nil on timeout.
    public static func wait(_ set: sigset_t, milliseconds: Int) throws(HostError) -> Int32? {
        var copy = set
        do throws(HostError) {
            return try hostCall("sigtimedwait", retryOnInterrupt: true) {
                bw_sigtimedwait_ms(&copy, milliseconds)
            }
        } catch where error.errno == .EAGAIN {
            return nil
        }
    }

    /// Ends this process with `signal`, as if it had been delivered with the default action.
    /// Falls back to exit(128 + signal) for signals whose default action is not to terminate.
    public static func dieBySignal(_ signal: Int32) -> Never {
        bw_die_by_signal(signal)
        exit(128 + signal)
    }
}
