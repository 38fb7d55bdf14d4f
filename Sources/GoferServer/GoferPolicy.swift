// The gofer's seccomp additions to ServiceKit's base policy: one reason per syscall. Every host call
// the handlers make is a raw syscall from bulwark_gofer.h, so this list is exact.
import HostOS

public enum GoferPolicy {
    public static let policy = SeccompPolicy(name: "gofer", rules: [
        SeccompRule("openat2", "confined lookups (RESOLVE_BENEATH|NO_SYMLINKS|NO_MAGICLINKS) and reopening nodes via /proc/self/fd"),
        SeccompRule("statx", "Stat, Walk: attributes of O_PATH nodes"),
        SeccompRule("mkdirat", "Mkdir"),
        SeccompRule("mknodat", "Mknod (FIFOs and sockets only, checked before the call)"),
        SeccompRule("symlinkat", "Symlink"),
        SeccompRule("linkat", "Link (through the node's /proc/self/fd entry)"),
        SeccompRule("unlinkat", "Unlink, rmdir, undoing a failed Create"),
        SeccompRule("renameat2", "Rename with NOREPLACE/EXCHANGE"),
        SeccompRule("readlinkat", "Readlink on a symlink node"),
        SeccompRule("fchmodat", "SetAttr mode"),
        SeccompRule("fchownat", "SetAttr uid/gid, owners of new files"),
        SeccompRule("utimensat", "SetAttr atime/mtime"),
        SeccompRule("ftruncate", "SetAttr size"),
        SeccompRule("lseek", "Getdents: position at the client's cookie"),
        SeccompRule("getdents64", "Getdents"),
        SeccompRule("fstatfs", "StatFS"),
        SeccompRule("fsync", "Fsync"),
        SeccompRule("fdatasync", "Fsync with dataOnly"),
        SeccompRule("fallocate", "Fallocate"),
        SeccompRule("getxattr", "GetXattr (user.* only)"),
        SeccompRule("setxattr", "SetXattr (user.* only)"),
        SeccompRule("listxattr", "ListXattr"),
        SeccompRule("removexattr", "RemoveXattr (user.* only)"),
        SeccompRule("inotify_init1", "HostWatch: the host inotify instance (made once)"),
        SeccompRule("inotify_add_watch", "HostWatch on a node's /proc/self/fd path"),
        SeccompRule("read", "HostEvents: reading the inotify instance"),
        SeccompRule("dup", "HostWatch: the inotify descriptor donated for readiness"),
    ])
}
