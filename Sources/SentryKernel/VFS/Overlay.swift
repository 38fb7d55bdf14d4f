// The default root (runsc's --overlay2=root:self): the Gofer's root is a read-only lower layer and
// every change goes to an in-Sentry tmpfs upper layer. A file is copied up (with its attributes)
// the first time it is opened for writing, truncated, chmod'ed...; removing a name the lower layer
// has leaves a whiteout (kept as a name set in the upper directory, never visible); a directory made
// where a whiteout was is opaque (the lower directory is not merged). Listings merge both layers.
// Renaming a directory that exists in the lower layer is EXDEV (as overlayfs without redirect_dir:
// `mv` falls back to copying).
import Glibc

extension FileDescription {
    /// fstat of a file opened through the overlay: its lower layer's host descriptor reports the
    /// host's device, the overlay's is the one to show.
    @inline(__always)
    func overlayDevice(_ st: inout stat) {
        if let o = location?.dentry.inode as? OverlayInode { st.st_dev = o.dev }
    }
}

final class OverlayInode: VInode {
    var upper: TmpfsNode?
    let lower: VInode?
    var parent: OverlayInode?
    var name: String
    let type: UInt32
    /// The overlay's device: every object reports it, from either layer (the upper tmpfs has it too).
    let dev: UInt

    init(parent: OverlayInode?, name: String, upper: TmpfsNode?, lower: VInode?, dev: UInt? = nil) {
        self.dev = dev ?? parent!.dev
        self.parent = parent
        self.name = name
        self.upper = upper
        self.lower = lower
        type = upper?.typeBits ?? lower!.fileType
    }
    override var fileType: UInt32 { type }

    /// The root: the tmpfs upper directory over the gofer's root.
    static func root(lower: VInode) -> OverlayInode {
        var st = stat()
        let up = TmpfsNode(kind: .dir, mode: 0o755)
        if lower.getattr(nil, &st) == 0 {
            up.mode = st.st_mode & 0o7777
            up.uid = st.st_uid
            up.gid = st.st_gid
        }
        return OverlayInode(parent: nil, name: "/", upper: up, lower: lower, dev: up.dev)
    }

    /// Copies this file up into the upper layer (parents first). 0 or -errno.
    func ensureUpper() -> Int32 {
        if upper != nil { return 0 }
        guard let p = parent, let lower else { return -EIO }
        let r = p.ensureUpper()
        if r < 0 { return r }
        let pu = p.upper!
        if let existing = pu.children[name] { upper = existing; return 0 }   // copied up through another path
        var st = stat()
        let sr = lower.getattr(nil, &st)
        if sr < 0 { return sr }
        let node: TmpfsNode
        switch type {
        case S_IFDIR:
            node = pu.newNode(.dir, mode: st.st_mode)
            pu.nlink += 1
        case S_IFREG:
            node = pu.newNode(.file, mode: st.st_mode)
            let fd = lower.openForExec(nil)
            if fd < 0 { return fd }
            defer { Glibc.close(fd) }
            var data = [UInt8](repeating: 0, count: Int(st.st_size))
            var off = 0
            while off < data.count {
                let n = data.withUnsafeMutableBytes { Glibc.pread(fd, $0.baseAddress! + off, $0.count - off, off_t(off)) }
                if n < 0 { return -errno }
                if n == 0 { break }
                off += n
            }
            if off < data.count { data.removeSubrange(off...) }
            node.data = data
        case S_IFLNK:
            node = pu.newNode(.symlink, mode: 0o777)
            guard case .success(let target) = lower.readlink(nil) else { return -EIO }
            node.data = Array(target.utf8)
        case S_IFIFO: node = pu.newNode(.fifo, mode: st.st_mode)
        case S_IFSOCK: node = pu.newNode(.socket, mode: st.st_mode)
        case S_IFCHR: node = pu.newNode(.chardev, mode: st.st_mode); node.rdev = UInt64(st.st_rdev)
        default: node = pu.newNode(.blockdev, mode: st.st_mode); node.rdev = UInt64(st.st_rdev)
        }
        node.uid = st.st_uid
        node.gid = st.st_gid
        node.atime = st.st_atim
        node.mtime = st.st_mtim
        node.ctime = st.st_ctim
        node.parent = pu
        pu.children[name] = node
        pu.whiteouts.remove(name)
        upper = node
        return 0
    }

    override func getattr(_ t: Task?, _ st: inout stat) -> Int32 {
        guard let u = upper else {
            let r = lower!.getattr(t, &st)
            st.st_dev = dev
            return r
        }
        if u.kind == .dir, let l = lower {
            // A merged directory keeps the lower directory's identity (inode, link count, times)
            // until the overlay changes it; its mode and owner are the upper's.
            let r = l.getattr(t, &st)
            if r < 0 { return r }
            st.st_mode = S_IFDIR | (u.mode & 0o7777)
            st.st_uid = u.uid
            st.st_gid = u.gid
            if u.changedByOverlay && lessThan(st.st_mtim, u.mtime) {
                st.st_mtim = u.mtime
                st.st_ctim = u.ctime
            }
            if lessThan(st.st_atim, u.atime) && u.changedByOverlay { st.st_atim = u.atime }
            st.st_dev = dev
            return 0
        }
        u.fillStat(&st)
        return 0
    }

