// stat, fstat, lstat, newfstatat, statx, statfs, fstatfs, access/faccessat/faccessat2, readlinkat.
import Glibc

extension Task {
    func statTarget(_ dirfd: Int32, _ pathAddr: UInt64, flags: Int32, _ st: inout stat) -> Int {
        switch targetArgs(dirfd, pathAddr, flags: flags) {
        case .failure(let e): return errno(e)
        case .success(let t): return Int(kernel.vfs.stat(self, t, &st))
        }
    }

    func sysNewfstatat(_ dirfd: Int32, _ path: UInt64, _ buf: UInt64, _ flags: Int32) -> Int {
        guard flags & ~(AT_EMPTY_PATH_ | AT_SYMLINK_NOFOLLOW_ | 0x800) == 0 else { return errno(EINVAL) }
        var st = Glibc.stat()
        let r = statTarget(dirfd, path, flags: flags, &st)
        if r < 0 { return r }
        return mm.write(buf, st) ? 0 : errno(EFAULT)
    }

    func sysFstat(_ fd: Int, _ buf: UInt64) -> Int {
        guard let f = fds.get(fd) else { return errno(EBADF) }
        var st = Glibc.stat()
        let r = f.stat(&st)
        if r < 0 { return r }
        f.overlayDevice(&st)
        return mm.write(buf, st) ? 0 : errno(EFAULT)
    }

    func sysStatx(_ dirfd: Int32, _ path: UInt64, _ flags: Int32, _ mask: UInt32, _ buf: UInt64) -> Int {
        var st = Glibc.stat()
        let r = statTarget(dirfd, path, flags: flags & (AT_EMPTY_PATH_ | AT_SYMLINK_NOFOLLOW_), &st)
        if r < 0 { return r }
        var b = [UInt8](repeating: 0, count: 256)
        func p32(_ o: Int, _ v: UInt32) { withUnsafeBytes(of: v) { for i in 0..<4 { b[o + i] = $0[i] } } }
        func p64(_ o: Int, _ v: UInt64) { withUnsafeBytes(of: v) { for i in 0..<8 { b[o + i] = $0[i] } } }
        func major(_ d: UInt) -> UInt32 { UInt32(((d >> 8) & 0xfff) | ((d >> 32) & ~UInt(0xfff))) }
        func minor(_ d: UInt) -> UInt32 { UInt32((d & 0xff) | ((d >> 12) & ~UInt(0xff))) }
        p32(0, 0x7ff)                       // STATX_BASIC_STATS
        p32(4, UInt32(st.st_blksize))
        p32(16, UInt32(st.st_nlink))
        p32(20, st.st_uid)
        p32(24, st.st_gid)
        b[28] = UInt8(st.st_mode & 0xff); b[29] = UInt8((st.st_mode >> 8) & 0xff)
        p64(32, UInt64(st.st_ino))
        p64(40, UInt64(st.st_size))
        p64(48, UInt64(st.st_blocks))
        p64(64, UInt64(st.st_atim.tv_sec)); p32(72, UInt32(st.st_atim.tv_nsec))
        p64(96, UInt64(st.st_ctim.tv_sec)); p32(104, UInt32(st.st_ctim.tv_nsec))
        p64(112, UInt64(st.st_mtim.tv_sec)); p32(120, UInt32(st.st_mtim.tv_nsec))
        p32(128, major(UInt(st.st_rdev))); p32(132, minor(UInt(st.st_rdev)))
        p32(136, major(UInt(st.st_dev))); p32(140, minor(UInt(st.st_dev)))
        return b.withUnsafeBytes { mm.copyOut(buf, $0.baseAddress!, 256) } ? 0 : errno(EFAULT)
    }

    private func copyStatfs(_ sf: [UInt64], _ buf: UInt64, readOnly: Bool) -> Int {
        var s = sf
        if readOnly { s[10] |= 1 }   // ST_RDONLY
        return s.withUnsafeBytes { mm.copyOut(buf, $0.baseAddress!, 120) } ? 0 : errno(EFAULT)
    }

