// open, openat, openat2, creat, and the path helpers every path-based call uses: reading a path
// from the application, and the starting point of a relative lookup (cwd or a directory fd).
import Glibc

extension Task {
    /// Reads a NUL-terminated path (EFAULT, ENAMETOOLONG beyond PATH_MAX, ENOENT when empty).
    func readPath(_ addr: UInt64, allowEmpty: Bool = false) -> KResult<String> {
        guard let bytes = mm.readCString(addr, max: maxPathLength) else {
            if mm.read(addr, as: UInt8.self) != nil && mm.read(addr + UInt64(maxPathLength - 1), as: UInt8.self) != nil {
                return .failure(ENAMETOOLONG)
            }
            return .failure(EFAULT)
        }
        if bytes.isEmpty && !allowEmpty { return .failure(ENOENT) }
        return .success(String(decoding: bytes, as: UTF8.self))
    }

    /// An absolute path for `path` relative to dirfd (lexical; for AF_UNIX socket names).
    func absolutePath(dirfd: Int32, _ path: String) -> KResult<String> {
        func normalize(_ p: String) -> String {
            var parts: [Substring] = []
            for c in p.split(separator: "/") where c != "." {
                if c == ".." { if !parts.isEmpty { parts.removeLast() } } else { parts.append(c) }
            }
            return "/" + parts.joined(separator: "/")
        }
        if path.hasPrefix("/") { return .success(normalize(path)) }
        switch startLocation(dirfd, path) {
        case .failure(let e): return .failure(e)
        case .success(let l): return .success(normalize(kernel.vfs.pathOf(l, root: fsctx.root) + "/" + path))
        }
    }

    /// Where the working directory is in the tree (the root when it has gone away). The location
    /// is kept from chdir, so a relative lookup costs no walk of the cwd string.
    func cwdLocation() -> VLocation {
        if let l = fsctx.cwdLoc, !l.dentry.dead { return l }
        let vfs = kernel.vfs
        let root = vfs.rootOf(self)
        if case .success(.loc(let l)) = vfs.resolve(self, at: root, fsctx.cwd, follow: true), l.inode.isDir {
            fsctx.cwdLoc = l
            return l
        }
        return root
    }

    /// The start of a lookup of `path` relative to `dirfd`.
    func startLocation(_ dirfd: Int32, _ path: String) -> KResult<VLocation> {
        if path.utf8.first == UInt8(ascii: "/") { return .success(kernel.vfs.rootOf(self)) }
        if dirfd == AT_FDCWD_ { return .success(cwdLocation()) }
        guard let f = fds.get(Int(dirfd)) else { return .failure(EBADF) }
        if let l = f.location { return l.inode.isDir ? .success(l) : .failure(ENOTDIR) }
        if let p = f.path, f.isDirectory, case .success(.loc(let l)) = kernel.vfs.resolve(self, at: kernel.vfs.rootOf(self), p, follow: true) {
            return .success(l)
        }
        return .failure(ENOTDIR)
    }

    /// Reads the path at `addr` and its starting point.
    func pathArgs(_ dirfd: Int32, _ addr: UInt64, allowEmpty: Bool = false) -> KResult<(VLocation, String)> {
        let path: String
        switch readPath(addr, allowEmpty: allowEmpty) { case .failure(let e): return .failure(e); case .success(let p): path = p }
        if path.isEmpty { return .success((kernel.vfs.rootOf(self), "")) }
        switch startLocation(dirfd, path) {
        case .failure(let e): return .failure(e)
        case .success(let l): return .success((l, path))
        }
    }

    /// What a (dirfd, path, AT_* flags) triple names; AT_EMPTY_PATH with "" names dirfd itself.
    func targetArgs(_ dirfd: Int32, _ addr: UInt64, flags: Int32, followDefault: Bool = true) -> KResult<VTarget> {
        let empty = flags & AT_EMPTY_PATH_ != 0
        let path: String
        switch readPath(addr, allowEmpty: empty) { case .failure(let e): return .failure(e); case .success(let p): path = p }
        if path.isEmpty {
            if dirfd == AT_FDCWD_ { return .success(.loc(cwdLocation())) }
            guard let f = fds.get(Int(dirfd)) else { return .failure(EBADF) }
            if let l = f.location { return .success(.loc(l)) }
            return .success(.file(f))
        }
        let start: VLocation
        switch startLocation(dirfd, path) { case .failure(let e): return .failure(e); case .success(let l): start = l }
        let follow = followDefault ? flags & AT_SYMLINK_NOFOLLOW_ == 0 : flags & 0x400 != 0   // AT_SYMLINK_FOLLOW
        return kernel.vfs.resolve(self, at: start, path, follow: follow)
    }

    func sysOpenat(_ dirfd: Int32, _ pathAddr: UInt64, _ flags: Int32, _ mode: UInt32) -> Int {
        let start: VLocation, path: String
        switch pathArgs(dirfd, pathAddr) { case .failure(let e): return errno(e); case .success(let r): (start, path) = r }
        return openAndInstall(start, path, flags, mode)
    }

