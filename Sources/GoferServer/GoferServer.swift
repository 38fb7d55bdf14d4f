// The gofer's request handlers. Every lookup starts from a node descriptor and goes one validated
// component at a time through openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
// oPath | O_NOFOLLOW): no path string is ever kept, symlinks are never followed (the Sentry resolves
// them from Readlink), so "..", absolute or magic links and rename races cannot leave a mount.
// Descriptors for I/O are reopened from a node through this process's own /proc/self/fd entry.
import CBulwark
import Glibc
import HostOS
import IPC
import LinuxABI
import Protocol
import ServiceKit
import Wire

/// O_PATH (Glibc's module does not export it without _GNU_SOURCE).
let oPath = Int32(BW_G_O_PATH)
/// O_TMPFILE (__O_TMPFILE | O_DIRECTORY), likewise not exported.
let oTmpfile: Int32 = 0o20000000 | O_DIRECTORY

public final class GoferServer {
    let configuration: GoferConfiguration
    /// Mount roots (oPath directories), opened once at setup.
    private var mountRoots: [Int32] = []
    /// For a mount whose source is a single file: its name in the directory mountRoots holds.
    private var mountFiles: [String?] = []
    /// /proc/self/fd, for reopening nodes with real access modes (xattrs use its path).
    private let procFD: Int32
    let nodes: NodeTable
    /// Host inotify instance for HostWatch (made on first use; -1 before), and the host-side events
    /// read from it before a change of the gofer's own, kept for HostEvents (GoferHostWatch.swift).
    var notify: Int32 = -1
    var hostEvents: [Gofer.HostEvent] = []

    /// Opens every mount root and /proc/self/fd (before seccomp forbids nothing we use, but early
    /// errors are clearer at setup).
    public init(_ configuration: GoferConfiguration) throws {
        self.configuration = configuration
        self.nodes = NodeTable(limit: configuration.maxNodes)
        for mount in configuration.mounts {
            let raw = Glibc.open(mount.source, oPath | O_DIRECTORY | O_CLOEXEC)
            if raw >= 0 {
                mountRoots.append(raw)
                mountFiles.append(nil)
                continue
            }
            let e = Glibc.errno
            guard e == ENOTDIR, let real = realpath(mount.source, nil) else {
                throw HostError(call: "open \(mount.source)", errno: Errno(rawValue: e))
            }
            // A single-file bind mount: the file's directory is opened, and only the file is ever
            // attached from it (its name is walked once; the directory is never handed out).
            let path = String(cString: real)
            free(real)
            let slash = path.lastIndex(of: "/")!
            let dir = path[..<slash].isEmpty ? "/" : String(path[..<slash])
            let fd = Glibc.open(dir, oPath | O_DIRECTORY | O_CLOEXEC)
            if fd < 0 { throw HostError(call: "open \(dir)", errno: Errno(rawValue: Glibc.errno)) }
            mountRoots.append(fd)
            mountFiles.append(String(path[path.index(after: slash)...]))
        }
        procFD = try FileSystem.open("/proc/self/fd", flags: oPath | O_DIRECTORY | O_CLOEXEC).release()
    }

    // MARK: - Handler table

