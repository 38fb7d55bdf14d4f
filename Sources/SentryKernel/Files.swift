// Open file descriptions and the per-process FD table. A FileDescription is shared by dup'ed fds
// (reference semantics); it is released when its last fd closes (Swift ARC, under the kernel lock).
import CBulwark
import Glibc

let O_ACCMODE_: Int32 = 3
let POLLIN_: Int16 = 1, POLLPRI_: Int16 = 2, POLLOUT_: Int16 = 4, POLLERR_: Int16 = 8, POLLHUP_: Int16 = 16, POLLNVAL_: Int16 = 32

class FileDescription {
    var statusFlags: Int32
    /// The path inside the sandbox, if it has one (directories need it for *at lookups).
    var path: String?
    /// Where the VFS opened it (for *at lookups relative to a directory fd, fchdir, fchmod...).
    var location: VLocation?
    init(flags: Int32) { statusFlags = flags }
    /// The epoll interests watching this description (EpollLinksUnsafe.swift); nil when none ever did.
    final var epollLinks: [EpollInterest]? = nil
    deinit { if epollLinks != nil { releaseEpollLinks() } }
    var readable: Bool { statusFlags & O_ACCMODE_ != O_WRONLY }
    var writable: Bool { statusFlags & O_ACCMODE_ != O_RDONLY }
    var nonblocking: Bool { statusFlags & O_NONBLOCK != 0 }
    var isDirectory: Bool { false }
    /// A host descriptor whose readiness must be polled on the host (stdio), if any.
    var hostPollFD: Int32? { nil }

    func read(_ t: Task, _ buf: UnsafeMutableRawBufferPointer) -> Int { -Int(EINVAL) }
    func write(_ t: Task, _ buf: UnsafeRawBufferPointer) -> Int { -Int(EINVAL) }
    func pread(_ t: Task, _ buf: UnsafeMutableRawBufferPointer, _ off: Int) -> Int { -Int(ESPIPE) }
    func pwrite(_ t: Task, _ buf: UnsafeRawBufferPointer, _ off: Int) -> Int { -Int(ESPIPE) }
    func seek(_ off: Int, _ whence: Int32) -> Int { -Int(ESPIPE) }
    func stat(_ st: inout stat) -> Int { -Int(EBADF) }
    func getdents(_ buf: UnsafeMutableRawBufferPointer) -> Int { -Int(ENOTDIR) }
    func ioctl(_ t: Task, _ cmd: UInt64, _ arg: UInt64) -> Int { -Int(ENOTTY) }
    /// Current readiness for poll (without blocking).
    func poll(_ events: Int16) -> Int16 { events & (POLLIN_ | POLLOUT_) }
    /// A host fd for mmap of file contents, if the file has one.
    var hostFileFD: Int32? { nil }
    /// Counters bumped when new input arrives / output room appears, for edge-triggered epoll
    /// (EpollEdge.swift); 0 = not tracked (edges are then seen only as readiness changes).
    var inputSeq: UInt64 { 0 }
    var outputSeq: UInt64 { 0 }
}

struct FDEntry {
    var file: FileDescription
    var cloexec: Bool
}

final class FDTable {
    var entries: [FDEntry?] = []
    static let empty = FDTable()
    var limit = 1024

    func get(_ fd: Int) -> FileDescription? {
        guard fd >= 0 && fd < entries.count else { return nil }
        return entries[fd]?.file
    }

    /// Installs at the lowest free number >= minFD.
    func install(_ file: FileDescription, cloexec: Bool, minFD: Int = 0) -> Int {
        var i = minFD
        while i < entries.count && entries[i] != nil { i += 1 }
        if i >= limit { return -Int(EMFILE) }
        if i >= entries.count { entries.append(contentsOf: [FDEntry?](repeating: nil, count: i - entries.count + 1)) }
        entries[i] = FDEntry(file: file, cloexec: cloexec)
        return i
    }

    func installAt(_ fd: Int, _ file: FileDescription, cloexec: Bool) {
        if fd >= entries.count { entries.append(contentsOf: [FDEntry?](repeating: nil, count: fd - entries.count + 1)) }
        entries[fd] = FDEntry(file: file, cloexec: cloexec)
    }

    func close(_ fd: Int) -> Int {
        guard fd >= 0 && fd < entries.count, entries[fd] != nil else { return -Int(EBADF) }
        entries[fd] = nil
        return 0
    }

    func copy() -> FDTable {
        let n = FDTable()
        n.entries = entries
        n.limit = limit
        return n
    }

    func closeOnExec() {
        for i in entries.indices where entries[i]?.cloexec == true { entries[i] = nil }
    }
}

/// One of the Sentry's own stdio descriptors, used as the application's stdin/stdout/stderr.
final class HostStreamFile: FileDescription {
    let fd: Int32
    init(fd: Int32, flags: Int32) { self.fd = fd; super.init(flags: flags) }
    override var hostPollFD: Int32? { fd }

