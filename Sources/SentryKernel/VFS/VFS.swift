// The Sentry's VFS: the mount tree, the dentry cache and the path-based operations the system
// calls use. All of it runs under the kernel lock. File systems: GoferFS (the container's files,
// through bulwark-gofer), Tmpfs (in memory; also /dev), OverlayFS (gofer lower + tmpfs upper, the
// default root) and SyntheticInode (the MountRegistry seam for /proc, /sys, /dev/pts).
import Glibc

/// What a path names: a place in the tree, or a file a magic link stands for.
enum VTarget {
    case loc(VLocation)
    case file(FileDescription)
}

final class VFS {
    let rootMount: VMount
    let root: VLocation
    /// Dentries currently cached; pruned beyond `cacheLimit` (gofer nodes hold host descriptors).
    var cached = 0
    var cacheLimit = 16_384
    /// The registry entries already placed in the tree.
    private var placedSynthetic: [(String, ObjectIdentifier)] = []
    private var syncing = false
    /// Set by the last open that made its file (inotify: no IN_MODIFY for its O_TRUNC).
    var createdByOpen = false
    /// Where lookups made with no task (the launcher's requests) start absolute paths when set: a pod
    /// member's own root while its process is started (VFSPodRoot.swift). nil: `root`.
    var requestRoot: VLocation? = nil
    /// Pod members' own mount trees (VFSPodRoot.swift), pruned with the sandbox's.
    var podMounts: [VMount] = []
    /// Umask-free defaults applied by the callers; uid/gid for files created at start-up.
    init(root fs: VInode, fsType: String, source: String, readOnly: Bool = false) {
        let d = Dentry(name: "/", parent: nil, inode: fs)
        rootMount = VMount(root: d, parent: nil, point: nil, readOnly: readOnly, fsType: fsType, source: source)
        root = VLocation(mount: rootMount, dentry: d)
    }

    // MARK: mounts

    /// Mounts `fs` on the directory at absolute `path` (created in the parent file system when it
    /// is missing and `create`), replacing a mount already there. 0 or -errno.
    @discardableResult
    func mount(_ fs: VInode, at path: String, fsType: String, source: String, readOnly: Bool, create: Bool = true) -> Int32 {
        var links = 0
        var magic: FileDescription? = nil
        var loc: VLocation
        switch walk(nil, root, path, follow: true, links: &links, magic: &magic) {
        case .success(let l): loc = l
        case .failure(let e):
            guard e == ENOENT, create else { return -e }
            let r = mkdirAll(path)
            if r < 0 { return r }
            guard case .success(let l) = walk(nil, root, path, follow: true, links: &links, magic: &magic) else { return -ENOENT }
            loc = l
        }
        guard loc.inode.isDir else { return -ENOTDIR }
        // Replace: mount on the dentry the existing mount covers.
        if loc.dentry === loc.mount.root, let p = loc.mount.parent, let pt = loc.mount.point {
            p.children[ObjectIdentifier(pt)] = nil
            loc = VLocation(mount: p, dentry: pt)
        }
        let d = Dentry(name: loc.dentry.name, parent: nil, inode: fs)
        place(root: d, on: loc, fsType: fsType, source: source, readOnly: readOnly)
        return 0
    }

    /// Mounts the tree under `root` (a new file system's root, or an existing dentry for a bind
    /// mount) on `point`. Mounting on a mount's root stacks on top of it, as Linux does.
    @discardableResult
    func place(root: Dentry, on point: VLocation, fsType: String, source: String, readOnly: Bool) -> VMount {
        let m = VMount(root: root, parent: point.mount, point: point.dentry, readOnly: readOnly, fsType: fsType, source: source)
        point.mount.children[ObjectIdentifier(point.dentry)] = m
        return m
    }

    /// Removes the mount whose root `loc` is (EINVAL if it is none, EBUSY if mounts sit below it).
    func unmount(_ loc: VLocation, detach: Bool) -> Int32 {
        guard loc.dentry === loc.mount.root, let parent = loc.mount.parent, let point = loc.mount.point else { return -EINVAL }
        if !loc.mount.children.isEmpty && !detach { return -EBUSY }
        parent.children[ObjectIdentifier(point)] = nil
        return 0
    }

