// Attributes and data sync: chmod family, chown family, utimensat/utimes/futimesat/utime,
// truncate/ftruncate, fallocate, fsync/fdatasync/syncfs/sync/sync_file_range, umask.
import Glibc

extension Task {
    /// The place an fd names, for the f* calls (EBADF when none).
    private func fdLocation(_ fd: Int) -> KResult<VLocation> {
        guard let f = fds.get(fd) else { return .failure(EBADF) }
        guard let l = f.location else { return .failure(f is PipeEnd ? EINVAL : EBADF) }
        return .success(l)
    }

    /// `ownerOnly`: only the owner may, or a caller with `override` (CAP_FOWNER; CAP_CHOWN for chown).
    private func setattrChecked(_ l: VLocation, _ a: VSetAttr, ownerOnly: Bool, override: Int = Cap.fowner) -> Int {
        if ownerOnly && !tg.cred.has(override) {
            var st = Glibc.stat()
            if l.inode.getattr(self, &st) == 0 && st.st_uid != tg.cred.fsuid { return errno(EPERM) }
        }
        if l.inode.fileType == S_IFLNK && (a.mode != nil) { return errno(EOPNOTSUPP) }
        return Int(kernel.vfs.setattr(l, a))
    }

    private func locationArg(_ dirfd: Int32, _ pathAddr: UInt64, flags: Int32) -> KResult<VLocation> {
        switch targetArgs(dirfd, pathAddr, flags: flags) {
        case .failure(let e): return .failure(e)
        case .success(.loc(let l)): return .success(l)
        case .success(.file(let f)): return f.location.map { .success($0) } ?? .failure(EPERM)
        }
    }

    func sysFchmodat(_ dirfd: Int32, _ pathAddr: UInt64, _ mode: UInt32, _ flags: Int32) -> Int {
        switch locationArg(dirfd, pathAddr, flags: flags) {
        case .failure(let e): return errno(e)
        case .success(let l): return setattrChecked(l, VSetAttr(mode: mode & 0o7777), ownerOnly: true)
        }
    }

    func sysFchmod(_ fd: Int, _ mode: UInt32) -> Int {
        switch fdLocation(fd) {
        case .failure(let e): return errno(e)
        case .success(let l): return setattrChecked(l, VSetAttr(mode: mode & 0o7777), ownerOnly: true)
        }
    }

    private func chownAttr(_ uid: UInt32, _ gid: UInt32) -> KResult<VSetAttr> {
        var a = VSetAttr()
        if uid != UInt32.max { a.uid = uid }
        if gid != UInt32.max { a.gid = gid }
        // Without CAP_CHOWN only the owner's own uid, and a group the caller is in, may be given.
        if !tg.cred.has(Cap.chown) {
            if a.uid.map({ $0 != tg.cred.fsuid }) ?? false { return .failure(EPERM) }
            if a.gid.map({ !tg.cred.inGroup($0) }) ?? false { return .failure(EPERM) }
        }
        return .success(a)
    }

    func sysFchownat(_ dirfd: Int32, _ pathAddr: UInt64, _ uid: UInt32, _ gid: UInt32, _ flags: Int32) -> Int {
        guard flags & ~(AT_EMPTY_PATH_ | AT_SYMLINK_NOFOLLOW_) == 0 else { return errno(EINVAL) }
        let a: VSetAttr
        switch chownAttr(uid, gid) { case .failure(let e): return errno(e); case .success(let x): a = x }
        switch locationArg(dirfd, pathAddr, flags: flags) {
        case .failure(let e): return errno(e)
        case .success(let l):
            if l.inode.fileType == S_IFLNK && !(l.inode is TmpfsNode) && !(l.inode is OverlayInode) { return 0 }
            return setattrChecked(l, a, ownerOnly: true, override: Cap.chown)
        }
    }

    func sysFchown(_ fd: Int, _ uid: UInt32, _ gid: UInt32) -> Int {
        let a: VSetAttr
        switch chownAttr(uid, gid) { case .failure(let e): return errno(e); case .success(let x): a = x }
        switch fdLocation(fd) {
        case .failure(let e): return errno(e)
        case .success(let l): return setattrChecked(l, a, ownerOnly: true, override: Cap.chown)
        }
    }

    /// utimensat(dirfd, path, times[2], flags); a NULL path means dirfd itself (futimens).
    func sysUtimensat(_ dirfd: Int32, _ pathAddr: UInt64, _ timesAddr: UInt64, _ flags: Int32) -> Int {
        let utimeNow = (1 << 30) - 1, utimeOmit = (1 << 30) - 2
        var a = VSetAttr()
        if timesAddr == 0 {
            a.atime = timespec(tv_sec: 0, tv_nsec: utimeNow)
            a.mtime = timespec(tv_sec: 0, tv_nsec: utimeNow)
        } else {
            guard let at = mm.read(timesAddr, as: timespec.self), let mt = mm.read(timesAddr + 16, as: timespec.self) else { return errno(EFAULT) }
            for t in [at, mt] where t.tv_nsec != utimeNow && t.tv_nsec != utimeOmit && (t.tv_nsec < 0 || t.tv_nsec > 999_999_999) {
                return errno(EINVAL)
            }
            if at.tv_nsec != utimeOmit { a.atime = at }
            if mt.tv_nsec != utimeOmit { a.mtime = mt }
        }
        return setTimes(dirfd, pathAddr, a, flags: flags)
    }

