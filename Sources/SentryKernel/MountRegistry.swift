// The seam between the Sentry's VFS and the trees other parts of the Sentry generate: /proc and /sys
// (rendered by bulwark-procfs), /dev/pts (pseudo-terminals), and character devices under /dev that are
// not plain data sinks (ptmx, tty). The VFS owns path resolution and consults this registry; providers
// register once at start-up and never see host paths.
import Glibc

/// A file system whose tree is generated rather than stored. The VFS hands it paths relative to its
/// mount point: "" is the mount's root, components are separated by "/", and "." / ".." are already
/// gone. Symlinks inside the tree are reported by `stat` (S_IFLNK) and followed by the VFS using
/// `readlink`'s text, except magic links (see `openMagicLink`).
protocol SyntheticMount: AnyObject {
    /// Name shown in /proc/mounts' type column ("proc", "sysfs", "devpts").
    var fsType: String { get }
    /// lstat of the entry at `rel`; 0 or -errno (ENOENT when absent).
    func stat(_ t: Task, _ rel: String, _ st: inout stat) -> Int32
    /// The target text of the symlink at `rel`; EINVAL when it is not a symlink.
    func readlink(_ t: Task, _ rel: String) -> KResult<String>
    /// Opens the file or directory at `rel` (never a symlink: the VFS has followed it already, or
    /// asked `openMagicLink`). Directories must return an `isDirectory` file whose getdents lists them.
    func open(_ t: Task, _ rel: String, flags: Int32) -> KResult<FileDescription>
    /// For a magic link (/proc/<pid>/fd/N, exe, cwd, root): the file it stands for, opened directly
    /// instead of by following its text (which may be "pipe:[12]"). nil for an ordinary symlink.
    func openMagicLink(_ t: Task, _ rel: String, flags: Int32) -> KResult<FileDescription>?
}

/// Opens a character device under /dev (name relative to /dev, e.g. "ptmx", "tty").
typealias DeviceOpener = (_ t: Task, _ flags: Int32) -> KResult<FileDescription>

final class MountRegistry {
    /// Synthetic trees by absolute mount point ("/proc", "/sys", "/dev/pts").
    private(set) var synthetic: [(mountPoint: String, fs: SyntheticMount)] = []
    /// Character devices by name relative to /dev, with their st_rdev (major << 8 | minor).
    private(set) var devices: [String: (rdev: UInt64, open: DeviceOpener)] = [:]

    func mount(_ fs: SyntheticMount, at mountPoint: String) {
        synthetic.removeAll { $0.mountPoint == mountPoint }
        synthetic.append((mountPoint, fs))
    }

    func register(device name: String, rdev: UInt64, _ open: @escaping DeviceOpener) {
        devices[name] = (rdev, open)
    }

    /// The synthetic mount holding the normalized absolute `path`, and the path relative to it
    /// (the longest mount point wins).
    func find(_ path: String) -> (fs: SyntheticMount, rel: String)? {
        var best: (fs: SyntheticMount, rel: String, length: Int)? = nil
        for m in synthetic {
            let rel: String
            if path == m.mountPoint { rel = "" }
            else if path.hasPrefix(m.mountPoint + "/") { rel = String(path.dropFirst(m.mountPoint.count + 1)) }
            else { continue }
            if best == nil || m.mountPoint.count > best!.length { best = (m.fs, rel, m.mountPoint.count) }
        }
        return best.map { ($0.fs, $0.rel) }
    }
}
