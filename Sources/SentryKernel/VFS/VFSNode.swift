// The Sentry VFS's object model: inodes (one per file system object, implemented by each file
// system), dentries (named links in a cached tree, so path walks stay in the Sentry's memory) and
// mounts (a file system's root dentry placed on a dentry of its parent mount).
import Glibc

/// One directory entry as file systems report it (without "." and "..").
struct VDirEntry {
    var name: String
    var ino: UInt64
    var type: UInt8   // DT_*
}

/// The attribute changes of chmod/chown/truncate/utimensat (nil = unchanged).
struct VSetAttr {
    var mode: UInt32? = nil
    var uid: UInt32? = nil
    var gid: UInt32? = nil
    var size: Int? = nil
    var atime: timespec? = nil
    var mtime: timespec? = nil
}

let DT_DIR_: UInt8 = 4, DT_REG_: UInt8 = 8, DT_LNK_: UInt8 = 10, DT_CHR_: UInt8 = 2, DT_FIFO_: UInt8 = 1, DT_SOCK_: UInt8 = 12, DT_BLK_: UInt8 = 6

func dtype(_ mode: UInt32) -> UInt8 { UInt8((mode & S_IFMT) >> 12) }

func nowTimespec() -> timespec {
    var t = timespec()
    clock_gettime(CLOCK_REALTIME, &t)
    return t
}

/// A file system object. Every operation defaults to the errno a file system without it gives;
/// directory operations take a single component name (never "", ".", "..", never containing "/").
class VInode {
    /// S_IFMT bits: the type never changes during an inode's life.
    var fileType: UInt32 { S_IFREG }
    var isDir: Bool { fileType == S_IFDIR }
    var isSymlink: Bool { fileType == S_IFLNK }
    /// Whether dentries for this inode's children may be cached (false for generated trees).
    var cacheable: Bool { true }

    func getattr(_ t: Task?, _ st: inout stat) -> Int32 { -EIO }
    func lookup(_ t: Task?, _ name: String) -> KResult<VInode> { .failure(ENOTDIR) }
    func readdir(_ t: Task?) -> KResult<[VDirEntry]> { .failure(ENOTDIR) }
    func readlink(_ t: Task?) -> KResult<String> { .failure(EINVAL) }
    func open(_ t: Task?, flags: Int32) -> KResult<FileDescription> { .failure(ENXIO) }
    /// Creates regular file `name` and opens it with `flags`.
    func create(_ t: Task?, _ name: String, flags: Int32, mode: UInt32, uid: UInt32, gid: UInt32) -> KResult<(VInode, FileDescription)> { .failure(isDir ? EPERM : ENOTDIR) }
    func mkdir(_ name: String, mode: UInt32, uid: UInt32, gid: UInt32) -> KResult<VInode> { .failure(isDir ? EPERM : ENOTDIR) }
    /// FIFOs, sockets, character and block devices (mode carries the type).
    func mknod(_ name: String, mode: UInt32, rdev: UInt64, uid: UInt32, gid: UInt32) -> KResult<VInode> { .failure(isDir ? EPERM : ENOTDIR) }
    func symlink(_ name: String, target: String, uid: UInt32, gid: UInt32) -> KResult<VInode> { .failure(isDir ? EPERM : ENOTDIR) }
    func link(_ name: String, target: VInode) -> Int32 { isDir ? -EPERM : -ENOTDIR }
    func unlink(_ name: String, dir: Bool) -> Int32 { isDir ? -EPERM : -ENOTDIR }
    /// flags: RENAME_NOREPLACE 1, RENAME_EXCHANGE 2. `newDir` is of the same file system.
    func rename(_ oldName: String, newDir: VInode, _ newName: String, flags: UInt32) -> Int32 { -EPERM }
    func setattr(_ a: VSetAttr) -> Int32 { -EPERM }
    /// Linux struct statfs as 15 words (f_type, f_bsize, blocks, bfree, bavail, files, ffree, fsid, namelen, frsize, flags...).
    func statfs(_ sf: inout [UInt64]) -> Int32 {
        sf = [UInt64](repeating: 0, count: 15)
        sf[0] = 0x01021994; sf[1] = 4096; sf[8] = 255; sf[9] = 4096
        return 0
    }
    func getxattr(_ name: String) -> KResult<[UInt8]> { .failure(ENODATA) }
    func setxattr(_ name: String, _ value: [UInt8], flags: Int32) -> Int32 { -EOPNOTSUPP }
    func listxattr() -> KResult<[String]> { .success([]) }
    func removexattr(_ name: String) -> Int32 { -ENODATA }
    func fsync(dataOnly: Bool) -> Int32 { 0 }
    func fallocate(mode: Int32, offset: Int, length: Int) -> Int32 { -EOPNOTSUPP }
    /// A host fd with the file's contents for the ELF loader (the caller closes it), or -errno.
    func openForExec(_ t: Task?) -> Int32 { -EACCES }
    /// Told after a rename moved this inode to `name` in `newDir` (overlay keeps its parent link).
    func moved(to newDir: VInode, name: String) {}
    /// Cached attributes may be out of date (its link count or name changed).
    func invalidate() {}
}

/// A name in the cached tree. The parent link is strong (a cached path keeps its ancestors).
final class Dentry {
    var name: String
    var parent: Dentry?
    let inode: VInode
    var children: [String: Dentry] = [:]
    /// Names known to be absent (cleared when the VFS makes the name).
    var negative = Set<String>()
    /// Set when the name was removed (unlink, rmdir, rename over it).
    var dead = false
    init(name: String, parent: Dentry?, inode: VInode) {
        self.name = name
        self.parent = parent
        self.inode = inode
    }
}

/// A mounted file system. `point` is the dentry of `parent` it covers (nil for the root mount).
final class VMount {
    let root: Dentry
    let parent: VMount?
    let point: Dentry?
    var readOnly: Bool
    let fsType: String
    let source: String
    /// Mounts on dentries of this mount, keyed by the covered dentry.
    var children: [ObjectIdentifier: VMount] = [:]
    /// Creation order: /proc/self/mounts lists mounts in the order they were made, as Linux does.
    let sequence: Int
    nonisolated(unsafe) private static var made = 0
    init(root: Dentry, parent: VMount?, point: Dentry?, readOnly: Bool, fsType: String, source: String) {
        VMount.made += 1
        self.sequence = VMount.made
        self.root = root
        self.parent = parent
        self.point = point
        self.readOnly = readOnly
        self.fsType = fsType
        self.source = source
    }
}

/// A place in the tree: a dentry as seen through a mount.
struct VLocation {
    let mount: VMount
    let dentry: Dentry
    var inode: VInode { dentry.inode }
    static func == (a: VLocation, b: VLocation) -> Bool { a.mount === b.mount && a.dentry === b.dentry }
}