    /// mkdir -p for mount points (in whatever file system holds them).
    func mkdirAll(_ path: String) -> Int32 {
        var cur = root
        for c in path.split(separator: "/") {
            switch lookupChild(nil, cur, String(c)) {
            case .success(let l): cur = l
            case .failure(let e):
                guard e == ENOENT else { return -e }
                if cur.mount.readOnly { return -EROFS }
                cur.dentry.negative.remove(String(c))
                switch cur.inode.mkdir(String(c), mode: 0o755, uid: 0, gid: 0) {
                case .failure(let e2): return -e2
                case .success:
                    guard case .success(let l) = lookupChild(nil, cur, String(c)) else { return -ENOENT }
                    cur = l
                }
            }
        }
        return 0
    }

    /// Places the MountRegistry's synthetic trees (registered by their providers at any time).
    func syncSynthetic() {
        guard !syncing, let reg = Kernel.shared?.mounts else { return }
        // Fast path (every lookup comes here): registering appends, so the count and the last
        // entry's identity tell whether anything changed.
        let syn = reg.synthetic
        if syn.count == placedSynthetic.count && syn.last.map({ ObjectIdentifier($0.fs) }) == placedSynthetic.last?.1 { return }
        if syn.count == placedSynthetic.count
            && zip(syn, placedSynthetic).allSatisfy({ $0.mountPoint == $1.0 && ObjectIdentifier($0.fs) == $1.1 }) { return }
        syncing = true
        defer { syncing = false }
        for m in reg.synthetic where !placedSynthetic.contains(where: { $0.0 == m.mountPoint && $0.1 == ObjectIdentifier(m.fs) }) {
            mount(SyntheticInode(fs: m.fs, rel: "", type: S_IFDIR), at: m.mountPoint, fsType: m.fs.fsType,
                  source: m.fs.fsType, readOnly: false, create: false)
        }
        placedSynthetic = reg.synthetic.map { ($0.mountPoint, ObjectIdentifier($0.fs)) }
    }

    /// Every mount in the order they were made, so parents first (for /proc/mounts and cache pruning).
    func allMounts() -> [VMount] {
        var out: [VMount] = []
        func visit(_ m: VMount) { out.append(m); for c in m.children.values { visit(c) } }
        visit(rootMount)
        return out.sorted { $0.sequence < $1.sequence }
    }

    // MARK: dentry cache

    func noteCached() {
        cached += 1
        if cached > cacheLimit { prune() }
    }

    /// Drops cached dentries nobody else holds (open files, cwds and mount points keep theirs).
    func prune() {
        func visit(_ d: Dentry) {
            for c in d.children.values where !c.children.isEmpty { visit(c) }
            for name in Array(d.children.keys) {
                var c = d.children.removeValue(forKey: name)!
                if c.children.isEmpty && isKnownUniquelyReferenced(&c) { cached -= 1 } else { d.children[name] = c }
            }
        }
        for m in allMounts() { visit(m.root) }
        func visitTree(_ m: VMount) { visit(m.root); for c in m.children.values { visitTree(c) } }
        for m in podMounts { visitTree(m) }
    }

    func forget(_ dir: Dentry, _ name: String) {
        if let c = dir.children.removeValue(forKey: name) { c.dead = true; cached -= 1 }
    }

    // MARK: lookups

    func resolve(_ t: Task?, at start: VLocation, _ path: String, follow: Bool, magicFlags: Int32 = O_PATH) -> KResult<VTarget> {
        var links = 0
        var magic: FileDescription? = nil
        switch walk(t, start, path, follow: follow, links: &links, magic: &magic, magicFlags: magicFlags) {
        case .failure(let e): return .failure(e)
        case .success(let l): return .success(magic.map { .file($0) } ?? .loc(l))
        }
    }

    func stat(_ t: Task?, _ target: VTarget, _ st: inout stat) -> Int32 {
        switch target {
        case .file(let f): let r = Int32(f.stat(&st)); f.overlayDevice(&st); return r
        case .loc(let l): return l.inode.getattr(t, &st)
        }
    }

    // MARK: open

    func open(_ t: Task?, at start: VLocation, _ path: String, flags: Int32, mode: UInt32) -> KResult<FileDescription> {
        var links = 0
        createdByOpen = false
        let r = open(t, at: start, path, flags: flags, mode: mode, links: &links)
        if InotifyHub.count > 0, flags & O_PATH == 0, case .success(let f) = r, let l = f.location {
            InotifyHub.onFile(l.dentry, IN_OPEN_)
            // O_TRUNC of an existing regular file is a change of size (Linux reports it after the open).
            if flags & O_TRUNC != 0 && flags & O_ACCMODE_ != O_RDONLY && !createdByOpen && l.inode.fileType == S_IFREG {
                InotifyHub.onFile(l.dentry, IN_MODIFY_)
            }
        }
        return r
    }

