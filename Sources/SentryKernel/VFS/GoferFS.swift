// The container's files through bulwark-gofer: each inode is a gofer fid (released in batches when
// the inode goes away); attributes come with every walk and are cached until the Sentry itself
// changes the file; regular files are read and written through the host descriptor the Gofer
// donates. Transport failures (a dead or hung gofer) become EIO, never a hang or a crash.
import Glibc
import GoferServer
import IPC
import Protocol

final class GoferFS {
    let client: GoferClient
    var pendingClose: [UInt64] = []
    /// Set once the channel failed: every later call is EIO at once.
    var dead = false { didSet { if dead && !oldValue { ServiceFailureLog.report(service: "gofer", "file operations on its mounts now fail with EIO") } } }
    /// Bumped by every link, unlink and rename: other names of a multiply linked file may have
    /// changed link count.
    var linkEpoch = 0
    /// The last StatFS reply and when it came (programs like find call fstatfs per directory).
    var statfsCache: (reply: Gofer.StatFSReply, at: timespec)? = nil
    /// Host fds of recently opened files kept open (bounded) so reopening them needs no IPC.
    var recentFDs: [SharedHostFD] = []
    func keep(_ h: SharedHostFD) {
        recentFDs.append(h)
        if recentFDs.count > 128 { recentFDs.removeFirst(32) }
    }

    /// The mounts of this gofer connection are all read-only to the Sentry (the overlay's lower
    /// layer): listings may stand in for lookups of missing names.
    var readOnly = false
    /// Prefetched children not yet looked up, across directories (each holds a gofer node). A listing
    /// prefetches only while the total stays within `prefetchLimit`, so the sets of directories a
    /// depth-first walk (find, tar, du) will come back to are kept; the oldest sets are dropped only
    /// when not even one batch fits (listings whose names were never looked up).
    var prefetchCount = 0
    let prefetchLimit = 4096
    var prefetchOwners: [WeakGoferInode] = []
    var prefetchHead = 0

    func notePrefetch(_ dir: GoferInode) {
        prefetchCount += dir.prefetched.count
        prefetchOwners.append(WeakGoferInode(dir))
        if prefetchHead > 1024 { prefetchOwners.removeFirst(prefetchHead); prefetchHead = 0 }
        // Directories whose sets were all consumed need no slot either.
        if prefetchOwners.count - prefetchHead > 8192 {
            prefetchOwners = prefetchOwners[prefetchHead...].filter { ($0.inode?.prefetched.isEmpty ?? true) == false }
            prefetchHead = 0
        }
    }

    /// Drops the oldest directories' sets until `room` more fit.
    func evictPrefetch(room: Int) {
        while prefetchCount + room > prefetchLimit, prefetchHead < prefetchOwners.count {
            let old = prefetchOwners[prefetchHead]
            prefetchHead += 1
            if let d = old.inode {
                prefetchCount -= d.prefetched.count
                d.prefetched = [:]
            }
        }
    }

    /// Host-side changes for inotify (GoferHostEvents.swift): the gofer's notifier descriptor (-1
    /// before the first HostWatch) and the dentries each host watch descriptor stands for.
    var notifier: Int32 = -1
    var hostWatched: [UInt32: [WeakDentry]] = [:]
    /// Pulls of host events so far: own content events counted before the current pull are stale.
    var hostPulls = 0

    init(client: GoferClient) { self.client = client }

    func call<T>(_ body: () throws(IPCError) -> T) -> KResult<T> {
        if dead { return .failure(EIO) }
        if pendingClose.count >= 64 {
            let fids = pendingClose
            pendingClose = []
            do { try client.close(fids) } catch {
                if case .remote = error {} else { dead = true; return .failure(EIO) }
            }
        }
        do {
            return .success(try body())
        } catch {
            if case .remote(let e, _) = error { return .failure(e.rawValue) }
            dead = true
            return .failure(EIO)
        }
    }

    /// The root inode of gofer mount `id`.
    func attach(mountID: UInt64, readOnly: Bool) -> KResult<GoferInode> {
        switch call({ () throws(IPCError) in try client.attach(mountID: mountID, path: "/", readOnly: readOnly) }) {
        case .failure(let e): return .failure(e)
        case .success(let ino): return .success(GoferInode(fs: self, ino))
        }
    }
}

struct WeakGoferInode {
    weak var inode: GoferInode?
    init(_ i: GoferInode) { inode = i }
}

