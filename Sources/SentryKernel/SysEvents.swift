// Event objects: eventfd, timerfd, epoll, and interval timers (alarm/setitimer). Timers are driven
// by one Sentry timer thread that sleeps until the earliest deadline.
import Glibc
import SentryMemory

final class KTimer {
    var deadline: timespec?
    var interval: Int = 0          // nanoseconds, 0 = one shot
    /// Periods that ended while the timer thread was late, before this firing (timerfd counts them).
    var missed = 0
    let fire: () -> Void
    init(fire: @escaping () -> Void) { self.fire = fire }
}

extension Kernel {
    nonisolated(unsafe) static var timers: [KTimer] = []
    nonisolated(unsafe) static var timerThreadStarted = false

    /// Arms (or disarms with nil) a timer; kernel lock held.
    func arm(_ t: KTimer, deadline: timespec?, interval: Int) {
        t.deadline = deadline
        t.interval = interval
        if deadline != nil && !Kernel.timers.contains(where: { $0 === t }) { Kernel.timers.append(t) }
        if deadline == nil { Kernel.timers.removeAll { $0 === t } }
        startTimerThread()
        broadcast()
    }

    private func startTimerThread() {
        if Kernel.timerThreadStarted { return }
        Kernel.timerThreadStarted = true
        var th = pthread_t()
        pthread_create(&th, nil, { _ in
            Kernel.shared.timerLoop()
            return nil
        }, nil)
        pthread_detach(th)
    }

    func timerLoop() {
        lock()
        while true {
            let now = monotonicNow()
            var earliest: timespec? = nil
            var fired = false
            for t in Kernel.timers {
                guard let d = t.deadline else { continue }
                if !lessThan(now, d) {
                    t.missed = 0
                    if t.interval > 0 {
                        var nd = addNanos(d, t.interval)
                        while !lessThan(now, nd) { nd = addNanos(nd, t.interval); t.missed += 1 }
                        t.deadline = nd
                    } else {
                        t.deadline = nil
                    }
                    t.fire()
                    fired = true
                }
                if let d2 = t.deadline, earliest == nil || lessThan(d2, earliest!) { earliest = d2 }
            }
            Kernel.timers.removeAll { $0.deadline == nil }
            // A task blocked in read(2) of a timerfd (an untargeted sleep) and poll/epoll waiters
            // watching one must see the expiration: without this a blocking read never returned
            // (session 9). Targeted sleepers (a pipe's, a futex's) wait for other objects: not woken.
            if fired { wakeUntargeted() }
            waitCond(deadline: earliest ?? addNanos(monotonicNow(), 1_000_000_000))
        }
    }
}

final class EventFD: FileDescription {
    var counter: UInt64
    let semaphore: Bool
    var inSeq: UInt64 = 0, outSeq: UInt64 = 0
    override var inputSeq: UInt64 { inSeq }
    override var outputSeq: UInt64 { outSeq }
    init(initial: UInt64, flags: Int32, semaphore: Bool) {
        counter = initial
        self.semaphore = semaphore
        super.init(flags: O_RDWR | flags)
        LiveObjects.eventFDs += 1
    }
    deinit { LiveObjects.eventFDs -= 1 }
    override func read(_ t: Task, _ buf: UnsafeMutableRawBufferPointer) -> Int {
        guard buf.count >= 8 else { return -Int(EINVAL) }
        while counter == 0 {
            if nonblocking { return -Int(EAGAIN) }
            if !t.block(deadline: nil) { return -ERESTARTSYS }
        }
        let v: UInt64 = semaphore ? 1 : counter
        counter -= v
        outSeq &+= 1
        buf.storeBytes(of: v, as: UInt64.self)
        t.kernel.broadcast()
        return 8
    }
    override func write(_ t: Task, _ buf: UnsafeRawBufferPointer) -> Int {
        guard buf.count >= 8 else { return -Int(EINVAL) }
        let v = buf.loadUnaligned(as: UInt64.self)
        if v == UInt64.max { return -Int(EINVAL) }
        while UInt64.max - 1 - counter < v {
            if nonblocking { return -Int(EAGAIN) }
            if !t.block(deadline: nil) { return -ERESTARTSYS }
        }
        counter += v
        if v > 0 { inSeq &+= 1 }
        t.kernel.broadcast()
        return 8
    }
    override func poll(_ events: Int16) -> Int16 {
        var r: Int16 = 0
        if counter > 0 { r |= POLLIN_ }
        if counter < UInt64.max - 1 { r |= POLLOUT_ }
        return r & events
    }
    override func stat(_ st: inout stat) -> Int { st = Glibc.stat(); st.st_mode = 0o600; st.st_nlink = 1; return 0 }
}