    private func open(_ t: Task?, at start: VLocation, _ path: String, flags: Int32, mode: UInt32, links: inout Int) -> KResult<FileDescription> {
        let follow = flags & O_NOFOLLOW == 0
        if flags & O_CREAT == 0 || flags & O_PATH != 0 {
            var magic: FileDescription? = nil
            switch walk(t, start, path, follow: follow, links: &links, magic: &magic, magicFlags: flags) {
            case .failure(let e): return .failure(e)
            case .success(let l):
                if let magic { return .success(magic) }
                return openLocation(t, l, flags: flags)
            }
        }
        let dir: VLocation, name: String
        switch walkParent(t, start, path) {
        case .failure(let e): return .failure(e)
        case .success(let r):
            if r.name.isEmpty || r.name == "." || r.name == ".." || r.trailing { return .failure(EISDIR) }
            (dir, name) = (r.dir, r.name)
        }
        switch lookupChild(t, dir, name) {
        case .success(let child):
            if flags & O_EXCL != 0 { return .failure(EEXIST) }
            if child.inode.isSymlink {
                if !follow { return .failure(ELOOP) }
                links += 1
                if links > maxSymlinks { return .failure(ELOOP) }
                guard case .success(let target) = readLink(t, child) else { return .failure(EIO) }
                if target.isEmpty { return .failure(ENOENT) }
                return open(t, at: dir, target, flags: flags, mode: mode, links: &links)
            }
            return openLocation(t, child, flags: flags)
        case .failure(let e):
            guard e == ENOENT else { return .failure(e) }
            if dir.mount.readOnly { return .failure(EROFS) }
            if let t, !mayModify(t, dir) { return .failure(EACCES) }
            let uid = t?.tg.cred.fsuid ?? 0, gid = t?.tg.cred.fsgid ?? 0
            dir.dentry.negative.remove(name)
            switch dir.inode.create(t, name, flags: flags, mode: mode & 0o7777, uid: uid, gid: gid) {
            case .failure(let e2): return .failure(e2)
            case .success(let (ino, f)):
                let d = Dentry(name: name, parent: dir.dentry, inode: ino)
                if dir.inode.cacheable { dir.dentry.children[name] = d; noteCached() }
                InotifyHub.inDir(dir.dentry, IN_CREATE_, name: name)
                createdByOpen = true
                let loc = VLocation(mount: dir.mount, dentry: d)
                f.location = loc
                if !hasLazyPath(f) { f.path = pathOf(loc) }
                return .success(f)
            }
        }
    }

    func mayModify(_ t: Task, _ dir: VLocation) -> Bool {
        if t.tg.cred.has(Cap.dacOverride) { return true }
        var st = Glibc.stat()
        if dir.inode.getattr(t, &st) != 0 { return false }
        return permitted(t, st, 3)
    }

    /// Opens what `loc` names with `flags` (O_PATH, directories, regular files, devices).
    func openLocation(_ t: Task?, _ loc: VLocation, flags: Int32) -> KResult<FileDescription> {
        let ino = loc.inode
        if flags & O_PATH != 0 {
            if flags & O_DIRECTORY != 0 && !ino.isDir { return .failure(ENOTDIR) }
            return .success(PathFile(loc, flags: flags))
        }
        if ino.isSymlink { return .failure(ELOOP) }
        if flags & O_DIRECTORY != 0 && !ino.isDir { return .failure(ENOTDIR) }
        let acc = flags & O_ACCMODE_
        let writing = acc != O_RDONLY || flags & O_TRUNC != 0
        if ino.isDir && (acc != O_RDONLY) { return .failure(EISDIR) }
        if writing && (ino.fileType == S_IFREG || ino.isDir) && loc.mount.readOnly { return .failure(EROFS) }
        if let t, !t.tg.cred.has(Cap.dacOverride) {
            var st = Glibc.stat()
            if ino.getattr(t, &st) == 0 {
                let want: UInt32 = (acc == O_RDONLY ? 4 : (acc == O_WRONLY ? 2 : 6)) | (flags & O_TRUNC != 0 ? 2 : 0)
                if !permitted(t, st, want) { return .failure(EACCES) }
            }
        }
        if flags & O_NOATIME != 0, let t, !t.tg.cred.has(Cap.fowner) {
            // O_NOATIME: the owner's (or CAP_FOWNER's) only.
            var st = Glibc.stat()
            if ino.getattr(t, &st) == 0 && st.st_uid != t.tg.cred.fsuid { return .failure(EPERM) }
        }
        let f: FileDescription
        if ino.isDir && !(ino is SyntheticInode) {
            f = VDirFile(loc, flags: flags)
        } else {
            switch ino.open(t, flags: flags) {
            case .failure(let e): return .failure(e)
            case .success(let x): f = x
            }
        }
        if f.location == nil { f.location = loc }
        if !hasLazyPath(f) { f.path = pathOf(loc) }
        return .success(f)
    }