func makedev_(_ major: UInt32, _ minor: UInt32) -> UInt64 {
    let ma = UInt64(major), mi = UInt64(minor)
    return ((ma & 0xfffff000) << 32) | ((ma & 0xfff) << 8) | ((mi & 0xffffff00) << 12) | (mi & 0xff)
}

final class GoferInode: VInode {
    let fs: GoferFS
    let fid: UInt64
    var attrs: Gofer.Stat
    /// Cached attributes are out of date (the Sentry changed the file): fetched again on next use.
    var stale = false
    var epoch = 0
    /// Shared host fds by access mode (O_RDONLY, O_WRONLY, O_RDWR), while someone uses them.
    weak var readFD: SharedHostFD?
    weak var writeFD: SharedHostFD?
    weak var readWriteFD: SharedHostFD?
    let type: UInt32
    /// Children looked up together with the last listing (GetdentsWalk), handed out by lookup
    /// once each: `find`, `ls -l` and tar stat what they list, at no extra round trip.
    var prefetched: [String: GoferInode] = [:]
    /// Every name of the last complete listing, kept for read-only mounts (the overlay's lower
    /// layer): a name not in it is ENOENT without asking the gofer.
    var listedNames: Set<String>? = nil
    /// Names of the last listing that were listed without a lookup (the prefetch budget ran out, or
    /// the directory is big), with the cookie just before each: a lookup of one of them fetches the
    /// next batch from there in one GetdentsWalk, so a walk of a directory with thousands of entries
    /// costs one round trip per 256 names, not one per name.
    var unfetched: [String: UInt64] = [:]
    /// The gofer's host watch descriptor for this inode, once inotify watches it (GoferHostEvents.swift).
    var hostWD: UInt32? = nil
    /// Content events (IN_MODIFY, IN_CLOSE_WRITE) the Sentry's own writes and closes caused on the
    /// host since the gofer's events were last pulled (`GoferFS.hostPulls`), so those are not taken
    /// for host-side changes (GoferHostEvents.swift).
    var ownContent = OwnContentEvents()

    init(fs: GoferFS, _ ino: Gofer.Inode) {
        self.fs = fs
        fid = ino.fid
        attrs = ino.stat
        type = ino.stat.mode & S_IFMT
    }
    deinit {
        fs.prefetchCount -= prefetched.count
        fs.pendingClose.append(fid)
    }

    override var fileType: UInt32 { type }

    override func invalidate() { stale = true }

    func child(_ ino: Gofer.Inode) -> GoferInode { GoferInode(fs: fs, ino) }

    private func refresh() -> Int32 {
        if attrs.nlink > 1 && type != S_IFDIR && epoch != fs.linkEpoch { stale = true }
        epoch = fs.linkEpoch
        guard stale else { return 0 }
        switch fs.call({ () throws(IPCError) in try fs.client.stat(fid) }) {
        case .failure(let e): return -e
        case .success(let s): attrs = s; stale = false; return 0
        }
    }

    override func getattr(_ t: Task?, _ st: inout stat) -> Int32 {
        let r = refresh()
        if r < 0 { return r }
        let g = attrs
        st = Glibc.stat()
        st.st_dev = UInt(makedev_(g.devMajor, g.devMinor))
        st.st_ino = UInt(g.ino)
        st.st_mode = g.mode
        st.st_nlink = UInt(g.nlink)
        st.st_uid = g.uid
        st.st_gid = g.gid
        st.st_rdev = UInt(makedev_(g.rdevMajor, g.rdevMinor))
        st.st_size = Int(g.size)
        st.st_blksize = Int(g.blockSize)
        st.st_blocks = Int(g.blocks)
        st.st_atim = timespec(tv_sec: Int(g.atimeSec), tv_nsec: Int(g.atimeNsec))
        st.st_mtim = timespec(tv_sec: Int(g.mtimeSec), tv_nsec: Int(g.mtimeNsec))
        st.st_ctim = timespec(tv_sec: Int(g.ctimeSec), tv_nsec: Int(g.ctimeNsec))
        return 0
    }

