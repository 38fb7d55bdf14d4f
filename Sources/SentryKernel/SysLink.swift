// Names: unlink/unlinkat/rmdir, rename/renameat/renameat2 (NOREPLACE, EXCHANGE), link/linkat,
// symlink/symlinkat, mknod/mknodat (FIFOs, sockets; devices only for root).
import Glibc

extension Task {
    func sysUnlinkat(_ dirfd: Int32, _ pathAddr: UInt64, _ flags: Int32) -> Int {
        guard flags & ~0x200 == 0 else { return errno(EINVAL) }
        let start: VLocation, path: String
        switch pathArgs(dirfd, pathAddr) { case .failure(let e): return errno(e); case .success(let r): (start, path) = r }
        return Int(kernel.vfs.unlink(self, at: start, path, dir: flags & 0x200 != 0))
    }

    func sysRenameat2(_ olddir: Int32, _ oldAddr: UInt64, _ newdir: Int32, _ newAddr: UInt64, _ flags: UInt32) -> Int {
        guard flags & ~UInt32(3) == 0, flags != 3 else { return errno(EINVAL) }
        let os: VLocation, op: String, ns: VLocation, np: String
        switch pathArgs(olddir, oldAddr) { case .failure(let e): return errno(e); case .success(let r): (os, op) = r }
        switch pathArgs(newdir, newAddr) { case .failure(let e): return errno(e); case .success(let r): (ns, np) = r }
        return Int(kernel.vfs.rename(self, oldAt: os, op, newAt: ns, np, flags: flags))
    }

    func sysLinkat(_ olddir: Int32, _ oldAddr: UInt64, _ newdir: Int32, _ newAddr: UInt64, _ flags: Int32) -> Int {
        guard flags & ~(0x400 | AT_EMPTY_PATH_) == 0 else { return errno(EINVAL) }
        let old: VLocation
        switch targetArgs(olddir, oldAddr, flags: flags, followDefault: false) {
        case .failure(let e): return errno(e)
        case .success(.file): return errno(EXDEV)
        case .success(.loc(let l)): old = l
        }
        let ns: VLocation, np: String
        switch pathArgs(newdir, newAddr) { case .failure(let e): return errno(e); case .success(let r): (ns, np) = r }
        if np.utf8.last == UInt8(ascii: "/") { return errno(old.inode.isDir ? EPERM : ENOENT) }
        return Int(kernel.vfs.link(self, old: old, at: ns, np))
    }

    func sysSymlinkat(_ targetAddr: UInt64, _ dirfd: Int32, _ pathAddr: UInt64) -> Int {
        let target: String
        switch readPath(targetAddr) { case .failure(let e): return errno(e); case .success(let t): target = t }
        let start: VLocation, path: String
        switch pathArgs(dirfd, pathAddr) { case .failure(let e): return errno(e); case .success(let r): (start, path) = r }
        return Int(kernel.vfs.symlink(self, target: target, at: start, path))
    }

    func sysMknodat(_ dirfd: Int32, _ pathAddr: UInt64, _ mode: UInt32, _ dev: UInt64) -> Int {
        let type = mode & S_IFMT
        switch type {
        case 0, S_IFREG:
            // mknod of a regular file is an exclusive create.
            let start: VLocation, path: String
            switch pathArgs(dirfd, pathAddr) { case .failure(let e): return errno(e); case .success(let r): (start, path) = r }
            switch kernel.vfs.open(self, at: start, path, flags: O_CREAT | O_EXCL | O_WRONLY, mode: mode & 0o7777 & ~fsctx.umask) {
            case .failure(let e): return errno(e)
            case .success: return 0
            }
        case S_IFIFO, S_IFSOCK: break
        case S_IFCHR, S_IFBLK: break
        case S_IFDIR: return errno(EPERM)
        default: return errno(EINVAL)
        }
        let start: VLocation, path: String
        switch pathArgs(dirfd, pathAddr) { case .failure(let e): return errno(e); case .success(let r): (start, path) = r }
        if (type == S_IFCHR || type == S_IFBLK) && !tg.cred.has(Cap.mknod) {
            // Devices need CAP_MKNOD, checked after the name could be made (EEXIST, EACCES first).
            let e = kernel.vfs.mayCreate(self, at: start, path)
            return e < 0 ? Int(e) : errno(EPERM)
        }
        let major = (dev >> 8) & 0xfff, minor = (dev & 0xff) | ((dev >> 12) & 0xfff00)
        return Int(kernel.vfs.mknod(self, at: start, path, mode: type | (mode & 0o7777 & ~fsctx.umask), rdev: major << 8 | minor))
    }
}