/// Live counts of the event objects whose release is easy to get wrong (closures, timers, weak
/// links), kept under the kernel lock and reported in the debug log when init exits
/// (`Kernel.waitForInit`): a description that is never freed shows up there.
enum LiveObjects {
    nonisolated(unsafe) static var timerFDs = 0
    nonisolated(unsafe) static var eventFDs = 0
    nonisolated(unsafe) static var epolls = 0
    nonisolated(unsafe) static var signalFDs = 0
    nonisolated(unsafe) static var inotifies = 0
    static var summary: String {
        "timerfd \(timerFDs), eventfd \(eventFDs), epoll \(epolls), signalfd \(signalFDs), inotify \(inotifies), armed timers \(Kernel.timers.count)"
    }
}

/// The timer's link back to its description. Weak: the description owns the timer, and the timer
/// thread's list (`Kernel.timers`) owns armed timers, so a strong capture kept every timerfd (and,
/// if periodic, its firing) alive for ever after its last close (session 9).
private final class TimerFDLink { weak var file: TimerFD? }

final class TimerFD: FileDescription {
    var expirations: UInt64 = 0
    let timer: KTimer
    let clock: Int32
    init(clock: Int32, flags: Int32) {
        self.clock = clock
        let link = TimerFDLink()
        // A late timer thread still reports every period that ended, as Linux's timerfd does.
        timer = KTimer { [link] in if let m = link.file { m.expirations += 1 + UInt64(m.timer.missed) } }
        super.init(flags: O_RDWR | flags)
        link.file = self
        LiveObjects.timerFDs += 1
    }
    override func read(_ t: Task, _ buf: UnsafeMutableRawBufferPointer) -> Int {
        guard buf.count >= 8 else { return -Int(EINVAL) }
        while expirations == 0 {
            if nonblocking { return -Int(EAGAIN) }
            if !t.block(deadline: nil) { return -ERESTARTSYS }
        }
        buf.storeBytes(of: expirations, as: UInt64.self)
        expirations = 0
        return 8
    }
    override func poll(_ events: Int16) -> Int16 { expirations > 0 ? events & POLLIN_ : 0 }
    override func stat(_ st: inout stat) -> Int { st = Glibc.stat(); st.st_mode = 0o600; st.st_nlink = 1; return 0 }
    /// The last close (under the kernel lock): the timer stops with it, as Linux's timerfd_release.
    deinit {
        timer.deadline = nil
        Kernel.timers.removeAll { $0 === timer }
        LiveObjects.timerFDs -= 1
    }
}

final class EpollFile: FileDescription {
    /// One interest, a class updated in place. Releasing its file removes it from the interest list,
    /// as in Linux; it holds no reference to its file (EpollLinksUnsafe.swift).
    typealias Interest = EpollInterest
    private(set) var interests: [Int32: Interest] = [:]
    /// The interests by fd number (the report order), rebuilt only after the set changes: not a
    /// dictionary walk, a sort and a lookup per interest on every epoll_wait.
    private var orderedCache: [Interest]? = nil
    var ordered: [Interest] {
        if let o = orderedCache { return o }
        let o = interests.keys.sorted().map { interests[$0]! }
        orderedCache = o
        return o
    }
    /// Replaces (or with nil removes) the interest for `fd`; the old one leaves its file's links.
    func set(_ fd: Int32, _ i: Interest?) {
        if let old = interests[fd] { old.unlinkFromFile() }
        interests[fd] = i
        i?.link()
        orderedCache = nil
    }
    /// Its file was released (EpollInterest.fileReleased).
    func removeInterest(_ i: Interest) {
        if interests[i.fd] === i { interests[i.fd] = nil; orderedCache = nil }
    }
    /// `target` is this set or watched by it, directly or through nested sets: adding this set to
    /// `target` would close a loop (epoll_ctl ELOOP). Not a hot path (EPOLL_CTL_ADD of an epoll fd).
    func reaches(_ target: EpollFile, depth: Int = 0) -> Bool {
        if self === target { return true }
        if depth > 8 { return true }   // deeper than Linux's limit of nesting (5) anyway
        for i in ordered {
            if let inner = i.file as? EpollFile, inner.reaches(target, depth: depth + 1) { return true }
        }
        return false
    }
    /// Some interest is host-backed (checked without touching the files).
    var hostInvolved: Bool { ordered.contains { $0.host } }