    // MARK: changes

    /// The parent directory and final name for calls that make a new name, checked for EEXIST.
    private func newName(_ t: Task?, at start: VLocation, _ path: String) -> KResult<(VLocation, String)> {
        switch walkParent(t, start, path) {
        case .failure(let e): return .failure(e)
        case .success(let r):
            if r.name.isEmpty || r.name == "." || r.name == ".." { return .failure(EEXIST) }
            if case .success = lookupChild(t, r.dir, r.name) { return .failure(EEXIST) }
            if r.dir.mount.readOnly { return .failure(EROFS) }
            if let t, !mayModify(t, r.dir) { return .failure(EACCES) }
            return .success((r.dir, r.name))
        }
    }

    /// Whether `path` could be created (0, or -EEXIST, -EACCES, ...): the checks Linux makes before a
    /// privilege check such as mknod's CAP_MKNOD.
    func mayCreate(_ t: Task?, at start: VLocation, _ path: String) -> Int32 {
        switch newName(t, at: start, path) { case .failure(let e): return -e; case .success: return 0 }
    }

    private func added(_ dir: VLocation, _ name: String, _ r: KResult<VInode>) -> Int32 {
        dir.dentry.negative.remove(name)
        switch r {
        case .failure(let e): return -e
        case .success(let ino):
            if dir.inode.cacheable && dir.dentry.children[name] == nil {
                dir.dentry.children[name] = Dentry(name: name, parent: dir.dentry, inode: ino)
                noteCached()
            }
            InotifyHub.inDir(dir.dentry, IN_CREATE_ | (ino.isDir ? IN_ISDIR_ : 0), name: name)
            return 0
        }
    }

    func mkdir(_ t: Task?, at start: VLocation, _ path: String, mode: UInt32) -> Int32 {
        switch newName(t, at: start, path) {
        case .failure(let e): return -e
        case .success(let (dir, name)):
            return added(dir, name, dir.inode.mkdir(name, mode: mode & 0o7777, uid: t?.tg.cred.fsuid ?? 0, gid: t?.tg.cred.fsgid ?? 0))
        }
    }

    func mknod(_ t: Task?, at start: VLocation, _ path: String, mode: UInt32, rdev: UInt64) -> Int32 {
        if path.utf8.last == UInt8(ascii: "/") { return -ENOENT }
        switch newName(t, at: start, path) {
        case .failure(let e): return -e
        case .success(let (dir, name)):
            return added(dir, name, dir.inode.mknod(name, mode: mode, rdev: rdev, uid: t?.tg.cred.fsuid ?? 0, gid: t?.tg.cred.fsgid ?? 0))
        }
    }

    func symlink(_ t: Task?, target: String, at start: VLocation, _ path: String) -> Int32 {
        if target.isEmpty { return -ENOENT }
        switch newName(t, at: start, path) {
        case .failure(let e): return -e
        case .success(let (dir, name)):
            return added(dir, name, dir.inode.symlink(name, target: target, uid: t?.tg.cred.fsuid ?? 0, gid: t?.tg.cred.fsgid ?? 0))
        }
    }

