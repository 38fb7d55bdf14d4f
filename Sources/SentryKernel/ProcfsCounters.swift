// Per-task resource counters: CPU time, context switches, faults, resident memory and I/O, shown by
// /proc/<pid>/{stat,status,io} and returned by getrusage, times and wait4's rusage.
//
// Where the numbers come from (the application runs in its task's stub process; the Sentry handles
// its system calls on the task's own host thread):
// - user time = the stub's user CPU time (host process CPU clock, CPUCLOCK_VIRT);
// - system time = the stub's system time (its trap delivery) + the CPU time of the Sentry thread that
//   serves the task (host thread CPU clock): what Linux would count as time in the kernel;
// - minor/major faults and the resident set = the stub's host counters (one read of the host's
//   /proc/<stub>/stat, only when a file or call shows them): the application's memory is the memory
//   file mapped into the stub, so the host's page tables of the stub are exactly its resident pages;
// - voluntary switches = the times the task slept in the Sentry (blocking calls), involuntary ones
//   = the times the Sentry interrupted it while it ran application code (signals, stops);
// - rchar/wchar/syscr/syscw = counted after each read/write-family call (two adds per call).
// Values start at the task's start (a pre-made stub's set-up time is subtracted).
import CBulwark
import Glibc
import LinuxABI
import SentryPlatform

/// Accumulated usage, in nanoseconds and counts (a thread, a thread group's dead threads, or reaped
/// children).
struct Usage {
    var userNS: UInt64 = 0, systemNS: UInt64 = 0
    var minorFaults: UInt64 = 0, majorFaults: UInt64 = 0
    var voluntary: UInt64 = 0, involuntary: UInt64 = 0
    var maxRSSKB: UInt64 = 0
    /// The current resident set (KiB), when the host counters were read (threads share memory: max).
    var rssKB: UInt64 = 0
    var rchar: UInt64 = 0, wchar: UInt64 = 0, syscr: UInt64 = 0, syscw: UInt64 = 0

    mutating func add(_ o: Usage) {
        userNS &+= o.userNS; systemNS &+= o.systemNS
        minorFaults &+= o.minorFaults; majorFaults &+= o.majorFaults
        voluntary &+= o.voluntary; involuntary &+= o.involuntary
        maxRSSKB = max(maxRSSKB, o.maxRSSKB)
        rssKB = max(rssKB, o.rssKB)
        rchar &+= o.rchar; wchar &+= o.wchar; syscr &+= o.syscr; syscw &+= o.syscw
    }

    var userTicks: UInt64 { userNS / 10_000_000 }
    var systemTicks: UInt64 { systemNS / 10_000_000 }
}

/// The counters a task keeps while it lives.
struct TaskCounters {
    var rchar: UInt64 = 0, wchar: UInt64 = 0, syscr: UInt64 = 0, syscw: UInt64 = 0
    var voluntary: UInt64 = 0, involuntary: UInt64 = 0
    /// CPU clock of the Sentry thread serving the task, and the clocks' values when the task started.
    var threadClock: clockid_t = 0
    var hasThreadClock = false
    var threadBaseNS: UInt64 = 0, stubUserBaseNS: UInt64 = 0, stubAllBaseNS: UInt64 = 0
    var stubFaultBase: (minor: UInt64, major: UInt64) = (0, 0)
    /// Highest resident set seen (KiB), for VmHWM and ru_maxrss.
    var maxRSSKB: UInt64 = 0
}

/// What one read of the host's /proc/<stub>/stat gives.
struct StubHostStat {
    var minorFaults: UInt64 = 0, majorFaults: UInt64 = 0, rssKB: UInt64 = 0
}

