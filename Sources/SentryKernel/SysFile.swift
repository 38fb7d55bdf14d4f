// Descriptor I/O calls: the read/write family, dup/fcntl, pipes, sendfile/copy_file_range, ioctl.
// Path-based calls live in SysOpen, SysStat, SysDirectory, SysLink, SysAttr and SysXattr.
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

    func sysRead(_ fd: Int, _ buf: UInt64, _ count: Int) -> Int {
        guard let f = fds.get(fd), f.readable else { return errno(EBADF) }
        if f.isDirectory { return errno(EISDIR) }
        guard count >= 0 else { return errno(EINVAL) }
        let n = min(count, maxIO)
        // Host files: straight into the application's pages (HostFileDirectUnsafe.swift).
        if let h = f as? HostFile { return h.readDirect(self, buf, n, at: nil) }
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
        if let h = f as? HostFile { return h.writeDirect(self, buf, n, at: nil) }
        let tmp = scratch(n)
        guard mm.copyIn(buf, tmp.baseAddress!, n) else { return errno(EFAULT) }
        return f.write(self, UnsafeRawBufferPointer(tmp))
    }

    func sysPread(_ fd: Int, _ buf: UInt64, _ count: Int, _ off: Int) -> Int {
        guard let f = fds.get(fd), f.readable else { return errno(EBADF) }
        guard off >= 0, count >= 0 else { return errno(EINVAL) }
        let n = min(count, maxIO)
        if let h = f as? HostFile { return h.readDirect(self, buf, n, at: off) }
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
        if let h = f as? HostFile { return h.writeDirect(self, buf, n, at: off) }
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
            kernel.asyncIO.flagsChanged(f)
            return 0
        case F_GETLK, F_SETLK, F_SETLKW, 36, 37, 38:
            return sysRecordLock(f, cmd, arg)   // SysFileLock.swift
        case 1032, 1033: // F_SETPIPE_SZ / F_GETPIPE_SZ
            return f is PipeEnd ? 65536 : errno(EBADF)
        default: return asyncIOFcntl(f, cmd, arg) ?? errno(EINVAL)   // SysAsyncIO.swift
        }
    }

    func sysDup3(_ old: Int, _ new: Int, _ flags: Int32, allowSame: Bool) -> Int {
        guard let f = fds.get(old) else { return errno(EBADF) }
        guard new >= 0 && new < fds.limit else { return errno(EBADF) }
        if old == new { return allowSame ? new : errno(EINVAL) }
        releaseRecordLocks(closing: new)   // the implicit close of `new` (SysFileLock.swift)
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

    func sysIoctl(_ fd: Int, _ cmd: UInt64, _ arg: UInt64) -> Int {
        guard let f = fds.get(fd) else { return errno(EBADF) }
        switch cmd {
        case 0x5421: // FIONBIO
            guard let v = mm.read(arg, as: Int32.self) else { return errno(EFAULT) }
            if v != 0 { f.statusFlags |= O_NONBLOCK } else { f.statusFlags &= ~O_NONBLOCK }
            return 0
        case 0x5451: fds.entries[fd]!.cloexec = true; return 0   // FIOCLEX
        case 0x5450: fds.entries[fd]!.cloexec = false; return 0  // FIONCLEX
        default: return asyncIOIoctl(f, cmd, arg) ?? f.ioctl(self, cmd, arg)   // FIOASYNC: SysAsyncIO.swift
        }
    }
}
