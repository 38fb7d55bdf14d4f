// mount and umount2 inside the sandbox: tmpfs, bind mounts (MS_BIND, MS_REC accepted), read-only
// remounts (MS_REMOUNT|MS_BIND|MS_RDONLY). Mounting needs CAP_SYS_ADMIN (EPERM otherwise).
import Glibc

extension Task {
    func sysMount(_ sourceAddr: UInt64, _ targetAddr: UInt64, _ typeAddr: UInt64, _ flags: UInt64, _ data: UInt64) -> Int {
        guard tg.cred.has(Cap.sysAdmin) else { return errno(EPERM) }
        let msRdonly: UInt64 = 1, msRemount: UInt64 = 32, msBind: UInt64 = 4096, msRec: UInt64 = 16384
        let vfs = kernel.vfs
        let target: VLocation
        switch targetArgs(AT_FDCWD_, targetAddr, flags: 0) {
        case .failure(let e): return errno(e)
        case .success(.file): return errno(ENOTDIR)
        case .success(.loc(let l)): target = l
        }
        if flags & msRemount != 0 {
            guard target.dentry === target.mount.root else { return errno(EINVAL) }
            target.mount.readOnly = flags & msRdonly != 0
            return 0
        }
        if flags & msBind != 0 {
            let source: VLocation
            switch targetArgs(AT_FDCWD_, sourceAddr, flags: 0) {
            case .failure(let e): return errno(e)
            case .success(.file): return errno(EINVAL)
            case .success(.loc(let l)): source = l
            }
            if source.inode.isDir != target.inode.isDir { return errno(source.inode.isDir ? ENOTDIR : EISDIR) }
            _ = msRec   // submounts of the source are not carried over (a plain bind)
            vfs.place(root: source.dentry, on: target, fsType: source.mount.fsType, source: vfs.pathOf(source),
                      readOnly: flags & msRdonly != 0)
            return 0
        }
        guard let typeBytes = mm.readCString(typeAddr, max: 64) else { return errno(EFAULT) }
        let type = String(decoding: typeBytes, as: UTF8.self)
        guard type == "tmpfs" else { return errno(ENODEV) }
        guard target.inode.isDir else { return errno(ENOTDIR) }
        var mode: UInt32 = 0o1777
        if data != 0, let opts = mm.readCString(data, max: 4096) {
            for o in String(decoding: opts, as: UTF8.self).split(separator: ",") where o.hasPrefix("mode=") {
                if let m = UInt32(o.dropFirst(5), radix: 8) { mode = m & 0o7777 }
            }
        }
        let root = Dentry(name: target.dentry.name, parent: nil, inode: TmpfsNode(kind: .dir, mode: mode))
        vfs.place(root: root, on: target, fsType: "tmpfs", source: "tmpfs", readOnly: flags & msRdonly != 0)
        return 0
    }

    func sysUmount2(_ targetAddr: UInt64, _ flags: Int32) -> Int {
        guard tg.cred.has(Cap.sysAdmin) else { return errno(EPERM) }
        guard flags & ~0xf == 0 else { return errno(EINVAL) }   // MNT_FORCE, MNT_DETACH, MNT_EXPIRE, UMOUNT_NOFOLLOW
        switch targetArgs(AT_FDCWD_, targetAddr, flags: flags & 8 != 0 ? AT_SYMLINK_NOFOLLOW_ : 0) {
        case .failure(let e): return errno(e)
        case .success(.file): return errno(EINVAL)
        case .success(.loc(let l)):
            // The cwd inside the mount keeps it busy (as Linux does), unless detached.
            if flags & 2 == 0, fsctx.cwd.hasPrefix(kernel.vfs.pathOf(l) == "/" ? "/" : kernel.vfs.pathOf(l) + "/") || fsctx.cwd == kernel.vfs.pathOf(l) {
                return errno(EBUSY)
            }
            return Int(kernel.vfs.unmount(l, detach: flags & 2 != 0))
        }
    }
}
