// A test hook for the seccomp policies (issue 6: "each service's seccomp policy is in force"): with
// BULWARK_TEST_SECCOMP_PROBE=NAME[:N] in its host environment, the process NAME (gofer, procfs,
// netstack or sentry) makes one host system call that no allowlist grants, while handling its Nth
// request (default 1), so a test can watch it die by SIGSYS. The variable is read from the host
// environment given by whoever starts the launcher; the sandboxed application's environment is built
// from config.json and never reaches host processes, so the application cannot arm it.
import CBulwark
import Glibc

public enum SeccompProbe {
    public static let variable = "BULWARK_TEST_SECCOMP_PROBE"

    /// The request number at which `name` should probe, or nil when the hook is not armed for it.
    public static func armed(for name: String) -> Int? {
        guard let raw = getenv(variable) else { return nil }
        let text = String(cString: raw)
        // NAME:N:CALL (CALL chooses the forbidden call, see callForbiddenSyscall): N is the middle part.
        let parts = text.split(separator: ":", maxSplits: 2).prefix(2).map(String.init)
        let short = name.hasPrefix("bulwark-") ? String(name.dropFirst("bulwark-".count)) : name
        guard let first = parts.first, first == short else { return nil }
        if parts.count == 2 { return Int(parts[1]).flatMap { $0 >= 1 ? $0 : nil } ?? 1 }
        return 1
    }

    /// syslog(SYSLOG_ACTION_SIZE_BUFFER): harmless if it ever ran, and in no allowlist, so under a
    /// policy the process dies by SIGSYS here. Returns only when no filter is installed.
    /// With `NAME:N:packet-socket` the call is socket(AF_PACKET, SOCK_RAW, ETH_P_ALL) instead (session 6,
    /// netsec: the netstack must not open a host socket; its link comes from the supervisor).
    @discardableResult
    public static func callForbiddenSyscall() -> Int {
        if let raw = getenv(variable), String(cString: raw).hasSuffix(":packet-socket") {
            return bw_syscall6(Int(SYS_socket), Int(AF_PACKET), Int(SOCK_RAW.rawValue), 0x0300, 0, 0, 0)   // htons(ETH_P_ALL)
        }
        // `NAME:N:packet-option`: setsockopt(-1, SOL_PACKET, PACKET_ADD_MEMBERSHIP, NULL, 0) (EBADF if it ran).
        if let raw = getenv(variable), String(cString: raw).hasSuffix(":packet-option") {
            return bw_syscall6(Int(SYS_setsockopt), -1, 263, 1, 0, 0, 0)
        }
        return bw_syscall6(Int(SYS_syslog), 10, 0, 0, 0, 0, 0)
    }
}