    public func handlers() -> HandlerTable {
        var table = HandlerTable()
        table.register(Gofer.Attach.messageID) { request, reply throws(ServiceFailure) in
            reply.encode(try self.attach(try decode(Gofer.Attach.self, request)))
        }
        table.register(Gofer.Walk.messageID) { request, reply throws(ServiceFailure) in
            let walk = try decode(Gofer.Walk.self, request)
            reply.encode(Gofer.WalkReply(inodes: try self.walk(walk.dir, walk.names)))
        }
        table.register(Gofer.WalkStat.messageID) { request, reply throws(ServiceFailure) in
            let walk = try decode(Gofer.WalkStat.self, request)
            let dirStat = try self.stat(try self.nodes.lookup(walk.dir).fd)
            reply.encode(Gofer.WalkStatReply(dirStat: dirStat, inodes: try self.walk(walk.dir, walk.names)))
        }
        table.register(Gofer.Open.messageID) { request, reply throws(ServiceFailure) in
            let open = try decode(Gofer.Open.self, request)
            // O_TRUNC changes the content (IN_MODIFY): the gofer's own doing.
            let truncates = open.flags & UInt32(O_TRUNC) != 0
            if truncates { self.beforeOwnChange() }
            defer { if truncates { self.afterOwnChange() } }
            try reply.attach(try self.open(open.fid, flags: open.flags))
            reply.encode(Gofer.OpenReply(hostFD: FDIndex(0)))
        }
        table.register(Gofer.Create.messageID) { request, reply throws(ServiceFailure) in
            self.beforeOwnChange(); defer { self.afterOwnChange() }
            let create = try decode(Gofer.Create.self, request)
            let inode = try self.create(create, &reply)
            reply.encode(Gofer.CreateReply(child: inode, hostFD: FDIndex(0)))
        }
        table.register(Gofer.CreateTmpfile.messageID) { request, reply throws(ServiceFailure) in
            self.beforeOwnChange(); defer { self.afterOwnChange() }
            let create = try decode(Gofer.CreateTmpfile.self, request)
            let inode = try self.createTmpfile(create, &reply)
            reply.encode(Gofer.CreateReply(child: inode, hostFD: FDIndex(0)))
        }
        table.register(Gofer.Mkdir.messageID) { request, reply throws(ServiceFailure) in
            self.beforeOwnChange(); defer { self.afterOwnChange() }
            reply.encode(Gofer.InodeReply(inode: try self.mkdir(try decode(Gofer.Mkdir.self, request))))
        }
        table.register(Gofer.Mknod.messageID) { request, reply throws(ServiceFailure) in
            self.beforeOwnChange(); defer { self.afterOwnChange() }
            reply.encode(Gofer.InodeReply(inode: try self.mknod(try decode(Gofer.Mknod.self, request))))
        }
        table.register(Gofer.Symlink.messageID) { request, reply throws(ServiceFailure) in
            self.beforeOwnChange(); defer { self.afterOwnChange() }
            reply.encode(Gofer.InodeReply(inode: try self.symlink(try decode(Gofer.Symlink.self, request))))
        }
        table.register(Gofer.Link.messageID) { request, reply throws(ServiceFailure) in
            self.beforeOwnChange(); defer { self.afterOwnChange() }
            reply.encode(Gofer.InodeReply(inode: try self.link(try decode(Gofer.Link.self, request))))
        }
        table.register(Gofer.Unlink.messageID) { request, reply throws(ServiceFailure) in
            self.beforeOwnChange(); defer { self.afterOwnChange() }
            try self.unlink(try decode(Gofer.Unlink.self, request))
            reply.encode(Gofer.EmptyReply())
        }
        table.register(Gofer.Rename.messageID) { request, reply throws(ServiceFailure) in
            self.beforeOwnChange(); defer { self.afterOwnChange() }
            try self.rename(try decode(Gofer.Rename.self, request))
            reply.encode(Gofer.EmptyReply())
        }
        table.register(Gofer.Readlink.messageID) { request, reply throws(ServiceFailure) in
            reply.encode(Gofer.ReadlinkReply(target: try self.readlink(try decode(Gofer.Readlink.self, request).fid)))
        }
        table.register(Gofer.StatFile.messageID) { request, reply throws(ServiceFailure) in
            let fid = try decode(Gofer.StatFile.self, request).fid
            reply.encode(Gofer.StatReply(stat: try self.stat(try self.nodes.lookup(fid).fd)))
        }
        table.register(Gofer.SetAttr.messageID) { request, reply throws(ServiceFailure) in
            self.beforeOwnChange(); defer { self.afterOwnChange() }
            try self.setAttr(try decode(Gofer.SetAttr.self, request))
            reply.encode(Gofer.EmptyReply())
        }
        table.register(Gofer.StatFS.messageID) { request, reply throws(ServiceFailure) in
            reply.encode(try self.statfs(try decode(Gofer.StatFS.self, request).fid))
        }
        table.register(Gofer.Getdents.messageID) { request, reply throws(ServiceFailure) in
            reply.encode(try self.getdents(try decode(Gofer.Getdents.self, request)))
        }
        table.register(Gofer.GetdentsWalk.messageID) { request, reply throws(ServiceFailure) in
            reply.encode(try self.getdentsWalk(try decode(Gofer.GetdentsWalk.self, request)))
        }
        table.register(Gofer.GetXattr.messageID) { request, reply throws(ServiceFailure) in
            reply.encode(try self.getXattr(try decode(Gofer.GetXattr.self, request)))
        }
        table.register(Gofer.SetXattr.messageID) { request, reply throws(ServiceFailure) in
            self.beforeOwnChange(); defer { self.afterOwnChange() }
            try self.setXattr(try decode(Gofer.SetXattr.self, request))
            reply.encode(Gofer.EmptyReply())
        }
        table.register(Gofer.ListXattr.messageID) { request, reply throws(ServiceFailure) in
            reply.encode(Gofer.ListXattrReply(names: try self.listXattr(try decode(Gofer.ListXattr.self, request).fid)))
        }
        table.register(Gofer.RemoveXattr.messageID) { request, reply throws(ServiceFailure) in
            self.beforeOwnChange(); defer { self.afterOwnChange() }
            try self.removeXattr(try decode(Gofer.RemoveXattr.self, request))
            reply.encode(Gofer.EmptyReply())
        }
        table.register(Gofer.Fsync.messageID) { request, reply throws(ServiceFailure) in
            try self.fsync(try decode(Gofer.Fsync.self, request))
            reply.encode(Gofer.EmptyReply())
        }
        table.register(Gofer.Fallocate.messageID) { request, reply throws(ServiceFailure) in
            try self.fallocate(try decode(Gofer.Fallocate.self, request))
            reply.encode(Gofer.EmptyReply())
        }
        table.register(Gofer.HostWatch.messageID) { request, reply throws(ServiceFailure) in
            let watch = try decode(Gofer.HostWatch.self, request)
            let (wd, notifier) = try self.hostWatch(watch.fid)
            try reply.attach(OwnedFD(adopting: notifier))
            reply.encode(Gofer.HostWatchReply(wd: wd, notifier: FDIndex(0)))
        }
        table.register(Gofer.HostEvents.messageID) { request, reply throws(ServiceFailure) in
            _ = try decode(Gofer.HostEvents.self, request)
            reply.encode(Gofer.HostEventsReply(events: self.takeHostEvents()))
        }
        table.register(Gofer.Close.messageID) { request, reply throws(ServiceFailure) in
            // Closing the last node of an unlinked file frees it: IN_DELETE_SELF is not a host change.
            self.beforeOwnChange(); defer { self.afterOwnChange() }
            try self.close(try decode(Gofer.Close.self, request).fids)
            reply.encode(Gofer.EmptyReply())
        }
        return table
    }

