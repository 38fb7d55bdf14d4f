// Time: clock_gettime/getres, gettimeofday, time, nanosleep, clock_nanosleep.
import Glibc
import SentryMemory

extension Task {
    func hostClock(_ clk: Int32) -> Int32? {
        switch clk {
        case 0, 1, 4, 5, 6, 7: return clk            // REALTIME, MONOTONIC, MONOTONIC_RAW, *_COARSE, BOOTTIME
        case 2, 3: return CLOCK_MONOTONIC              // process/thread CPU time: approximated (not tracked)
        default: return nil
        }
    }

    func sysClockGettime(_ clk: Int32, _ addr: UInt64) -> Int {
        guard let c = hostClock(clk) else { return errno(EINVAL) }
        var t = timespec()
        clock_gettime(c, &t)
        if clk == 2 || clk == 3 {
            // CLOCK_PROCESS_CPUTIME_ID / CLOCK_THREAD_CPUTIME_ID: the counters of ProcfsCounters.swift.
            let u = clk == 2 ? tg.groupUsage(host: false) : usage(host: false)
            let ns = Int(u.userNS &+ u.systemNS)
            t = timespec(tv_sec: ns / 1_000_000_000, tv_nsec: ns % 1_000_000_000)
        }
        return mm.write(addr, t) ? 0 : errno(EFAULT)
    }

    func sysClockGetres(_ clk: Int32, _ addr: UInt64) -> Int {
        guard hostClock(clk) != nil else { return errno(EINVAL) }
        if addr == 0 { return 0 }
        return mm.write(addr, timespec(tv_sec: 0, tv_nsec: 1)) ? 0 : errno(EFAULT)
    }

    func sysGettimeofday(_ tv: UInt64, _ tz: UInt64) -> Int {
        var t = timespec()
        clock_gettime(CLOCK_REALTIME, &t)
        if tv != 0 && !mm.write(tv, timeval(tv_sec: t.tv_sec, tv_usec: t.tv_nsec / 1000)) { return errno(EFAULT) }
        if tz != 0 && !mm.write(tz, (Int32(0), Int32(0))) { return errno(EFAULT) }
        return 0
    }

    func sysTime(_ addr: UInt64) -> Int {
        var t = timespec()
        clock_gettime(CLOCK_REALTIME, &t)
        if addr != 0 && !mm.write(addr, t.tv_sec) { return errno(EFAULT) }
        return t.tv_sec
    }

    /// Sleeps until `deadline` (monotonic); on interruption writes the remaining time to `rem`.
    func sleep(until deadline: timespec, rem: UInt64) -> Int {
        while lessThan(monotonicNow(), deadline) {
            if !blockUntilBroadcast(deadline: deadline) {
                if rem != 0 {
                    let now = monotonicNow()
                    var ns = (deadline.tv_sec - now.tv_sec) * 1_000_000_000 + (deadline.tv_nsec - now.tv_nsec)
                    if ns < 0 { ns = 0 }
                    _ = mm.write(rem, timespec(tv_sec: ns / 1_000_000_000, tv_nsec: ns % 1_000_000_000))
                }
                return -ERESTART_RESTARTBLOCK
            }
        }
        return 0
    }

    func sysNanosleep(_ req: UInt64, _ rem: UInt64) -> Int {
        guard let ts = mm.read(req, as: timespec.self) else { return errno(EFAULT) }
        guard ts.tv_sec >= 0, ts.tv_nsec >= 0, ts.tv_nsec < 1_000_000_000 else { return errno(EINVAL) }
        return sleep(until: addNanos(monotonicNow(), ts.tv_sec * 1_000_000_000 + ts.tv_nsec), rem: rem)
    }

    func sysClockNanosleep(_ clk: Int32, _ flags: Int32, _ req: UInt64, _ rem: UInt64) -> Int {
        guard hostClock(clk) != nil else { return errno(EINVAL) }
        guard let ts = mm.read(req, as: timespec.self) else { return errno(EFAULT) }
        guard ts.tv_sec >= 0, ts.tv_nsec >= 0, ts.tv_nsec < 1_000_000_000 else { return errno(EINVAL) }
        if flags & 1 != 0 {   // TIMER_ABSTIME
            var now = timespec()
            clock_gettime(hostClock(clk)!, &now)
            let rel = (ts.tv_sec - now.tv_sec) * 1_000_000_000 + (ts.tv_nsec - now.tv_nsec)
            let r = sleep(until: addNanos(monotonicNow(), max(0, rel)), rem: 0)
            return r == -ERESTART_RESTARTBLOCK ? -ERESTARTNOHAND : r
        }
        return sleep(until: addNanos(monotonicNow(), ts.tv_sec * 1_000_000_000 + ts.tv_nsec), rem: rem)
    }
}