    override init(flags: Int32) { super.init(flags: O_RDWR | flags); LiveObjects.epolls += 1 }
    deinit {
        for i in interests.values { i.unlinkFromFile() }
        LiveObjects.epolls -= 1
    }
    override func poll(_ events: Int16) -> Int16 {
        for i in ordered where !i.disabled {
            if i.file.poll(Int16(truncatingIfNeeded: i.events) | POLLHUP_ | POLLERR_) != 0 { return events & POLLIN_ }
        }
        return 0
    }
    override func stat(_ st: inout stat) -> Int { st = Glibc.stat(); st.st_mode = 0o600; st.st_nlink = 1; return 0 }
}

extension Task {
    func sysEventfd2(_ initval: UInt32, _ flags: Int32) -> Int {
        guard flags & ~(O_CLOEXEC | O_NONBLOCK | 1) == 0 else { return errno(EINVAL) }
        let f = EventFD(initial: UInt64(initval), flags: flags & O_NONBLOCK, semaphore: flags & 1 != 0)
        return fds.install(f, cloexec: flags & O_CLOEXEC != 0)
    }

    func sysTimerfdCreate(_ clock: Int32, _ flags: Int32) -> Int {
        guard clock == CLOCK_REALTIME || clock == CLOCK_MONOTONIC || clock == 7 else { return errno(EINVAL) }
        guard flags & ~(O_CLOEXEC | O_NONBLOCK) == 0 else { return errno(EINVAL) }
        return fds.install(TimerFD(clock: clock, flags: flags & O_NONBLOCK), cloexec: flags & O_CLOEXEC != 0)
    }

    private func remaining(_ t: KTimer) -> timespec {
        guard let d = t.deadline else { return timespec() }
        let now = monotonicNow()
        var ns = (d.tv_sec - now.tv_sec) * 1_000_000_000 + (d.tv_nsec - now.tv_nsec)
        if ns < 0 { ns = 0 }
        return timespec(tv_sec: ns / 1_000_000_000, tv_nsec: ns % 1_000_000_000)
    }

    func sysTimerfdSettime(_ fd: Int, _ flags: Int32, _ newAddr: UInt64, _ oldAddr: UInt64) -> Int {
        guard let f = fds.get(fd) else { return errno(EBADF) }
        guard let tf = f as? TimerFD else { return errno(EINVAL) }
        guard let spec = mm.read(newAddr, as: (timespec, timespec).self) else { return errno(EFAULT) }
        if oldAddr != 0 {
            let old = (timespec(tv_sec: tf.timer.interval / 1_000_000_000, tv_nsec: tf.timer.interval % 1_000_000_000), remaining(tf.timer))
            if !mm.write(oldAddr, old) { return errno(EFAULT) }
        }
        let interval = spec.0.tv_sec * 1_000_000_000 + spec.0.tv_nsec
        let value = spec.1.tv_sec * 1_000_000_000 + spec.1.tv_nsec
        tf.expirations = 0
        if value == 0 { kernel.arm(tf.timer, deadline: nil, interval: 0); return 0 }
        var rel = value
        if flags & 1 != 0 {   // TFD_TIMER_ABSTIME
            var now = timespec()
            clock_gettime(tf.clock, &now)
            rel = max(0, value - (now.tv_sec * 1_000_000_000 + now.tv_nsec))
        }
        kernel.arm(tf.timer, deadline: addNanos(monotonicNow(), rel), interval: interval)
        return 0
    }

