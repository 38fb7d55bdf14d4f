// O_TMPFILE: an unnamed regular file in a directory of a Sentry tmpfs (/tmp, /dev/shm, mounts made
// inside the sandbox) or of the overlay root (made in its upper layer). It has no name (link count
// 0) until linkat(fd, "", dir, name, AT_EMPTY_PATH) gives it one, unless O_EXCL forbade that. On a
// directory served by the Gofer directly (--overlay2 none, bind mounts) the Gofer makes it in the host
// directory (CreateTmpfile) and donates its descriptor; linkat names it through the Gofer's Link
// (the host kernel refuses that for O_EXCL files, with ENOENT as Linux).
import Glibc
import GoferServer
import IPC

let O_TMPFILE_: Int32 = 0o20000000 | O_DIRECTORY

extension VFS {
    func openTmpfile(_ t: Task?, at start: VLocation, _ path: String, flags: Int32, mode: UInt32) -> KResult<FileDescription> {
        let acc = flags & O_ACCMODE_
        guard acc == O_WRONLY || acc == O_RDWR else { return .failure(EINVAL) }
        var links = 0
        var magic: FileDescription? = nil
        let dir: VLocation
        switch walk(t, start, path, follow: flags & O_NOFOLLOW == 0, links: &links, magic: &magic) {
        case .failure(let e): return .failure(e)
        case .success(let l): dir = l
        }
        if magic != nil || !dir.inode.isDir { return .failure(ENOTDIR) }
        if dir.mount.readOnly { return .failure(EROFS) }
        if let t, !mayModify(t, dir) { return .failure(EACCES) }
        let parentNode: TmpfsNode
        var overlayDir: OverlayInode? = nil
        if let tn = dir.inode as? TmpfsNode {
            parentNode = tn
        } else if let ov = dir.inode as? OverlayInode {
            let r = ov.ensureUpper()
            if r < 0 { return .failure(-r) }
            parentNode = ov.upper!
            overlayDir = ov
        } else if let g = dir.inode as? GoferInode {
            return goferTmpfile(t, dir, g, flags: flags, mode: mode)
        } else {
            return .failure(EOPNOTSUPP)
        }
        let n = parentNode.newNode(.file, mode: mode & 0o7777)
        n.uid = t?.tg.cred.fsuid ?? 0
        n.gid = t?.tg.cred.fsgid ?? 0
        n.nlink = 0
        n.parent = parentNode
        n.linkableTmpfile = flags & O_EXCL == 0
        let ino: VInode = overlayDir.map { OverlayInode(parent: $0, name: "#\(n.ino)", upper: n, lower: nil) } ?? n
        let name = "#\(n.ino)"
        let d = Dentry(name: name, parent: dir.dentry, inode: ino)
        d.dead = true
        let f = TmpfsFile(node: n, flags: flags & ~O_TMPFILE_)
        f.location = VLocation(mount: dir.mount, dentry: d)
        f.path = pathOf(dir) + "/" + name + " (deleted)"
        return .success(f)
    }

    private func goferTmpfile(_ t: Task?, _ dir: VLocation, _ g: GoferInode, flags: Int32, mode: UInt32) -> KResult<FileDescription> {
        let hf = GoferInode.hostFlags(flags) & ~O_TRUNC | (flags & O_EXCL)
        let uid = t?.tg.cred.fsuid ?? 0, gid = t?.tg.cred.fsgid ?? 0
        switch g.fs.call({ () throws(IPCError) in try g.fs.client.createTmpfile(g.fid, flags: hf, mode: mode, uid: uid, gid: gid) }) {
        case .failure(let e): return .failure(e)
        case .success(let (ino, fd)):
            let c = g.child(ino)
            let name = "#\(ino.stat.ino)"
            let d = Dentry(name: name, parent: dir.dentry, inode: c)
            d.dead = true
            let f = HostFile(fd: fd, flags: flags & ~O_TMPFILE_, inode: c)
            f.location = VLocation(mount: dir.mount, dentry: d)
            f.path = pathOf(dir) + "/" + name + " (deleted)"
            return .success(f)
        }
    }
}
