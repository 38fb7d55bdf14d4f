// inotify: inotify_init/init1, inotify_add_watch, inotify_rm_watch, and the events the Sentry's
// VFS raises for changes made inside the sandbox (create, delete, move, attributes, open, access,
// modify, close). A watch holds the dentry it was set on (so the cache keeps it); events for a
// child are reported to a watch on its directory (with the name) and then to a watch on the child
// itself, as Linux does. Changes made on the host behind the Gofer come from the gofer's own host
// watches (GoferHostEvents.swift).
import Glibc

let IN_ACCESS_: UInt32 = 0x1, IN_MODIFY_: UInt32 = 0x2, IN_ATTRIB_: UInt32 = 0x4
let IN_CLOSE_WRITE_: UInt32 = 0x8, IN_CLOSE_NOWRITE_: UInt32 = 0x10, IN_OPEN_: UInt32 = 0x20
let IN_MOVED_FROM_: UInt32 = 0x40, IN_MOVED_TO_: UInt32 = 0x80, IN_CREATE_: UInt32 = 0x100
let IN_DELETE_: UInt32 = 0x200, IN_DELETE_SELF_: UInt32 = 0x400, IN_MOVE_SELF_: UInt32 = 0x800
let IN_Q_OVERFLOW_: UInt32 = 0x4000, IN_IGNORED_: UInt32 = 0x8000
let IN_ONLYDIR_: UInt32 = 0x0100_0000, IN_DONT_FOLLOW_: UInt32 = 0x0200_0000, IN_EXCL_UNLINK_: UInt32 = 0x0400_0000
let IN_MASK_CREATE_: UInt32 = 0x1000_0000, IN_MASK_ADD_: UInt32 = 0x2000_0000, IN_ISDIR_: UInt32 = 0x4000_0000
let IN_ONESHOT_: UInt32 = 0x8000_0000
let IN_ALL_EVENTS_: UInt32 = 0xfff

final class InotifyWatch {
    let wd: Int32
    var mask: UInt32
    let dentry: Dentry
    unowned let owner: InotifyFile
    /// The watched object's (st_dev, st_ino): link-count changes through another name reach it.
    var identity: (UInt, UInt) = (0, 0)
    init(wd: Int32, mask: UInt32, dentry: Dentry, owner: InotifyFile) {
        self.wd = wd
        self.mask = mask
        self.dentry = dentry
        self.owner = owner
        var st = Glibc.stat()
        if dentry.inode.getattr(nil, &st) == 0 { identity = (st.st_dev, st.st_ino) }
    }
}

/// Every watch of the sandbox by watched dentry. `count == 0` keeps the VFS hooks to one load.
enum InotifyHub {
    nonisolated(unsafe) static var watches: [ObjectIdentifier: [InotifyWatch]] = [:]
    nonisolated(unsafe) static var count = 0
    nonisolated(unsafe) static var nextCookie: UInt32 = 1

    static func add(_ w: InotifyWatch) {
        watches[ObjectIdentifier(w.dentry), default: []].append(w)
        count += 1
    }

    static func remove(_ w: InotifyWatch) {
        let key = ObjectIdentifier(w.dentry)
        guard var list = watches[key], let i = list.firstIndex(where: { $0 === w }) else { return }
        list.remove(at: i)
        watches[key] = list.isEmpty ? nil : list
        count -= 1
    }

    /// Reports `mask` on `d` itself (no name).
    static func onSelf(_ d: Dentry, _ mask: UInt32, cookie: UInt32 = 0) {
        guard count > 0, let list = watches[ObjectIdentifier(d)] else { return }
        for w in list { deliver(w, mask, cookie: cookie, name: nil) }
    }

    /// Reports `mask` to every watch on the object `d` names, through whichever name it was set
    /// (hard links: Linux watches inodes).
    static func onObject(_ d: Dentry, _ mask: UInt32) {
        guard count > 0 else { return }
        var st = Glibc.stat()
        guard d.inode.getattr(nil, &st) == 0 else { return onSelf(d, mask) }
        for list in watches.values {
            for w in list where w.dentry === d || (w.identity.0 == st.st_dev && w.identity.1 == st.st_ino) {
                deliver(w, mask, cookie: 0, name: nil)
            }
        }
    }