    func sysTimerfdGettime(_ fd: Int, _ addr: UInt64) -> Int {
        guard let tf = fds.get(fd) as? TimerFD else { return errno(fds.get(fd) == nil ? EBADF : EINVAL) }
        let cur = (timespec(tv_sec: tf.timer.interval / 1_000_000_000, tv_nsec: tf.timer.interval % 1_000_000_000), remaining(tf.timer))
        return mm.write(addr, cur) ? 0 : errno(EFAULT)
    }

    // MARK: interval timers (ITIMER_REAL) and alarm

    func realTimer() -> KTimer {
        if let t = tg.realTimer { return t }
        // Weak: the group owns its timer; a strong capture was a cycle (session 9). The group's
        // exit disarms it (`Kernel.stopProcessTimers`).
        let k = kernel
        let t = KTimer { [weak g = tg] in if let g { k.sendSignal(to: g, SigInfo(signo: SIGALRM, code: 0x80)) } }
        tg.realTimer = t
        return t
    }

    func sysSetitimer(_ which: Int, _ newAddr: UInt64, _ oldAddr: UInt64) -> Int {
        guard which == 0 else { return errno(EINVAL) }   // only ITIMER_REAL
        let t = realTimer()
        if oldAddr != 0 {
            let rem = remaining(t)
            let old = (timeval(tv_sec: t.interval / 1_000_000_000, tv_usec: (t.interval % 1_000_000_000) / 1000),
                       timeval(tv_sec: rem.tv_sec, tv_usec: rem.tv_nsec / 1000))
            if !mm.write(oldAddr, old) { return errno(EFAULT) }
        }
        if newAddr != 0 {
            guard let v = mm.read(newAddr, as: (timeval, timeval).self) else { return errno(EFAULT) }
            let interval = v.0.tv_sec * 1_000_000_000 + v.0.tv_usec * 1000
            let value = v.1.tv_sec * 1_000_000_000 + v.1.tv_usec * 1000
            kernel.arm(t, deadline: value == 0 ? nil : addNanos(monotonicNow(), value), interval: interval)
        }
        return 0
    }

    func sysGetitimer(_ which: Int, _ addr: UInt64) -> Int {
        guard which == 0 else { return errno(EINVAL) }
        let t = realTimer()
        let rem = remaining(t)
        let v = (timeval(tv_sec: t.interval / 1_000_000_000, tv_usec: (t.interval % 1_000_000_000) / 1000),
                 timeval(tv_sec: rem.tv_sec, tv_usec: rem.tv_nsec / 1000))
        return mm.write(addr, v) ? 0 : errno(EFAULT)
    }

    func sysAlarm(_ seconds: UInt32) -> Int {
        let t = realTimer()
        let rem = remaining(t)
        let old = t.deadline == nil ? 0 : Int(rem.tv_sec) + (rem.tv_nsec > 0 ? 1 : 0)
        kernel.arm(t, deadline: seconds == 0 ? nil : addNanos(monotonicNow(), Int(seconds) * 1_000_000_000), interval: 0)
        return old
    }

    // MARK: epoll

    func sysEpollCreate1(_ flags: Int32) -> Int {
        guard flags & ~O_CLOEXEC == 0 else { return errno(EINVAL) }
        return fds.install(EpollFile(flags: 0), cloexec: flags & O_CLOEXEC != 0)
    }