    /// Whether the lower layer still shows `name` in this directory.
    private func lowerHas(_ t: Task?, _ name: String) -> VInode? {
        if upper?.opaque == true { return nil }
        guard let l = lower, case .success(let c) = l.lookup(t, name) else { return nil }
        return c
    }

    override func lookup(_ t: Task?, _ name: String) -> KResult<VInode> {
        guard type == S_IFDIR else { return .failure(ENOTDIR) }
        if let u = upper {
            if let c = u.children[name] {
                var lc: VInode? = nil
                if c.kind == .dir && !c.opaque, let l = lowerHas(t, name), l.isDir { lc = l }
                return .success(OverlayInode(parent: self, name: name, upper: c, lower: lc))
            }
            if u.whiteouts.contains(name) || u.opaque { return .failure(ENOENT) }
        }
        guard let l = lower else { return .failure(ENOENT) }
        switch l.lookup(t, name) {
        case .failure(let e): return .failure(e)
        case .success(let c): return .success(OverlayInode(parent: self, name: name, upper: nil, lower: c))
        }
    }

    override func readdir(_ t: Task?) -> KResult<[VDirEntry]> {
        guard type == S_IFDIR else { return .failure(ENOTDIR) }
        var out: [VDirEntry] = []
        var seen = Set<String>()
        if let u = upper, case .success(let list) = u.readdir(t) {
            out = list
            for e in list { seen.insert(e.name) }
        }
        if upper?.opaque != true, let l = lower {
            switch l.readdir(t) {
            case .failure(let e): return .failure(e)
            case .success(let list):
                for e in list where !seen.contains(e.name) && !(upper?.whiteouts.contains(e.name) ?? false) { out.append(e) }
            }
        }
        return .success(out)
    }

    override func readlink(_ t: Task?) -> KResult<String> {
        if let u = upper { return u.readlink(t) }
        return lower!.readlink(t)
    }

    override func open(_ t: Task?, flags: Int32) -> KResult<FileDescription> {
        if type == S_IFREG && (flags & O_ACCMODE_ != O_RDONLY || flags & O_TRUNC != 0) {
            let r = ensureUpper()
            if r < 0 { return .failure(-r) }
        }
        if let u = upper { return u.open(t, flags: flags) }
        return lower!.open(t, flags: flags)
    }

    override func openForExec(_ t: Task?) -> Int32 {
        if let u = upper { return u.openForExec(t) }
        return lower!.openForExec(t)
    }

    private func prepareDir() -> KResult<TmpfsNode> {
        guard type == S_IFDIR else { return .failure(ENOTDIR) }
        let r = ensureUpper()
        if r < 0 { return .failure(-r) }
        return .success(upper!)
    }

    override func create(_ t: Task?, _ name: String, flags: Int32, mode: UInt32, uid: UInt32, gid: UInt32) -> KResult<(VInode, FileDescription)> {
        switch prepareDir() {
        case .failure(let e): return .failure(e)
        case .success(let u):
            switch u.create(t, name, flags: flags, mode: mode, uid: uid, gid: gid) {
            case .failure(let e): return .failure(e)
            case .success(let (n, f)):
                return .success((OverlayInode(parent: self, name: name, upper: n as? TmpfsNode, lower: nil), f))
            }
        }
    }

    private func wrap(_ name: String, _ r: KResult<VInode>) -> KResult<VInode> {
        switch r {
        case .failure(let e): return .failure(e)
        case .success(let n): return .success(OverlayInode(parent: self, name: name, upper: n as? TmpfsNode, lower: nil))
        }
    }

    override func mkdir(_ name: String, mode: UInt32, uid: UInt32, gid: UInt32) -> KResult<VInode> {
        switch prepareDir() {
        case .failure(let e): return .failure(e)
        case .success(let u):
            let hidesLower = u.whiteouts.contains(name)
            let r = u.mkdir(name, mode: mode, uid: uid, gid: gid)
            if case .success(let n) = r, hidesLower { (n as? TmpfsNode)?.opaque = true }
            return wrap(name, r)
        }
    }
    override func mknod(_ name: String, mode: UInt32, rdev: UInt64, uid: UInt32, gid: UInt32) -> KResult<VInode> {
        switch prepareDir() {
        case .failure(let e): return .failure(e)
        case .success(let u): return wrap(name, u.mknod(name, mode: mode, rdev: rdev, uid: uid, gid: gid))
        }
    }
    override func symlink(_ name: String, target: String, uid: UInt32, gid: UInt32) -> KResult<VInode> {
        switch prepareDir() {
        case .failure(let e): return .failure(e)
        case .success(let u): return wrap(name, u.symlink(name, target: target, uid: uid, gid: gid))
        }
    }
    override func link(_ name: String, target: VInode) -> Int32 {
        guard let tg = target as? OverlayInode else { return -EXDEV }
        let r = tg.ensureUpper()
        if r < 0 { return r }
        switch prepareDir() {
        case .failure(let e): return -e
        case .success(let u): return u.link(name, target: tg.upper!)
        }
    }

