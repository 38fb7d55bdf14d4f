// tmpfs: a file system kept in the Sentry's memory (directories, regular files, symlinks, hard
// links, FIFOs, sockets and device nodes). Mounted at /tmp and /dev/shm, as /dev (devfs), and as the
// upper layer of the overlay root. Lost when the sandbox exits.
import CBulwark
import Glibc

class TmpfsNode: VInode {
    enum Kind { case dir, file, symlink, fifo, socket, chardev, blockdev }
    let kind: Kind
    var data: [UInt8] = []
    var children: [String: TmpfsNode] = [:]
    var mode: UInt32
    let ino: UInt
    var uid: UInt32 = 0, gid: UInt32 = 0
    var mtime = timespec(), ctime = timespec(), atime = timespec()
    var nlink: Int = 1
    var rdev: UInt64 = 0
    weak var parent: TmpfsNode?
    /// Overlay upper layer: names hidden in the lower layer, and "do not merge the lower directory".
    var whiteouts: Set<String> = []
    var opaque = false
    /// Overlay upper directory: its own times are newer than the lower directory's.
    var changedByOverlay = false
    var xattrs: [String: [UInt8]] = [:]
    /// An O_TMPFILE file that linkat(AT_EMPTY_PATH) may still give a name (VFSTmpfile.swift).
    var linkableTmpfile = false
    /// The pipe of a FIFO node (made at first open).
    var fifo: PipeBuffer? = nil
    nonisolated(unsafe) static var nextIno: UInt = 2
    let dev: UInt

    /// `dev` nil: the root of a new tmpfs instance, with a device of its own (AnonDevice.swift).
    init(kind: Kind, mode: UInt32, dev: UInt? = nil) {
        self.kind = kind
        self.mode = mode & 0o7777
        self.dev = dev ?? AnonDevice.next()
        ino = TmpfsNode.nextIno
        TmpfsNode.nextIno += 1
        super.init()
        touch()
        if kind == .dir { nlink = 2 }
    }

    func touch() {
        clock_gettime(CLOCK_REALTIME, &mtime)
        ctime = mtime
        atime = mtime
    }
    func changed() { clock_gettime(CLOCK_REALTIME, &mtime); ctime = mtime; changedByOverlay = true }

    var typeBits: UInt32 {
        switch kind {
        case .dir: return S_IFDIR
        case .file: return S_IFREG
        case .symlink: return S_IFLNK
        case .fifo: return S_IFIFO
        case .socket: return S_IFSOCK
        case .chardev: return S_IFCHR
        case .blockdev: return S_IFBLK
        }
    }
    override var fileType: UInt32 { typeBits }

    func fillStat(_ st: inout stat) {
        st = Glibc.stat()
        st.st_dev = dev
        st.st_ino = ino
        st.st_nlink = UInt(nlink)
        st.st_mode = typeBits | (mode & 0o7777)
        st.st_uid = uid
        st.st_gid = gid
        st.st_rdev = UInt(rdev)
        st.st_size = kind == .dir ? 4096 : data.count
        st.st_blksize = 4096
        st.st_blocks = kind == .dir ? 8 : (data.count + 511) / 512
        st.st_atim = atime
        st.st_mtim = mtime
        st.st_ctim = ctime
    }

    override func getattr(_ t: Task?, _ st: inout stat) -> Int32 { fillStat(&st); return 0 }

    override func lookup(_ t: Task?, _ name: String) -> KResult<VInode> {
        guard kind == .dir else { return .failure(ENOTDIR) }
        guard let c = children[name] else { return .failure(ENOENT) }
        return .success(c)
    }

    override func readdir(_ t: Task?) -> KResult<[VDirEntry]> {
        guard kind == .dir else { return .failure(ENOTDIR) }
        return .success(children.sorted { $0.key < $1.key }.map { VDirEntry(name: $0.key, ino: UInt64($0.value.ino), type: dtype($0.value.typeBits)) })
    }

    override func readlink(_ t: Task?) -> KResult<String> {
        kind == .symlink ? .success(String(decoding: data, as: UTF8.self)) : .failure(EINVAL)
    }