    private func openAndInstall(_ start: VLocation, _ path: String, _ flags: Int32, _ mode: UInt32) -> Int {
        if flags & O_CREAT != 0 && flags & O_DIRECTORY != 0 { return errno(EINVAL) }
        let opened: KResult<FileDescription>
        if flags & 0o20000000 != 0 {
            guard flags & O_TMPFILE_ == O_TMPFILE_, flags & O_CREAT == 0 else { return errno(EINVAL) }
            opened = kernel.vfs.openTmpfile(self, at: start, path, flags: flags, mode: mode & 0o7777 & ~fsctx.umask)
        } else {
            opened = kernel.vfs.open(self, at: start, path, flags: flags, mode: mode & 0o7777 & ~fsctx.umask)
        }
        switch opened {
        case .failure(let e): return errno(e)
        case .success(let f):
            if flags & O_DIRECTORY != 0 && !f.isDirectory && flags & 0o20000000 == 0 { return errno(ENOTDIR) }
            let keep = flags & O_PATH != 0 ? (O_PATH | (flags & O_ACCMODE_ & 0)) : flags
            f.statusFlags = keep & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW | O_DIRECTORY | 0o20000000)
            return fds.install(f, cloexec: flags & O_CLOEXEC != 0)
        }
    }

    /// openat2(2): struct open_how { u64 flags; u64 mode; u64 resolve; }.
    func sysOpenat2(_ dirfd: Int32, _ pathAddr: UInt64, _ howAddr: UInt64, _ size: Int) -> Int {
        guard size >= 24, size <= 4096 else { return errno(EINVAL) }
        guard let flags64 = mm.read(howAddr, as: UInt64.self), let mode64 = mm.read(howAddr + 8, as: UInt64.self),
              let resolve = mm.read(howAddr + 16, as: UInt64.self) else { return errno(EFAULT) }
        if size > 24 {
            for off in stride(from: 24, to: size, by: 1) {
                guard let b = mm.read(howAddr + UInt64(off), as: UInt8.self) else { return errno(EFAULT) }
                if b != 0 { return errno(E2BIG) }
            }
        }
        guard flags64 >> 32 == 0 else { return errno(EINVAL) }
        let flags = Int32(truncatingIfNeeded: flags64)
        guard mode64 & ~0o7777 == 0, flags & (O_CREAT | 0o20000000) != 0 || mode64 == 0 else { return errno(EINVAL) }
        // RESOLVE_NO_XDEV 1, NO_MAGICLINKS 2, NO_SYMLINKS 4, BENEATH 8, IN_ROOT 0x10, CACHED 0x20
        guard resolve & ~UInt64(0x3f) == 0 else { return errno(EINVAL) }
        let start: VLocation, path: String
        switch pathArgs(dirfd, pathAddr) { case .failure(let e): return errno(e); case .success(let r): (start, path) = r }
        if resolve != 0 {
            let e = checkResolve(start, path, resolve, followLast: flags & O_NOFOLLOW == 0)
            if e != 0 { return errno(e) }
        }
        if resolve & 0x10 != 0 && path.hasPrefix("/"), let base = startLocationForInRoot(dirfd) {
            // RESOLVE_IN_ROOT: an absolute path is taken relative to dirfd.
            let rel = String(path.drop { $0 == "/" })
            return openAndInstall(base, rel.isEmpty ? "." : rel, flags, UInt32(mode64))
        }
        return openAndInstall(start, path, flags, UInt32(mode64))
    }

    private func startLocationForInRoot(_ dirfd: Int32) -> VLocation? {
        if dirfd == AT_FDCWD_ { return cwdLocation() }
        return fds.get(Int(dirfd))?.location
    }

    /// Walks `path` component by component from `start` checking the RESOLVE_* restrictions; 0 or
    /// the errno openat2 gives (EXDEV for escapes and mount crossings, ELOOP for symlinks).
    private func checkResolve(_ start: VLocation, _ path: String, _ resolve: UInt64, followLast: Bool) -> Int32 {
        let vfs = kernel.vfs
        let beneath = resolve & 0x18 != 0
        if beneath && path.hasPrefix("/") && resolve & 0x10 == 0 { return EXDEV }
        var cur = start
        var depth = 0
        let comps = path.split(separator: "/")
        for (i, c) in comps.enumerated() {
            let last = i == comps.count - 1
            if c == "." { continue }
            if c == ".." {
                if beneath && depth == 0 { if resolve & 0x10 != 0 { continue }; return EXDEV }
                let up = vfs.parentOf(cur, root: vfs.rootOf(self))
                if up.mount !== cur.mount && resolve & 1 != 0 { return EXDEV }
                cur = up
                depth -= 1
                continue
            }
            guard cur.inode.isDir, case .success(let child) = vfs.lookupChild(self, cur, String(c)) else { return 0 }
            if child.mount !== cur.mount && resolve & 1 != 0 { return EXDEV }
            if child.inode.isSymlink && (!last || followLast) {
                if resolve & 4 != 0 { return ELOOP }
                if resolve & 2 != 0 && child.inode is SyntheticInode { return ELOOP }
                if beneath {
                    // Symlinks are allowed under RESOLVE_BENEATH only if they stay below: refuse
                    // absolute targets and targets climbing out.
                    guard case .success(let target) = child.inode.readlink(self) else { return 0 }
                    if target.hasPrefix("/") && resolve & 0x10 == 0 { return EXDEV }
                    var d = depth
                    for tc in target.split(separator: "/") {
                        if tc == ".." { d -= 1; if d < 0 && resolve & 0x10 == 0 { return EXDEV } } else if tc != "." { d += 1 }
                    }
                }
                return 0
            }
            cur = child
            depth += 1
        }
        return 0
    }
}