    // MARK: - Lookup

    /// Walks `names` from node `dir`; stops (without error) at the first missing component. Any other
    /// failure (ENOTDIR when walking through a file or symlink, EACCES, a refused name) fails the
    /// whole walk and releases the nodes it made.
    func walk(_ dir: UInt64, _ names: [String]) throws(ServiceFailure) -> [Gofer.Inode] {
        guard names.count <= 256 else { throw ServiceFailure(.EINVAL, "gofer: walk of \(names.count) components (max 256)") }
        let (start, readOnly) = try nodes.lookup(dir)
        var current = start
        var inodes: [Gofer.Inode] = []
        do throws(ServiceFailure) {
            for name in names {
                try validate(name)
                let child: OwnedFD
                do {
                    child = try OpenAt2.open(current, name, flags: oPath | O_NOFOLLOW)
                } catch {
                    if error.errno == .ENOENT { break }
                    throw failure("walk '\(name)'", error)
                }
                let stat = try self.stat(child.rawValue)
                current = child.rawValue
                inodes.append(Gofer.Inode(fid: try nodes.insert(child, readOnly: readOnly), stat: stat))
            }
        } catch {
            for inode in inodes { nodes.remove(inode.fid) }
            throw error
        }
        return inodes
    }

    /// Makes a node for `name` in directory `dir` (just created there).
    private func lookupNew(_ dir: Int32, _ name: String, readOnly: Bool) throws(ServiceFailure) -> Gofer.Inode {
        let child: OwnedFD
        do { child = try OpenAt2.open(dir, name, flags: oPath | O_NOFOLLOW) } catch { throw failure("lookup '\(name)'", error) }
        let stat = try self.stat(child.rawValue)
        return Gofer.Inode(fid: try nodes.insert(child, readOnly: readOnly), stat: stat)
    }

    func attach(_ request: Gofer.Attach) throws(ServiceFailure) -> Gofer.AttachReply {
        guard request.mountID < UInt64(mountRoots.count) else {
            throw ServiceFailure(.ENOENT, "gofer: no mount \(request.mountID) (serving \(mountRoots.count))")
        }
        let mount = Int(request.mountID)
        let readOnly = request.readOnly || configuration.mounts[mount].readOnly
        guard request.path.hasPrefix("/") else { throw ServiceFailure(.EINVAL, "gofer: attach path must be absolute") }
        let rootFD: OwnedFD
        do { rootFD = try OpenAt2.open(mountRoots[mount], ".", flags: oPath | O_DIRECTORY) } catch {
            throw failure("attach", error)
        }
        let stat = try self.stat(rootFD.rawValue)
        let root = try nodes.insert(rootFD, readOnly: readOnly)
        var names = request.path.split(separator: "/").map(String.init)
        if let file = mountFiles[mount] {
            guard names.isEmpty else {
                nodes.remove(root)
                throw ServiceFailure(.ENOTDIR, "gofer: mount \(mount) is a single file")
            }
            names = [file]
        }
        if names.isEmpty { return Gofer.AttachReply(root: Gofer.Inode(fid: root, stat: stat)) }
        defer { nodes.remove(root) }
        let inodes = try walk(root, names)
        guard inodes.count == names.count, let last = inodes.last else {
            for inode in inodes { nodes.remove(inode.fid) }
            throw ServiceFailure(.ENOENT, "gofer: attach path \(request.path) not found")
        }
        for inode in inodes.dropLast() { nodes.remove(inode.fid) }
        guard last.stat.mode & UInt32(S_IFMT) == UInt32(S_IFDIR) || mountFiles[mount] != nil else {
            nodes.remove(last.fid)
            throw ServiceFailure(.ENOTDIR, "gofer: attach path \(request.path) is not a directory")
        }
        return Gofer.AttachReply(root: last)
    }