    override func open(_ t: Task?, flags: Int32) -> KResult<FileDescription> {
        switch kind {
        case .file:
            if flags & O_TRUNC != 0 && flags & O_ACCMODE_ != O_RDONLY && !data.isEmpty { data.removeAll(); changed() }
            return .success(TmpfsFile(node: self, flags: flags))
        case .dir: return .success(TmpfsFile(node: self, flags: flags))
        case .fifo:
            if fifo == nil { fifo = PipeBuffer() }
            return FifoTable.open(t, fifo!, flags: flags)
        case .chardev: return DeviceTable.open(t, rdev: rdev, flags: flags)
        case .socket: return .failure(ENXIO)
        case .blockdev: return .failure(ENXIO)
        case .symlink: return .failure(ELOOP)
        }
    }

    override func openForExec(_ t: Task?) -> Int32 {
        // The loader preads its file: a memfd copy of the contents.
        let fd = bw_memfd_create("bulwark-exec", 1 /* MFD_CLOEXEC */)
        if fd < 0 { return -errno }
        var off = 0
        while off < data.count {
            let n = data.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + off, data.count - off) }
            if n <= 0 { Glibc.close(fd); return -EIO }
            off += n
        }
        return fd
    }

    private func adopt(_ name: String, _ n: TmpfsNode, uid: UInt32, gid: UInt32) -> TmpfsNode {
        n.uid = uid; n.gid = gid
        n.parent = self
        children[name] = n
        whiteouts.remove(name)
        changed()
        return n
    }

    func newNode(_ kind: Kind, mode: UInt32) -> TmpfsNode { TmpfsNode(kind: kind, mode: mode, dev: dev) }

    override func create(_ t: Task?, _ name: String, flags: Int32, mode: UInt32, uid: UInt32, gid: UInt32) -> KResult<(VInode, FileDescription)> {
        guard kind == .dir else { return .failure(ENOTDIR) }
        if children[name] != nil { return .failure(EEXIST) }
        let n = adopt(name, newNode(.file, mode: mode), uid: uid, gid: gid)
        return .success((n, TmpfsFile(node: n, flags: flags)))
    }

    override func mkdir(_ name: String, mode: UInt32, uid: UInt32, gid: UInt32) -> KResult<VInode> {
        guard kind == .dir else { return .failure(ENOTDIR) }
        if children[name] != nil { return .failure(EEXIST) }
        let n = adopt(name, newNode(.dir, mode: mode), uid: uid, gid: gid)
        nlink += 1
        return .success(n)
    }

    override func mknod(_ name: String, mode: UInt32, rdev: UInt64, uid: UInt32, gid: UInt32) -> KResult<VInode> {
        guard kind == .dir else { return .failure(ENOTDIR) }
        if children[name] != nil { return .failure(EEXIST) }
        let k: Kind
        switch mode & S_IFMT {
        case S_IFIFO: k = .fifo
        case S_IFSOCK: k = .socket
        case S_IFCHR: k = .chardev
        case S_IFBLK: k = .blockdev
        case S_IFREG, 0: k = .file
        default: return .failure(EINVAL)
        }
        let n = adopt(name, newNode(k, mode: mode), uid: uid, gid: gid)
        n.rdev = rdev
        return .success(n)
    }

    override func symlink(_ name: String, target: String, uid: UInt32, gid: UInt32) -> KResult<VInode> {
        guard kind == .dir else { return .failure(ENOTDIR) }
        if children[name] != nil { return .failure(EEXIST) }
        let n = newNode(.symlink, mode: 0o777)
        n.data = Array(target.utf8)
        return .success(adopt(name, n, uid: uid, gid: gid))
    }

    override func link(_ name: String, target: VInode) -> Int32 {
        guard kind == .dir else { return -ENOTDIR }
        guard let n = target as? TmpfsNode else { return -EXDEV }
        if children[name] != nil { return -EEXIST }
        if n.kind == .dir { return -EPERM }
        if n.nlink == 0 && !n.linkableTmpfile { return -ENOENT }
        n.linkableTmpfile = false
        children[name] = n
        whiteouts.remove(name)
        n.nlink += 1
        n.ctime = nowTimespec()
        changed()
        return 0
    }

    override func unlink(_ name: String, dir wantDir: Bool) -> Int32 {
        guard kind == .dir else { return -ENOTDIR }
        guard let n = children[name] else { return -ENOENT }
        if wantDir {
            guard n.kind == .dir else { return -ENOTDIR }
            guard n.children.isEmpty else { return -ENOTEMPTY }
            nlink -= 1
            n.nlink = 0
        } else {
            if n.kind == .dir { return -EISDIR }
            n.nlink -= 1
            n.ctime = nowTimespec()
        }
        children[name] = nil
        changed()
        return 0
    }

    override func rename(_ oldName: String, newDir: VInode, _ newName: String, flags: UInt32) -> Int32 {
        guard let dst = newDir as? TmpfsNode, dst.kind == .dir, kind == .dir else { return -EXDEV }
        guard let node = children[oldName] else { return -ENOENT }
        let existing = dst.children[newName]
        if flags & 2 != 0 {   // RENAME_EXCHANGE
            guard let other = existing else { return -ENOENT }
            children[oldName] = other
            dst.children[newName] = node
            other.parent = self
            node.parent = dst
            if node.kind == .dir && other.kind != .dir { nlink -= 1; dst.nlink += 1 }
            if other.kind == .dir && node.kind != .dir { dst.nlink -= 1; nlink += 1 }
            changed(); dst.changed()
            return 0
        }
        if let ex = existing {
            if flags & 1 != 0 { return -EEXIST }
            if ex === node { return 0 }
            if ex.kind == .dir {
                guard node.kind == .dir else { return -EISDIR }
                guard ex.children.isEmpty else { return -ENOTEMPTY }
                dst.nlink -= 1
                ex.nlink = 0
            } else {
                if node.kind == .dir { return -ENOTDIR }
                ex.nlink -= 1
            }
        }
        children[oldName] = nil
        dst.children[newName] = node
        dst.whiteouts.remove(newName)
        node.parent = dst
        if node.kind == .dir { nlink -= 1; dst.nlink += 1 }
        node.ctime = nowTimespec()
        changed(); dst.changed()
        return 0
    }

    override func setattr(_ a: VSetAttr) -> Int32 {
        if let s = a.size {
            guard kind == .file else { return kind == .dir ? -EISDIR : -EINVAL }
            if s < data.count { data.removeSubrange(s...) }
            else if s > data.count {
                guard s <= 1 << 32 else { return -EFBIG }
                data.append(contentsOf: [UInt8](repeating: 0, count: s - data.count))
            }
            changed()
        }
        if let m = a.mode { mode = m & 0o7777 }
        if let u = a.uid { uid = u }
        if let g = a.gid { gid = g }
        let now = nowTimespec()
        let utimeNow = (1 << 30) - 1
        if let at = a.atime { atime = at.tv_nsec == utimeNow ? now : at }
        if let mt = a.mtime { mtime = mt.tv_nsec == utimeNow ? now : mt }
        ctime = now
        return 0
    }

    override func statfs(_ sf: inout [UInt64]) -> Int32 {
        sf = [UInt64](repeating: 0, count: 15)
        sf[0] = 0x01021994   // TMPFS_MAGIC
        sf[1] = 4096; sf[2] = 1 << 20; sf[3] = 1 << 19; sf[4] = 1 << 19; sf[5] = 1 << 20; sf[6] = 1 << 19
        sf[8] = 255; sf[9] = 4096
        return 0
    }

    override func getxattr(_ name: String) -> KResult<[UInt8]> {
        guard let v = xattrs[name] else { return .failure(ENODATA) }
        return .success(v)
    }
    override func setxattr(_ name: String, _ value: [UInt8], flags: Int32) -> Int32 {
        guard name.hasPrefix("user.") || name.hasPrefix("trusted.") || name.hasPrefix("security.") else { return -EOPNOTSUPP }
        if flags & 1 != 0 && xattrs[name] != nil { return -EEXIST }   // XATTR_CREATE
        if flags & 2 != 0 && xattrs[name] == nil { return -ENODATA }  // XATTR_REPLACE
        xattrs[name] = value
        ctime = nowTimespec()
        return 0
    }
    override func listxattr() -> KResult<[String]> { .success(xattrs.keys.sorted()) }
    override func removexattr(_ name: String) -> Int32 {
        guard xattrs.removeValue(forKey: name) != nil else { return -ENODATA }
        return 0
    }
    override func fallocate(mode: Int32, offset: Int, length: Int) -> Int32 {
        guard kind == .file else { return -ENODEV }
        guard mode == 0 || mode == 1 else { return -EOPNOTSUPP }   // plain or FALLOC_FL_KEEP_SIZE
        guard offset >= 0, length > 0 else { return -EINVAL }
        if mode == 0 && offset + length > data.count { return setattr(VSetAttr(size: offset + length)) }
        return 0
    }
}

