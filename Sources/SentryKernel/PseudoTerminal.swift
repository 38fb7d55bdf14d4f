// Pseudo-terminals served by the Sentry: /dev/ptmx (master), /dev/pts/N (slaves, in a "devpts"
// synthetic mount) and /dev/tty (the caller's controlling terminal). A Terminal is one master/slave
// pair: input written to the master runs through the line discipline to the slave; output the slave
// writes is processed (OPOST) and queued for the master. Controlling terminals, the foreground
// process group and the job-control checks (SIGTTIN/SIGTTOU) live here too. All state is guarded by
// the kernel lock; blocking waits use the kernel condition like pipes.
import Glibc

final class Terminal {
    let index: Int
    let ld = LineDiscipline()
    var masterTermios = Termios.masterDefault
    /// Output of the slave (processed) and echo, waiting for the master to read it.
    var output: [UInt8] = []
    static let outputLimit = 65536
    var winsize: (row: UInt16, col: UInt16, xpixel: UInt16, ypixel: UInt16) = (0, 0, 0, 0)
    var locked = true
    var masterOpen = true
    var slaveOpens = 0
    var slaveEverOpened = false
    /// Session this terminal controls, and its foreground process group.
    var sid: Int32? = nil
    var fgPgrp: Int32 = 0
    var uid: UInt32 = 0
    /// Event counters for edge-triggered epoll: data queued toward each side, room made for each.
    var toSlaveSeq: UInt64 = 0, toMasterSeq: UInt64 = 0, masterRoomSeq: UInt64 = 0, slaveRoomSeq: UInt64 = 0

    init(index: Int) { self.index = index }

    var hungUp: Bool { !masterOpen }
}

/// Global terminal tables (kernel lock held): pty numbers for /dev/pts, and each session's
/// controlling terminal.
enum Terminals {
    struct WeakTerminal { weak var t: Terminal? }
    nonisolated(unsafe) static var byIndex: [Int: WeakTerminal] = [:]
    nonisolated(unsafe) static var bySession: [Int32: WeakTerminal] = [:]

    static func allocate() -> Terminal {
        byIndex = byIndex.filter { $0.value.t != nil }
        var i = 0
        while byIndex[i] != nil { i += 1 }
        let t = Terminal(index: i)
        byIndex[i] = WeakTerminal(t: t)
        return t
    }

    static func lookup(_ index: Int) -> Terminal? { byIndex[index]?.t }

    static func controlling(_ tg: ThreadGroup) -> Terminal? {
        guard let t = bySession[tg.sid]?.t, t.sid == tg.sid else { return nil }
        return t
    }

    /// Registers /dev/ptmx, /dev/tty and the devpts mount with the VFS seam.
    static func register(_ kernel: Kernel) {
        kernel.mounts.register(device: "ptmx", rdev: (5 << 8) | 2) { t, flags in
            let term = allocate()
            term.uid = t.tg.uid
            let m = PtyMaster(term, flags: flags)
            m.path = "/dev/ptmx"
            return .success(m)
        }
        kernel.mounts.register(device: "tty", rdev: (5 << 8) | 0) { t, flags in
            guard let term = controlling(t.tg) else { return .failure(ENXIO) }
            if term.hungUp { return .failure(EIO) }
            let s = PtySlave(term, flags: flags)
            s.path = "/dev/tty"
            return .success(s)
        }
        kernel.mounts.mount(DevPts(), at: "/dev/pts")
    }
}

extension Kernel {
    /// Sends `sig` to every live member of process group `pgrp`.
    func signalProcessGroup(_ pgrp: Int32, _ sig: Int32) {
        guard pgrp > 0 else { return }
        for g in threadGroups.values where g.pgid == pgrp && !g.zombie {
            sendSignal(to: g, SigInfo(signo: sig, code: 0x80 /* SI_KERNEL */))
        }
    }

    func sessionAlive(_ sid: Int32) -> Bool {
        threadGroups.values.contains { $0.sid == sid && !$0.zombie && !$0.exiting }
    }
}

extension Terminal {
    /// Makes this terminal the controlling terminal of `tg`'s session (tg must lead it).
    func attach(_ tg: ThreadGroup) {
        sid = tg.sid
        fgPgrp = tg.pgid
        Terminals.bySession[tg.sid] = Terminals.WeakTerminal(t: self)
    }

