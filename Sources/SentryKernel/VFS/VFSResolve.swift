// Path resolution, done by the Sentry one component at a time over the dentry cache: symlinks
// (at most 40 per lookup, ELOOP beyond), ".." (stopping at the root and crossing mounts upwards),
// mount points (crossed downwards), trailing slashes, ENAMETOOLONG, and magic links of synthetic
// trees (/proc/<pid>/fd/N), which are opened rather than followed by their text.
import Glibc

let maxSymlinks = 40
let maxPathLength = 4096

extension VFS {
    /// The root a task resolves absolute paths from.
    func rootOf(_ t: Task?) -> VLocation {
        if let t { return t.fsctx.root ?? root }
        return requestRoot ?? root
    }

    /// One step up: ".." of `cur` (stays at the root; leaves a mount's root to its mount point).
    func parentOf(_ cur: VLocation, root: VLocation) -> VLocation {
        var c = cur
        if c == root { return c }
        while c.dentry === c.mount.root, let p = c.mount.parent, let pt = c.mount.point {
            c = VLocation(mount: p, dentry: pt)
            if c == root { return c }
        }
        guard let pd = c.dentry.parent else { return c }
        return VLocation(mount: c.mount, dentry: pd)
    }

    /// The child `name` of directory `dir`, through the dentry cache, with mounts on it crossed.
    func lookupChild(_ t: Task?, _ dir: VLocation, _ name: String) -> KResult<VLocation> {
        let d = dir.dentry
        let child: Dentry
        if let c = d.children[name] {
            child = c
        } else {
            if d.negative.contains(name) { return .failure(ENOENT) }
            switch d.inode.lookup(t, name) {
            case .failure(let e):
                if e == ENOENT && d.inode.cacheable {
                    // Negative entries: every name made through the VFS clears its entry.
                    if d.negative.count >= 1024 { d.negative.removeAll() }
                    d.negative.insert(name)
                }
                return .failure(e)
            case .success(let ino):
                child = Dentry(name: name, parent: d, inode: ino)
                if d.inode.cacheable {
                    d.children[name] = child
                    noteCached()
                }
            }
        }
        return .success(crossMounts(VLocation(mount: dir.mount, dentry: child)))
    }

    func crossMounts(_ loc: VLocation) -> VLocation {
        syncSynthetic()
        var l = loc
        while let m = l.mount.children[ObjectIdentifier(l.dentry)] { l = VLocation(mount: m, dentry: m.root) }
        return l
    }

    /// Search permission on a directory (CAP_DAC_OVERRIDE or CAP_DAC_READ_SEARCH search anything).
    func maySearch(_ t: Task?, _ dir: VLocation) -> Bool {
        guard let t, t.tg.cred.effective & 0b110 == 0 else { return true }
        var st = Glibc.stat()
        if dir.inode.getattr(t, &st) != 0 { return true }
        return permitted(t, st, 1)
    }

    /// Resolves `path` from `start`. `follow`: follow a final symlink (a trailing slash forces it).
    /// A final magic link that names no place in the tree (a pipe, a socket) comes back in `magic`.
    func walk(_ t: Task?, _ start: VLocation, _ path: String, follow: Bool, links: inout Int,
              magic: inout FileDescription?, magicFlags: Int32 = O_PATH) -> KResult<VLocation> {
        if path.utf8.count >= maxPathLength { return .failure(ENAMETOOLONG) }
        if path.isEmpty { return .failure(ENOENT) }
        let root = rootOf(t)
        var cur = path.utf8.first == UInt8(ascii: "/") ? root : start
        let comps = path.split(separator: "/", omittingEmptySubsequences: true)
        let trailing = path.utf8.last == UInt8(ascii: "/") && !comps.isEmpty
        for (i, c) in comps.enumerated() {
            let last = i == comps.count - 1
            if c.utf8.count > 255 { return .failure(ENAMETOOLONG) }
            guard cur.inode.isDir else { return .failure(ENOTDIR) }
            if !maySearch(t, cur) { return .failure(EACCES) }
            if c == "." { continue }
            if c == ".." { cur = parentOf(cur, root: root); continue }
            let child: VLocation
            switch lookupChild(t, cur, String(c)) {
            case .failure(let e): return .failure(e)
            case .success(let l): child = l
            }
            if child.inode.isSymlink && (!last || follow || trailing) {
                if let syn = child.inode as? SyntheticInode, let t,
                   let r = syn.fs.openMagicLink(t, syn.rel, flags: last ? magicFlags : O_PATH) {
                    switch r {
                    case .failure(let e): return .failure(e)
                    case .success(let f):
                        if let l = f.location { cur = l; continue }
                        if last { magic = f; return .success(cur) }
                        return .failure(ENOTDIR)
                    }
                }
                links += 1
                if links > maxSymlinks { return .failure(ELOOP) }
                let target: String
                switch readLink(t, child) {
                case .failure(let e): return .failure(e)
                case .success(let s): target = s
                }
                if target.isEmpty { return .failure(ENOENT) }
                var inner: FileDescription? = nil
                switch walk(t, cur, target, follow: true, links: &links, magic: &inner, magicFlags: magicFlags) {
                case .failure(let e): return .failure(e)
                case .success(let l):
                    if let inner {
                        if last { magic = inner; return .success(l) }
                        return .failure(ENOTDIR)
                    }
                    cur = l
                }
                continue
            }
            cur = child
        }
        if trailing && !cur.inode.isDir { return .failure(ENOTDIR) }
        return .success(cur)
    }

