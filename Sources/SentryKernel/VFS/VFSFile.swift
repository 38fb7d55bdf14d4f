// File descriptions the VFS hands out for every file system: O_PATH handles, directories (listed
// from the inode's readdir, with "." and ".."), and regular files backed by a host descriptor the
// Gofer donated (reads and writes go straight to the host fd, never through IPC).
import CBulwark
import Glibc

/// An O_PATH descriptor: names a place, allows no I/O.
final class PathFile: FileDescription {
    init(_ loc: VLocation, flags: Int32) {
        super.init(flags: flags)
        location = loc
    }
    /// Computed from the location when asked (procfs, mmap tags), not at every open.
    override var path: String? {
        get { super.path ?? lazyPath(location) }
        set { super.path = newValue }
    }

    override var isDirectory: Bool { location!.inode.isDir }
    override var readable: Bool { false }
    override var writable: Bool { false }
    override func read(_ t: Task, _ buf: UnsafeMutableRawBufferPointer) -> Int { -Int(EBADF) }
    override func write(_ t: Task, _ buf: UnsafeRawBufferPointer) -> Int { -Int(EBADF) }
    override func stat(_ st: inout stat) -> Int { Int(location!.inode.getattr(nil, &st)) }
    override func getdents(_ buf: UnsafeMutableRawBufferPointer) -> Int { -Int(EBADF) }
    override func poll(_ events: Int16) -> Int16 { POLLNVAL_ }
}

/// An open directory of any file system but the synthetic ones. The listing is read once per pass
/// (at the first getdents, and again after a seek to 0).
final class VDirFile: FileDescription {
    var entries: [VDirEntry]? = nil
    var offset = 0
    init(_ loc: VLocation, flags: Int32) {
        super.init(flags: flags)
        location = loc
    }
    deinit { inotifyClosed() }
    /// Computed from the location when asked (procfs, mmap tags), not at every open.
    override var path: String? {
        get { super.path ?? lazyPath(location) }
        set { super.path = newValue }
    }

    override var isDirectory: Bool { true }
    override func read(_ t: Task, _ buf: UnsafeMutableRawBufferPointer) -> Int { -Int(EISDIR) }
    override func pread(_ t: Task, _ buf: UnsafeMutableRawBufferPointer, _ off: Int) -> Int { -Int(EISDIR) }
    override func write(_ t: Task, _ buf: UnsafeRawBufferPointer) -> Int { -Int(EBADF) }
    override func stat(_ st: inout stat) -> Int { Int(location!.inode.getattr(nil, &st)) }
    override func seek(_ off: Int, _ whence: Int32) -> Int {
        switch whence {
        case SEEK_SET:
            guard off >= 0 else { return -Int(EINVAL) }
            if off == 0 { entries = nil }
            offset = off
        case SEEK_CUR:
            guard offset + off >= 0 else { return -Int(EINVAL) }
            offset += off
        default: return -Int(EINVAL)
        }
        return offset
    }

    override func getdents(_ buf: UnsafeMutableRawBufferPointer) -> Int {
        guard let loc = location else { return -Int(EBADF) }
        if entries == nil {
            switch loc.inode.readdir(nil) {
            case .failure(let e): return -Int(e)
            case .success(let list):
                var st = Glibc.stat()
                _ = loc.inode.getattr(nil, &st)
                var pst = Glibc.stat()
                let parent = Kernel.shared?.vfs.parentOf(loc, root: Kernel.shared!.vfs.root) ?? loc
                _ = parent.inode.getattr(nil, &pst)
                entries = [VDirEntry(name: ".", ino: UInt64(st.st_ino), type: DT_DIR_),
                           VDirEntry(name: "..", ino: UInt64(pst.st_ino), type: DT_DIR_)] + list
            }
        }
        let list = entries!
        if offset < list.count { inotify(IN_ACCESS_); directoryRead(loc) }
        var written = 0
        while offset < list.count {
            let e = list[offset]
            let name = Array(e.name.utf8)
            let reclen = (19 + name.count + 1 + 7) & ~7
            if written + reclen > buf.count { break }
            let p = buf.baseAddress! + written
            memset(p, 0, reclen)
            p.storeBytes(of: e.ino, as: UInt64.self)
            p.storeBytes(of: Int64(offset + 1), toByteOffset: 8, as: Int64.self)
            p.storeBytes(of: UInt16(reclen), toByteOffset: 16, as: UInt16.self)
            p.storeBytes(of: e.type, toByteOffset: 18, as: UInt8.self)
            name.withUnsafeBytes { memcpy(p + 19, $0.baseAddress!, name.count) }
            written += reclen
            offset += 1
        }
        if written == 0 && offset < list.count { return -Int(EINVAL) }
        return written
    }
}

/// The path of an open file's location as the VFS root sees it ("(deleted)" once unlinked).
func lazyPath(_ loc: VLocation?) -> String? {
    guard let loc, let vfs = Kernel.shared?.vfs else { return nil }
    return loc.dentry.dead ? vfs.pathOf(loc) + " (deleted)" : vfs.pathOf(loc)
}

/// Descriptions whose path is computed on demand (lazyPath).
@inline(__always) func hasLazyPath(_ f: FileDescription) -> Bool { f is HostFile || f is TmpfsFile || f is VDirFile || f is PathFile }