    // MARK: - Attributes

    func stat(_ fd: Int32) throws(ServiceFailure) -> Gofer.Stat {
        let s: CBulwark.statx
        do { s = try FileAttributes.statx(fd) } catch { throw failure("stat", error) }
        return Gofer.Stat(mask: s.stx_mask, mode: UInt32(s.stx_mode), nlink: s.stx_nlink, uid: s.stx_uid, gid: s.stx_gid,
                          ino: s.stx_ino, size: s.stx_size, blocks: s.stx_blocks, blockSize: s.stx_blksize,
                          atimeSec: s.stx_atime.tv_sec, atimeNsec: s.stx_atime.tv_nsec,
                          mtimeSec: s.stx_mtime.tv_sec, mtimeNsec: s.stx_mtime.tv_nsec,
                          ctimeSec: s.stx_ctime.tv_sec, ctimeNsec: s.stx_ctime.tv_nsec,
                          btimeSec: s.stx_btime.tv_sec, btimeNsec: s.stx_btime.tv_nsec,
                          devMajor: s.stx_dev_major, devMinor: s.stx_dev_minor,
                          rdevMajor: s.stx_rdev_major, rdevMinor: s.stx_rdev_minor)
    }

    private func fileType(_ fd: Int32) throws(ServiceFailure) -> UInt32 {
        try stat(fd).mode & UInt32(S_IFMT)
    }

    /// Bits SetAttr's `timeFlags` may carry: set atime / mtime to the current time (the given
    /// values are ignored then).
    public static let setAtimeNow: UInt32 = 1
    public static let setMtimeNow: UInt32 = 2

    func setAttr(_ request: Gofer.SetAttr) throws(ServiceFailure) {
        let (fd, readOnly) = try nodes.lookup(request.fid)
        let known: UInt32 = 0x2 | 0x8 | 0x10 | 0x20 | 0x40 | 0x200   // MODE UID GID ATIME MTIME SIZE
        guard request.mask & ~known == 0 else { throw ServiceFailure(.EINVAL, "gofer: setattr mask \(request.mask)") }
        if request.mask == 0 { return }
        if readOnly { throw ServiceFailure(.EROFS, "gofer: read-only mount") }
        let type = try fileType(fd)
        let name = String(fd)
        do {
            if request.mask & (0x8 | 0x10) != 0 {
                try FileAttributes.chown(fd, uid: request.mask & 0x8 != 0 ? request.uid : UInt32.max,
                                         gid: request.mask & 0x10 != 0 ? request.gid : UInt32.max)
            }
            if request.mask & 0x2 != 0 {
                // Symlink modes do not exist on Linux; the magic link would reach the symlink, refuse.
                guard type != UInt32(S_IFLNK) else { throw ServiceFailure(.EOPNOTSUPP, "gofer: chmod of a symlink") }
                try FileAttributes.chmod(procFD, name, mode: request.mode & 0o7777)
            }
            if request.mask & 0x200 != 0 {
                guard type == UInt32(S_IFREG) else {
                    throw ServiceFailure(type == UInt32(S_IFDIR) ? .EISDIR : .EINVAL, "gofer: truncate of a non-regular file")
                }
                guard request.size <= UInt64(Int64.max) else { throw ServiceFailure(.EINVAL, "gofer: size too large") }
                let file = try OpenAt2.open(procFD, name, flags: O_WRONLY, resolve: 0)
                try FileAttributes.truncate(file.rawValue, Int64(request.size))
            }
            if request.mask & (0x20 | 0x40) != 0 {
                guard type != UInt32(S_IFLNK) else { throw ServiceFailure(.EOPNOTSUPP, "gofer: timestamps of a symlink") }
                let omit = timespec(tv_sec: 0, tv_nsec: Int((1 << 30) - 2))   // UTIME_OMIT
                let now = timespec(tv_sec: 0, tv_nsec: Int((1 << 30) - 1))    // UTIME_NOW
                func time(_ bit: UInt32, _ nowBit: UInt32, _ sec: Int64, _ nsec: UInt32) -> timespec {
                    guard request.mask & bit != 0 else { return omit }
                    if request.timeFlags & nowBit != 0 { return now }
                    return timespec(tv_sec: Int(sec), tv_nsec: Int(min(nsec, 999_999_999)))
                }
                try FileAttributes.setTimes(procFD, name,
                                            atime: time(0x20, Self.setAtimeNow, request.atimeSec, request.atimeNsec),
                                            mtime: time(0x40, Self.setMtimeNow, request.mtimeSec, request.mtimeNsec))
            }
        } catch let error as ServiceFailure {
            throw error
        } catch let error as HostError {
            throw failure("setattr", error)
        } catch {
            throw ServiceFailure(.EIO, "gofer: setattr: \(error)")
        }
    }