    /// Reports `mask` for child `name` of directory `dir` (to the directory's watches).
    static func inDir(_ dir: Dentry, _ mask: UInt32, name: String, cookie: UInt32 = 0) {
        guard count > 0, let list = watches[ObjectIdentifier(dir)] else { return }
        for w in list { deliver(w, mask, cookie: cookie, name: name) }
    }

    /// An event on a file: to its parent directory's watches with its name, then to its own.
    static func onFile(_ d: Dentry, _ mask: UInt32) {
        guard count > 0 else { return }
        let m = mask | (d.inode.isDir ? IN_ISDIR_ : 0)
        if let p = d.parent, !d.dead { inDir(p, m, name: d.name) }
        onSelf(d, m)
    }

    /// The watched object is gone: IN_DELETE_SELF then IN_IGNORED, and the watches are dropped.
    static func deleted(_ d: Dentry) {
        guard count > 0, let list = watches[ObjectIdentifier(d)] else { return }
        for w in list {
            deliver(w, IN_DELETE_SELF_, cookie: 0, name: nil)
            if w.owner.watches[w.wd] === w { drop(w) }
        }
    }

    static func drop(_ w: InotifyWatch) {
        remove(w)
        w.owner.watches[w.wd] = nil
        w.owner.enqueue(w.wd, IN_IGNORED_, cookie: 0, name: nil)
    }

    private static func deliver(_ w: InotifyWatch, _ mask: UInt32, cookie: UInt32, name: String?) {
        guard w.owner.watches[w.wd] === w, mask & IN_ALL_EVENTS_ & w.mask != 0 else { return }
        w.owner.enqueue(w.wd, mask & (w.mask | IN_ISDIR_), cookie: cookie, name: name)
        if w.mask & IN_ONESHOT_ != 0 { drop(w) }
    }

    static func cookie() -> UInt32 {
        nextCookie &+= 1
        return nextCookie
    }
}

/// An inotify instance: its watches by descriptor and its queue of encoded events.
final class InotifyFile: FileDescription {
    var watches: [Int32: InotifyWatch] = [:]
    var nextWD: Int32 = 1
    var queue: [[UInt8]] = []
    var queued = 0
    var inSeq: UInt64 = 0
    static let maxQueued = 16384
    override var inputSeq: UInt64 { inSeq }

    /// Gofer connections whose host-side events this instance's watches want (GoferHostEvents.swift).
    var hostFS: [GoferFS] = []
    override var hostPollFD: Int32? { hostFS.first?.notifier }
    func pumpHost() { for fs in hostFS { fs.pumpHostEvents() } }

    override init(flags: Int32) { super.init(flags: O_RDONLY | flags); LiveObjects.inotifies += 1 }
    deinit { for w in watches.values { InotifyHub.remove(w) }; LiveObjects.inotifies -= 1 }

    func enqueue(_ wd: Int32, _ mask: UInt32, cookie: UInt32, name: String?) {
        var rec: [UInt8] = []
        let nameBytes = name.map { Array($0.utf8) } ?? []
        // The name is NUL-padded to a multiple of 16 bytes (as Linux pads it).
        let len = nameBytes.isEmpty ? 0 : (nameBytes.count + 1 + 15) & ~15
        withUnsafeBytes(of: wd) { rec += $0 }
        withUnsafeBytes(of: mask) { rec += $0 }
        withUnsafeBytes(of: cookie) { rec += $0 }
        withUnsafeBytes(of: UInt32(len)) { rec += $0 }
        rec += nameBytes
        rec += [UInt8](repeating: 0, count: len - nameBytes.count)
        // Linux merges an event identical to the last one still queued.
        if let last = queue.last, last == rec { return }
        if queue.count >= InotifyFile.maxQueued {
            if mask != IN_Q_OVERFLOW_ { enqueue(-1, IN_Q_OVERFLOW_, cookie: 0, name: nil) }
            return
        }
        queue.append(rec)
        queued += rec.count
        inSeq &+= 1
        Kernel.shared?.broadcast()
    }