    func sysEpollCtl(_ epfd: Int, _ op: Int, _ fd: Int, _ evAddr: UInt64) -> Int {
        guard let ep = fds.get(epfd) as? EpollFile, let f = fds.get(fd) else { return errno(EBADF) }
        if f === ep { return errno(EINVAL) }
        var events: UInt32 = 0, data: UInt64 = 0
        if op != 2 {
            guard let raw = mm.readBytes(evAddr, 12) else { return errno(EFAULT) }
            raw.withUnsafeBytes { b in
                events = b.loadUnaligned(fromByteOffset: 0, as: UInt32.self)
                data = b.loadUnaligned(fromByteOffset: 4, as: UInt64.self)
            }
        }
        let key = Int32(fd)
        switch op {
        case 1:
            if ep.interests[key] != nil { return errno(EEXIST) }
            if let inner = f as? EpollFile, inner.reaches(ep) { return errno(ELOOP) }
            ep.set(key, EpollFile.Interest(file: f, set: ep, fd: key, events: events, data: data))
        case 3:
            guard ep.interests[key] != nil else { return errno(ENOENT) }
            ep.set(key, EpollFile.Interest(file: f, set: ep, fd: key, events: events, data: data))
        case 2:
            guard ep.interests[key] != nil else { return errno(ENOENT) }
            ep.set(key, nil)
        default: return errno(EINVAL)
        }
        // Only a task in a readiness wait (epoll_wait, or poll on the epoll fd) can be waiting for
        // this interest list; broadcast() woke every sleeping thread of the sandbox twice per
        // connection an event loop accepts (epoll_ctl add, then del).
        kernel.wakeUntargeted()
        return 0
    }

    func sysEpollWait(_ epfd: Int, _ evAddr: UInt64, _ maxEvents: Int, deadline: timespec?, maskAddr: UInt64) -> Int {
        guard let ep = fds.get(epfd) as? EpollFile else { return errno(fds.get(epfd) == nil ? EBADF : EINVAL) }
        guard maxEvents > 0 && maxEvents <= 1 << 16 else { return errno(EINVAL) }
        guard mm.withPieces(evAddr, maxEvents * 12, needProt: PROT_W, { _, _, _ in }) else { return errno(EFAULT) }
        // Sized by the interest list, not maxEvents: redis asks for 10128 events (121 KB) on every
        // call. Built in the task's scratch buffer (file polls never use it), copied out once.
        var out = scratch(12)
        let n = withTempMask(maskAddr) {
            waitReady(deadline: deadline, hostInvolved: ep.hostInvolved) {
                var count = 0
                let all = ep.ordered   // stable order: by fd number
                let limit = min(maxEvents, all.count)
                if out.count < limit * 12 { out = scratch(limit * 12) }
                for i in all where count < limit {
                    if i.disabled { continue }
                    let file = i.file   // live: a released file has left the set (EpollLinksUnsafe.swift)
                    let ready = file.poll(Int16(truncatingIfNeeded: i.events) | POLLHUP_ | POLLERR_)
                    if i.events & EPOLLET_ != 0 && !i.edge.fires(file, ready) { continue }
                    if ready == 0 { continue }
                    out.storeBytes(of: UInt32(UInt16(bitPattern: ready)), toByteOffset: count * 12, as: UInt32.self)
                    out.storeBytes(of: i.data, toByteOffset: count * 12 + 4, as: UInt64.self)
                    if i.events & 0x4000_0000 != 0 { i.disabled = true }   // EPOLLONESHOT
                    count += 1
                }
                return count
            }
        }
        if n == -ERESTARTNOHAND { return errno(EINTR) }
        if n <= 0 { return n }
        return mm.copyOut(evAddr, out.baseAddress!, n * 12) ? n : errno(EFAULT)
    }

    func msDeadline(_ ms: Int32) -> timespec? { ms < 0 ? nil : addNanos(monotonicNow(), Int(ms) * 1_000_000) }
}

/// A POSIX timer (timer_create): SIGEV_SIGNAL / SIGEV_NONE / SIGEV_THREAD_ID, counted in the process.
final class PosixTimer {
    let timer: KTimer
    var overrun: Int32 = 0
    init(timer: KTimer) { self.timer = timer }
}