    func detach(_ kernel: Kernel) {
        if let s = sid, Terminals.bySession[s]?.t === self { Terminals.bySession[s] = nil }
        sid = nil
        fgPgrp = 0
    }

    /// Input typed at the terminal: line discipline, echo, and signals to the foreground group.
    func input(_ kernel: Kernel, _ bytes: UnsafeRawBufferPointer) -> Int {
        var fx = LineDiscipline.InputEffects()
        let n = ld.receive(bytes, &fx)
        // Echo is dropped while the master side is not reading (bounded, like Linux's echo buffer).
        if !fx.echo.isEmpty && output.count < Terminal.outputLimit {
            fx.echo.withUnsafeBytes { ld.processOutput($0, into: &output) }
            toMasterSeq &+= 1
        }
        if n > 0 { toSlaveSeq &+= 1 }
        for s in fx.signals { kernel.signalProcessGroup(fgPgrp, s) }
        kernel.broadcast()
        return n
    }

    /// The master was closed: the slave side is hung up (SIGHUP and SIGCONT to the session).
    func hangup(_ kernel: Kernel) {
        masterOpen = false
        if let s = sid {
            if let leader = kernel.threadGroups[s], !leader.zombie {
                kernel.sendSignal(to: leader, SigInfo(signo: SIGHUP, code: 0x80))
                kernel.sendSignal(to: leader, SigInfo(signo: SIGCONT, code: 0x80))
            }
            if fgPgrp != s { kernel.signalProcessGroup(fgPgrp, SIGHUP) }
        }
        detach(kernel)
        toSlaveSeq &+= 1
        kernel.broadcast()
    }

    /// Job control for a slave access by `t`: nil when allowed, else the result to return.
    /// `sig` is SIGTTIN (reads) or SIGTTOU (writes with TOSTOP, termios and pgrp changes).
    func backgroundCheck(_ t: Task, _ sig: Int32) -> Int? {
        guard let s = sid, s == t.tg.sid, Terminals.controlling(t.tg) === self, t.tg.pgid != fgPgrp else { return nil }
        let act = t.tg.handlers.actions[Int(sig)]
        let ignoredOrBlocked = act.handler == 1 || t.sigmask & sigbit(sig) != 0
        if sig == SIGTTOU && ignoredOrBlocked { return nil }   // writes and tcsetpgrp go ahead
        if ignoredOrBlocked { return -Int(EIO) }
        if t.kernel.isOrphanedPgrp(t.tg.pgid) { return -Int(EIO) }
        t.kernel.signalProcessGroup(t.tg.pgid, sig)
        return -ERESTARTSYS
    }
}

/// Handles the ioctls both ends share (termios, window size); nil when `cmd` is not one of them.
private func commonTTYIoctl(_ t: Task, _ term: Terminal, isMaster: Bool, _ cmd: UInt64, _ arg: UInt64) -> Int? {
    switch cmd {
    case 0x5401:   // TCGETS
        let b = (isMaster ? term.masterTermios : term.ld.termios).encode()
        return b.withUnsafeBytes { t.mm.copyOut(arg, $0.baseAddress!, Termios.size) } ? 0 : -Int(EFAULT)
    case 0x5402, 0x5403, 0x5404:   // TCSETS, TCSETSW (drain: output is never delayed), TCSETSF (flush input)
        guard let b = t.mm.readBytes(arg, Termios.size), let n = Termios.decode(b) else { return -Int(EFAULT) }
        if !isMaster, let r = term.backgroundCheck(t, SIGTTOU) { return r }
        if isMaster { term.masterTermios = n } else {
            if cmd == 0x5404 { term.ld.flushInput() }
            term.ld.setTermios(n)
        }
        t.kernel.broadcast()
        return 0
    case 0x5413:   // TIOCGWINSZ
        let w = term.winsize
        return t.mm.write(arg, (w.row, w.col, w.xpixel, w.ypixel)) ? 0 : -Int(EFAULT)
    case 0x5414:   // TIOCSWINSZ: a change sends SIGWINCH to the foreground group
        guard let w = t.mm.read(arg, as: (UInt16, UInt16, UInt16, UInt16).self) else { return -Int(EFAULT) }
        let old = term.winsize
        term.winsize = (w.0, w.1, w.2, w.3)
        if old != term.winsize { t.kernel.signalProcessGroup(term.fgPgrp, SIGWINCH) }
        return 0
    case 0x540b:   // TCFLSH: 0 input, 1 output, 2 both
        switch arg {
        case 0: term.ld.flushInput()
        case 1: if isMaster { term.ld.flushInput() } else { term.output.removeAll() }
        case 2: term.ld.flushInput(); term.output.removeAll()
        default: return -Int(EINVAL)
        }
        t.kernel.broadcast()
        return 0
    case 0x5409, 0x5425, 0x5427, 0x5428, 0x540a:   // TCSBRK (tcdrain), TCSBRKP, TIOCSBRK, TIOCCBRK, TCXONC
        return 0
    case 0x5411:   // TIOCOUTQ
        return t.mm.write(arg, Int32(isMaster ? term.ld.availableCount : term.output.count)) ? 0 : -Int(EFAULT)
    default:
        return nil
    }
}