    func statfs(_ fid: UInt64) throws(ServiceFailure) -> Gofer.StatFSReply {
        let fd = try nodes.lookup(fid).fd
        let s: CBulwark.statfs
        do { s = try FileAttributes.statfs(fd) } catch { throw failure("statfs", error) }
        return Gofer.StatFSReply(type: UInt64(bitPattern: Int64(s.f_type)), blockSize: UInt64(s.f_bsize), blocks: UInt64(s.f_blocks),
                                 blocksFree: UInt64(s.f_bfree), blocksAvailable: UInt64(s.f_bavail),
                                 files: UInt64(s.f_files), filesFree: UInt64(s.f_ffree), nameLength: UInt64(s.f_namelen))
    }

    func readlink(_ fid: UInt64) throws(ServiceFailure) -> String {
        let fd = try nodes.lookup(fid).fd
        guard try fileType(fd) == UInt32(S_IFLNK) else { throw ServiceFailure(.EINVAL, "gofer: readlink of a non-symlink") }
        do { return String(decoding: try OpenAt2.readlink(fd), as: UTF8.self) } catch { throw failure("readlink", error) }
    }

    // MARK: - Opening

    /// Open flags a client may ask for: the access mode, O_TRUNC, O_APPEND, O_DSYNC, O_SYNC, O_NOATIME
    /// (the Sentry checks ownership; the gofer has CAP_FOWNER), O_CREAT/O_EXCL/oPath/O_DIRECTORY/O_TMPFILE never.
    static let allowedOpenFlags: Int32 = O_ACCMODE | O_TRUNC | O_APPEND | O_DSYNC | O_SYNC | O_NONBLOCK | 0o1000000

    private func checkOpenFlags(_ flags: UInt32, readOnly: Bool) throws(ServiceFailure) -> Int32 {
        let value = Int32(bitPattern: flags)
        guard value & ~Self.allowedOpenFlags == 0, value & O_ACCMODE != O_ACCMODE else {
            throw ServiceFailure(.EINVAL, "gofer: open flags 0x\(String(flags, radix: 16)) not allowed")
        }
        if readOnly && (value & O_ACCMODE != O_RDONLY || value & O_TRUNC != 0) {
            throw ServiceFailure(.EROFS, "gofer: read-only mount")
        }
        return value
    }

    /// A host descriptor for regular file `fid` with `flags`, reopened through /proc/self/fd (the same
    /// inode as the node, whatever happened to its name since).
    func open(_ fid: UInt64, flags: UInt32) throws(ServiceFailure) -> OwnedFD {
        let (fd, readOnly) = try nodes.lookup(fid)
        let value = try checkOpenFlags(flags, readOnly: readOnly)
        switch try fileType(fd) {
        case UInt32(S_IFREG): break
        case UInt32(S_IFDIR): throw ServiceFailure(.EISDIR, "gofer: open of a directory (use Getdents)")
        case UInt32(S_IFLNK): throw ServiceFailure(.ELOOP, "gofer: open of a symlink")
        default: throw ServiceFailure(.EPERM, "gofer: open of a special file (the Sentry emulates them)")
        }
        do { return try OpenAt2.open(procFD, String(fd), flags: value | O_NOCTTY, resolve: 0) } catch {
            throw failure("open", error)
        }
    }

    private func writableDirectory(_ fid: UInt64) throws(ServiceFailure) -> Int32 {
        let (fd, readOnly) = try nodes.lookup(fid)
        if readOnly { throw ServiceFailure(.EROFS, "gofer: read-only mount") }
        return fd
    }

    /// Applies the requested owner when it differs from what the kernel gave the new file.
    private func applyOwner(_ inode: inout Gofer.Inode, uid: UInt32, gid: UInt32) throws(ServiceFailure) {
        let wantUID = uid == UInt32.max ? inode.stat.uid : uid
        let wantGID = gid == UInt32.max ? inode.stat.gid : gid
        guard wantUID != inode.stat.uid || wantGID != inode.stat.gid else { return }
        let fd = try nodes.lookup(inode.fid).fd
        do { try FileAttributes.chown(fd, uid: wantUID, gid: wantGID) } catch { throw failure("chown", error) }
        inode.stat = try stat(fd)
    }

    func create(_ request: Gofer.Create, _ reply: inout Reply) throws(ServiceFailure) -> Gofer.Inode {
        let dir = try writableDirectory(request.dir)
        try validate(request.name)
        let value = try checkOpenFlags(request.flags, readOnly: false)
        let file: OwnedFD
        do {
            file = try OpenAt2.open(dir, request.name, flags: value | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY,
                                    mode: request.mode & 0o7777)
        } catch { throw failure("create '\(request.name)'", error) }
        do throws(ServiceFailure) {
            return try donateNewFile(file, uid: request.uid, gid: request.gid, what: "create", &reply)
        } catch {
            _ = try? OpenAt2.unlink(dir, request.name, flags: 0)
            throw error
        }
    }

