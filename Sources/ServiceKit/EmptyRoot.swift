// `--empty-root`: a service that needs no file after setup (procfs, netstack) leaves the host's file
// system: a small read-only tmpfs becomes its root (pivot_root(".", ".") then a lazy unmount of the old
// root, as pivot_root(2) describes), so a compromised service finds no host file to open even if its
// seccomp policy allowed open. Only in a private mount namespace (the launcher's supervisor starts the
// service in one and passes the flag only then): the tmpfs mount must not appear in the host's mount table.
import Glibc
import HostOS

enum EmptyRoot {
    static func enter() throws(HostError) {
        // Any existing directory serves as the mount point; the tmpfs hides it only in our namespace.
        let candidates: [String] = ["/tmp", "/mnt", "/dev", "/proc"]
        var found: String?
        for path in candidates {
            var st = stat()
            if stat(path, &st) == 0 && st.st_mode & S_IFMT == S_IFDIR {
                found = path
                break
            }
        }
        guard let point = found else { throw HostError(call: "empty root: no directory to mount on", errno: .ENOENT) }
        try Mount.mount(source: "bulwark-empty", target: point, type: "tmpfs", flags: [.noSuid, .noDev, .noExec],
                        data: "size=4k,nr_inodes=4,mode=0555")
        _ = try hostCall("chdir") { chdir(point) }
        try Mount.pivotRoot(".", putOld: ".")
        try Mount.unmount(".", detach: true)
        _ = try hostCall("chdir") { chdir("/") }
        try Mount.mount(source: nil, target: "/", type: nil, flags: [.remount, .readOnly, .noSuid, .noDev, .noExec])
    }
}