    override func lookup(_ t: Task?, _ name: String) -> KResult<VInode> {
        if !prefetched.isEmpty, let c = prefetched.removeValue(forKey: name) { fs.prefetchCount -= 1; return .success(c) }
        if let names = listedNames, !names.contains(name) { return .failure(ENOENT) }
        if let cookie = unfetched[name], let c = prefetchBatch(from: cookie, wanting: name) { return .success(c) }
        switch fs.call({ () throws(IPCError) in try fs.client.walk(fid, [name]) }) {
        case .failure(let e): return .failure(e)
        case .success(let list):
            guard let first = list.first else { return .failure(ENOENT) }
            return .success(child(first))
        }
    }

    /// One GetdentsWalk from `cookie` (the entry before `name` in the last listing): `name`'s inode,
    /// and the batch's other names that were not fetched yet join `prefetched`. Nil when the batch
    /// does not hold `name` (the directory changed since): the caller walks to it alone.
    private func prefetchBatch(from cookie: UInt64, wanting name: String) -> GoferInode? {
        fs.evictPrefetch(room: 256)
        let batch: Gofer.GetdentsWalkReply
        switch fs.call({ () throws(IPCError) in try fs.client.getdentsWalk(fid, cookie: cookie, count: 256) }) {
        case .failure: return nil
        case .success(let r): batch = r
        }
        var hit: GoferInode? = nil
        var added = 0
        for (i, e) in batch.entries.enumerated() where i < batch.inodes.count && batch.inodes[i].fid != 0 {
            // Inodes of names fetched before are let go at once (their fids are closed in a batch).
            guard unfetched.removeValue(forKey: e.name) != nil else { continue }
            let c = child(batch.inodes[i])
            if e.name == name { hit = c } else { prefetched[e.name] = c; added += 1 }
        }
        if added > 0 {
            fs.prefetchCount += added
            fs.prefetchOwners.append(WeakGoferInode(self))
        }
        return hit
    }

    /// BULWARK_GOFER_PREFETCH=0 lists with plain Getdents (for comparing the two).
    static let prefetchEnabled: Bool = getenv("BULWARK_GOFER_PREFETCH").map { String(cString: $0) != "0" } ?? true

    override func readdir(_ t: Task?) -> KResult<[VDirEntry]> {
        if !GoferInode.prefetchEnabled {
            switch fs.call({ () throws(IPCError) in try fs.client.readDirectory(fid) }) {
            case .failure(let e): return .failure(e)
            case .success(let list): return .success(list.map { VDirEntry(name: $0.name, ino: $0.ino, type: $0.type) })
            }
        }
        // One GetdentsWalk per 256 entries lists and looks up at once (see `prefetched`).
        var out: [VDirEntry] = []
        var fresh: [String: GoferInode] = [:]
        var cookie: UInt64 = 0
        fs.prefetchCount -= prefetched.count
        prefetched = [:]
        var later: [String: UInt64] = [:]
        fs.evictPrefetch(room: 256)
        while true {
            let batch: Gofer.GetdentsWalkReply
            if fs.prefetchCount + fresh.count + 256 <= fs.prefetchLimit {
                switch fs.call({ () throws(IPCError) in try fs.client.getdentsWalk(fid, cookie: cookie, count: 256) }) {
                case .failure(let e): return .failure(e)
                case .success(let r): batch = r
                }
            } else {
                // A big directory: the rest is listed without lookups (each would hold a gofer node).
                switch fs.call({ () throws(IPCError) in try fs.client.getdents(fid, cookie: cookie, count: 1024) }) {
                case .failure(let e): return .failure(e)
                case .success(let r): batch = Gofer.GetdentsWalkReply(entries: r.entries, inodes: [], end: r.end)
                }
            }
            var before = cookie
            for (i, e) in batch.entries.enumerated() {
                out.append(VDirEntry(name: e.name, ino: e.ino, type: e.type))
                if i < batch.inodes.count && batch.inodes[i].fid != 0 { fresh[e.name] = child(batch.inodes[i]) }
                else if batch.inodes.isEmpty { later[e.name] = before }
                before = e.cookie
            }
            if batch.end || batch.entries.isEmpty { break }
            cookie = batch.entries.last!.cookie
        }
        prefetched = fresh
        unfetched = later
        fs.notePrefetch(self)
        if fs.readOnly { listedNames = Set(out.map(\.name)) }
        return .success(out)
    }

    override func readlink(_ t: Task?) -> KResult<String> {
        guard type == S_IFLNK else { return .failure(EINVAL) }
        return fs.call { () throws(IPCError) in try fs.client.readlink(fid) }
    }