    /// A file just created (named or O_TMPFILE): a node for it, owned as asked, and the open file
    /// donated with the reply.
    private func donateNewFile(_ file: consuming OwnedFD, uid: UInt32, gid: UInt32, what: String,
                               _ reply: inout Reply) throws(ServiceFailure) -> Gofer.Inode {
        let node: OwnedFD
        do { node = try OpenAt2.open(procFD, String(file.rawValue), flags: oPath, resolve: 0) } catch {
            throw failure(what, error)
        }
        let stat = try self.stat(node.rawValue)
        var inode = Gofer.Inode(fid: try nodes.insert(node, readOnly: false), stat: stat)
        do throws(ServiceFailure) { try applyOwner(&inode, uid: uid, gid: gid) } catch {
            nodes.remove(inode.fid)
            throw error
        }
        try reply.attach(file)
        return inode
    }

    /// O_TMPFILE in directory `dir`: an unnamed file (link count 0), opened and donated like Create's,
    /// plus a node for it. Link gives it a name later (linkat through the node's /proc/self/fd entry
    /// with AT_SYMLINK_FOLLOW); with O_EXCL the host kernel itself refuses that (ENOENT).
    func createTmpfile(_ request: Gofer.CreateTmpfile, _ reply: inout Reply) throws(ServiceFailure) -> Gofer.Inode {
        let dir = try writableDirectory(request.dir)
        let excl = Int32(bitPattern: request.flags) & O_EXCL
        let value = try checkOpenFlags(request.flags & ~UInt32(O_EXCL), readOnly: false)
        guard value & O_ACCMODE != O_RDONLY, value & O_TRUNC == 0 else {
            throw ServiceFailure(.EINVAL, "gofer: O_TMPFILE needs O_WRONLY or O_RDWR")
        }
        let file: OwnedFD
        do {
            file = try OpenAt2.open(dir, ".", flags: value | excl | oTmpfile | O_NOCTTY, mode: request.mode & 0o7777)
        } catch { throw failure("O_TMPFILE", error) }
        return try donateNewFile(file, uid: request.uid, gid: request.gid, what: "O_TMPFILE node", &reply)
    }

    func mkdir(_ request: Gofer.Mkdir) throws(ServiceFailure) -> Gofer.Inode {
        let dir = try writableDirectory(request.dir)
        try validate(request.name)
        do { try OpenAt2.makeDirectory(dir, request.name, mode: request.mode & 0o7777) } catch {
            throw failure("mkdir '\(request.name)'", error)
        }
        var inode = try lookupNew(dir, request.name, readOnly: false)
        try applyOwner(&inode, uid: request.uid, gid: request.gid)
        return inode
    }

    func mknod(_ request: Gofer.Mknod) throws(ServiceFailure) -> Gofer.Inode {
        let dir = try writableDirectory(request.dir)
        try validate(request.name)
        let type = request.mode & UInt32(S_IFMT)
        // Device nodes would give the container host devices: the Sentry emulates those itself.
        guard type == UInt32(S_IFIFO) || type == UInt32(S_IFSOCK) else {
            throw ServiceFailure(.EPERM, "gofer: mknod makes only FIFOs and sockets")
        }
        do { try OpenAt2.makeNode(dir, request.name, mode: type | (request.mode & 0o7777), device: 0) } catch {
            throw failure("mknod '\(request.name)'", error)
        }
        var inode = try lookupNew(dir, request.name, readOnly: false)
        try applyOwner(&inode, uid: request.uid, gid: request.gid)
        return inode
    }

    func symlink(_ request: Gofer.Symlink) throws(ServiceFailure) -> Gofer.Inode {
        let dir = try writableDirectory(request.dir)
        try validate(request.name)
        guard !request.target.isEmpty, request.target.utf8.count < 4096, !request.target.utf8.contains(0) else {
            throw ServiceFailure(.EINVAL, "gofer: bad symlink target")
        }
        do { try OpenAt2.symlink(request.target, dir, request.name) } catch { throw failure("symlink '\(request.name)'", error) }
        var inode = try lookupNew(dir, request.name, readOnly: false)
        // Ownership of the symlink itself: fchownat(AT_EMPTY_PATH) on its oPath node does not follow it.
        try applyOwner(&inode, uid: request.uid, gid: request.gid)
        return inode
    }

    func link(_ request: Gofer.Link) throws(ServiceFailure) -> Gofer.Inode {
        let dir = try writableDirectory(request.dir)
        try validate(request.name)
        let target = try nodes.lookup(request.target).fd
        if try fileType(target) == UInt32(S_IFDIR) { throw ServiceFailure(.EPERM, "gofer: hard link to a directory") }
        // linkat through the magic link links the node's inode itself, without CAP_DAC_READ_SEARCH.
        do { try OpenAt2.link(procFD, String(target), dir, request.name, flags: Int32(BW_G_AT_SYMLINK_FOLLOW)) } catch {
            throw failure("link '\(request.name)'", error)
        }
        return try lookupNew(dir, request.name, readOnly: false)
    }

