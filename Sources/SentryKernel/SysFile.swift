// File system calls: open/close/read/write family, stat family, directories, dup/fcntl, pipes, ioctl.
import CBulwark
import Glibc
import SentryMemory

let AT_FDCWD_: Int32 = -100
let AT_EMPTY_PATH_: Int32 = 0x1000
let AT_SYMLINK_NOFOLLOW_: Int32 = 0x100
let maxIO = 1 << 24

extension Task {
    @inline(__always) func errno(_ e: Int32) -> Int { -Int(e) }

    /// Scratch buffer for copying syscall data (grows; reused across calls).
    func scratch(_ n: Int) -> UnsafeMutableRawBufferPointer {
        if scratchBuf.count < n {
            scratchBuf.deallocate()
            scratchBuf = UnsafeMutableRawBufferPointer.allocate(byteCount: max(n, 65536), alignment: 16)
        }
        return UnsafeMutableRawBufferPointer(rebasing: scratchBuf[0..<n])
    }

    func readPath(_ addr: UInt64) -> KResult<String> {
        guard let bytes = mm.readCString(addr, max: 4096) else {
            return .failure(mm.find(addr) == nil || true ? EFAULT : ENAMETOOLONG)
        }
        if bytes.isEmpty { return .failure(ENOENT) }
        return .success(String(decoding: bytes, as: UTF8.self))
    }

    /// Resolves `path` relative to dirfd into an absolute sandbox path.
    func absolutePath(dirfd: Int32, _ path: String) -> KResult<String> {
        if path.hasPrefix("/") { return .success(BootstrapHostFS.normalize(path)) }
        var base = fsctx.cwd
        if dirfd != AT_FDCWD_ {
            guard let f = fds.get(Int(dirfd)) else { return .failure(EBADF) }
            guard let p = f.path, f.isDirectory else { return .failure(ENOTDIR) }
            base = p
        }
        return .success(BootstrapHostFS.normalize(base + "/" + path))
    }

    func resolve(dirfd: Int32, _ addr: UInt64) -> KResult<String> {
        switch readPath(addr) {
        case .failure(let e): return .failure(e)
        case .success(let p): return absolutePath(dirfd: dirfd, p)
        }
    }