    func setTimes(_ dirfd: Int32, _ pathAddr: UInt64, _ a: VSetAttr, flags: Int32) -> Int {
        let l: VLocation
        if pathAddr == 0 {
            switch fdLocation(Int(dirfd)) { case .failure(let e): return errno(e); case .success(let x): l = x }
        } else {
            switch locationArg(dirfd, pathAddr, flags: flags) { case .failure(let e): return errno(e); case .success(let x): l = x }
        }
        if a.atime == nil && a.mtime == nil { return 0 }
        // Setting both times to "now" needs only write permission; explicit times need ownership.
        let now = (1 << 30) - 1
        if !tg.cred.has(Cap.fowner) && !l.mount.readOnly && (a.atime?.tv_nsec ?? now) == now && (a.mtime?.tv_nsec ?? now) == now {
            var st = Glibc.stat()
            if l.inode.getattr(self, &st) == 0 && st.st_uid != tg.cred.fsuid {
                return permitted(self, st, 2) ? Int(kernel.vfs.setattr(l, a)) : errno(EACCES)
            }
        }
        return setattrChecked(l, a, ownerOnly: true)
    }

    /// utimes/futimesat: struct timeval[2] (NULL = now).
    func sysFutimesat(_ dirfd: Int32, _ pathAddr: UInt64, _ tvAddr: UInt64) -> Int {
        var a = VSetAttr()
        if tvAddr == 0 {
            a.atime = timespec(tv_sec: 0, tv_nsec: (1 << 30) - 1)
            a.mtime = a.atime
        } else {
            guard let at = mm.read(tvAddr, as: timeval.self), let mt = mm.read(tvAddr + 16, as: timeval.self) else { return errno(EFAULT) }
            for t in [at, mt] where t.tv_usec < 0 || t.tv_usec >= 1_000_000 { return errno(EINVAL) }
            a.atime = timespec(tv_sec: at.tv_sec, tv_nsec: Int(at.tv_usec) * 1000)
            a.mtime = timespec(tv_sec: mt.tv_sec, tv_nsec: Int(mt.tv_usec) * 1000)
        }
        return setTimes(dirfd, pathAddr, a, flags: 0)
    }

    /// utime: struct utimbuf { actime; modtime } (NULL = now).
    func sysUtime(_ pathAddr: UInt64, _ bufAddr: UInt64) -> Int {
        var a = VSetAttr()
        if bufAddr == 0 {
            a.atime = timespec(tv_sec: 0, tv_nsec: (1 << 30) - 1)
            a.mtime = a.atime
        } else {
            guard let at = mm.read(bufAddr, as: Int.self), let mt = mm.read(bufAddr + 8, as: Int.self) else { return errno(EFAULT) }
            a.atime = timespec(tv_sec: at, tv_nsec: 0)
            a.mtime = timespec(tv_sec: mt, tv_nsec: 0)
        }
        return setTimes(AT_FDCWD_, pathAddr, a, flags: 0)
    }

    func sysTruncate(_ pathAddr: UInt64, _ len: Int) -> Int {
        guard len >= 0 else { return errno(EINVAL) }
        switch locationArg(AT_FDCWD_, pathAddr, flags: 0) {
        case .failure(let e): return errno(e)
        case .success(let l):
            if l.inode.isDir { return errno(EISDIR) }
            guard l.inode.fileType == S_IFREG else { return errno(EINVAL) }
            if !tg.cred.has(Cap.dacOverride) {
                var st = Glibc.stat()
                if l.inode.getattr(self, &st) == 0 && !permitted(self, st, 2) { return errno(EACCES) }
            }
            return Int(kernel.vfs.setattr(l, VSetAttr(size: len)))
        }
    }

    func sysFtruncate(_ fd: Int, _ len: Int) -> Int {
        guard let f = fds.get(fd) else { return errno(EBADF) }
        guard len >= 0 else { return errno(EINVAL) }
        guard f.writable, !(f is PathFile) else { return errno(f is PathFile ? EBADF : EINVAL) }
        if let h = f as? HostFile { return h.truncate(len) }
        if let t = f as? TmpfsFile { return t.truncate(len) }
        guard let l = f.location, l.inode.fileType == S_IFREG else { return errno(EINVAL) }
        return Int(l.inode.setattr(VSetAttr(size: len)))
    }

    func sysFallocate(_ fd: Int, _ mode: Int32, _ off: Int, _ len: Int) -> Int {
        guard let f = fds.get(fd) else { return errno(EBADF) }
        guard off >= 0, len > 0 else { return errno(EINVAL) }
        guard f.writable else { return errno(EBADF) }
        if let h = f as? HostFile { return h.allocate(mode, off, len) }
        if let t = f as? TmpfsFile { return Int(t.node.fallocate(mode: mode, offset: off, length: len)) }
        if f is PipeEnd { return errno(ESPIPE) }
        return errno(ENODEV)
    }

    func sysFsync(_ fd: Int, dataOnly: Bool) -> Int {
        guard let f = fds.get(fd) else { return errno(EBADF) }
        if let h = f as? HostFile { return h.sync(dataOnly: dataOnly) }
        if let l = f.location, l.inode is GoferInode { return Int(l.inode.fsync(dataOnly: dataOnly)) }
        if f is PipeEnd { return errno(EINVAL) }
        return 0
    }
}