/// An open tmpfs regular file (or directory, whose listing the VFS's VDirFile serves).
final class TmpfsFile: FileDescription {
    let node: TmpfsNode
    var offset = 0
    init(node: TmpfsNode, flags: Int32) {
        self.node = node
        super.init(flags: flags)
    }
    deinit { inotifyClosed() }
    override var isDirectory: Bool { node.kind == .dir }
    /// Computed from the location when asked (procfs, mmap tags), not at every open.
    override var path: String? {
        get { super.path ?? lazyPath(location) }
        set { super.path = newValue }
    }


    override func read(_ t: Task, _ buf: UnsafeMutableRawBufferPointer) -> Int {
        let n = pread(t, buf, offset)
        if n > 0 { offset += n }
        return n
    }
    override func pread(_ t: Task, _ buf: UnsafeMutableRawBufferPointer, _ off: Int) -> Int {
        if node.kind == .dir { return -Int(EISDIR) }
        guard off < node.data.count else { return 0 }
        let n = min(buf.count, node.data.count - off)
        node.data.withUnsafeBytes { memcpy(buf.baseAddress!, $0.baseAddress! + off, n) }
        if n > 0 { inotify(IN_ACCESS_) }
        return n
    }
    override func write(_ t: Task, _ buf: UnsafeRawBufferPointer) -> Int {
        if statusFlags & O_APPEND != 0 { offset = node.data.count }
        let n = pwrite(t, buf, offset)
        if n > 0 { offset += n }
        return n
    }
    override func pwrite(_ t: Task, _ buf: UnsafeRawBufferPointer, _ off: Int) -> Int {
        // Linux: pwrite on an O_APPEND file appends whatever the offset says.
        let off = statusFlags & O_APPEND != 0 ? node.data.count : off
        guard off + buf.count <= 1 << 32 else { return -Int(EFBIG) }
        if buf.count == 0 { return 0 }
        if node.data.count < off + buf.count { node.data.append(contentsOf: repeatElement(0, count: off + buf.count - node.data.count)) }
        node.data.withUnsafeMutableBytes { memcpy($0.baseAddress! + off, buf.baseAddress!, buf.count) }
        node.changed()
        inotify(IN_MODIFY_)
        return buf.count
    }
    override func seek(_ off: Int, _ whence: Int32) -> Int {
        var n: Int
        switch whence {
        case SEEK_SET: n = off
        case SEEK_CUR: n = offset + off
        case SEEK_END: n = node.data.count + off
        case 3: // SEEK_DATA: all of the file is data
            guard off < node.data.count else { return -Int(ENXIO) }
            n = off
        case 4: // SEEK_HOLE: the only hole is at the end
            guard off <= node.data.count else { return -Int(ENXIO) }
            n = node.data.count
        default: return -Int(EINVAL)
        }
        if n < 0 { return -Int(EINVAL) }
        offset = n
        return n
    }
    override func stat(_ st: inout stat) -> Int { node.fillStat(&st); return 0 }
    func truncate(_ len: Int) -> Int {
        let r = Int(node.setattr(VSetAttr(size: len)))
        if r == 0 { inotify(IN_MODIFY_) }
        return r
    }
}
