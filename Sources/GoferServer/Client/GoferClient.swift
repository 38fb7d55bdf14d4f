// Typed calls to bulwark-gofer over an IPC Channel, one method per RPC. For the Sentry (to replace its
// bootstrap file system) and the tests. Errors: IPCError.remote(errno:message:) carries the gofer's
// errno (ENOENT, EROFS, EBADF...); transport failures are the other IPCError cases and arrive
// within `timeout`. Not thread-safe: one caller at a time per client (use one client per thread).
import HostOS
import IPC
import Protocol
import Wire

public final class GoferClient {
    public let channel: Channel
    public var timeout: Duration
    private var writer = MessageWriter()

    public init(_ channel: Channel, timeout: Duration = .seconds(5)) {
        self.channel = channel
        self.timeout = timeout
    }

    private func call<R: WireRequest>(_ request: R) throws(IPCError) -> R.Reply {
        var fds = ReceivedFDs()
        return try channel.call(request, writer: &writer, receivedFDs: &fds, timeout: timeout)
    }

    /// The root node of mount `mountID` (0 = --root, 1... = --mount in order), or of `path` inside it.
    public func attach(mountID: UInt64 = 0, path: String = "/", readOnly: Bool = false) throws(IPCError) -> Gofer.Inode {
        try call(Gofer.Attach(mountID: mountID, path: path, readOnly: readOnly)).root
    }

    /// One node per component found, in order; fewer than `names` when one is missing.
    public func walk(_ dir: UInt64, _ names: [String]) throws(IPCError) -> [Gofer.Inode] {
        try call(Gofer.Walk(dir: dir, names: names)).inodes
    }

    public func walkStat(_ dir: UInt64, _ names: [String]) throws(IPCError) -> Gofer.WalkStatReply {
        try call(Gofer.WalkStat(dir: dir, names: names))
    }

    /// A host descriptor for the regular file `fid` (flags: access mode, O_TRUNC, O_APPEND, O_SYNC...).
    public func open(_ fid: UInt64, flags: Int32) throws(IPCError) -> OwnedFD {
        var fds = ReceivedFDs()
        let reply = try channel.call(Gofer.Open(fid: fid, flags: UInt32(bitPattern: flags)), writer: &writer,
                                     receivedFDs: &fds, timeout: timeout)
        guard let fd = fds.take(reply.hostFD.index) else {
            throw IPCError.malformed(.malformed("Open reply without a descriptor"))
        }
        return fd
    }

    /// Creates regular file `name` in `dir` (exclusive) and opens it; UInt32.max ids keep the gofer's.
    public func create(_ dir: UInt64, _ name: String, flags: Int32, mode: UInt32,
                       uid: UInt32 = .max, gid: UInt32 = .max) throws(IPCError) -> (inode: Gofer.Inode, fd: Int32) {
        var fds = ReceivedFDs()
        let reply = try channel.call(Gofer.Create(dir: dir, name: name, flags: UInt32(bitPattern: flags), mode: mode,
                                                  uid: uid, gid: gid), writer: &writer, receivedFDs: &fds, timeout: timeout)
        guard let fd = fds.take(reply.hostFD.index) else {
            throw IPCError.malformed(.malformed("Create reply without a descriptor"))
        }
        // The raw descriptor: tuples cannot hold ~Copyable values; the caller owns and closes it.
        return (reply.child, fd.release())
    }

    /// O_TMPFILE in `dir`: an unnamed file (flags: O_WRONLY or O_RDWR, O_EXCL to forbid linking it)
    /// and its descriptor; Link names it later.
    public func createTmpfile(_ dir: UInt64, flags: Int32, mode: UInt32,
                              uid: UInt32 = .max, gid: UInt32 = .max) throws(IPCError) -> (inode: Gofer.Inode, fd: Int32) {
        var fds = ReceivedFDs()
        let reply = try channel.call(Gofer.CreateTmpfile(dir: dir, flags: UInt32(bitPattern: flags), mode: mode, uid: uid, gid: gid),
                                     writer: &writer, receivedFDs: &fds, timeout: timeout)
        guard let fd = fds.take(reply.hostFD.index) else {
            throw IPCError.malformed(.malformed("CreateTmpfile reply without a descriptor"))
        }
        return (reply.child, fd.release())
    }

    /// Watches `fid` for host-side changes: the host watch descriptor events carry, and a descriptor
    /// to poll (readable: hostEvents() has something). The caller owns the descriptor.
    public func hostWatch(_ fid: UInt64) throws(IPCError) -> (wd: UInt32, notifier: Int32) {
        var fds = ReceivedFDs()
        let reply = try channel.call(Gofer.HostWatch(fid: fid), writer: &writer, receivedFDs: &fds, timeout: timeout)
        guard let fd = fds.take(reply.notifier.index) else {
            throw IPCError.malformed(.malformed("HostWatch reply without a descriptor"))
        }
        return (reply.wd, fd.release())
    }

    /// Host-side events since the last call.
    public func hostEvents() throws(IPCError) -> [Gofer.HostEvent] {
        try call(Gofer.HostEvents()).events
    }

    public func mkdir(_ dir: UInt64, _ name: String, mode: UInt32, uid: UInt32 = .max, gid: UInt32 = .max) throws(IPCError) -> Gofer.Inode {
        try call(Gofer.Mkdir(dir: dir, name: name, mode: mode, uid: uid, gid: gid)).inode
    }