    override func read(_ t: Task, _ buf: UnsafeMutableRawBufferPointer) -> Int {
        pumpHost()
        while queue.isEmpty {
            if nonblocking { return -Int(EAGAIN) }
            // Host-side events wake nobody: look again every 10 ms while there are host watches.
            if !t.block(deadline: hostFS.isEmpty ? nil : addNanos(monotonicNow(), 10_000_000)) { return -ERESTARTSYS }
            pumpHost()
        }
        if buf.count < queue[0].count { return -Int(EINVAL) }
        var n = 0
        while let first = queue.first, n + first.count <= buf.count {
            first.withUnsafeBytes { memcpy(buf.baseAddress! + n, $0.baseAddress!, first.count) }
            n += first.count
            queued -= first.count
            queue.removeFirst()
        }
        return n
    }
    override func write(_ t: Task, _ buf: UnsafeRawBufferPointer) -> Int { -Int(EINVAL) }
    override func poll(_ events: Int16) -> Int16 {
        pumpHost()
        return queue.isEmpty ? 0 : events & POLLIN_
    }
    override func ioctl(_ t: Task, _ cmd: UInt64, _ arg: UInt64) -> Int {
        guard cmd == 0x541B else { return -Int(ENOTTY) }   // FIONREAD
        pumpHost()
        return t.mm.write(arg, Int32(queued)) ? 0 : -Int(EFAULT)
    }
    override func stat(_ st: inout stat) -> Int { st = Glibc.stat(); st.st_mode = 0o600; st.st_nlink = 1; return 0 }
}

extension Task {
    func sysInotifyInit1(_ flags: Int32) -> Int {
        guard flags & ~(O_CLOEXEC | O_NONBLOCK) == 0 else { return errno(EINVAL) }
        return fds.install(InotifyFile(flags: flags & O_NONBLOCK), cloexec: flags & O_CLOEXEC != 0)
    }

    func sysInotifyAddWatch(_ fd: Int, _ pathAddr: UInt64, _ mask: UInt32) -> Int {
        guard let f = fds.get(fd) else { return errno(EBADF) }
        guard let ino = f as? InotifyFile else { return errno(EINVAL) }
        if mask & IN_ALL_EVENTS_ == 0 { return errno(EINVAL) }
        if mask & IN_MASK_ADD_ != 0 && mask & IN_MASK_CREATE_ != 0 { return errno(EINVAL) }
        let target: VLocation
        switch targetArgs(AT_FDCWD_, pathAddr, flags: mask & IN_DONT_FOLLOW_ != 0 ? AT_SYMLINK_NOFOLLOW_ : 0) {
        case .failure(let e): return errno(e)
        case .success(.file): return errno(EINVAL)
        case .success(.loc(let l)): target = l
        }
        // Read permission on the watched object is needed, as Linux checks.
        var st = Glibc.stat()
        if target.inode.getattr(self, &st) == 0, !permitted(self, st, 4) { return errno(EACCES) }
        if mask & IN_ONLYDIR_ != 0 && !target.inode.isDir { return errno(ENOTDIR) }
        let keep = mask & (IN_ALL_EVENTS_ | IN_ONESHOT_ | IN_EXCL_UNLINK_)
        if let w = ino.watches.values.first(where: { $0.dentry === target.dentry }) {
            if mask & IN_MASK_CREATE_ != 0 { return errno(EEXIST) }
            w.mask = mask & IN_MASK_ADD_ != 0 ? w.mask | keep : keep
            return Int(w.wd)
        }
        let w = InotifyWatch(wd: ino.nextWD, mask: keep, dentry: target.dentry, owner: ino)
        ino.nextWD += 1
        ino.watches[w.wd] = w
        InotifyHub.add(w)
        if let g = target.inode as? GoferInode {
            // Changes made on the host behind the gofer (GoferHostEvents.swift).
            g.fs.watchHost(g, target.dentry)
            if g.fs.notifier >= 0 && !ino.hostFS.contains(where: { $0 === g.fs }) { ino.hostFS.append(g.fs) }
        }
        return Int(w.wd)
    }

    func sysInotifyRmWatch(_ fd: Int, _ wd: Int32) -> Int {
        guard let f = fds.get(fd) else { return errno(EBADF) }
        guard let ino = f as? InotifyFile, let w = ino.watches[wd] else { return errno(EINVAL) }
        InotifyHub.drop(w)
        return 0
    }
}

extension FileDescription {
    /// Raises an inotify event on the file this description opened (nothing when nobody watches).
    @inline(__always) func inotify(_ mask: UInt32) {
        if InotifyHub.count > 0, let l = location { InotifyHub.onFile(l.dentry, mask) }
    }
    /// IN_CLOSE_WRITE / IN_CLOSE_NOWRITE, from the deinit of VFS descriptions.
    func inotifyClosed() { inotify(writable ? IN_CLOSE_WRITE_ : IN_CLOSE_NOWRITE_) }
}