enum CPUClocks {
    static func ns(_ id: clockid_t) -> UInt64 {
        var ts = timespec()
        guard clock_gettime(id, &ts) == 0 else { return 0 }
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
    /// MAKE_PROCESS_CPUCLOCK(pid, kind): CPUCLOCK_PROF 0 (user+system), CPUCLOCK_VIRT 1 (user).
    static func process(_ pid: Int32, _ kind: Int32) -> clockid_t { clockid_t(((~pid) << 3) | kind) }

    /// (user, user+system) of a host process, in ns.
    static func stub(_ pid: Int32) -> (user: UInt64, all: UInt64) {
        let user = ns(process(pid, 1)), all = ns(process(pid, 0))
        return (user, max(all, user))
    }

    /// minflt (field 10), majflt (12) and rss (24, pages) of a host process from its /proc/<pid>/stat.
    static func hostStat(_ pid: Int32) -> StubHostStat? {
        var path = Array("/proc/\(pid)/stat".utf8CString)
        let fd = path.withUnsafeMutableBufferPointer { open($0.baseAddress!, O_RDONLY | O_CLOEXEC) }
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 1024)
        let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress!, 1024) }
        guard n > 0 else { return nil }
        // Fields after the last ')' (the comm may contain anything): field 3 is the state.
        guard let paren = buf[0..<n].lastIndex(of: UInt8(ascii: ")")), paren + 2 < n else { return nil }
        var fields: [UInt64] = []
        var cur: UInt64 = 0, inNum = false
        for b in buf[(paren + 2)..<n] {
            if b >= 48 && b <= 57 { cur = cur &* 10 &+ UInt64(b - 48); inNum = true }
            else if b == 32 || b == 10 {
                fields.append(inNum ? cur : 0); cur = 0; inNum = false
                if fields.count >= 23 { break }
            }
        }
        // fields[0] is field 3 (state); field k is fields[k - 3].
        guard fields.count >= 22 else { return nil }
        return StubHostStat(minorFaults: fields[7], majorFaults: fields[9], rssKB: fields[21] * 4)
    }
}

extension Task {
    /// Called on the task's thread once its stub is ready: the counters start from here.
    func countersStart() {
        counters.threadClock = 0
        var id = clockid_t()
        if pthread_getcpuclockid(pthread_self(), &id) == 0 {
            counters.threadClock = id
            counters.hasThreadClock = true
            counters.threadBaseNS = CPUClocks.ns(id)
        }
        if let s = stub {
            let c = CPUClocks.stub(s.pid)
            counters.stubUserBaseNS = c.user
            counters.stubAllBaseNS = c.all
            if let h = CPUClocks.hostStat(s.pid) { counters.stubFaultBase = (h.minorFaults, h.majorFaults) }
        }
    }

    /// Counts the read/write family for /proc/<pid>/io, as Linux's rchar/wchar/syscr/syscw (every call
    /// counts a syscall; only transferred bytes count as chars).
    @inline(__always) func countIO(_ nr: Int, _ ret: Int) {
        switch nr {
        case 0, 17, 19, 295, 327:   // read, pread64, readv, preadv, preadv2
            counters.syscr &+= 1
            if ret > 0 { counters.rchar &+= UInt64(ret) }
        case 1, 18, 20, 296, 328:   // write, pwrite64, writev, pwritev, pwritev2
            counters.syscw &+= 1
            if ret > 0 { counters.wchar &+= UInt64(ret) }
        case 40, 326:               // sendfile, copy_file_range: a read and a write
            counters.syscr &+= 1; counters.syscw &+= 1
            if ret > 0 { counters.rchar &+= UInt64(ret); counters.wchar &+= UInt64(ret) }
        default:
            break
        }
    }