/// A host descriptor donated by the Gofer, shared by every description of one file opened with
/// the same access mode (closed when the last user lets go).
final class SharedHostFD {
    let fd: Int32
    /// The gofer inode of a descriptor open for writing: its close is the host's IN_CLOSE_WRITE,
    /// which host inotify watches must not take for a host-side change (GoferHostEvents.swift).
    weak var writer: GoferInode?
    init(_ fd: Int32) { self.fd = fd }
    deinit {
        Glibc.close(fd)
        writer?.ownContentEvent(IN_CLOSE_WRITE_)
    }
}

/// A regular file through a host descriptor (donated by the Gofer). The offset is this
/// description's own (I/O is pread/pwrite), so descriptions can share one host fd and reopening a
/// file needs no IPC; O_APPEND is applied here so F_SETFL can change it.
final class HostFile: FileDescription {
    let host: SharedHostFD
    var offset = 0
    /// Told about writes so cached attributes are refreshed.
    let inode: VInode?
    init(host: SharedHostFD, flags: Int32, inode: VInode?) {
        self.host = host
        self.inode = inode
        super.init(flags: flags)
    }
    convenience init(fd: Int32, flags: Int32, inode: VInode?) {
        let h = SharedHostFD(fd)
        if flags & O_ACCMODE_ != O_RDONLY { h.writer = inode as? GoferInode }
        self.init(host: h, flags: flags, inode: inode)
    }
    var fd: Int32 { host.fd }

    override var hostFileFD: Int32? { fd }

    /// After a write, truncation or allocation through the host fd: attributes are stale, and the
    /// host's IN_MODIFY for it is the Sentry's own.
    func changed() {
        guard let g = inode as? GoferInode else { return }
        g.stale = true
        g.ownContentEvent(IN_MODIFY_)
    }

    func size() -> Int {
        var st = Glibc.stat()
        return fstat(fd, &st) == 0 ? st.st_size : 0
    }

    deinit { inotifyClosed() }
    /// Computed from the location when asked (procfs, mmap tags), not at every open.
    override var path: String? {
        get { super.path ?? lazyPath(location) }
        set { super.path = newValue }
    }


    override func read(_ t: Task, _ buf: UnsafeMutableRawBufferPointer) -> Int {
        let n = Glibc.pread(fd, buf.baseAddress, buf.count, off_t(offset))
        if n > 0 { offset += n; inotify(IN_ACCESS_); (inode as? GoferInode)?.accessed(self) }
        return n >= 0 ? n : -Int(errno)
    }
    override func pread(_ t: Task, _ buf: UnsafeMutableRawBufferPointer, _ off: Int) -> Int {
        let n = Glibc.pread(fd, buf.baseAddress, buf.count, off_t(off))
        if n > 0 { inotify(IN_ACCESS_); (inode as? GoferInode)?.accessed(self) }
        return n >= 0 ? n : -Int(errno)
    }
    override func write(_ t: Task, _ buf: UnsafeRawBufferPointer) -> Int {
        if statusFlags & O_APPEND != 0 { offset = size() }
        let n = Glibc.pwrite(fd, buf.baseAddress, buf.count, off_t(offset))
        let e = errno
        changed()
        if n < 0 && e == EFBIG { t.kernel.sendSignal(to: t, SigInfo(signo: SIGXFSZ)) }
        if n > 0 { offset += n; inotify(IN_MODIFY_) }
        return n >= 0 ? n : -Int(e)
    }
    override func pwrite(_ t: Task, _ buf: UnsafeRawBufferPointer, _ off: Int) -> Int {
        // Linux: pwrite on an O_APPEND file appends whatever the offset says.
        let off = statusFlags & O_APPEND != 0 ? size() : off
        let n = Glibc.pwrite(fd, buf.baseAddress, buf.count, off_t(off))
        let e = errno
        changed()
        if n > 0 { inotify(IN_MODIFY_) }
        return n >= 0 ? n : -Int(e)
    }
    override func seek(_ off: Int, _ whence: Int32) -> Int {
        var n: Int
        switch whence {
        case SEEK_SET: n = off
        case SEEK_CUR: n = offset + off
        case SEEK_END: n = size() + off
        case 3, 4:
            // SEEK_DATA / SEEK_HOLE: asked of the host (its own offset is never used for I/O).
            let r = lseek(fd, off_t(off), whence)
            if r < 0 { return -Int(errno) }
            n = Int(r)
        default: return -Int(EINVAL)
        }
        if n < 0 { return -Int(EINVAL) }
        offset = n
        return n
    }
    override func stat(_ st: inout stat) -> Int { fstat(fd, &st) == 0 ? 0 : -Int(errno) }
    override func poll(_ events: Int16) -> Int16 { events & (POLLIN_ | POLLOUT_) }

    func truncate(_ len: Int) -> Int {
        changed()
        if ftruncate(fd, off_t(len)) != 0 { return -Int(errno) }
        inotify(IN_MODIFY_)
        return 0
    }
    func allocate(_ mode: Int32, _ off: Int, _ len: Int) -> Int {
        changed()
        let r = bw_g_fallocate(fd, mode, Int64(off), Int64(len))
        return r == 0 ? 0 : -Int(errno)
    }
    func sync(dataOnly: Bool) -> Int { (dataOnly ? fdatasync(fd) : fsync(fd)) == 0 ? 0 : -Int(errno) }
}
