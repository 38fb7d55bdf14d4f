// TEMPORARY bootstrap file system until the Gofer exists: a READ-ONLY view of --rootfs, opened with
// host openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) so no path can escape the root. Writes give
// EROFS. A few device nodes (/dev/null, /dev/zero, /dev/urandom...) are served by the Sentry.
import CBulwark
import Glibc

final class BootstrapHostFS {
    let rootFD: Int32
    /// The writable in-memory /tmp layered over the read-only root.
    let tmpfs = Tmpfs()

    init?(rootfs: String) {
        let fd = Glibc.open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 { return nil }
        rootFD = fd
    }

    /// Normalizes an absolute sandbox path lexically ("." and ".." components; ".." at / stays at /).
    static func normalize(_ path: String) -> String {
        var parts: [Substring] = []
        for c in path.split(separator: "/", omittingEmptySubsequences: true) {
            if c == "." { continue }
            if c == ".." { if !parts.isEmpty { parts.removeLast() }; continue }
            parts.append(c)
        }
        return "/" + parts.joined(separator: "/")
    }

    /// The host's /proc and /sys describe the host, not the sandbox: their contents are hidden (the
    /// procfs service will provide /proc); the mount-point directories themselves appear empty.
    static let hiddenMounts = ["/proc", "/sys"]
    static func isHidden(_ path: String) -> Bool {
        hiddenMounts.contains { path.hasPrefix($0 + "/") }
    }
    let emptyDir = TmpfsNode(kind: .dir, mode: 0o555)

    /// A host fd with a file's contents for the loader: the rootfs file itself, or for a tmpfs file a
    /// sealed-in-spirit memfd copy (the loader only preads it).
    func openForExec(_ path: String) -> Int32 {
        if Tmpfs.contains(path), case .success(let node) = tmpfs.lookup(path), node.kind == .file {
            let fd = bw_memfd_create("bulwark-exec", 1 /* MFD_CLOEXEC */)
            if fd < 0 { return -errno }
            let n = node.data.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n != node.data.count { Glibc.close(fd); return -EIO }
            return fd
        }
        return openHost(path, flags: O_RDONLY)
    }

    /// Opens a host fd for `path` (absolute inside the sandbox); returns fd or -errno.
    func openHost(_ path: String, flags: Int32) -> Int32 {
        if BootstrapHostFS.isHidden(path) { return -ENOENT }
        let fd = bw_openat2_in_root(rootFD, path, UInt(UInt32(bitPattern: flags | O_CLOEXEC)), 0)
        return fd >= 0 ? fd : -Int32(errno)
    }

    /// Opens a file for the application.
    func open(_ path: String, flags: Int32, mode: UInt32 = 0o644, uid: UInt32 = 0, gid: UInt32 = 0, task: Task? = nil) -> KResult<FileDescription> {
        if let task, let r = task.kernel.mounts.open(task, path, flags: flags) { return r }   // /proc, /sys
        if let dev = deviceFile(path, flags: flags) { return .success(dev) }
        if BootstrapHostFS.hiddenMounts.contains(path) && flags & O_ACCMODE_ == O_RDONLY && flags & O_CREAT == 0 {
            let f = TmpfsFile(node: emptyDir, flags: flags)
            f.path = path
            return .success(f)
        }
        if Tmpfs.contains(path) {
            // tmpfs is the upper layer; names it does not have fall through to the rootfs's /tmp
            // (read-only; directory listings of /tmp show only the tmpfs layer).
            let r = tmpfs.open(path, flags: flags, mode: mode, uid: uid, gid: gid)
            if case .failure(let e) = r, e == ENOENT || (e == EEXIST && path == Tmpfs.mountPoint) {} else { return r }
        }
        let acc = flags & O_ACCMODE_
        if acc != O_RDONLY || flags & (O_CREAT | O_TRUNC) != 0 {
            // Existing file or not, a read-only file system refuses creation and writing.
            let probe = openHost(path, flags: O_PATH | (flags & O_NOFOLLOW))
            if probe < 0 && flags & O_CREAT == 0 { return .failure(-probe) }
            if probe >= 0 { Glibc.close(probe) }
            return .failure(EROFS)
        }
        var hostFlags = O_RDONLY | (flags & (O_DIRECTORY | O_NOFOLLOW))
        if flags & O_PATH != 0 { hostFlags = O_PATH | (flags & (O_DIRECTORY | O_NOFOLLOW)) }
        let fd = openHost(path, flags: hostFlags | O_NONBLOCK)
        if fd < 0 { return .failure(-fd) }
        let file = HostFSFile(fd: fd, flags: flags, path: path)
        return .success(file)
    }