extension Task {
    func sysTimerCreate(_ clock: Int32, _ sevAddr: UInt64, _ idAddr: UInt64) -> Int {
        guard hostClock(clock) != nil else { return errno(EINVAL) }
        var signo = SIGALRM, notify: Int32 = 0, value: UInt64 = 0, targetTid: Int32 = 0
        if sevAddr != 0 {
            guard let b = mm.readBytes(sevAddr, 64) else { return errno(EFAULT) }
            b.withUnsafeBytes { p in
                value = p.loadUnaligned(fromByteOffset: 0, as: UInt64.self)
                signo = p.loadUnaligned(fromByteOffset: 8, as: Int32.self)
                notify = p.loadUnaligned(fromByteOffset: 12, as: Int32.self)
                targetTid = p.loadUnaligned(fromByteOffset: 16, as: Int32.self)
            }
        }
        guard notify == 0 || notify == 1 || notify == 4 else { return errno(EINVAL) }   // SIGNAL, NONE, THREAD_ID
        if notify != 1 && (signo < 1 || signo > 64) { return errno(EINVAL) }
        let id = Int32(tg.posixTimers.count)
        let k = kernel
        let sig = signo, how = notify, tid = targetTid
        _ = value
        // The group owns its timers: captured weakly (a strong capture was a cycle, session 9).
        let kt = KTimer { [weak g = tg] in
            guard how != 1, let g else { return }
            let info = SigInfo(signo: sig, code: -2 /* SI_TIMER */)
            if how == 4, let t = k.tasks[tid], t.tg === g { k.sendSignal(to: t, info) } else { k.sendSignal(to: g, info) }
        }
        tg.posixTimers.append(PosixTimer(timer: kt))
        guard mm.write(idAddr, id) else { return errno(EFAULT) }
        return 0
    }

    func posixTimer(_ id: Int) -> PosixTimer? {
        id >= 0 && id < tg.posixTimers.count ? tg.posixTimers[id] : nil
    }

    func sysTimerSettime(_ id: Int, _ flags: Int32, _ newAddr: UInt64, _ oldAddr: UInt64) -> Int {
        guard let pt = posixTimer(id) else { return errno(EINVAL) }
        guard let spec = mm.read(newAddr, as: (timespec, timespec).self) else { return errno(EFAULT) }
        if oldAddr != 0 && sysTimerGettime(id, oldAddr) != 0 { return errno(EFAULT) }
        let interval = spec.0.tv_sec * 1_000_000_000 + spec.0.tv_nsec
        var value = spec.1.tv_sec * 1_000_000_000 + spec.1.tv_nsec
        if value == 0 { kernel.arm(pt.timer, deadline: nil, interval: 0); return 0 }
        if flags & 1 != 0 {   // TIMER_ABSTIME (against CLOCK_REALTIME/MONOTONIC)
            var now = timespec()
            clock_gettime(CLOCK_REALTIME, &now)
            value = max(1, value - (now.tv_sec * 1_000_000_000 + now.tv_nsec))
        }
        kernel.arm(pt.timer, deadline: addNanos(monotonicNow(), value), interval: interval)
        return 0
    }

    func sysTimerGettime(_ id: Int, _ addr: UInt64) -> Int {
        guard let pt = posixTimer(id) else { return errno(EINVAL) }
        var rem = timespec()
        if let d = pt.timer.deadline {
            let now = monotonicNow()
            let ns = max(0, (d.tv_sec - now.tv_sec) * 1_000_000_000 + (d.tv_nsec - now.tv_nsec))
            rem = timespec(tv_sec: ns / 1_000_000_000, tv_nsec: ns % 1_000_000_000)
        }
        let iv = pt.timer.interval
        return mm.write(addr, (timespec(tv_sec: iv / 1_000_000_000, tv_nsec: iv % 1_000_000_000), rem)) ? 0 : errno(EFAULT)
    }

    func sysTimerDelete(_ id: Int) -> Int {
        guard let pt = posixTimer(id) else { return errno(EINVAL) }
        kernel.arm(pt.timer, deadline: nil, interval: 0)
        return 0
    }
}

extension Kernel {
    /// A process's interval timer and POSIX timers stop when it exits (Linux: exit_itimers and the
    /// real timer's cancel in __exit_signal); its POSIX timers are deleted by execve too
    /// (`posixOnly`), while ITIMER_REAL survives it. Kernel lock held.
    func stopProcessTimers(_ tg: ThreadGroup, posixOnly: Bool) {
        if !posixOnly, let t = tg.realTimer, t.deadline != nil { arm(t, deadline: nil, interval: 0) }
        for pt in tg.posixTimers where pt.timer.deadline != nil { arm(pt.timer, deadline: nil, interval: 0) }
        if posixOnly { tg.posixTimers.removeAll() }
    }
}
