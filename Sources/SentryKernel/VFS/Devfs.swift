// /dev: a tmpfs holding the Sentry's character devices (null, zero, full, random, urandom), the
// fd/stdin/stdout/stderr links, and directories for /dev/pts and /dev/shm. Devices registered with
// `kernel.mounts.register(device:)` (ptmx, tty, console...) appear here by name and open through
// their opener.
import Glibc

enum DeviceTable {
    static func rdev(_ major: UInt64, _ minor: UInt64) -> UInt64 { major << 8 | minor }

    static func open(_ t: Task?, rdev: UInt64, flags: Int32) -> KResult<FileDescription> {
        switch rdev {
        case DeviceTable.rdev(1, 3): return .success(DeviceFile(.null, flags: flags))
        case DeviceTable.rdev(1, 5): return .success(DeviceFile(.zero, flags: flags))
        case DeviceTable.rdev(1, 7): return .success(DeviceFile(.full, flags: flags))
        case DeviceTable.rdev(1, 8), DeviceTable.rdev(1, 9): return .success(DeviceFile(.random, flags: flags))
        default:
            guard let t, let reg = Kernel.shared?.mounts else { return .failure(ENXIO) }
            guard let d = reg.devices.values.first(where: { $0.rdev == rdev }) else { return .failure(ENXIO) }
            return d.open(t, flags)
        }
    }
}

/// The root directory of devfs: registered devices materialize as nodes when first looked up.
final class DevfsRoot: TmpfsNode {
    init() {
        super.init(kind: .dir, mode: 0o755, dev: 0x5)
        for (name, minor) in [("null", 3), ("zero", 5), ("full", 7), ("random", 8), ("urandom", 9)] {
            _ = mknod(name, mode: S_IFCHR | 0o666, rdev: DeviceTable.rdev(1, UInt64(minor)), uid: 0, gid: 0)
        }
        _ = symlink("fd", target: "/proc/self/fd", uid: 0, gid: 0)
        _ = symlink("stdin", target: "/proc/self/fd/0", uid: 0, gid: 0)
        _ = symlink("stdout", target: "/proc/self/fd/1", uid: 0, gid: 0)
        _ = symlink("stderr", target: "/proc/self/fd/2", uid: 0, gid: 0)
        _ = mkdir("pts", mode: 0o755, uid: 0, gid: 0)
        _ = mkdir("shm", mode: 0o1777, uid: 0, gid: 0)
    }

    private func materialize() {
        guard let reg = Kernel.shared?.mounts else { return }
        for (name, d) in reg.devices where !name.contains("/") && children[name] == nil {
            _ = mknod(name, mode: S_IFCHR | 0o666, rdev: d.rdev, uid: 0, gid: 0)
        }
    }

    override func lookup(_ t: Task?, _ name: String) -> KResult<VInode> {
        if children[name] == nil { materialize() }
        return super.lookup(t, name)
    }
    override func readdir(_ t: Task?) -> KResult<[VDirEntry]> {
        materialize()
        return super.readdir(t)
    }
}