/// The master side (/dev/ptmx).
final class PtyMaster: FileDescription {
    let term: Terminal
    init(_ term: Terminal, flags: Int32) {
        self.term = term
        super.init(flags: flags)
    }
    deinit {
        if let k = Kernel.shared { term.hangup(k) }
    }

    override func read(_ t: Task, _ buf: UnsafeMutableRawBufferPointer) -> Int {
        if buf.count == 0 { return 0 }
        while true {
            if !term.output.isEmpty {
                let n = min(buf.count, term.output.count)
                term.output.withUnsafeBytes { buf.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: n) }
                term.output.removeFirst(n)
                term.slaveRoomSeq &+= 1
                t.kernel.broadcast()
                return n
            }
            if term.slaveEverOpened && term.slaveOpens == 0 { return -Int(EIO) }
            if nonblocking { return -Int(EAGAIN) }
            if !t.block(deadline: nil) { return -ERESTARTSYS }
        }
    }

    override func write(_ t: Task, _ buf: UnsafeRawBufferPointer) -> Int {
        var done = 0
        while done < buf.count {
            let n = term.input(t.kernel, UnsafeRawBufferPointer(rebasing: buf[done...]))
            done += n
            if done == buf.count { break }
            if nonblocking { return done > 0 ? done : -Int(EAGAIN) }
            if !t.block(deadline: addNanos(monotonicNow(), 50_000_000)) && t.interrupted { return done > 0 ? done : -ERESTARTSYS }
        }
        return done
    }

    override func poll(_ events: Int16) -> Int16 {
        var r: Int16 = 0
        if !term.output.isEmpty { r |= POLLIN_ }
        if term.ld.hasRoom { r |= POLLOUT_ }
        if term.slaveEverOpened && term.slaveOpens == 0 { r |= POLLHUP_ }
        return r & (events | POLLHUP_ | POLLERR_)
    }
    override var inputSeq: UInt64 { term.toMasterSeq }
    override var outputSeq: UInt64 { term.masterRoomSeq }

    override func stat(_ st: inout stat) -> Int {
        st = Glibc.stat()
        st.st_mode = S_IFCHR | 0o666
        st.st_rdev = (5 << 8) | 2
        st.st_nlink = 1
        st.st_ino = 2
        st.st_dev = 6
        st.st_blksize = 4096
        return 0
    }

    override func ioctl(_ t: Task, _ cmd: UInt64, _ arg: UInt64) -> Int {
        if let r = commonTTYIoctl(t, term, isMaster: true, cmd, arg) { return r }
        switch cmd {
        case 0x80045430:   // TIOCGPTN
            return t.mm.write(arg, UInt32(term.index)) ? 0 : -Int(EFAULT)
        case 0x40045431:   // TIOCSPTLCK
            guard let v = t.mm.read(arg, as: Int32.self) else { return -Int(EFAULT) }
            term.locked = v != 0
            return 0
        case 0x80045439:   // TIOCGPTLCK
            return t.mm.write(arg, Int32(term.locked ? 1 : 0)) ? 0 : -Int(EFAULT)
        case 0x5441:       // TIOCGPTPEER: open the slave without a path lookup
            let flags = Int32(truncatingIfNeeded: arg)
            guard flags & ~(O_ACCMODE_ | O_NOCTTY | O_NONBLOCK | O_CLOEXEC) == 0 else { return -Int(EINVAL) }
            if term.locked { return -Int(EIO) }
            let s = PtySlave(term, flags: flags & ~(O_NOCTTY | O_CLOEXEC))
            s.path = "/dev/pts/\(term.index)"
            return t.fds.install(s, cloexec: flags & O_CLOEXEC != 0)
        case 0x541B:       // FIONREAD
            return t.mm.write(arg, Int32(term.output.count)) ? 0 : -Int(EFAULT)
        case 0x540f:       // TIOCGPGRP of the slave side
            return t.mm.write(arg, term.fgPgrp) ? 0 : -Int(EFAULT)
        case 0x5429:       // TIOCGSID
            guard let s = term.sid else { return -Int(ENOTTY) }
            return t.mm.write(arg, s) ? 0 : -Int(EFAULT)
        case 0x40045436:   // TIOCSIG: send a signal to the foreground group
            let sig = Int32(truncatingIfNeeded: arg)
            guard sig > 0 && sig <= 64 else { return -Int(EINVAL) }
            t.kernel.signalProcessGroup(term.fgPgrp, sig)
            return 0
        default:
            return -Int(ENOTTY)
        }
    }
}

