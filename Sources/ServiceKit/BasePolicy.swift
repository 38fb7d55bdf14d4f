// The host syscalls every service needs once it serves requests (the seccomp base, as data).
// Anything before the filter (argument parsing, socket setup, capability drop) is not listed.
import HostOS

public enum ServiceKitPolicy {
    public static let base = SeccompPolicy(name: "servicekit", rules: [
        SeccompRule("recvmsg", "receive requests and their descriptors"),
        SeccompRule("sendmsg", "send replies and descriptors"),
        // Level SOL_SOCKET only (session 6, netsec): no SOL_PACKET option (e.g. promiscuous membership) on
        // the netstack's link socket; a netstack in --network host mode adds setsockopt at every level.
        SeccompRule("setsockopt", "SO_RCVTIMEO/SO_SNDTIMEO per channel", argument: 1, equals: 1),
        SeccompRule("accept4", "--listen mode: accept debugging clients"),
        SeccompRule("epoll_create1", "--listen mode: the one epoll set, made when serving starts"),
        SeccompRule("epoll_wait", "--listen mode: wait for connections and requests"),
        SeccompRule("epoll_ctl", "--listen mode: add and remove connections"),
        SeccompRule("close", "close descriptors after passing them and finished connections"),
        SeccompRule("write", "diagnostics on stderr"),
        SeccompRule("mmap", "the allocator: new arenas and large blocks"),
        SeccompRule("munmap", "the allocator: release large blocks"),
        SeccompRule("mremap", "the allocator: grow large blocks"),
        SeccompRule("mprotect", "the allocator: arena setup"),
        SeccompRule("brk", "the allocator: main heap"),
        SeccompRule("madvise", "the allocator: return free pages"),
        SeccompRule("futex", "Swift runtime and allocator locks"),
        SeccompRule("gettid", "Synchronization.Mutex records its owner thread id in the lock word (seen: netstack driver thread killed by SIGSYS on gettid)"),
        SeccompRule("getrandom", "Swift's per-process hash seed (first Dictionary/Set use)"),
        SeccompRule("clock_gettime", "deadlines (vDSO fallback)"),
        SeccompRule("exit", "thread exit"),
        SeccompRule("exit_group", "process exit"),
    ])
}