    /// Host open flags the gofer accepts (O_APPEND is applied by HostFile).
    static func hostFlags(_ flags: Int32) -> Int32 { flags & (O_ACCMODE_ | O_TRUNC | O_DSYNC | O_SYNC | O_NOATIME) }

    override func open(_ t: Task?, flags: Int32) -> KResult<FileDescription> {
        switch type {
        case S_IFREG:
            let acc = flags & O_ACCMODE_
            // O_SYNC, O_DSYNC and O_NOATIME (VFSAtime.swift) descriptions get a host fd of their own.
            let sync = flags & (O_DSYNC | O_SYNC | O_NOATIME)
            if sync == 0, let h = acc == O_RDONLY ? readFD : (acc == O_WRONLY ? writeFD : readWriteFD) {
                // Reuse the host fd (offsets are per description); truncation is explicit.
                if flags & O_TRUNC != 0 && acc != O_RDONLY {
                    if ftruncate(h.fd, 0) != 0 { return .failure(errno) }
                    stale = true
                    ownContentEvent(IN_MODIFY_)
                }
                return .success(HostFile(host: h, flags: flags, inode: self))
            }
            let hf = GoferInode.hostFlags(flags)
            switch fs.call({ () throws(IPCError) in try fs.client.open(fid, flags: hf).release() }) {
            case .failure(let e): return .failure(e)
            case .success(let fd):
                if flags & O_TRUNC != 0 { stale = true }
                let h = SharedHostFD(fd)
                if acc != O_RDONLY { h.writer = self }   // its last close is IN_CLOSE_WRITE on the host
                if sync == 0 {
                    switch acc {
                    case O_RDONLY: readFD = h
                    case O_WRONLY: writeFD = h
                    default: readWriteFD = h
                    }
                    fs.keep(h)
                }
                return .success(HostFile(host: h, flags: flags, inode: self))
            }
        case S_IFIFO:
            return FifoTable.open(t, FifoTable.pipe(dev: makedev_(attrs.devMajor, attrs.devMinor), ino: attrs.ino), flags: flags)
        case S_IFCHR:
            // Device nodes of the image are not the host's devices; /dev is the Sentry's devfs.
            return .failure(EACCES)
        default:
            return .failure(ENXIO)
        }
    }

    override func openForExec(_ t: Task?) -> Int32 {
        switch fs.call({ () throws(IPCError) in try fs.client.open(fid, flags: O_RDONLY).release() }) {
        case .failure(let e): return -e
        case .success(let fd): return fd
        }
    }

    override func create(_ t: Task?, _ name: String, flags: Int32, mode: UInt32, uid: UInt32, gid: UInt32) -> KResult<(VInode, FileDescription)> {
        let hf = GoferInode.hostFlags(flags) & ~O_TRUNC
        switch fs.call({ () throws(IPCError) in try fs.client.create(fid, name, flags: hf, mode: mode, uid: uid, gid: gid) }) {
        case .failure(let e): return .failure(e)
        case .success(let (ino, fd)):
            stale = true
            let c = child(ino)
            return .success((c, HostFile(fd: fd, flags: flags, inode: c)))
        }
    }

    private func made(_ r: KResult<Gofer.Inode>) -> KResult<VInode> {
        switch r {
        case .failure(let e): return .failure(e)
        case .success(let ino): stale = true; return .success(child(ino))
        }
    }

    override func mkdir(_ name: String, mode: UInt32, uid: UInt32, gid: UInt32) -> KResult<VInode> {
        made(fs.call { () throws(IPCError) in try fs.client.mkdir(fid, name, mode: mode, uid: uid, gid: gid) })
    }
    override func mknod(_ name: String, mode: UInt32, rdev: UInt64, uid: UInt32, gid: UInt32) -> KResult<VInode> {
        made(fs.call { () throws(IPCError) in try fs.client.mknod(fid, name, mode: mode, uid: uid, gid: gid) })
    }
    override func symlink(_ name: String, target: String, uid: UInt32, gid: UInt32) -> KResult<VInode> {
        made(fs.call { () throws(IPCError) in try fs.client.symlink(fid, name, target: target, uid: uid, gid: gid) })
    }
    override func link(_ name: String, target: VInode) -> Int32 {
        guard let g = target as? GoferInode, g.fs === fs else { return -EXDEV }
        switch fs.call({ () throws(IPCError) in try fs.client.link(fid, name, target: g.fid) }) {
        case .failure(let e): return -e
        case .success: stale = true; g.stale = true; fs.linkEpoch += 1; return 0
        }
    }
    override func unlink(_ name: String, dir: Bool) -> Int32 {
        switch fs.call({ () throws(IPCError) in try fs.client.unlink(fid, name, removeDirectory: dir) }) {
        case .failure(let e): return -e
        case .success: stale = true; fs.linkEpoch += 1; return 0
        }
    }
    override func rename(_ oldName: String, newDir: VInode, _ newName: String, flags: UInt32) -> Int32 {
        guard let d = newDir as? GoferInode, d.fs === fs else { return -EXDEV }
        switch fs.call({ () throws(IPCError) in try fs.client.rename(fid, oldName, d.fid, newName, flags: flags) }) {
        case .failure(let e): return -e
        case .success: stale = true; d.stale = true; fs.linkEpoch += 1; return 0
        }
    }