    /// This task's usage so far. `host` adds the stub's host fault and resident-set counters (one host
    /// file read); CPU times are two or three clock reads.
    func usage(host: Bool) -> Usage {
        var u = Usage()
        u.rchar = counters.rchar; u.wchar = counters.wchar; u.syscr = counters.syscr; u.syscw = counters.syscw
        u.voluntary = counters.voluntary; u.involuntary = counters.involuntary
        let s: (any PlatformStub)? = stub
        if let s {
            let c = CPUClocks.stub(s.pid)
            u.userNS = c.user &- min(c.user, counters.stubUserBaseNS)
            let sys = c.all &- c.user, baseSys = counters.stubAllBaseNS &- counters.stubUserBaseNS
            u.systemNS = sys &- min(sys, baseSys)
            if host, let h = CPUClocks.hostStat(s.pid) {
                u.minorFaults = h.minorFaults &- min(h.minorFaults, counters.stubFaultBase.minor)
                u.majorFaults = h.majorFaults &- min(h.majorFaults, counters.stubFaultBase.major)
                counters.maxRSSKB = max(counters.maxRSSKB, h.rssKB)
                u.rssKB = h.rssKB
            }
            u.maxRSSKB = counters.maxRSSKB
        }
        if counters.hasThreadClock {
            let now = CPUClocks.ns(counters.threadClock)
            u.systemNS &+= now &- min(now, counters.threadBaseNS)
        }
        return u
    }

    /// Called as the task exits (kernel lock held, stub still there): folds its usage into its group.
    func countersFinish() {
        // One host read (~10 us) so that faults and the peak resident set reach RUSAGE_CHILDREN.
        var u = usage(host: true)
        u.rssKB = 0
        tg.deadThreadsUsage.add(u)
        counters.hasThreadClock = false   // the thread may go away; never read its clock again
    }
}

extension ThreadGroup {
    /// Usage of the whole thread group: live threads plus the threads that have exited.
    func groupUsage(host: Bool) -> Usage {
        var u = deadThreadsUsage
        for t in threads where !t.exited { u.add(t.usage(host: host)) }
        return u
    }

    /// A zombie child is reaped by `parent` (wait4/waitid): its totals become the parent's children's.
    func foldIntoParent(_ parent: ThreadGroup) {
        var u = deadThreadsUsage
        u.add(childrenUsage)
        u.rssKB = 0
        parent.childrenUsage.add(u)
    }
}

extension Usage {
    func rusage() -> RUsage {
        var r = RUsage()
        r.ru_utime = Timeval(tv_sec: Int64(userNS / 1_000_000_000), tv_usec: Int64(userNS % 1_000_000_000 / 1000))
        r.ru_stime = Timeval(tv_sec: Int64(systemNS / 1_000_000_000), tv_usec: Int64(systemNS % 1_000_000_000 / 1000))
        r.ru_maxrss = Int64(maxRSSKB)
        r.ru_minflt = Int64(minorFaults); r.ru_majflt = Int64(majorFaults)
        r.ru_nvcsw = Int64(voluntary); r.ru_nivcsw = Int64(involuntary)
        return r
    }
}

extension Task {
    /// getrusage(2): RUSAGE_SELF 0, RUSAGE_CHILDREN -1, RUSAGE_THREAD 1.
    func sysGetrusage(_ who: Int32, _ addr: UInt64) -> Int {
        let u: Usage
        switch who {
        case 0: u = tg.groupUsage(host: true)
        case -1: u = tg.childrenUsage
        case 1: u = usage(host: true)
        default: return errno(EINVAL)
        }
        return writeRUsage(u, addr)
    }

    func writeRUsage(_ u: Usage, _ addr: UInt64) -> Int {
        let bytes = u.rusage().bytes
        return bytes.withUnsafeBytes { mm.copyOut(addr, $0.baseAddress!, bytes.count) } ? 0 : errno(EFAULT)
    }

    /// times(2): the group's and its reaped children's times in clock ticks; returns ticks since boot.
    func sysTimes(_ addr: UInt64) -> Int {
        if addr != 0 {
            let me = tg.groupUsage(host: false), kids = tg.childrenUsage
            let t = Tms(tms_utime: Int64(me.userTicks), tms_stime: Int64(me.systemTicks),
                        tms_cutime: Int64(kids.userTicks), tms_cstime: Int64(kids.systemTicks))
            let bytes = t.bytes
            guard bytes.withUnsafeBytes({ mm.copyOut(addr, $0.baseAddress!, bytes.count) }) else { return errno(EFAULT) }
        }
        return Int(kernel.procfsTicksSinceStart())
    }
}
