// PR_SET_CHILD_SUBREAPER: orphaned descendants are reparented to this process instead of the host's
// init, so the launcher's supervisor reaps (and learns the exit status of) every process the services
// leave behind, not only the services it started itself.
import CBulwark

public enum Subreaper {
    public static func become() throws(HostError) {
        _ = try hostCall("prctl(PR_SET_CHILD_SUBREAPER)") { bw_prctl(36, 1, 0, 0, 0) }
    }
}