    override func setattr(_ a: VSetAttr) -> Int32 {
        var req = Gofer.SetAttr(fid: fid)
        if let m = a.mode { req.mask |= 0x2; req.mode = m }
        if let u = a.uid { req.mask |= 0x8; req.uid = u }
        if let g = a.gid { req.mask |= 0x10; req.gid = g }
        if let s = a.size { req.mask |= 0x200; req.size = UInt64(s) }
        let utimeNow = (1 << 30) - 1
        if let at = a.atime {
            req.mask |= 0x20
            if at.tv_nsec == utimeNow { req.timeFlags |= GoferServer.setAtimeNow } else { req.atimeSec = Int64(at.tv_sec); req.atimeNsec = UInt32(at.tv_nsec) }
        }
        if let mt = a.mtime {
            req.mask |= 0x40
            if mt.tv_nsec == utimeNow { req.timeFlags |= GoferServer.setMtimeNow } else { req.mtimeSec = Int64(mt.tv_sec); req.mtimeNsec = UInt32(mt.tv_nsec) }
        }
        if req.mask == 0 { return 0 }
        switch fs.call({ () throws(IPCError) in try fs.client.setAttr(req) }) {
        case .failure(let e): return -e
        case .success: stale = true; return 0
        }
    }

    override func statfs(_ sf: inout [UInt64]) -> Int32 {
        let now = monotonicNow()
        let result: KResult<Gofer.StatFSReply>
        if let c = fs.statfsCache, lessThan(now, addNanos(c.at, 500_000_000)) {
            result = .success(c.reply)
        } else {
            result = fs.call { () throws(IPCError) in try fs.client.statfs(fid) }
            if case .success(let r) = result { fs.statfsCache = (r, now) }
        }
        switch result {
        case .failure(let e): return -e
        case .success(let r):
            sf = [UInt64](repeating: 0, count: 15)
            sf[0] = r.type; sf[1] = r.blockSize; sf[2] = r.blocks; sf[3] = r.blocksFree; sf[4] = r.blocksAvailable
            sf[5] = r.files; sf[6] = r.filesFree; sf[8] = r.nameLength; sf[9] = r.blockSize
            return 0
        }
    }

    override func getxattr(_ name: String) -> KResult<[UInt8]> {
        switch fs.call({ () throws(IPCError) in try fs.client.getXattr(fid, name) }) {
        case .failure(let e): return .failure(e == EOPNOTSUPP ? ENODATA : e)
        case .success(let r): return .success(r.value)
        }
    }
    override func setxattr(_ name: String, _ value: [UInt8], flags: Int32) -> Int32 {
        switch fs.call({ () throws(IPCError) in try fs.client.setXattr(fid, name, value, flags: UInt32(bitPattern: flags)) }) {
        case .failure(let e): return -e
        case .success: return 0
        }
    }
    override func listxattr() -> KResult<[String]> { fs.call { () throws(IPCError) in try fs.client.listXattr(fid) } }
    override func removexattr(_ name: String) -> Int32 {
        switch fs.call({ () throws(IPCError) in try fs.client.removeXattr(fid, name) }) {
        case .failure(let e): return -e
        case .success: return 0
        }
    }
    override func fsync(dataOnly: Bool) -> Int32 {
        guard type == S_IFREG || type == S_IFDIR else { return 0 }
        switch fs.call({ () throws(IPCError) in try fs.client.fsync(fid, dataOnly: dataOnly) }) {
        case .failure(let e): return -e
        case .success: return 0
        }
    }
}