    func link(_ t: Task?, old: VLocation, at start: VLocation, _ path: String) -> Int32 {
        if old.inode.isDir { return -EPERM }
        if let t, !t.tg.cred.has(Cap.fowner) {
            // protected_hardlinks (the default): only the owner, or a regular non-set-id file the
            // caller may read and write, can be linked.
            var st = Glibc.stat()
            if old.inode.getattr(t, &st) == 0 && st.st_uid != t.tg.cred.fsuid {
                let setid = st.st_mode & S_ISUID != 0 || st.st_mode & (S_ISGID | S_IXGRP) == (S_ISGID | S_IXGRP)
                if st.st_mode & S_IFMT != S_IFREG || setid || !permitted(t, st, 6) { return -EPERM }
            }
        }
        switch newName(t, at: start, path) {
        case .failure(let e): return -e
        case .success(let (dir, name)):
            if dir.mount !== old.mount { return -EXDEV }
            dir.dentry.negative.remove(name)
            let r = dir.inode.link(name, target: old.inode)
            if r < 0 { return r }
            old.inode.invalidate()
            forget(dir.dentry, name)
            InotifyHub.onObject(old.dentry, IN_ATTRIB_)
            InotifyHub.inDir(dir.dentry, IN_CREATE_, name: name)
            return 0
        }
    }

    func unlink(_ t: Task?, at start: VLocation, _ path: String, dir wantDir: Bool) -> Int32 {
        switch walkParent(t, start, path) {
        case .failure(let e): return -e
        case .success(let r):
            if r.name.isEmpty { return -EBUSY }
            if r.name == "." { return wantDir ? -EINVAL : -EISDIR }
            if r.name == ".." { return wantDir ? -ENOTEMPTY : -EISDIR }
            let child: VLocation
            switch lookupChild(t, r.dir, r.name) {
            case .failure(let e): return -e
            case .success(let c): child = c
            }
            if child.mount !== r.dir.mount { return -EBUSY }
            if wantDir && !child.inode.isDir { return -ENOTDIR }
            if !wantDir && child.inode.isDir { return -EISDIR }
            if r.trailing && !child.inode.isDir { return -ENOTDIR }
            if r.dir.mount.readOnly { return -EROFS }
            if let t, !mayModify(t, r.dir) { return -EACCES }
            let e = r.dir.inode.unlink(r.name, dir: wantDir)
            if e < 0 { return e }
            child.inode.invalidate()
            forget(r.dir.dentry, r.name)
            if InotifyHub.count > 0 { notifyRemoved(child.dentry, dir: r.dir.dentry, name: r.name) }
            return 0
        }
    }

    func rename(_ t: Task?, oldAt: VLocation, _ oldPath: String, newAt: VLocation, _ newPath: String, flags: UInt32) -> Int32 {
        if flags & ~UInt32(3) != 0 || flags == 3 { return -EINVAL }
        let src: (dir: VLocation, name: String, trailing: Bool), dst: (dir: VLocation, name: String, trailing: Bool)
        switch walkParent(t, oldAt, oldPath) { case .failure(let e): return -e; case .success(let r): src = r }
        switch walkParent(t, newAt, newPath) { case .failure(let e): return -e; case .success(let r): dst = r }
        for n in [src.name, dst.name] where n.isEmpty || n == "." || n == ".." { return -EBUSY }
        let child: VLocation
        switch lookupChild(t, src.dir, src.name) { case .failure(let e): return -e; case .success(let c): child = c }
        if child.mount !== src.dir.mount { return -EBUSY }
        if src.trailing && !child.inode.isDir { return -ENOTDIR }
        let existing: VLocation?
        switch lookupChild(t, dst.dir, dst.name) {
        case .success(let c): existing = c
        case .failure(let e): if e != ENOENT { return -e }; existing = nil
        }
        if flags & 2 != 0 && existing == nil { return -ENOENT }
        if flags & 1 != 0 && existing != nil { return -EEXIST }
        if let ex = existing {
            if ex.mount !== dst.dir.mount { return -EBUSY }
            if flags & 2 == 0 {
                if ex.inode === child.inode { return 0 }
                if child.inode.isDir && !ex.inode.isDir { return -ENOTDIR }
                if !child.inode.isDir && ex.inode.isDir { return -EISDIR }
            }
        } else if dst.trailing && !child.inode.isDir { return -ENOTDIR }
        if src.dir.mount !== dst.dir.mount { return -EXDEV }
        if src.dir.mount.readOnly { return -EROFS }
        if let t, !mayModify(t, src.dir) || !mayModify(t, dst.dir) { return -EACCES }
        // A directory may not move below itself (nor, exchanged, the other way round).
        var a: Dentry? = dst.dir.dentry
        while let x = a { if x === child.dentry { return -EINVAL }; a = x.parent }
        if flags & 2 != 0, let ex = existing {
            var b: Dentry? = src.dir.dentry
            while let x = b { if x === ex.dentry { return -EINVAL }; b = x.parent }
        }
        dst.dir.dentry.negative.remove(dst.name)
        src.dir.dentry.negative.remove(src.name)
        let r = src.dir.inode.rename(src.name, newDir: dst.dir.inode, dst.name, flags: flags)
        if r < 0 { return r }
        child.inode.invalidate()
        existing?.inode.invalidate()
        if InotifyHub.count > 0 {
            let cookie = InotifyHub.cookie(), isDir = child.inode.isDir ? IN_ISDIR_ : 0
            InotifyHub.inDir(src.dir.dentry, IN_MOVED_FROM_ | isDir, name: src.name, cookie: cookie)
            InotifyHub.inDir(dst.dir.dentry, IN_MOVED_TO_ | isDir, name: dst.name, cookie: cookie)
            if flags & 2 != 0, let ex = existing {
                let c2 = InotifyHub.cookie(), d2 = ex.inode.isDir ? IN_ISDIR_ : 0
                InotifyHub.inDir(dst.dir.dentry, IN_MOVED_FROM_ | d2, name: dst.name, cookie: c2)
                InotifyHub.inDir(src.dir.dentry, IN_MOVED_TO_ | d2, name: src.name, cookie: c2)
            }
            InotifyHub.onSelf(child.dentry, IN_MOVE_SELF_)
            if flags & 2 != 0, let ex = existing { InotifyHub.onSelf(ex.dentry, IN_MOVE_SELF_) }
            else if let ex = existing { InotifyHub.deleted(ex.dentry) }
        }
        // Move the cached dentries with their names.
        let moved = src.dir.dentry.children.removeValue(forKey: src.name)
        let other = dst.dir.dentry.children.removeValue(forKey: dst.name)
        if let moved {
            moved.name = dst.name
            moved.parent = dst.dir.dentry
            moved.inode.moved(to: dst.dir.inode, name: dst.name)
            dst.dir.dentry.children[dst.name] = moved
        }
        if let other {
            if flags & 2 != 0 {
                other.name = src.name
                other.parent = src.dir.dentry
                other.inode.moved(to: src.dir.inode, name: src.name)
                src.dir.dentry.children[src.name] = other
            } else {
                other.dead = true
                cached -= 1
            }
        }
        return 0
    }

