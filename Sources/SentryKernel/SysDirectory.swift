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
        // From the kept location: a renamed ancestor shows its new name, as on Linux.
        if let l = fsctx.cwdLoc, !l.dentry.dead { fsctx.cwd = cwdPath(l) }
        let b = Array(fsctx.cwd.utf8) + [0]
        guard size >= b.count else { return errno(ERANGE) }
        return b.withUnsafeBytes { mm.copyOut(buf, $0.baseAddress!, b.count) } ? b.count : errno(EFAULT)
    }

    func changeDirectory(_ l: VLocation) -> Int {
        guard l.inode.isDir else { return errno(ENOTDIR) }
        if !kernel.vfs.maySearch(self, l) { return errno(EACCES) }
        fsctx.cwd = cwdPath(l)
        fsctx.cwdLoc = l
        return 0
    }

    /// The path of `l` as this task sees it; "(unreachable)" prefix when outside its root (chroot).
    func cwdPath(_ l: VLocation) -> String {
        guard let r = fsctx.root else { return kernel.vfs.pathOf(l) }
        var c = l
        let vfs = kernel.vfs
        while !(c == r) {
            let up = vfs.parentOf(c, root: vfs.root)
            if up == c { return "(unreachable)" + vfs.pathOf(l) }
            c = up
        }
        return vfs.pathOf(l, root: r)
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

    /// chroot: the sandbox's root user (CAP_SYS_CHROOT) changes this process's root; the working
    /// directory stays where it is (as on Linux, it may be outside the new root).
    func sysChroot(_ pathAddr: UInt64) -> Int {
        switch targetArgs(AT_FDCWD_, pathAddr, flags: 0) {
        case .failure(let e): return errno(e)
        case .success(.file): return errno(ENOTDIR)
        case .success(.loc(let l)):
            guard l.inode.isDir else { return errno(ENOTDIR) }
            if !kernel.vfs.maySearch(self, l) { return errno(EACCES) }
            guard tg.cred.has(Cap.sysChroot) else { return errno(EPERM) }
            if fsctx.cwdLoc == nil { _ = cwdLocation() }   // keep the cwd where it is, not re-resolved in the new root
            fsctx.root = l
            return 0
        }
    }

    /// pivot_root(new_root, put_old): the new root must be a mount's root other than the current
    /// root, put_old at or below it. Every process whose root (or cwd) was the old root moves to the
    /// new one, and the old root is bind-mounted at put_old (umount -l put_old drops it).
    func sysPivotRoot(_ newAddr: UInt64, _ oldAddr: UInt64) -> Int {
        let vfs = kernel.vfs
        guard tg.cred.has(Cap.sysAdmin) else { return errno(EPERM) }   // checked before the paths, as Linux does
        let newRoot: VLocation, putOld: VLocation
        switch targetArgs(AT_FDCWD_, newAddr, flags: 0) {
        case .failure(let e): return errno(e)
        case .success(.file): return errno(ENOTDIR)
        case .success(.loc(let l)): newRoot = l
        }
        switch targetArgs(AT_FDCWD_, oldAddr, flags: 0) {
        case .failure(let e): return errno(e)
        case .success(.file): return errno(ENOTDIR)
        case .success(.loc(let l)): putOld = l
        }
        guard newRoot.inode.isDir, putOld.inode.isDir else { return errno(ENOTDIR) }
        let oldRoot = vfs.rootOf(self)
        // Neither may be on the current root's mount; the current root and new_root must be mount points.
        if newRoot.mount === oldRoot.mount || putOld.mount === oldRoot.mount { return errno(EBUSY) }
        guard oldRoot.dentry === oldRoot.mount.root, newRoot.dentry === newRoot.mount.root, newRoot.mount.parent != nil else { return errno(EINVAL) }
        // put_old must be at or underneath new_root.
        var c = putOld
        while !(c == newRoot) {
            let up = vfs.parentOf(c, root: vfs.root)
            if up == c { return errno(EINVAL) }
            c = up
        }
        vfs.place(root: oldRoot.dentry, on: putOld, fsType: oldRoot.mount.fsType, source: oldRoot.mount.source, readOnly: oldRoot.mount.readOnly)
        for t in kernel.tasks.values {
            if vfs.rootOf(t) == oldRoot { t.fsctx.root = newRoot }
            if let cl = t.fsctx.cwdLoc, cl == oldRoot { t.fsctx.cwdLoc = newRoot; t.fsctx.cwd = "/" }
        }
        return 0
    }
}