    func sysOpenat(_ dirfd: Int32, _ pathAddr: UInt64, _ flags: Int32, _ mode: UInt32) -> Int {
        let path: String
        switch resolve(dirfd: dirfd, pathAddr) { case .success(let p): path = p; case .failure(let e): return errno(e) }
        switch kernel.fs.open(path, flags: flags, mode: mode & 0o7777 & ~fsctx.umask, uid: tg.uid, gid: tg.gid, task: self) {
        case .failure(let e): return errno(e)
        case .success(let f):
            if flags & O_DIRECTORY != 0 && !f.isDirectory { return errno(ENOTDIR) }
            f.statusFlags = flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC)
            return fds.install(f, cloexec: flags & O_CLOEXEC != 0)
        }
    }

    func sysRead(_ fd: Int, _ buf: UInt64, _ count: Int) -> Int {
        guard let f = fds.get(fd), f.readable else { return errno(EBADF) }
        if f.isDirectory { return errno(EISDIR) }
        guard count >= 0 else { return errno(EINVAL) }
        let n = min(count, maxIO)
        guard mm.withPieces(buf, n, needProt: PROT_W, { _, _, _ in }) else { return errno(EFAULT) }
        let tmp = scratch(n)
        let r = f.read(self, tmp)
        if r > 0 && !mm.copyOut(buf, tmp.baseAddress!, r) { return errno(EFAULT) }
        return r
    }

    func sysWrite(_ fd: Int, _ buf: UInt64, _ count: Int) -> Int {
        guard let f = fds.get(fd), f.writable else { return errno(EBADF) }
        guard count >= 0 else { return errno(EINVAL) }
        let n = min(count, maxIO)
        let tmp = scratch(n)
        guard mm.copyIn(buf, tmp.baseAddress!, n) else { return errno(EFAULT) }
        return f.write(self, UnsafeRawBufferPointer(tmp))
    }

    func sysPread(_ fd: Int, _ buf: UInt64, _ count: Int, _ off: Int) -> Int {
        guard let f = fds.get(fd), f.readable else { return errno(EBADF) }
        guard off >= 0, count >= 0 else { return errno(EINVAL) }
        let n = min(count, maxIO)
        guard mm.withPieces(buf, n, needProt: PROT_W, { _, _, _ in }) else { return errno(EFAULT) }
        let tmp = scratch(n)
        let r = f.pread(self, tmp, off)
        if r > 0 && !mm.copyOut(buf, tmp.baseAddress!, r) { return errno(EFAULT) }
        return r
    }

    func sysPwrite(_ fd: Int, _ buf: UInt64, _ count: Int, _ off: Int) -> Int {
        guard let f = fds.get(fd), f.writable else { return errno(EBADF) }
        guard off >= 0, count >= 0 else { return errno(EINVAL) }
        let n = min(count, maxIO)
        let tmp = scratch(n)
        guard mm.copyIn(buf, tmp.baseAddress!, n) else { return errno(EFAULT) }
        return f.pwrite(self, UnsafeRawBufferPointer(tmp), off)
    }

    func readIovecs(_ iov: UInt64, _ cnt: Int) -> [(UInt64, Int)]? {
        guard cnt >= 0 && cnt <= 1024 else { return nil }
        var out: [(UInt64, Int)] = []
        for i in 0..<cnt {
            guard let base = mm.read(iov + UInt64(i * 16), as: UInt64.self),
                  let len = mm.read(iov + UInt64(i * 16 + 8), as: Int.self), len >= 0 else { return nil }
            out.append((base, len))
        }
        return out
    }

    func sysReadv(_ fd: Int, _ iov: UInt64, _ cnt: Int, offset: Int?) -> Int {
        guard let f = fds.get(fd), f.readable else { return errno(EBADF) }
        guard cnt >= 0 && cnt <= 1024 else { return errno(EINVAL) }
        guard let vecs = readIovecs(iov, cnt) else { return errno(EFAULT) }
        let total = min(vecs.reduce(0) { $0 + $1.1 }, maxIO)
        for v in vecs { guard mm.withPieces(v.0, v.1, needProt: PROT_W, { _, _, _ in }) else { return errno(EFAULT) } }
        let tmp = scratch(total)
        let r = offset.map { f.pread(self, tmp, $0) } ?? f.read(self, tmp)
        if r <= 0 { return r }
        var done = 0
        for v in vecs where done < r {
            let n = min(v.1, r - done)
            _ = mm.copyOut(v.0, tmp.baseAddress! + done, n)
            done += n
        }
        return r
    }

    func sysWritev(_ fd: Int, _ iov: UInt64, _ cnt: Int, offset: Int?) -> Int {
        guard let f = fds.get(fd), f.writable else { return errno(EBADF) }
        guard cnt >= 0 && cnt <= 1024 else { return errno(EINVAL) }
        guard let vecs = readIovecs(iov, cnt) else { return errno(EFAULT) }
        let total = min(vecs.reduce(0) { $0 + $1.1 }, maxIO)
        let tmp = scratch(total)
        var done = 0
        for v in vecs where done < total {
            let n = min(v.1, total - done)
            guard mm.copyIn(v.0, tmp.baseAddress! + done, n) else { return errno(EFAULT) }
            done += n
        }
        let b = UnsafeRawBufferPointer(tmp)
        return offset.map { f.pwrite(self, b, $0) } ?? f.write(self, b)
    }

    func sysFcntl(_ fd: Int, _ cmd: Int32, _ arg: UInt64) -> Int {
        guard let f = fds.get(fd) else { return errno(EBADF) }
        switch cmd {
        case F_DUPFD, 1030 /* F_DUPFD_CLOEXEC */:
            guard arg < UInt64(fds.limit) else { return errno(EINVAL) }
            return fds.install(f, cloexec: cmd != F_DUPFD, minFD: Int(arg))
        case F_GETFD: return fds.entries[fd]!.cloexec ? 1 : 0
        case F_SETFD: fds.entries[fd]!.cloexec = arg & 1 != 0; return 0
        case F_GETFL: return Int(f.statusFlags)
        case F_SETFL:
            let changeable = O_APPEND | O_NONBLOCK | O_ASYNC | O_DIRECT | O_NOATIME
            f.statusFlags = (f.statusFlags & ~changeable) | (Int32(truncatingIfNeeded: arg) & changeable)
            return 0
        case F_GETLK, F_SETLK, F_SETLKW, 36, 37, 38:
            // Advisory record locks are not implemented.
            return errno(ENOLCK)
        case 1032, 1033: // F_SETPIPE_SZ / F_GETPIPE_SZ
            return f is PipeEnd ? 65536 : errno(EBADF)
        default: return errno(EINVAL)
        }
    }

    func sysDup3(_ old: Int, _ new: Int, _ flags: Int32, allowSame: Bool) -> Int {
        guard let f = fds.get(old) else { return errno(EBADF) }
        guard new >= 0 && new < fds.limit else { return errno(EBADF) }
        if old == new { return allowSame ? new : errno(EINVAL) }
        fds.installAt(new, f, cloexec: flags & O_CLOEXEC != 0)
        return new
    }

    func sysPipe2(_ addr: UInt64, _ flags: Int32) -> Int {
        guard flags & ~(O_CLOEXEC | O_NONBLOCK | O_DIRECT) == 0 else { return errno(EINVAL) }
        let p = PipeBuffer()
        let r = PipeEnd(p, reader: true, flags: O_RDONLY | (flags & O_NONBLOCK))
        let w = PipeEnd(p, reader: false, flags: O_WRONLY | (flags & O_NONBLOCK))
        let rfd = fds.install(r, cloexec: flags & O_CLOEXEC != 0)
        if rfd < 0 { return rfd }
        let wfd = fds.install(w, cloexec: flags & O_CLOEXEC != 0)
        if wfd < 0 { _ = fds.close(rfd); return wfd }
        let pair: (Int32, Int32) = (Int32(rfd), Int32(wfd))
        if !mm.write(addr, pair) { _ = fds.close(rfd); _ = fds.close(wfd); return errno(EFAULT) }
        return 0
    }

    // MARK: stat

    func statPath(dirfd: Int32, _ pathAddr: UInt64, flags: Int32, _ st: inout stat) -> Int {
        if flags & AT_EMPTY_PATH_ != 0, let bytes = mm.readCString(pathAddr), bytes.isEmpty {
            if dirfd == AT_FDCWD_ { return Int(kernel.fs.stat(fsctx.cwd, followLinks: true, &st, task: self)) }
            guard let f = fds.get(Int(dirfd)) else { return errno(EBADF) }
            return f.stat(&st)
        }
        let path: String
        switch resolve(dirfd: dirfd, pathAddr) { case .success(let p): path = p; case .failure(let e): return errno(e) }
        return Int(kernel.fs.stat(path, followLinks: flags & AT_SYMLINK_NOFOLLOW_ == 0, &st, task: self))
    }

    func sysNewfstatat(_ dirfd: Int32, _ path: UInt64, _ buf: UInt64, _ flags: Int32) -> Int {
        var st = Glibc.stat()
        let r = statPath(dirfd: dirfd, path, flags: flags, &st)
        if r < 0 { return r }
        return mm.write(buf, st) ? 0 : errno(EFAULT)
    }

    func sysFstat(_ fd: Int, _ buf: UInt64) -> Int {
        guard let f = fds.get(fd) else { return errno(EBADF) }
        var st = Glibc.stat()
        let r = f.stat(&st)
        if r < 0 { return r }
        return mm.write(buf, st) ? 0 : errno(EFAULT)
    }

    func sysStatx(_ dirfd: Int32, _ path: UInt64, _ flags: Int32, _ mask: UInt32, _ buf: UInt64) -> Int {
        var st = Glibc.stat()
        let r = statPath(dirfd: dirfd, path, flags: flags, &st)
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

    func sysGetdents64(_ fd: Int, _ buf: UInt64, _ count: Int) -> Int {
        guard let f = fds.get(fd) else { return errno(EBADF) }
        let n = min(max(count, 0), 1 << 20)
        let tmp = scratch(n)
        let r = f.getdents(tmp)
        if r > 0 && !mm.copyOut(buf, tmp.baseAddress!, r) { return errno(EFAULT) }
        return r
    }

    func sysFaccessat(_ dirfd: Int32, _ pathAddr: UInt64, _ mode: Int32, _ flags: Int32) -> Int {
        var st = Glibc.stat()
        let r = statPath(dirfd: dirfd, pathAddr, flags: flags, &st)
        if r < 0 { return r }
        if mode & W_OK != 0 {
            let kind = st.st_mode & S_IFMT
            if kind == S_IFREG || kind == S_IFDIR || kind == S_IFLNK { return errno(EROFS) }
        }
        if mode & X_OK != 0 && st.st_mode & 0o111 == 0 { return errno(EACCES) }
        return 0
    }

    func sysReadlinkat(_ dirfd: Int32, _ pathAddr: UInt64, _ buf: UInt64, _ size: Int) -> Int {
        guard size > 0 else { return errno(EINVAL) }
        let path: String
        switch resolve(dirfd: dirfd, pathAddr) { case .success(let p): path = p; case .failure(let e): return errno(e) }
        switch kernel.fs.readlink(path, task: self) {
        case .failure(let e): return errno(e)
        case .success(let bytes):
            let n = min(bytes.count, size)
            return bytes.withUnsafeBytes { mm.copyOut(buf, $0.baseAddress!, n) } ? n : errno(EFAULT)
        }
    }

    func sysGetcwd(_ buf: UInt64, _ size: Int) -> Int {
        let b = Array(fsctx.cwd.utf8) + [0]
        guard size >= b.count else { return errno(ERANGE) }
        return b.withUnsafeBytes { mm.copyOut(buf, $0.baseAddress!, b.count) } ? b.count : errno(EFAULT)
    }

    func sysChdir(_ pathAddr: UInt64) -> Int {
        let path: String
        switch resolve(dirfd: AT_FDCWD_, pathAddr) { case .success(let p): path = p; case .failure(let e): return errno(e) }
        var st = Glibc.stat()
        let r = kernel.fs.stat(path, followLinks: true, &st, task: self)
        if r < 0 { return Int(r) }
        guard st.st_mode & S_IFMT == S_IFDIR else { return errno(ENOTDIR) }
        // Store the resolved path (symlinks resolved) so ".." behaves.
        let fd = kernel.fs.openHost(path, flags: O_PATH | O_DIRECTORY)
        if fd >= 0 {
            var buf = [UInt8](repeating: 0, count: 4096)
            let n = buf.withUnsafeMutableBytes { readlink("/proc/self/fd/\(fd)", $0.baseAddress!.assumingMemoryBound(to: CChar.self), 4096) }
            Glibc.close(fd)
            if n > 0 {
                let host = String(decoding: buf[0..<n], as: UTF8.self)
                let root = kernel.config.rootfs == "/" ? "" : kernel.config.rootfs
                if host.hasPrefix(root) {
                    fsctx.cwd = BootstrapHostFS.normalize(String(host.dropFirst(root.count)))
                    return 0
                }
            }
        }
        fsctx.cwd = path
        return 0
    }

    func sysFchdir(_ fd: Int) -> Int {
        guard let f = fds.get(fd) else { return errno(EBADF) }
        guard f.isDirectory, let p = f.path else { return errno(ENOTDIR) }
        fsctx.cwd = p
        return 0
    }

    /// Path-based calls that would modify the read-only bootstrap file system.
    func sysReadOnlyPath(_ dirfd: Int32, _ pathAddr: UInt64) -> Int {
        switch resolve(dirfd: dirfd, pathAddr) {
        case .failure(let e): return errno(e)
        case .success: return errno(EROFS)
        }
    }

    enum PathOp { case mkdir(UInt32), unlink, rmdir, chmod(UInt32), utimes, truncate(Int) }

    /// Modifying path calls: served by the tmpfs under /tmp, EROFS elsewhere.
    func sysPathOp(_ dirfd: Int32, _ pathAddr: UInt64, _ op: PathOp) -> Int {
        let path: String
        switch resolve(dirfd: dirfd, pathAddr) { case .success(let p): path = p; case .failure(let e): return errno(e) }
        guard Tmpfs.contains(path) else {
            var st = Glibc.stat()
            let r = kernel.fs.stat(path, followLinks: false, &st)
            if case .mkdir = op { return errno(r == 0 ? EEXIST : EROFS) }
            return r < 0 ? Int(r) : errno(EROFS)
        }
        let t = kernel.fs.tmpfs
        switch op {
        case .mkdir(let mode): return Int(t.mkdir(path, mode: mode & 0o7777 & ~fsctx.umask))
        case .unlink: return Int(t.unlink(path, dir: false))
        case .rmdir: return Int(t.unlink(path, dir: true))
        case .chmod(let mode):
            switch t.lookup(path) { case .success(let n): n.mode = mode & 0o7777; return 0; case .failure(let e): return errno(e) }
        case .utimes:
            switch t.lookup(path) { case .success(let n): n.touch(); return 0; case .failure(let e): return errno(e) }
        case .truncate(let len):
            guard len >= 0 else { return errno(EINVAL) }
            switch t.lookup(path) {
            case .success(let n): return TmpfsFile(node: n, flags: O_RDWR).truncate(len)
            case .failure(let e): return errno(e)
            }
        }
    }

    func sysRenameat(_ olddir: Int32, _ oldAddr: UInt64, _ newdir: Int32, _ newAddr: UInt64) -> Int {
        let from: String, to: String
        switch resolve(dirfd: olddir, oldAddr) { case .success(let p): from = p; case .failure(let e): return errno(e) }
        switch resolve(dirfd: newdir, newAddr) { case .success(let p): to = p; case .failure(let e): return errno(e) }
        if Tmpfs.contains(from) && Tmpfs.contains(to) { return Int(kernel.fs.tmpfs.rename(from, to)) }
        if Tmpfs.contains(from) != Tmpfs.contains(to) { return errno(EXDEV) }
        return errno(EROFS)
    }

    func sysSymlinkat(_ targetAddr: UInt64, _ dirfd: Int32, _ pathAddr: UInt64) -> Int {
        guard let target = mm.readCString(targetAddr) else { return errno(EFAULT) }
        let path: String
        switch resolve(dirfd: dirfd, pathAddr) { case .success(let p): path = p; case .failure(let e): return errno(e) }
        guard Tmpfs.contains(path) else { return errno(EROFS) }
        return Int(kernel.fs.tmpfs.symlink(String(decoding: target, as: UTF8.self), path))
    }

    func sysFtruncate(_ fd: Int, _ len: Int) -> Int {
        guard let f = fds.get(fd) else { return errno(EBADF) }
        guard f.writable else { return errno(EINVAL) }
        guard let t = f as? TmpfsFile else { return errno(f is HostFSFile ? EROFS : EINVAL) }
        guard len >= 0 else { return errno(EINVAL) }
        return t.truncate(len)
    }

    /// sendfile: a read into the scratch buffer then a write (at most 1 MiB per call, as a short count).
    func sysSendfile(_ outFD: Int, _ inFD: Int, _ offAddr: UInt64, _ count: Int) -> Int {
        guard let out = fds.get(outFD), out.writable, let inp = fds.get(inFD), inp.readable else { return errno(EBADF) }
        guard count >= 0 else { return errno(EINVAL) }
        let n = min(count, 1 << 20)
        let tmp = scratch(n)
        var r: Int
        var off = 0
        if offAddr != 0 {
            guard let o = mm.read(offAddr, as: Int.self) else { return errno(EFAULT) }
            off = o
            r = inp.pread(self, tmp, o)
        } else {
            r = inp.read(self, tmp)
        }
        if r <= 0 { return r }
        let w = out.write(self, UnsafeRawBufferPointer(rebasing: tmp[0..<r]))
        if w > 0 && offAddr != 0 { _ = mm.write(offAddr, off + w) }
        return w
    }

    /// copy_file_range: read then write through the scratch buffer (at most 1 MiB per call).
    func sysCopyFileRange(_ inFD: Int, _ inOff: UInt64, _ outFD: Int, _ outOff: UInt64, _ count: Int, _ flags: UInt32) -> Int {
        guard flags == 0 else { return errno(EINVAL) }
        guard let inp = fds.get(inFD), inp.readable, let out = fds.get(outFD), out.writable else { return errno(EBADF) }
        if inp.isDirectory || out.isDirectory { return errno(EISDIR) }
        let n = min(max(count, 0), 1 << 20)
        let tmp = scratch(n)
        var r: Int
        var ioff = 0, ooff = 0
        if inOff != 0 {
            guard let o = mm.read(inOff, as: Int.self) else { return errno(EFAULT) }
            ioff = o
            r = inp.pread(self, tmp, o)
        } else { r = inp.read(self, tmp) }
        if r <= 0 { return r }
        let data = UnsafeRawBufferPointer(rebasing: tmp[0..<r])
        var w: Int
        if outOff != 0 {
            guard let o = mm.read(outOff, as: Int.self) else { return errno(EFAULT) }
            ooff = o
            w = out.pwrite(self, data, o)
        } else { w = out.write(self, data) }
        if w > 0 {
            if inOff != 0 { _ = mm.write(inOff, ioff + w) }
            if outOff != 0 { _ = mm.write(outOff, ooff + w) }
        }
        return w
    }

    func sysStatfs(_ pathAddr: UInt64, _ buf: UInt64) -> Int {
        let path: String
        switch resolve(dirfd: AT_FDCWD_, pathAddr) { case .success(let p): path = p; case .failure(let e): return errno(e) }
        let fd = kernel.fs.openHost(path, flags: O_PATH)
        if fd < 0 { return Int(fd) }
        defer { Glibc.close(fd) }
        return hostStatfs(fd, buf)
    }

    /// Host fstatfs into a Linux struct statfs (120 bytes), marked ST_RDONLY.
    private func hostStatfs(_ fd: Int32, _ buf: UInt64) -> Int {
        var sf = [UInt64](repeating: 0, count: 15)
        let r = sf.withUnsafeMutableBytes { bw_syscall6(138, Int(fd), Int(bitPattern: $0.baseAddress), 0, 0, 0, 0) }
        if r < 0 { return errno(bw_errno()) }
        sf[10] |= 1   // f_flags |= ST_RDONLY: the bootstrap file system is read-only
        return sf.withUnsafeBytes { mm.copyOut(buf, $0.baseAddress!, 120) } ? 0 : errno(EFAULT)
    }

    func sysFstatfs(_ fd: Int, _ buf: UInt64) -> Int {
        guard let f = fds.get(fd) else { return errno(EBADF) }
        if let h = f.hostFileFD { return hostStatfs(h, buf) }
        var sf = [UInt64](repeating: 0, count: 15)
        sf[0] = 0x50495045   // PIPEFS_MAGIC for in-Sentry objects
        sf[1] = 4096
        sf[8] = 255
        return sf.withUnsafeBytes { mm.copyOut(buf, $0.baseAddress!, 120) } ? 0 : errno(EFAULT)
    }

    func sysIoctl(_ fd: Int, _ cmd: UInt64, _ arg: UInt64) -> Int {
        guard let f = fds.get(fd) else { return errno(EBADF) }
        switch cmd {
        case 0x5421: // FIONBIO
            guard let v = mm.read(arg, as: Int32.self) else { return errno(EFAULT) }
            if v != 0 { f.statusFlags |= O_NONBLOCK } else { f.statusFlags &= ~O_NONBLOCK }
            return 0
        case 0x5451: fds.entries[fd]!.cloexec = true; return 0   // FIOCLEX
        case 0x5450: fds.entries[fd]!.cloexec = false; return 0  // FIONCLEX
        default: return f.ioctl(self, cmd, arg)
        }
    }
}
