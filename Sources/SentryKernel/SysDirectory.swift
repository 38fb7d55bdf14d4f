// Directories: getdents64, getcwd, chdir, fchdir, mkdir/mkdirat, rmdir, chroot.
import Glibc

extension Task {
    func sysGetdents64(_ fd: Int, _ buf: UInt64, _ count: Int) -> Int {
        guard let f = fds.get(fd) else { return errno(EBADF) }
        if f is PathFile { return errno(EBADF) }
        guard f.isDirectory else { return errno(ENOTDIR) }
        let n = min(max(count, 0), 1 << 20)
        let tmp = scratch(n)
        let r = f.getdents(tmp)
        if r > 0 && !mm.copyOut(buf, tmp.baseAddress!, r) { return errno(EFAULT) }
        return r
    }

    func sysGetcwd(_ buf: UInt64, _ size: Int) -> Int {
        let b = Array(fsctx.cwd.utf8) + [0]
        guard size >= b.count else { return errno(ERANGE) }
        return b.withUnsafeBytes { mm.copyOut(buf, $0.baseAddress!, b.count) } ? b.count : errno(EFAULT)
    }

    func changeDirectory(_ l: VLocation) -> Int {
        guard l.inode.isDir else { return errno(ENOTDIR) }
        if !kernel.vfs.maySearch(self, l) { return errno(EACCES) }
        fsctx.cwd = kernel.vfs.pathOf(l)
        return 0
    }

    func sysChdir(_ pathAddr: UInt64) -> Int {
        switch targetArgs(AT_FDCWD_, pathAddr, flags: 0) {
        case .failure(let e): return errno(e)
        case .success(.file): return errno(ENOTDIR)
        case .success(.loc(let l)): return changeDirectory(l)
        }
    }

    func sysFchdir(_ fd: Int) -> Int {
        guard let f = fds.get(fd) else { return errno(EBADF) }
        guard let l = f.location else { return errno(ENOTDIR) }
        return changeDirectory(l)
    }

    func sysMkdirat(_ dirfd: Int32, _ pathAddr: UInt64, _ mode: UInt32) -> Int {
        let start: VLocation, path: String
        switch pathArgs(dirfd, pathAddr) { case .failure(let e): return errno(e); case .success(let r): (start, path) = r }
        return Int(kernel.vfs.mkdir(self, at: start, path, mode: mode & 0o7777 & ~fsctx.umask))
    }

    /// chroot: changing the root is not offered (EPERM without CAP_SYS_CHROOT, as for an
    /// unprivileged process); the path is still checked so errors match.
    func sysChroot(_ pathAddr: UInt64) -> Int {
        switch targetArgs(AT_FDCWD_, pathAddr, flags: 0) {
        case .failure(let e): return errno(e)
        case .success(.file): return errno(ENOTDIR)
        case .success(.loc(let l)):
            guard l.inode.isDir else { return errno(ENOTDIR) }
            return errno(EPERM)
        }
    }
}
