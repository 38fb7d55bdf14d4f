// Undoing the signal state a process inherits across exec (the blocked mask and ignored signals).
import CBulwark

extension Signals {
    /// Unblocks all signals and restores the default action of inherited ignored ones, so a service
    /// spawned from a thread that blocks signals (as test runners and some launchers do) still stops
    /// on SIGTERM. Handlers this process installed itself are left alone.
    public static func resetInherited() throws(HostError) {
        _ = try hostCall("sigprocmask") { bw_reset_inherited_signals() }
    }
}
