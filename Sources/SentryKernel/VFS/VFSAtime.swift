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
        let mode = f.atimeMode
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
        if stale || f.statusFlags & O_NOATIME != 0 || f.atimeMode == .noatime { return }
        let a = attrs
        let atime = timespec(tv_sec: Int(a.atimeSec), tv_nsec: Int(a.atimeNsec))
        let mtime = timespec(tv_sec: Int(a.mtimeSec), tv_nsec: Int(a.mtimeNsec))
        let ctime = timespec(tv_sec: Int(a.ctimeSec), tv_nsec: Int(a.ctimeNsec))
        var now = timespec()
        clock_gettime(CLOCK_REALTIME_COARSE, &now)
        if relatimeWants(atime: atime, mtime: mtime, ctime: ctime, now: now.tv_sec) { stale = true }
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