    func setattr(_ loc: VLocation, _ a: VSetAttr) -> Int32 {
        if loc.mount.readOnly && loc.inode.fileType != S_IFCHR && loc.inode.fileType != S_IFIFO { return -EROFS }
        let r = loc.inode.setattr(a)
        if r == 0 && InotifyHub.count > 0 { InotifyHub.onFile(loc.dentry, VFS.attrEvents(a)) }
        return r
    }

    /// The inotify events of an attribute change (as Linux's fsnotify_change picks them).
    static func attrEvents(_ a: VSetAttr) -> UInt32 {
        var m: UInt32 = 0
        if a.uid != nil || a.gid != nil || a.mode != nil { m |= IN_ATTRIB_ }
        if a.size != nil { m |= IN_MODIFY_ }
        if a.atime != nil && a.mtime != nil { m |= IN_ATTRIB_ } else if a.atime != nil { m |= IN_ACCESS_ } else if a.mtime != nil { m |= IN_MODIFY_ }
        return m
    }

    /// inotify after an unlink/rmdir: the link-count change, the object's end, the directory's event.
    func notifyRemoved(_ child: Dentry, dir: Dentry, name: String) {
        let isDir = child.inode.isDir
        var gone = isDir
        if !isDir {
            InotifyHub.onObject(child, IN_ATTRIB_)
            var st = Glibc.stat()
            gone = child.inode.getattr(nil, &st) != 0 || st.st_nlink == 0
        }
        if gone { InotifyHub.deleted(child) }
        InotifyHub.inDir(dir, IN_DELETE_ | (isDir ? IN_ISDIR_ : 0), name: name)
    }

    /// A host fd with the contents of the executable at `path` for the ELF loader, or -errno.
    func openForExec(_ t: Task?, at start: VLocation, _ path: String) -> Int32 {
        switch resolve(t, at: start, path, follow: true) {
        case .failure(let e): return -e
        case .success(.file(let f)): return f.hostFileFD.map { dup($0) } ?? -EACCES
        case .success(.loc(let l)):
            if l.inode.isDir { return -EISDIR }
            if l.inode.fileType != S_IFREG { return -EACCES }
            return l.inode.openForExec(t)
        }
    }
}