    func unlink(_ request: Gofer.Unlink) throws(ServiceFailure) {
        let dir = try writableDirectory(request.dir)
        try validate(request.name)
        let removeDir = UInt32(BW_G_AT_REMOVEDIR)
        guard request.flags & ~removeDir == 0 else { throw ServiceFailure(.EINVAL, "gofer: unlink flags \(request.flags)") }
        do { try OpenAt2.unlink(dir, request.name, flags: Int32(request.flags)) } catch {
            throw failure("unlink '\(request.name)'", error)
        }
    }

    func rename(_ request: Gofer.Rename) throws(ServiceFailure) {
        let oldDir = try writableDirectory(request.oldDir)
        let newDir = try writableDirectory(request.newDir)
        try validate(request.oldName)
        try validate(request.newName)
        // RENAME_NOREPLACE (1) and RENAME_EXCHANGE (2); RENAME_WHITEOUT is for overlay file systems.
        guard request.flags & ~3 == 0, request.flags != 3 else {
            throw ServiceFailure(.EINVAL, "gofer: rename flags \(request.flags)")
        }
        do { try OpenAt2.rename(oldDir, request.oldName, newDir, request.newName, flags: request.flags) } catch {
            throw failure("rename '\(request.oldName)' -> '\(request.newName)'", error)
        }
    }

    // MARK: - Directories

    func getdents(_ request: Gofer.Getdents) throws(ServiceFailure) -> Gofer.GetdentsReply {
        let fd = try nodes.lookup(request.fid).fd
        let count = min(Int(request.count), 1024)
        guard count > 0 else { throw ServiceFailure(.EINVAL, "gofer: getdents count 0") }
        guard request.cookie <= UInt64(Int64.max) else { throw ServiceFailure(.EINVAL, "gofer: bad cookie") }
        var entries: [Gofer.DirEntry] = []
        var end = false
        do {
            let dir = try OpenAt2.open(procFD, String(fd), flags: O_RDONLY | O_DIRECTORY, resolve: 0)
            try FileAttributes.seek(dir.rawValue, Int64(request.cookie))
            reading: while entries.count < count {
                let batch = try DirectoryEntries.read(dir.rawValue)
                if batch.isEmpty { end = true; break }
                for entry in batch {
                    if entry.name == "." || entry.name == ".." { continue }
                    entries.append(Gofer.DirEntry(name: entry.name, ino: entry.ino, type: entry.type, cookie: entry.offset))
                    if entries.count == count { break reading }
                }
            }
        } catch {
            throw failure("getdents", error)
        }
        return Gofer.GetdentsReply(entries: entries, end: end)
    }

    /// Getdents plus a confined lookup (openat2 O_PATH|O_NOFOLLOW + statx) of every entry, so a
    /// whole batch of names costs one round trip. At most 256 entries (each reply entry carries a
    /// fid the client must Close).
    func getdentsWalk(_ request: Gofer.GetdentsWalk) throws(ServiceFailure) -> Gofer.GetdentsWalkReply {
        let (dirFD, readOnly) = try nodes.lookup(request.fid)
        let listing = try getdents(Gofer.Getdents(fid: request.fid, cookie: request.cookie, count: min(request.count, 256)))
        var inodes: [Gofer.Inode] = []
        inodes.reserveCapacity(listing.entries.count)
        do throws(ServiceFailure) {
            for e in listing.entries {
                let child: OwnedFD
                do {
                    child = try OpenAt2.open(dirFD, e.name, flags: oPath | O_NOFOLLOW)
                } catch {
                    // Gone (or unreadable) since the listing: no inode for it.
                    inodes.append(Gofer.Inode(fid: 0, stat: Gofer.Stat()))
                    continue
                }
                let stat = try self.stat(child.rawValue)
                inodes.append(Gofer.Inode(fid: try nodes.insert(child, readOnly: readOnly), stat: stat))
            }
        } catch {
            for inode in inodes where inode.fid != 0 { nodes.remove(inode.fid) }
            throw error
        }
        return Gofer.GetdentsWalkReply(entries: listing.entries, inodes: inodes, end: listing.end)
    }

    // MARK: - Extended attributes (user.* only)

    private func xattrPath(_ fid: UInt64, write: Bool) throws(ServiceFailure) -> String {
        let (fd, readOnly) = try nodes.lookup(fid)
        if write && readOnly { throw ServiceFailure(.EROFS, "gofer: read-only mount") }
        // The path calls would follow a symlink node's magic link target; user.* is not allowed on
        // symlinks anyway.
        if try fileType(fd) == UInt32(S_IFLNK) { throw ServiceFailure(.EPERM, "gofer: xattrs on a symlink") }
        return "/proc/self/fd/\(fd)"
    }