    override func read(_ t: Task, _ buf: UnsafeMutableRawBufferPointer) -> Int {
        while true {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let k = Glibc.poll(&p, 1, 0)
            if k > 0 {
                t.kernel.unlock()
                let n = Glibc.read(fd, buf.baseAddress, buf.count)
                let e = errno
                t.kernel.lock()
                return n >= 0 ? n : -Int(e)
            }
            if nonblocking { return -Int(EAGAIN) }
            if t.interrupted { return -ERESTARTSYS }
            t.kernel.unlock()
            _ = Glibc.poll(&p, 1, 20)
            t.kernel.lock()
        }
    }

    override func write(_ t: Task, _ buf: UnsafeRawBufferPointer) -> Int {
        t.kernel.unlock()
        var done = 0
        var err: Int32 = 0
        while done < buf.count {
            let n = Glibc.write(fd, buf.baseAddress! + done, buf.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                err = errno
                break
            }
            done += n
        }
        t.kernel.lock()
        if done == 0 && err != 0 {
            if err == EPIPE { t.kernel.sendSignal(to: t, SigInfo(signo: SIGPIPE)) }
            return -Int(err)
        }
        return done
    }

    override func stat(_ st: inout stat) -> Int { fstat(fd, &st) == 0 ? 0 : -Int(errno) }

    override func ioctl(_ t: Task, _ cmd: UInt64, _ arg: UInt64) -> Int {
        switch cmd {
        case 0x5401, 0x5413:  // TCGETS, TIOCGWINSZ: forwarded to the host tty
            var buf = [UInt8](repeating: 0, count: 64)
            let r = buf.withUnsafeMutableBytes { bw_ioctl(fd, UInt(cmd), $0.baseAddress) }
            if r < 0 { return -Int(errno) }
            let size = cmd == 0x5401 ? 36 : 8   // struct termios (kernel ABI: 4 flags, c_line, 19 c_cc) or winsize
            return buf.withUnsafeBytes { t.mm.copyOut(arg, $0.baseAddress!, size) } ? 0 : -Int(EFAULT)
        case 0x5402, 0x5403, 0x5404:  // TCSETS*: only on a real tty
            var tmp = [UInt8](repeating: 0, count: 64)
            guard tmp.withUnsafeMutableBytes({ t.mm.copyIn(arg, $0.baseAddress!, 36) }) else { return -Int(EFAULT) }
            let r = tmp.withUnsafeMutableBytes { bw_ioctl(fd, UInt(cmd), $0.baseAddress) }
            return r < 0 ? -Int(errno) : 0
        case 0x540f:  // TIOCGPGRP
            if isatty(fd) == 0 { return -Int(ENOTTY) }
            return t.mm.write(arg, t.tg.pgid) ? 0 : -Int(EFAULT)
        case 0x5410:  // TIOCSPGRP
            return isatty(fd) == 0 ? -Int(ENOTTY) : 0
        case 0x541B:  // FIONREAD
            var n: Int32 = 0
            if bw_ioctl(fd, 0x541B, &n) < 0 { return -Int(errno) }
            return t.mm.write(arg, n) ? 0 : -Int(EFAULT)
        default:
            return -Int(ENOTTY)
        }
    }

    override func poll(_ events: Int16) -> Int16 {
        var p = pollfd(fd: fd, events: events, revents: 0)
        _ = Glibc.poll(&p, 1, 0)
        return p.revents
    }
}

/// /dev/null, /dev/zero, /dev/urandom, /dev/random, /dev/full.
final class DeviceFile: FileDescription {
    enum Kind { case null, zero, random, full }
    let kind: Kind
    init(_ kind: Kind, flags: Int32) { self.kind = kind; super.init(flags: flags) }
    override func read(_ t: Task, _ buf: UnsafeMutableRawBufferPointer) -> Int {
        switch kind {
        case .null: return 0
        case .zero, .full: if buf.count > 0 { memset(buf.baseAddress!, 0, buf.count) }; return buf.count
        case .random:
            var done = 0
            while done < buf.count {
                let n = bw_getrandom(buf.baseAddress! + done, UInt(buf.count - done), 0)
                if n <= 0 { break }
                done += n
            }
            return done
        }
    }
    override func write(_ t: Task, _ buf: UnsafeRawBufferPointer) -> Int { kind == .full ? -Int(ENOSPC) : buf.count }
    override func pread(_ t: Task, _ buf: UnsafeMutableRawBufferPointer, _ off: Int) -> Int { read(t, buf) }
    override func pwrite(_ t: Task, _ buf: UnsafeRawBufferPointer, _ off: Int) -> Int { write(t, buf) }
    override func seek(_ off: Int, _ whence: Int32) -> Int { 0 }
    override func stat(_ st: inout stat) -> Int {
        st = Glibc.stat()
        st.st_mode = S_IFCHR | 0o666
        st.st_nlink = 1
        st.st_blksize = 4096
        switch kind {
        case .null: st.st_rdev = (1 << 8) | 3
        case .zero: st.st_rdev = (1 << 8) | 5
        case .full: st.st_rdev = (1 << 8) | 7
        case .random: st.st_rdev = (1 << 8) | 9
        }
        st.st_ino = UInt(st.st_rdev)
        st.st_dev = 6
        return 0
    }
}