    func deviceFile(_ path: String, flags: Int32) -> FileDescription? {
        switch path {
        case "/dev/null": return DeviceFile(.null, flags: flags)
        case "/dev/zero": return DeviceFile(.zero, flags: flags)
        case "/dev/full": return DeviceFile(.full, flags: flags)
        case "/dev/urandom", "/dev/random": return DeviceFile(.random, flags: flags)
        default: return nil
        }
    }

    /// stat/lstat of a path.
    func stat(_ path: String, followLinks: Bool, _ st: inout stat, task: Task? = nil) -> Int32 {
        if let task, let r = task.kernel.mounts.stat(task, path, follow: followLinks, &st) { return r }
        if let dev = deviceFile(path, flags: 0) { return Int32(dev.stat(&st)) }
        if Tmpfs.contains(path) {
            switch tmpfs.lookup(path, follow: followLinks) {
            case .success(let n): n.fillStat(&st); return 0
            case .failure(let e): if e != ENOENT { return -e }
            }
        }
        let fd = openHost(path, flags: O_PATH | (followLinks ? 0 : O_NOFOLLOW))
        if fd < 0 { return fd }
        defer { Glibc.close(fd) }
        return fstat(fd, &st) == 0 ? 0 : -errno
    }

    func readlink(_ path: String, task: Task? = nil) -> KResult<[UInt8]> {
        if let task, let r = task.kernel.mounts.readlink(task, path) { return r }
        if Tmpfs.contains(path) {
            switch tmpfs.lookup(path, follow: false) {
            case .success(let n): return n.kind == .symlink ? .success(n.data) : .failure(EINVAL)
            case .failure(let e): if e != ENOENT { return .failure(e) }
            }
        }
        let fd = openHost(path, flags: O_PATH | O_NOFOLLOW)
        if fd < 0 { return .failure(-fd) }
        defer { Glibc.close(fd) }
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = buf.withUnsafeMutableBytes { readlinkat(fd, "", $0.baseAddress!.assumingMemoryBound(to: CChar.self), 4096) }
        if n < 0 { return .failure(errno == ENOENT ? EINVAL : errno) }
        return .success(Array(buf[0..<n]))
    }
}

/// A file or directory of the bootstrap file system, backed by a host fd (read-only).
final class HostFSFile: FileDescription {
    let fd: Int32
    init(fd: Int32, flags: Int32, path: String) {
        self.fd = fd
        super.init(flags: flags)
        self.path = path
    }
    deinit { Glibc.close(fd) }

    override var isDirectory: Bool {
        var st = Glibc.stat()
        return fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }
    override var hostFileFD: Int32? { fd }
    override var writable: Bool { false }

    override func read(_ t: Task, _ buf: UnsafeMutableRawBufferPointer) -> Int {
        let n = Glibc.read(fd, buf.baseAddress, buf.count)
        return n >= 0 ? n : -Int(errno)
    }
    override func pread(_ t: Task, _ buf: UnsafeMutableRawBufferPointer, _ off: Int) -> Int {
        let n = Glibc.pread(fd, buf.baseAddress, buf.count, off_t(off))
        return n >= 0 ? n : -Int(errno)
    }
    override func write(_ t: Task, _ buf: UnsafeRawBufferPointer) -> Int { -Int(EBADF) }
    override func pwrite(_ t: Task, _ buf: UnsafeRawBufferPointer, _ off: Int) -> Int { -Int(EBADF) }
    override func seek(_ off: Int, _ whence: Int32) -> Int {
        let r = lseek(fd, off_t(off), whence)
        return r >= 0 ? Int(r) : -Int(errno)
    }
    override func stat(_ st: inout stat) -> Int { fstat(fd, &st) == 0 ? 0 : -Int(errno) }
    override func getdents(_ buf: UnsafeMutableRawBufferPointer) -> Int {
        let n = bw_getdents64(fd, buf.baseAddress, UInt(buf.count))
        return n >= 0 ? n : -Int(errno)
    }
    override func ioctl(_ t: Task, _ cmd: UInt64, _ arg: UInt64) -> Int { -Int(ENOTTY) }
    override func poll(_ events: Int16) -> Int16 { events & (POLLIN_ | POLLOUT_) }
}
