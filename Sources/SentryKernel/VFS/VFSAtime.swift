// Access times, as Linux's default relatime does them: a read (read, pread, readv, getdents,
// readlink) updates atime only when atime is not after mtime or ctime, or is a day old; never for
// an O_NOATIME description or on a noatime mount; always on a strictatime mount.
//  - tmpfs (and the overlay's upper layer): done here, in the Sentry.
//  - gofer files: left to the host, which updates atime when the host descriptor is read (its own
//    mount options apply); the Sentry only drops its cached attributes when relatime says the host
//    will have changed atime, and asks the gofer for a descriptor of its own, opened O_NOATIME, for
//    O_NOATIME opens and noatime mounts.
import Glibc

enum AtimeMode { case relatime, noatime, strictatime }

/// Whether relatime updates an atime (Linux's relatime_need_update).
@inline(__always)
func relatimeWants(atime: timespec, mtime: timespec, ctime: timespec, now: Int) -> Bool {
    !lessThan(mtime, atime) || !lessThan(ctime, atime) || now - atime.tv_sec >= 86_400
}

extension FileDescription {
    /// The mount's atime policy for this description (relatime when it has no mount).
    var atimeMode: AtimeMode { location?.mount.atime ?? .relatime }
}

extension TmpfsNode {
    /// A read through `f`: updates atime as relatime (or the mount's mode) says.
    func accessed(_ f: FileDescription) {
        if f.statusFlags & O_NOATIME != 0 { return }
        accessed(mode: f.atimeMode)
    }

    /// An access under the mount's atime `mode` (a read, readlink, mmap).
    func accessed(mode: AtimeMode) {
        if mode == .noatime { return }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)   // the clock tmpfs's mtime and ctime use
        if mode == .strictatime || relatimeWants(atime: atime, mtime: mtime, ctime: ctime, now: now.tv_sec) { atime = now }
    }
}

extension GoferInode {
    /// A read of the host descriptor: the host changed atime if relatime wanted to (cached
    /// attributes are dropped then), unless the descriptor was opened O_NOATIME.
    func accessed(_ f: FileDescription) {
        if f.statusFlags & O_NOATIME != 0 { return }
        hostAccessed(mode: f.atimeMode)
    }

    /// The host saw an access (a read of the host fd, readlinkat in the gofer) and updated atime
    /// if relatime wanted it: cached attributes are dropped then.
    func hostAccessed(mode: AtimeMode) {
        if hostWillUpdateAtime(mode: mode) { stale = true }
    }

    /// Whether an access now makes the host update atime (relatime on the cached attributes).
    func hostWillUpdateAtime(mode: AtimeMode) -> Bool {
        if stale || mode == .noatime { return false }
        let a = attrs
        let atime = timespec(tv_sec: Int(a.atimeSec), tv_nsec: Int(a.atimeNsec))
        let mtime = timespec(tv_sec: Int(a.mtimeSec), tv_nsec: Int(a.mtimeNsec))
        let ctime = timespec(tv_sec: Int(a.ctimeSec), tv_nsec: Int(a.ctimeNsec))
        var now = timespec()
        clock_gettime(CLOCK_REALTIME_COARSE, &now)
        return relatimeWants(atime: atime, mtime: mtime, ctime: ctime, now: now.tv_sec)
    }
}

extension FileDescription {
    /// getdents of the directory at `loc` reads it (a merged overlay directory keeps the lower
    /// directory's times: not updated).
    func directoryRead(_ loc: VLocation) {
        switch loc.inode {
        case let n as TmpfsNode: n.accessed(self)
        case let g as GoferInode: g.accessed(self)
        case let o as OverlayInode where o.lower == nil: o.upper?.accessed(self)
        default: break
        }
    }
}

extension VFS {
    /// readlink(2), and following a symlink during a lookup, read the link: its atime is updated
    /// as a read's (Linux's touch_atime in readlinkat and pick_link). A gofer symlink's atime is
    /// updated by the host's readlinkat in the gofer.
    func readLink(_ t: Task?, _ loc: VLocation) -> KResult<String> {
        let r = loc.inode.readlink(t)
        if case .success = r { linkAccessed(loc.inode, mode: loc.mount.atime) }
        return r
    }

    private func linkAccessed(_ inode: VInode, mode: AtimeMode) {
        switch inode {
        case let n as TmpfsNode: n.accessed(mode: mode)
        case let g as GoferInode: g.hostAccessed(mode: mode)
        case let o as OverlayInode:
            if let u = o.upper { u.accessed(mode: mode) } else if let g = o.lower as? GoferInode { g.hostAccessed(mode: mode) }
        default: break
        }
    }
}

extension Task {
    /// mmap of a file accesses it (Linux's file_accessed in the file systems' mmap): atime as a
    /// read's. A gofer file mapped from the shared image cache was not read from the host: one
    /// byte is read from the host fd so the host applies its own atime rule.
    func mmapAccessed(_ f: FileDescription) {
        if f.statusFlags & O_NOATIME != 0 { return }
        let mode = f.atimeMode
        switch f {
        case let t as TmpfsFile: t.node.accessed(mode: mode)
        case let h as HostFile:
            guard let g = h.inode as? GoferInode, mode != .noatime else { return }
            if g.stale { var st = Glibc.stat(); _ = g.getattr(nil, &st) }
            guard g.hostWillUpdateAtime(mode: mode) else { return }
            var byte: UInt8 = 0
            _ = Glibc.pread(h.fd, &byte, 1, 0)
            g.stale = true
        default: break
        }
    }
}