    /// Whether the merged directory `child` has no entries.
    private func mergedEmpty(_ child: OverlayInode) -> Int32 {
        switch child.readdir(nil) {
        case .failure(let e): return -e
        case .success(let list): return list.isEmpty ? 0 : -ENOTEMPTY
        }
    }

    override func unlink(_ name: String, dir: Bool) -> Int32 {
        guard case .success(let c) = lookup(nil, name), let child = c as? OverlayInode else { return -ENOENT }
        if dir {
            guard child.type == S_IFDIR else { return -ENOTDIR }
            let e = mergedEmpty(child)
            if e < 0 { return e }
        } else if child.type == S_IFDIR { return -EISDIR }
        let hadLower = lowerHas(nil, name) != nil
        switch prepareDir() {
        case .failure(let e): return -e
        case .success(let u):
            if let uc = u.children[name] {
                if dir { uc.children = [:]; uc.whiteouts = [] }
                let r = u.unlink(name, dir: dir)
                if r < 0 { return r }
            }
            if hadLower { u.whiteouts.insert(name) }
            u.changed()
            u.changedByOverlay = true
            return 0
        }
    }

    override func rename(_ oldName: String, newDir: VInode, _ newName: String, flags: UInt32) -> Int32 {
        guard let nd = newDir as? OverlayInode else { return -EXDEV }
        guard case .success(let c) = lookup(nil, oldName), let child = c as? OverlayInode else { return -ENOENT }
        if child.type == S_IFDIR && child.lower != nil { return -EXDEV }
        var target: OverlayInode? = nil
        if case .success(let x) = nd.lookup(nil, newName) { target = x as? OverlayInode }
        var targetHadLowerDir = false
        if let tgt = target {
            if flags & 2 != 0 {
                if tgt.type == S_IFDIR && tgt.lower != nil { return -EXDEV }
                let r = tgt.ensureUpper()
                if r < 0 { return r }
            } else if tgt.type == S_IFDIR && child.type == S_IFDIR {
                let e = mergedEmpty(tgt)
                if e < 0 { return e }
                targetHadLowerDir = tgt.lower != nil
                if tgt.upper == nil { let r = tgt.ensureUpper(); if r < 0 { return r } }
            }
        }
        let sourceHadLower = lowerHas(nil, oldName) != nil
        var r = child.ensureUpper()
        if r < 0 { return r }
        r = nd.ensureUpper()
        if r < 0 { return r }
        let u = upper!
        r = u.rename(oldName, newDir: nd.upper!, newName, flags: flags)
        if r < 0 { return r }
        if targetHadLowerDir { child.upper?.opaque = true }
        if sourceHadLower && flags & 2 == 0 { u.whiteouts.insert(oldName) }
        return 0
    }

    override func setattr(_ a: VSetAttr) -> Int32 {
        let r = ensureUpper()
        if r < 0 { return r }
        return upper!.setattr(a)
    }
    override func statfs(_ sf: inout [UInt64]) -> Int32 {
        let r = (upper ?? TmpfsNode(kind: .dir, mode: 0, dev: dev)).statfs(&sf)
        sf[0] = 0x794c7630   // OVERLAYFS_SUPER_MAGIC
        return r
    }
    override func getxattr(_ name: String) -> KResult<[UInt8]> {
        if let u = upper { return u.getxattr(name) }
        return lower!.getxattr(name)
    }
    override func setxattr(_ name: String, _ value: [UInt8], flags: Int32) -> Int32 {
        let r = ensureUpper()
        if r < 0 { return r }
        return upper!.setxattr(name, value, flags: flags)
    }
    override func listxattr() -> KResult<[String]> {
        if let u = upper { return u.listxattr() }
        return lower!.listxattr()
    }
    override func removexattr(_ name: String) -> Int32 {
        let r = ensureUpper()
        if r < 0 { return r }
        return upper!.removexattr(name)
    }
    override func fallocate(mode: Int32, offset: Int, length: Int) -> Int32 {
        let r = ensureUpper()
        if r < 0 { return r }
        return upper!.fallocate(mode: mode, offset: offset, length: length)
    }
    override func moved(to newDir: VInode, name: String) {
        if let d = newDir as? OverlayInode { parent = d }
        self.name = name
    }
}
