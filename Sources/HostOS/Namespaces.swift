// Linux namespaces for the launcher: the Sentry and the Gofer will be started inside new user, mount,
// pid, ipc and uts namespaces. unshare/setns affect the calling thread (and must be called while the
// process is single-threaded for mount/user namespaces), so real use is from a freshly spawned process.
import CBulwark
import Glibc

public enum Namespaces {
    /// A set of namespace kinds (CLONE_NEW* flags).
    public struct Kinds: OptionSet, Sendable {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }
        public static let mount = Kinds(rawValue: Int32(BW_CLONE_NEWNS))
        public static let uts = Kinds(rawValue: Int32(BW_CLONE_NEWUTS))
        public static let ipc = Kinds(rawValue: Int32(BW_CLONE_NEWIPC))
        public static let user = Kinds(rawValue: Int32(BW_CLONE_NEWUSER))
        public static let pid = Kinds(rawValue: Int32(BW_CLONE_NEWPID))
        public static let network = Kinds(rawValue: Int32(BW_CLONE_NEWNET))
        public static let cgroup = Kinds(rawValue: Int32(BW_CLONE_NEWCGROUP))
        public static let time = Kinds(rawValue: Int32(BW_CLONE_NEWTIME))

        /// The OCI config.json name of a single kind ("mount", "network", ...), or nil.
        public init?(ociName: String) {
            switch ociName {
            case "mount": self = .mount
            case "uts": self = .uts
            case "ipc": self = .ipc
            case "user": self = .user
            case "pid": self = .pid
            case "network": self = .network
            case "cgroup": self = .cgroup
            case "time": self = .time
            default: return nil
            }
        }
    }

    /// unshare(2).
    public static func unshare(_ kinds: Kinds) throws(HostError) {
        _ = try hostCall("unshare") { bw_unshare(kinds.rawValue) }
    }

    /// setns(2): join the namespace `fd` refers to (an open /proc/<pid>/ns/<kind>); `kind` may be empty
    /// to accept any kind.
    public static func enter(_ fd: borrowing OwnedFD, kind: Kinds = []) throws(HostError) {
        _ = try hostCall("setns") { bw_setns(fd.rawValue, kind.rawValue) }
    }

    /// Opens /proc/<pid>/ns/<name> (name as in that directory: mnt, uts, ipc, user, pid, net, cgroup, time).
    public static func open(pid: Int32, name: String) throws(HostError) -> OwnedFD {
        try FileSystem.open("/proc/\(pid)/ns/\(name)", flags: O_RDONLY)
    }
}