    private func checkXattrName(_ name: String) throws(ServiceFailure) {
        guard name.hasPrefix("user."), name.utf8.count > 5, name.utf8.count <= 255, !name.utf8.contains(0) else {
            throw ServiceFailure(.EOPNOTSUPP, "gofer: only user.* extended attributes are served")
        }
    }

    func getXattr(_ request: Gofer.GetXattr) throws(ServiceFailure) -> Gofer.GetXattrReply {
        try checkXattrName(request.name)
        let path = try xattrPath(request.fid, write: false)
        do {
            let (value, size) = try Xattr.get(path, request.name, size: min(Int(request.size), 65_536))
            return Gofer.GetXattrReply(value: value, size: UInt32(size))
        } catch { throw failure("getxattr", error) }
    }

    func setXattr(_ request: Gofer.SetXattr) throws(ServiceFailure) {
        try checkXattrName(request.name)
        guard request.flags & ~3 == 0, request.value.count <= 65_536 else {
            throw ServiceFailure(.EINVAL, "gofer: setxattr flags or size")
        }
        let path = try xattrPath(request.fid, write: true)
        do { try Xattr.set(path, request.name, request.value, flags: Int32(request.flags)) } catch { throw failure("setxattr", error) }
    }

    func listXattr(_ fid: UInt64) throws(ServiceFailure) -> [String] {
        let path = try xattrPath(fid, write: false)
        do { return try Xattr.list(path).filter { $0.hasPrefix("user.") } } catch { throw failure("listxattr", error) }
    }

    func removeXattr(_ request: Gofer.RemoveXattr) throws(ServiceFailure) {
        try checkXattrName(request.name)
        let path = try xattrPath(request.fid, write: true)
        do { try Xattr.remove(path, request.name) } catch { throw failure("removexattr", error) }
    }

    // MARK: - Data

    func fsync(_ request: Gofer.Fsync) throws(ServiceFailure) {
        let fd = try nodes.lookup(request.fid).fd
        let type = try fileType(fd)
        guard type == UInt32(S_IFREG) || type == UInt32(S_IFDIR) else { throw ServiceFailure(.EINVAL, "gofer: fsync of a special file") }
        do {
            let file = try OpenAt2.open(procFD, String(fd), flags: O_RDONLY, resolve: 0)
            try FileAttributes.sync(file.rawValue, dataOnly: request.dataOnly)
        } catch { throw failure("fsync", error) }
    }

    func fallocate(_ request: Gofer.Fallocate) throws(ServiceFailure) {
        let (fd, readOnly) = try nodes.lookup(request.fid)
        if readOnly { throw ServiceFailure(.EROFS, "gofer: read-only mount") }
        guard try fileType(fd) == UInt32(S_IFREG) else { throw ServiceFailure(.ENODEV, "gofer: fallocate of a non-regular file") }
        guard request.offset <= UInt64(Int64.max), request.length <= UInt64(Int64.max) else {
            throw ServiceFailure(.EINVAL, "gofer: fallocate range")
        }
        do {
            let file = try OpenAt2.open(procFD, String(fd), flags: O_WRONLY, resolve: 0)
            try FileAttributes.allocate(file.rawValue, mode: Int32(bitPattern: request.mode),
                                        offset: Int64(request.offset), length: Int64(request.length))
        } catch { throw failure("fallocate", error) }
    }

    func close(_ fids: [UInt64]) throws(ServiceFailure) {
        var unknown = 0
        for fid in fids where !nodes.remove(fid) { unknown += 1 }
        if unknown > 0 { throw ServiceFailure(.EBADF, "gofer: close: \(unknown) unknown fid(s)") }
    }
}

// MARK: - Helpers

/// A path component the gofer accepts: not empty, not "." or "..", no '/' or NUL, at most 255 bytes.
func validate(_ name: String) throws(ServiceFailure) {
    let bytes = name.utf8
    guard !bytes.isEmpty, name != ".", name != "..", bytes.count <= 255,
          !bytes.contains(UInt8(ascii: "/")), !bytes.contains(0) else {
        throw ServiceFailure(bytes.count > 255 ? .ENAMETOOLONG : .EINVAL, "gofer: invalid path component \(name.debugDescription)")
    }
}

func failure(_ what: String, _ error: HostError) -> ServiceFailure {
    ServiceFailure(error.errno, "gofer: \(what): \(error)")
}

/// Checked decode of a request body; malformed bodies become EINVAL replies.
func decode<M: WireMessage>(_ type: M.Type, _ request: borrowing Message) throws(ServiceFailure) -> M {
    do { return try M.decode(try request.view()) } catch {
        throw ServiceFailure(.EINVAL, "gofer: malformed \(M.name): \(error)")
    }
}