    /// Resolves all but the last component: the directory and the final name ("" for "/", or "."
    /// / ".." as written; callers refuse those). `trailing`: the path ended with "/".
    func walkParent(_ t: Task?, _ start: VLocation, _ path: String) -> KResult<(dir: VLocation, name: String, trailing: Bool)> {
        if path.utf8.count >= maxPathLength { return .failure(ENAMETOOLONG) }
        if path.isEmpty { return .failure(ENOENT) }
        var comps = path.split(separator: "/", omittingEmptySubsequences: true)
        let trailing = path.utf8.last == UInt8(ascii: "/")
        let absolute = path.utf8.first == UInt8(ascii: "/")
        guard let last = comps.popLast() else { return .success((rootOf(t), "", trailing)) }
        if last.utf8.count > 255 { return .failure(ENAMETOOLONG) }
        var dir = absolute ? rootOf(t) : start
        if !comps.isEmpty {
            var links = 0
            var magic: FileDescription? = nil
            let dirPath = (absolute ? "/" : "") + comps.joined(separator: "/")
            switch walk(t, start, dirPath, follow: true, links: &links, magic: &magic) {
            case .failure(let e): return .failure(e)
            case .success(let l): dir = l
            }
            if magic != nil { return .failure(ENOTDIR) }
        }
        guard dir.inode.isDir else { return .failure(ENOTDIR) }
        if !maySearch(t, dir) { return .failure(EACCES) }
        return .success((dir, String(last), trailing))
    }

    /// The absolute path of a location as a task whose root is `r` sees it (the VFS root when nil).
    func pathOf(_ loc: VLocation, root r0: VLocation? = nil) -> String {
        var parts: [String] = []
        var c = loc
        let r = r0 ?? root
        while !(c == r) {
            if c.dentry === c.mount.root {
                guard let p = c.mount.parent, let pt = c.mount.point else { break }
                c = VLocation(mount: p, dentry: pt)
                continue
            }
            parts.append(c.dentry.name)
            guard let pd = c.dentry.parent else { break }
            c = VLocation(mount: c.mount, dentry: pd)
        }
        return "/" + parts.reversed().joined(separator: "/")
    }
}

/// Unix permission check (`want`: 4 read, 2 write, 1 execute/search) by the filesystem ids and
/// groups, then the capabilities that override it (capabilities(7)).
func permitted(_ t: Task?, _ st: stat, _ want: UInt32) -> Bool {
    guard let t else { return true }
    let c = t.tg.cred
    let bits: UInt32
    if st.st_uid == c.fsuid { bits = (st.st_mode >> 6) & 7 }
    else if c.inGroup(st.st_gid) { bits = (st.st_mode >> 3) & 7 }
    else { bits = st.st_mode & 7 }
    if bits & want == want { return true }
    let isDir = st.st_mode & S_IFMT == S_IFDIR
    // CAP_DAC_OVERRIDE: anything but executing a file nobody may execute.
    if c.has(Cap.dacOverride) && (want & 1 == 0 || isDir || st.st_mode & 0o111 != 0) { return true }
    // CAP_DAC_READ_SEARCH: read any file, read and search any directory.
    if c.has(Cap.dacReadSearch) && (want == 4 || (isDir && want & 2 == 0)) { return true }
    return false
}
