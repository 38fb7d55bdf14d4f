// bulwark-gofer-fuse: mounts what a bulwark-gofer serves (read-only) with FUSE, for looking at a
// container's files through the gofer by hand: `bulwark-gofer --listen S --root DIR &` then
// `bulwark-gofer-fuse S MOUNTPOINT` (foreground; fusermount3 -u MOUNTPOINT ends it).
// FUSE inode numbers are gofer fids (the root, attached first, is fid 1 = FUSE_ROOT_ID); every
// lookup makes a new node, released by forget. Writes are not offered (mounted ro).
@preconcurrency import Glibc
import CFuse
import GoferServer
import HostOS
import IPC
import LinuxABI
import Protocol

nonisolated(unsafe) var client: GoferClient!
nonisolated(unsafe) var rootFID: UInt64 = 1

func fid(_ ino: fuse_ino_t) -> UInt64 { ino == 1 ? rootFID : UInt64(ino) }

func errnoOf(_ error: any Error) -> Int32 {
    if case .remote(let errno, _)? = error as? IPCError { return errno.rawValue }
    return EIO
}

func hostStat(_ s: Gofer.Stat, ino: fuse_ino_t) -> stat {
    var st = stat()
    st.st_ino = __ino_t(ino)
    st.st_mode = mode_t(s.mode)
    st.st_nlink = nlink_t(s.nlink)
    st.st_uid = s.uid
    st.st_gid = s.gid
    st.st_size = off_t(s.size)
    st.st_blocks = blkcnt_t(s.blocks)
    st.st_blksize = blksize_t(s.blockSize)
    st.st_atim = timespec(tv_sec: Int(s.atimeSec), tv_nsec: Int(s.atimeNsec))
    st.st_mtim = timespec(tv_sec: Int(s.mtimeSec), tv_nsec: Int(s.mtimeNsec))
    st.st_ctim = timespec(tv_sec: Int(s.ctimeSec), tv_nsec: Int(s.ctimeNsec))
    return st
}

var ops = fuse_lowlevel_ops()
ops.lookup = { req, parent, name in
    do {
        guard let inode = try client.walk(fid(parent), [String(cString: name!)]).first else {
            fuse_reply_err(req, ENOENT); return
        }
        var entry = fuse_entry_param()
        entry.ino = fuse_ino_t(inode.fid)
        entry.attr = hostStat(inode.stat, ino: entry.ino)
        entry.attr_timeout = 1
        entry.entry_timeout = 1
        fuse_reply_entry(req, &entry)
    } catch { fuse_reply_err(req, errnoOf(error)) }
}
ops.forget = { req, ino, _ in
    if ino != 1 { try? client.close([UInt64(ino)]) }
    fuse_reply_none(req)
}
ops.getattr = { req, ino, _ in
    do {
        var st = hostStat(try client.stat(fid(ino)), ino: ino)
        fuse_reply_attr(req, &st, 1)
    } catch { fuse_reply_err(req, errnoOf(error)) }
}
ops.readlink = { req, ino in
    do { fuse_reply_readlink(req, try client.readlink(fid(ino))) } catch { fuse_reply_err(req, errnoOf(error)) }
}
ops.open = { req, ino, fi in
    guard fi!.pointee.flags & O_ACCMODE == O_RDONLY else { fuse_reply_err(req, EROFS); return }
    do {
        let fd = try client.open(fid(ino), flags: O_RDONLY)
        fi!.pointee.fh = UInt64(fd.release())
        fuse_reply_open(req, fi)
    } catch { fuse_reply_err(req, errnoOf(error)) }
}
ops.read = { req, _, size, offset, fi in
    var buffer = [UInt8](repeating: 0, count: size)
    let n = pread(Int32(fi!.pointee.fh), &buffer, size, offset)
    if n < 0 { fuse_reply_err(req, errno); return }
    fuse_reply_buf(req, buffer, n)
}
ops.release = { req, _, fi in
    Glibc.close(Int32(fi!.pointee.fh))
    fuse_reply_err(req, 0)
}
ops.readdir = { req, ino, size, offset, _ in
    do {
        let reply = try client.getdents(fid(ino), cookie: UInt64(offset), count: 128)
        var buffer = [CChar](repeating: 0, count: size)
        var used = 0
        for entry in reply.entries {
            var st = stat()
            st.st_ino = __ino_t(entry.ino)
            st.st_mode = mode_t(UInt32(entry.type) << 12)
            let need = buffer.withUnsafeMutableBufferPointer { b in
                fuse_add_direntry(req, b.baseAddress! + used, size - used, entry.name, &st, off_t(entry.cookie))
            }
            if used + need > size { break }
            used += need
        }
        fuse_reply_buf(req, buffer, used)
    } catch { fuse_reply_err(req, errnoOf(error)) }
}

let arguments = CommandLine.arguments
guard arguments.count == 3 else {
    fputs("usage: bulwark-gofer-fuse GOFER-SOCKET MOUNTPOINT   (read-only FUSE view of a --listen gofer)\n", stderr)
    exit(2)
}
do {
    client = GoferClient(Channel(try UnixSocket.connect(path: arguments[1])))
    rootFID = try client.attach().fid
} catch {
    fputs("bulwark-gofer-fuse: \(arguments[1]): \(error)\n", stderr)
    exit(1)
}
var argv: [UnsafeMutablePointer<CChar>?] = [strdup("bulwark-gofer-fuse"), strdup("-o"), strdup("ro,fsname=bulwark-gofer"), nil]
var args = fuse_args(argc: 3, argv: &argv, allocated: 0)
guard let session = fuse_session_new(&args, &ops, MemoryLayout<fuse_lowlevel_ops>.size, nil) else {
    fputs("bulwark-gofer-fuse: fuse_session_new failed\n", stderr)
    exit(1)
}
guard fuse_session_mount(session, arguments[2]) == 0 else {
    fputs("bulwark-gofer-fuse: cannot mount on \(arguments[2])\n", stderr)
    exit(1)
}
let status = fuse_session_loop(session)
fuse_session_unmount(session)
fuse_session_destroy(session)
exit(status == 0 ? 0 : 1)