    public func mknod(_ dir: UInt64, _ name: String, mode: UInt32, uid: UInt32 = .max, gid: UInt32 = .max) throws(IPCError) -> Gofer.Inode {
        try call(Gofer.Mknod(dir: dir, name: name, mode: mode, uid: uid, gid: gid)).inode
    }

    public func symlink(_ dir: UInt64, _ name: String, target: String, uid: UInt32 = .max, gid: UInt32 = .max) throws(IPCError) -> Gofer.Inode {
        try call(Gofer.Symlink(dir: dir, name: name, target: target, uid: uid, gid: gid)).inode
    }

    public func link(_ dir: UInt64, _ name: String, target: UInt64) throws(IPCError) -> Gofer.Inode {
        try call(Gofer.Link(dir: dir, name: name, target: target)).inode
    }

    /// removeDirectory: rmdir semantics (AT_REMOVEDIR).
    public func unlink(_ dir: UInt64, _ name: String, removeDirectory: Bool = false) throws(IPCError) {
        _ = try call(Gofer.Unlink(dir: dir, name: name, flags: removeDirectory ? 0x200 : 0))
    }

    /// flags: 1 = RENAME_NOREPLACE, 2 = RENAME_EXCHANGE.
    public func rename(_ oldDir: UInt64, _ oldName: String, _ newDir: UInt64, _ newName: String, flags: UInt32 = 0) throws(IPCError) {
        _ = try call(Gofer.Rename(oldDir: oldDir, oldName: oldName, newDir: newDir, newName: newName, flags: flags))
    }

    public func readlink(_ fid: UInt64) throws(IPCError) -> String {
        try call(Gofer.Readlink(fid: fid)).target
    }

    public func stat(_ fid: UInt64) throws(IPCError) -> Gofer.Stat {
        try call(Gofer.StatFile(fid: fid)).stat
    }

    /// `request.mask` names what changes (STATX_MODE 0x2, UID 0x8, GID 0x10, ATIME 0x20, MTIME 0x40,
    /// SIZE 0x200); `timeFlags` bit 1 = atime now, bit 2 = mtime now (GoferServer.setAtimeNow...).
    public func setAttr(_ request: Gofer.SetAttr) throws(IPCError) {
        _ = try call(request)
    }

    public func statfs(_ fid: UInt64) throws(IPCError) -> Gofer.StatFSReply {
        try call(Gofer.StatFS(fid: fid))
    }

    /// Up to `count` entries ("." and ".." excluded) after `cookie` (0 = start).
    public func getdents(_ fid: UInt64, cookie: UInt64 = 0, count: UInt32 = 256) throws(IPCError) -> Gofer.GetdentsReply {
        try call(Gofer.Getdents(fid: fid, cookie: cookie, count: count))
    }

    /// Up to `count` entries after `cookie`, each with a fid and attributes (fid 0: vanished).
    public func getdentsWalk(_ fid: UInt64, cookie: UInt64 = 0, count: UInt32 = 256) throws(IPCError) -> Gofer.GetdentsWalkReply {
        try call(Gofer.GetdentsWalk(fid: fid, cookie: cookie, count: count))
    }

    /// Every entry of directory `fid`, in batches of `batch`.
    public func readDirectory(_ fid: UInt64, batch: UInt32 = 256) throws(IPCError) -> [Gofer.DirEntry] {
        var all: [Gofer.DirEntry] = []
        var cookie: UInt64 = 0
        while true {
            let reply = try getdents(fid, cookie: cookie, count: batch)
            all += reply.entries
            if reply.end || reply.entries.isEmpty { return all }
            cookie = reply.entries.last!.cookie
        }
    }

    public func getXattr(_ fid: UInt64, _ name: String, size: UInt32 = 65_536) throws(IPCError) -> Gofer.GetXattrReply {
        try call(Gofer.GetXattr(fid: fid, name: name, size: size))
    }

    public func setXattr(_ fid: UInt64, _ name: String, _ value: [UInt8], flags: UInt32 = 0) throws(IPCError) {
        _ = try call(Gofer.SetXattr(fid: fid, name: name, value: value, flags: flags))
    }

    public func listXattr(_ fid: UInt64) throws(IPCError) -> [String] {
        try call(Gofer.ListXattr(fid: fid, size: 0)).names
    }

    public func removeXattr(_ fid: UInt64, _ name: String) throws(IPCError) {
        _ = try call(Gofer.RemoveXattr(fid: fid, name: name))
    }

    public func fsync(_ fid: UInt64, dataOnly: Bool = false) throws(IPCError) {
        _ = try call(Gofer.Fsync(fid: fid, dataOnly: dataOnly))
    }

    public func fallocate(_ fid: UInt64, mode: UInt32 = 0, offset: UInt64, length: UInt64) throws(IPCError) {
        _ = try call(Gofer.Fallocate(fid: fid, mode: mode, offset: offset, length: length))
    }

    /// Releases nodes (EBADF if any was unknown; the known ones are released anyway).
    public func close(_ fids: [UInt64]) throws(IPCError) {
        _ = try call(Gofer.Close(fids: fids))
    }
}