    func sysStatfs(_ pathAddr: UInt64, _ buf: UInt64) -> Int {
        switch targetArgs(AT_FDCWD_, pathAddr, flags: 0) {
        case .failure(let e): return errno(e)
        case .success(.file(let f)): return statfsFile(f, buf)
        case .success(.loc(let l)):
            var sf: [UInt64] = []
            let r = l.inode.statfs(&sf)
            return r < 0 ? Int(r) : copyStatfs(sf, buf, readOnly: l.mount.readOnly)
        }
    }

    private func statfsFile(_ f: FileDescription, _ buf: UInt64) -> Int {
        if let l = f.location {
            var sf: [UInt64] = []
            let r = l.inode.statfs(&sf)
            return r < 0 ? Int(r) : copyStatfs(sf, buf, readOnly: l.mount.readOnly)
        }
        var sf = [UInt64](repeating: 0, count: 15)
        sf[0] = f is PipeEnd ? 0x50495045 : 0x09041934   // PIPEFS_MAGIC, ANON_INODE_FS_MAGIC
        sf[1] = 4096
        sf[8] = 255
        return copyStatfs(sf, buf, readOnly: false)
    }

    func sysFstatfs(_ fd: Int, _ buf: UInt64) -> Int {
        guard let f = fds.get(fd) else { return errno(EBADF) }
        return statfsFile(f, buf)
    }

    func sysFaccessat(_ dirfd: Int32, _ pathAddr: UInt64, _ mode: Int32, _ flags: Int32) -> Int {
        guard mode & ~7 == 0 else { return errno(EINVAL) }
        guard flags & ~(AT_EMPTY_PATH_ | AT_SYMLINK_NOFOLLOW_ | 0x200 /* AT_EACCESS */) == 0 else { return errno(EINVAL) }
        let target: VTarget
        switch targetArgs(dirfd, pathAddr, flags: flags) { case .failure(let e): return errno(e); case .success(let t): target = t }
        var st = Glibc.stat()
        let r = kernel.vfs.stat(self, target, &st)
        if r < 0 { return Int(r) }
        if mode == 0 { return 0 }
        if mode & W_OK != 0, case .loc(let l) = target, l.mount.readOnly {
            let kind = st.st_mode & S_IFMT
            if kind == S_IFREG || kind == S_IFDIR || kind == S_IFLNK { return errno(EROFS) }
        }
        return permitted(self, st, UInt32(mode)) ? 0 : errno(EACCES)
    }

    func sysReadlinkat(_ dirfd: Int32, _ pathAddr: UInt64, _ buf: UInt64, _ size: Int) -> Int {
        guard size > 0 else { return errno(EINVAL) }
        let start: VLocation, path: String
        switch pathArgs(dirfd, pathAddr, allowEmpty: true) { case .failure(let e): return errno(e); case .success(let r): (start, path) = r }
        if path == "/proc/self/exe" && kernel.mounts.find("/proc") == nil {
            // Without a procfs provider, the one link programs need (their own executable).
            let exe = Array(tg.name.utf8)
            let n = min(exe.count, size)
            return exe.withUnsafeBytes { mm.copyOut(buf, $0.baseAddress!, n) } ? n : errno(EFAULT)
        }
        let loc: VLocation
        if path.isEmpty {
            // readlinkat(fd, "") reads the symlink an O_PATH|O_NOFOLLOW fd names.
            guard let f = fds.get(Int(dirfd)), let l = f.location else { return errno(dirfd == AT_FDCWD_ ? ENOENT : EBADF) }
            loc = l
        } else {
            switch kernel.vfs.resolve(self, at: start, path, follow: false) {
            case .failure(let e): return errno(e)
            case .success(.file): return errno(EINVAL)
            case .success(.loc(let l)): loc = l
            }
        }
        switch kernel.vfs.readLink(self, loc) {
        case .failure(let e): return errno(e)
        case .success(let s):
            let bytes = Array(s.utf8)
            let n = min(bytes.count, size)
            return bytes.withUnsafeBytes { mm.copyOut(buf, $0.baseAddress!, n) } ? n : errno(EFAULT)
        }
    }
}