/// A slave side (/dev/pts/N or /dev/tty).
final class PtySlave: FileDescription {
    let term: Terminal
    init(_ term: Terminal, flags: Int32) {
        self.term = term
        term.slaveOpens += 1
        term.slaveEverOpened = true
        super.init(flags: flags)
    }
    deinit {
        term.slaveOpens -= 1
        term.toMasterSeq &+= 1
        Kernel.shared?.broadcast()
    }

    override func read(_ t: Task, _ buf: UnsafeMutableRawBufferPointer) -> Int {
        if let r = term.backgroundCheck(t, SIGTTIN) { return r }
        if buf.count == 0 { return 0 }
        var deadline: timespec? = nil
        let ld = term.ld
        if !ld.canonical && ld.termios.cc[Termios.VMIN] == 0 {
            // VMIN 0: return at once (VTIME 0) or after VTIME tenths of a second.
            deadline = addNanos(monotonicNow(), Int(ld.termios.cc[Termios.VTIME]) * 100_000_000)
        }
        var interByte: (deadline: timespec, count: Int)? = nil
        while true {
            // Raw mode with VMIN > 1: wait for min(VMIN, count) bytes; with VTIME too, stop waiting
            // VTIME tenths of a second after the last byte arrived.
            let vmin = Int(ld.termios.cc[Termios.VMIN]), vtime = Int(ld.termios.cc[Termios.VTIME])
            let have = ld.availableCount
            if !ld.canonical && vmin > 1 && !nonblocking && !term.hungUp && have < min(vmin, buf.count) {
                var wait: timespec? = nil
                if have > 0 && vtime > 0 {
                    if interByte == nil || interByte!.count != have {
                        interByte = (addNanos(monotonicNow(), vtime * 100_000_000), have)
                    }
                    wait = interByte!.deadline
                }
                if wait == nil || lessThan(monotonicNow(), wait!) {
                    if !t.block(deadline: wait) && t.interrupted { return -ERESTARTSYS }
                    continue
                }
            }
            if let bytes = ld.read(max: buf.count) {
                term.masterRoomSeq &+= 1
                bytes.withUnsafeBytes { if !$0.isEmpty { buf.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
                t.kernel.broadcast()
                return bytes.count
            }
            if term.hungUp { return 0 }
            if nonblocking { return -Int(EAGAIN) }
            if let d = deadline, !lessThan(monotonicNow(), d) { return 0 }
            if !t.block(deadline: deadline) {
                if t.interrupted { return -ERESTARTSYS }
            }
        }
    }

    override func write(_ t: Task, _ buf: UnsafeRawBufferPointer) -> Int {
        if term.hungUp { return -Int(EIO) }
        if term.ld.termios.lflag & Termios.TOSTOP != 0, let r = term.backgroundCheck(t, SIGTTOU) { return r }
        while term.output.count >= Terminal.outputLimit {
            if nonblocking { return -Int(EAGAIN) }
            if !t.block(deadline: nil) { return -ERESTARTSYS }
            if term.hungUp { return -Int(EIO) }
        }
        term.ld.processOutput(buf, into: &term.output)
        term.toMasterSeq &+= 1
        t.kernel.broadcast()
        return buf.count
    }

    override func poll(_ events: Int16) -> Int16 {
        var r: Int16 = 0
        if term.ld.hasReadable { r |= POLLIN_ }
        if term.output.count < Terminal.outputLimit { r |= POLLOUT_ }
        if term.hungUp { r |= POLLHUP_ | POLLIN_ }
        return r & (events | POLLHUP_ | POLLERR_)
    }
    override var inputSeq: UInt64 { term.toSlaveSeq }
    override var outputSeq: UInt64 { term.slaveRoomSeq }

    override func stat(_ st: inout stat) -> Int {
        st = Glibc.stat()
        st.st_mode = S_IFCHR | 0o620
        st.st_rdev = UInt((136 << 8) | term.index)
        st.st_nlink = 1
        st.st_ino = UInt(term.index + 3)
        st.st_dev = 0x18   // devpts' own device (procfs has 0x16)
        st.st_uid = term.uid
        st.st_gid = 5
        st.st_blksize = 1024
        return 0
    }

    override func ioctl(_ t: Task, _ cmd: UInt64, _ arg: UInt64) -> Int {
        if let r = commonTTYIoctl(t, term, isMaster: false, cmd, arg) { return r }
        let isCtty = Terminals.controlling(t.tg) === term
        switch cmd {
        case 0x541B:   // FIONREAD
            return t.mm.write(arg, Int32(term.ld.availableCount)) ? 0 : -Int(EFAULT)
        case 0x540f:   // TIOCGPGRP
            guard isCtty else { return -Int(ENOTTY) }
            return t.mm.write(arg, term.fgPgrp) ? 0 : -Int(EFAULT)
        case 0x5410:   // TIOCSPGRP
            guard isCtty else { return -Int(ENOTTY) }
            guard let pg = t.mm.read(arg, as: Int32.self) else { return -Int(EFAULT) }
            guard pg >= 0 else { return -Int(EINVAL) }
            if let r = term.backgroundCheck(t, SIGTTOU) { return r }
            guard t.kernel.threadGroups.values.contains(where: { $0.pgid == pg && !$0.zombie }) else { return -Int(ESRCH) }
            guard t.kernel.threadGroups.values.contains(where: { $0.pgid == pg && $0.sid == t.tg.sid }) else { return -Int(EPERM) }
            term.fgPgrp = pg
            return 0
        case 0x5429:   // TIOCGSID
            guard isCtty, let s = term.sid else { return -Int(ENOTTY) }
            return t.mm.write(arg, s) ? 0 : -Int(EFAULT)
        case 0x540e:   // TIOCSCTTY
            if isCtty { return 0 }
            guard t.tg.pid == t.tg.sid, Terminals.controlling(t.tg) == nil else { return -Int(EPERM) }
            if let s = term.sid, s != t.tg.sid, t.kernel.sessionAlive(s) {
                // Stealing another session's terminal needs arg 1 and privilege.
                guard arg == 1 && t.tg.cred.has(Cap.sysAdmin) else { return -Int(EPERM) }
                term.detach(t.kernel)
            }
            term.attach(t.tg)
            return 0
        case 0x5422:   // TIOCNOTTY
            guard isCtty else { return -Int(ENOTTY) }
            if t.tg.pid == t.tg.sid {
                let fg = term.fgPgrp
                term.detach(t.kernel)
                t.kernel.signalProcessGroup(fg, SIGHUP)
                t.kernel.signalProcessGroup(fg, SIGCONT)
            }
            return 0
        case 0x80045430:   // TIOCGPTN is a master-only request
            return -Int(ENOTTY)
        default:
            return -Int(ENOTTY)
        }
    }
}

extension PtySlave {
    /// Opening a slave without O_NOCTTY makes it the controlling terminal of a session leader
    /// that has none (if no live session holds it).
    func maybeAcquire(_ t: Task, flags: Int32) {
        guard flags & O_NOCTTY == 0, t.tg.pid == t.tg.sid, Terminals.controlling(t.tg) == nil else { return }
        if let s = term.sid, t.kernel.sessionAlive(s) { return }
        term.attach(t.tg)
    }
}

/// The devpts file system mounted at /dev/pts: one character device per open pty, plus "ptmx".
final class DevPts: SyntheticMount {
    var fsType: String { "devpts" }

    func stat(_ t: Task, _ rel: String, _ st: inout stat) -> Int32 {
        st = Glibc.stat()
        st.st_dev = 0x18   // devpts' own device (procfs has 0x16)
        st.st_nlink = 1
        if rel == "" {
            st.st_mode = S_IFDIR | 0o755
            st.st_nlink = 2
            st.st_ino = 1
            return 0
        }
        if rel == "ptmx" {
            st.st_mode = S_IFCHR | 0o000
            st.st_rdev = (5 << 8) | 2
            st.st_ino = 2
            return 0
        }
        guard let n = Int(rel), let term = Terminals.lookup(n) else { return -ENOENT }
        st.st_mode = S_IFCHR | 0o620
        st.st_rdev = UInt((136 << 8) | n)
        st.st_ino = UInt(n + 3)
        st.st_uid = term.uid
        st.st_gid = 5
        return 0
    }

    func readlink(_ t: Task, _ rel: String) -> KResult<String> {
        var st = Glibc.stat()
        let r = stat(t, rel, &st)
        return .failure(r < 0 ? -r : EINVAL)
    }

    func open(_ t: Task, _ rel: String, flags: Int32) -> KResult<FileDescription> {
        if rel == "" {
            if flags & O_ACCMODE_ != O_RDONLY { return .failure(EISDIR) }
            let names = ["ptmx"] + Terminals.byIndex.compactMap { $0.value.t == nil ? nil : $0.key }.sorted().map(String.init)
            let d = SyntheticDirectory(entries: [(".", 1, 4), ("..", 1, 4)] + names.map { ($0, $0 == "ptmx" ? 2 : UInt64(Int($0)! + 3), 2) }, flags: flags)
            d.path = "/dev/pts"
            return .success(d)
        }
        if rel == "ptmx" { return .failure(EACCES) }   // mode 000, as on Linux's devpts (the real one is /dev/ptmx)
        guard let n = Int(rel), let term = Terminals.lookup(n) else { return .failure(ENOENT) }
        if term.locked || term.hungUp { return .failure(EIO) }
        let s = PtySlave(term, flags: flags)
        s.path = "/dev/pts/\(n)"
        s.maybeAcquire(t, flags: flags)
        return .success(s)
    }

    func openMagicLink(_ t: Task, _ rel: String, flags: Int32) -> KResult<FileDescription>? { nil }
}

/// A fixed directory listing for synthetic directories (getdents64 records).
final class SyntheticDirectory: FileDescription {
    let entries: [(name: String, ino: UInt64, type: UInt8)]
    var position = 0
    init(entries: [(String, UInt64, UInt8)], flags: Int32) {
        self.entries = entries.map { (name: $0.0, ino: $0.1, type: $0.2) }
        super.init(flags: flags)
    }
    override var isDirectory: Bool { true }
    override func seek(_ off: Int, _ whence: Int32) -> Int {
        guard whence == SEEK_SET, off >= 0 else { return -Int(EINVAL) }
        position = off
        return off
    }
    override func stat(_ st: inout stat) -> Int {
        st = Glibc.stat()
        st.st_mode = S_IFDIR | 0o755
        st.st_nlink = 2
        st.st_ino = 1
        st.st_dev = 0x18   // devpts' own device (procfs has 0x16)
        return 0
    }
    override func getdents(_ buf: UnsafeMutableRawBufferPointer) -> Int {
        var off = 0
        while position < entries.count {
            let e = entries[position]
            let name = Array(e.name.utf8)
            let reclen = (19 + name.count + 1 + 7) & ~7
            if off + reclen > buf.count { return off == 0 ? -Int(EINVAL) : off }
            let p = buf.baseAddress! + off
            memset(p, 0, reclen)
            p.storeBytes(of: e.ino, as: UInt64.self)
            p.storeBytes(of: Int64(position + 1), toByteOffset: 8, as: Int64.self)
            p.storeBytes(of: UInt16(reclen), toByteOffset: 16, as: UInt16.self)
            p.storeBytes(of: e.type, toByteOffset: 18, as: UInt8.self)
            name.withUnsafeBytes { (p + 19).copyMemory(from: $0.baseAddress!, byteCount: name.count) }
            off += reclen
            position += 1
        }
        return off
    }
}
