// Builds the Procfs.Snapshot a /proc or /sys request needs from live kernel state (kernel lock held).
// Only what the path shows is gathered: /proc/self/status carries one thread group, no maps and no
// fds; only the sandbox's own tasks are ever put in a snapshot.
import Glibc
import Protocol
import SentryMemory
import SentryPlatform

/// What one path needs, decided from its components (relative to the mount: ["self", "status"]).
struct ProcfsNeeds {
    var target: ThreadGroup? = nil
    var maps = false, fds = false, mounts = false, limits = false
    var cmdline = false, environ = false, auxv = false
    /// Memory and CPU counters of the target's tasks (status, stat, statm, smaps...).
    var counters = false
    /// smaps: the per-mapping resident sizes (SEEK_DATA/SEEK_HOLE per VMA; maps does not need them).
    var smaps = false
    /// A /proc/<pid>/... path (not task/<tid>/...): the leader shows the whole group's counters.
    var perProcess = true
    /// /proc/net/*, /sys/class/net: interfaces and sockets (ProcfsNet.swift). /proc/cpuinfo: the host's CPU.
    var net = false, cpuinfo = false
    var isLightFlag = false

    init() {}

    init(kernel: Kernel, caller: Task, components c: [Substring], isProc: Bool) {
        guard let first = c.first else { return }
        if !isProc { net = first == "class"; return }
        var rest = c.dropFirst()
        switch first {
        case "net": net = true; return
        case "cpuinfo": cpuinfo = true; return
        case "self", "thread-self": target = caller.tg
        case "mounts": target = caller.tg; mounts = true; return
        default:
            if let n = Int32(first), let t = kernel.tasks[n] { target = t.tg }
            else if let n = Int32(first), let g = kernel.threadGroups[n] { target = g }
        }
        guard target != nil else { return }
        if rest.first == "task" { rest = rest.dropFirst(2); perProcess = false }
        guard let file = rest.first else { return }
        switch file {
        case "maps": maps = true
        case "smaps": maps = true; smaps = true; counters = true
        case "fd", "fdinfo": fds = true
        case "mounts", "mountinfo": mounts = true
        case "limits": limits = true
        case "stat": limits = true; counters = true
        case "status", "statm", "io", "oom_score": counters = true
        case "cmdline": cmdline = true
        case "environ": environ = true
        case "auxv": auxv = true
        case "net": net = true
        default: break
        }
    }
}

extension Kernel {
    func procfsSnapshot(caller: Task, needs: ProcfsNeeds) -> Procfs.Snapshot {
        var s = Procfs.Snapshot()
        let up = procfsUptimeNanos()
        let cpus = UInt64(max(cpuCount, 1))
        s.uptimeNanos = up
        var rt = timespec()
        clock_gettime(CLOCK_REALTIME, &rt)
        s.bootTimeSeconds = UInt64(max(Int64(rt.tv_sec) - Int64(up / 1_000_000_000), 0))
        s.hostname = hostname
        s.domainname = domainname
        s.kernelRelease = "6.1.0-bulwark"
        s.kernelVersion = "#1 SMP Bulwark"
        s.cpuCount = UInt32(cpus)
        s.lastPID = nextID - 1
        s.bootID = procfs.bootID
        s.tunables = procfs.tunables.sorted { $0.key < $1.key }.map { Procfs.Tunable(name: $0.key, value: $0.value) }
        s.processesCreated = procfs.processesCreated
        procfsMemory(&s)
        if needs.net { procfsNet(&s, caller: caller) }         // ProcfsNet.swift
        if needs.cpuinfo { s.cpuinfo = procfsCPUInfo() }

        var running: UInt32 = 0
        var busyUser: UInt64 = 0, busySystem: UInt64 = 0
        if let g = needs.target {
            for t in g.threads { s.tasks.append(procfsTaskInfo(t, caller: caller, needs: needs)) }
            if g.threads.isEmpty {   // a zombie: its leader's facts only
                var z = Procfs.TaskInfo(pid: g.pid, tgid: g.pid, ppid: g.parent?.pid ?? 0, pgid: g.pgid, sid: g.sid,
                                        comm: procfsComm(g, nil), state: UInt8(ascii: "Z"))
                z.uids = [g.cred.ruid, g.cred.euid, g.cred.suid, g.cred.fsuid]; z.gids = [g.cred.rgid, g.cred.egid, g.cred.sgid, g.cred.fsgid]
                z.startTimeTicks = procfs.record(g).startTicks
                s.tasks.append(z)
            }
            if needs.maps, let leader = g.threads.first { s.maps = procfsMaps(leader, resident: needs.smaps) }
            if needs.fds, let leader = g.threads.first { s.fds = procfsFDs(leader) }
            if needs.mounts { s.mounts = procfsMounts(caller) }
            if needs.limits {
                for r in 0..<16 {
                    let v = g.rlimits[r] ?? Task.defaultLimits[r] ?? (UInt64.max, UInt64.max)
                    s.limits.append(Procfs.LimitEntry(resource: UInt32(r), soft: v.0, hard: v.1))
                }
            }
        } else {
            // System-wide files and listings: every task, light (ids, name, state, cpu times).
            for (_, t) in tasks.sorted(by: { $0.key < $1.key }) {
                var info = procfsTaskInfo(t, caller: caller, needs: ProcfsNeeds.light)
                if info.state == UInt8(ascii: "R") { running += 1 }
                let (u, sys) = procfsCPUTicks(t)
                info.userTimeTicks = u; info.systemTimeTicks = sys
                busyUser += u; busySystem += sys
                s.tasks.append(info)
            }
            for (_, g) in threadGroups.sorted(by: { $0.key < $1.key }) where g.threads.isEmpty {
                s.tasks.append(Procfs.TaskInfo(pid: g.pid, tgid: g.pid, ppid: g.parent?.pid ?? 0, pgid: g.pgid, sid: g.sid,
                                               comm: procfsComm(g, nil), state: UInt8(ascii: "Z")))
            }
        }
        s.runnable = max(running, 1)
        let load = procfsUpdateLoad(running: Double(max(running, 1)))
        s.loadAverage = load.map { UInt32(min($0 * 65536, Double(UInt32.max))) }
        // CPU times: what the tasks used, the rest of uptime × CPUs idle, spread evenly over the CPUs.
        let total = up / 10_000_000 * cpus
        let idle = total > busyUser + busySystem ? total - busyUser - busySystem : 0
        s.idleNanos = idle * 10_000_000
        s.cpuTimes = [Procfs.CPUTimes(user: busyUser, system: busySystem, idle: idle)]
        for _ in 0..<cpus {
            s.cpuTimes.append(Procfs.CPUTimes(user: busyUser / cpus, system: busySystem / cpus, idle: idle / cpus))
        }
        return s
    }

    func procfsUptimeNanos() -> UInt64 {
        let now = monotonicNow()
        let ns = (Int64(now.tv_sec) - Int64(startTime.tv_sec)) * 1_000_000_000 + Int64(now.tv_nsec) - Int64(startTime.tv_nsec)
        return UInt64(max(ns, 0))
    }

    /// Decays the load averages towards `running` over the time since the last sample (Linux's
    /// exponential moving averages with 1, 5 and 15 minute constants).
    private func procfsUpdateLoad(running: Double) -> [Double] {
        let now = monotonicNow()
        let dt = Double(now.tv_sec - procfs.loadUpdated.tv_sec) + Double(now.tv_nsec - procfs.loadUpdated.tv_nsec) / 1e9
        procfs.loadUpdated = now
        for (i, period) in [60.0, 300.0, 900.0].enumerated() {
            let e = exp(-max(dt, 0) / period)
            procfs.load[i] = procfs.load[i] * e + running * (1 - e)
        }
        return procfs.load
    }

    /// Memory as the sandbox sees it: the memory file's capacity (at most the host's RAM) is the total,
    /// the memory file's allocated pages are used.
    private func procfsMemory(_ s: inout Procfs.Snapshot) {
        let hostTotal = UInt64(max(sysconf(Int32(_SC_PHYS_PAGES)), 0)) * UInt64(pageSize) / 1024
        let total = min(hostTotal, UInt64(memory.capacity) / 1024)
        var st = Glibc.stat()
        let used = fstat(memory.fd, &st) == 0 ? UInt64(st.st_blocks) * 512 / 1024 : 0
        s.memTotalKB = total
        s.memFreeKB = total > used ? total - used : 0
        s.memAvailableKB = s.memFreeKB
    }

    func procfsComm(_ g: ThreadGroup, _ t: Task?) -> String {
        if let t, !t.threadName.isEmpty { return t.threadName }
        let base = g.name.split(separator: "/").last.map(String.init) ?? g.name
        return String(decoding: Array(base.utf8.prefix(15)), as: UTF8.self)
    }

    /// User and system time of a task in clock ticks (ProcfsCounters.swift: the stub's user time; its
    /// system time plus the Sentry thread's time serving the task).
    func procfsCPUTicks(_ t: Task) -> (UInt64, UInt64) {
        guard !t.exited else { return (0, 0) }
        let u = t.usage(host: false)
        return (u.userTicks, u.systemTicks)
    }

    func procfsTaskInfo(_ t: Task, caller: Task, needs: ProcfsNeeds) -> Procfs.TaskInfo {
        let g = t.tg
        let rec = procfs.record(g)
        var i = Procfs.TaskInfo()
        i.pid = t.tid
        i.tgid = g.pid
        i.ppid = g.parent?.pid ?? 0
        i.pgid = g.pgid
        i.sid = g.sid
        i.comm = procfsComm(g, t)
        i.state = g.zombie ? UInt8(ascii: "Z") : (t === caller || t.inUser ? UInt8(ascii: "R") : UInt8(ascii: "S"))
        i.threads = UInt32(g.threads.count)
        i.startTimeTicks = rec.startTicks
        i.processor = t.cpu
        i.uids = [g.cred.ruid, g.cred.euid, g.cred.suid, g.cred.fsuid]
        i.gids = [g.cred.rgid, g.cred.egid, g.cred.sgid, g.cred.fsgid]
        guard !needs.isLight else { return i }
        i.groups = g.cred.groups
        i.umask = t.fsctx.umask
        i.tpgid = -1
        i.flags = 0x400000   // PF_RANDOMIZE, as for any user process
        i.exitSignal = g.exitSignal
        i.exe = rec.exe.isEmpty ? g.name : rec.exe
        i.cwd = t.fsctx.cwd
        i.root = "/"
        i.oomScoreAdj = rec.oomScoreAdj
        i.noNewPrivs = t.noNewPrivs
        i.fdSize = UInt32(max(64, 1 << (64 - UInt64(max(t.fds.entries.count, 1) - 1).leadingZeroBitCount)))
        i.sigPending = t.pending
        i.shdPending = g.pending
        i.sigBlocked = t.sigmask
        i.sigQueued = UInt32((t.pending | g.pending).nonzeroBitCount)
        i.sigQueueLimit = 4096
        for sig in 1..<65 {
            let h = g.handlers.actions[sig].handler
            if h == 1 { i.sigIgnored |= UInt64(1) << UInt64(sig - 1) }
            else if h != 0 { i.sigCaught |= UInt64(1) << UInt64(sig - 1) }
        }
        i.capInheritable = g.cred.inheritable; i.capPermitted = g.cred.permitted; i.capEffective = g.cred.effective
        i.capBounding = g.cred.bounding; i.capAmbient = g.cred.ambient
        if t.kernel.appSeccomp != nil { i.seccompMode = 2 }   // filter mode, as under runc with a profile
        i.startStack = rec.startStack
        i.argStart = rec.argStart; i.argEnd = rec.argEnd
        i.envStart = rec.envStart; i.envEnd = rec.envEnd
        if needs.counters && !(needs.perProcess && t.tid != g.pid) {
            // /proc/<pid>/... shows the group's totals on the leader, task/<tid>/... the thread's own.
            let u = needs.perProcess ? g.groupUsage(host: true) : t.usage(host: true)
            i.userTimeTicks = u.userTicks; i.systemTimeTicks = u.systemTicks
            i.minorFaults = u.minorFaults; i.majorFaults = u.majorFaults
            i.voluntarySwitches = u.voluntary; i.involuntarySwitches = u.involuntary
            i.readChars = u.rchar; i.writtenChars = u.wchar; i.readSyscalls = u.syscr; i.writeSyscalls = u.syscw
            // BULWARK_PROCFS_RSS_WALK=1: the previous per-VMA SEEK_DATA/SEEK_HOLE walk, for comparing costs.
            let rss = ProcfsCostSwitch.walkRSS ? t.mm.vmas.reduce(0) { $0 + procfsResidentKB($1) } : u.rssKB
            procfsMemoryCounters(t, rec, &i, rssKB: rss, peakKB: max(u.maxRSSKB, rss))
        }
        let cap = 1 << 20
        if needs.cmdline && rec.argEnd > rec.argStart {
            i.cmdline = t.mm.readBytes(rec.argStart, min(Int(rec.argEnd - rec.argStart), cap)) ?? []
        }
        if needs.environ && rec.envEnd > rec.envStart {
            i.environ = t.mm.readBytes(rec.envStart, min(Int(rec.envEnd - rec.envStart), cap)) ?? []
        }
        if needs.auxv { i.auxv = rec.auxv }
        return i
    }

    /// Resident memory of a VMA: the allocated (non-hole) parts of its range of the memory file, found
    /// with SEEK_DATA/SEEK_HOLE (cost per allocated extent, not per page; a page of the file exists once
    /// allocated, whichever process touched it). The fd's offset is not used for I/O anywhere.
    func procfsResidentKB(_ v: VMA) -> UInt64 {
        let end = v.fileOffset + Int(v.length)
        var off = v.fileOffset, total = 0
        while off < end {
            let data = Int(lseek(memory.fd, off_t(off), 3 /* SEEK_DATA */))
            if data < 0 || data >= end { break }
            var hole = Int(lseek(memory.fd, off_t(data), 4 /* SEEK_HOLE */))
            if hole < 0 || hole > end { hole = end }
            total += hole - data
            off = hole
        }
        return UInt64(total / 1024)
    }

    /// Sizes from the VMAs (no system call); the resident set comes from the stub's host counters
    /// (`rssKB`, ProcfsCounters.swift) instead of a SEEK_DATA/SEEK_HOLE walk of every VMA. The host sees
    /// all of it as one shared memory file, so the split by kind is by the VMAs' sizes: file-backed
    /// mappings' resident pages cannot be told from anonymous ones without that walk; they count as
    /// RssAnon (RssFile and RssShmem stay 0).
    private func procfsMemoryCounters(_ t: Task, _ rec: ProcfsExecRecord, _ i: inout Procfs.TaskInfo,
                                      rssKB rss: UInt64, peakKB: UInt64) {
        var size: UInt64 = 0
        var data: UInt64 = 0, stk: UInt64 = 0, exe: UInt64 = 0, lib: UInt64 = 0
        var startCode: UInt64 = 0, endCode: UInt64 = 0
        let exePath = rec.exe.isEmpty ? t.tg.name : rec.exe
        for v in t.mm.vmas {
            let kb = v.length / 1024
            size += kb
            if v.tag == "[stack]" { stk += kb; continue }
            let isX = v.prot & PROT_X != 0
            if isX && v.tag == "elf" && procfsMapName(v, rec, exe: exePath) != rec.interpreter {
                exe += kb
                if startCode == 0 { startCode = v.start }
                endCode = v.end
            } else if isX && (v.tag == "elf" || v.tag.hasPrefix("/")) { lib += kb }
            else if v.prot & PROT_W != 0 && !v.shared { data += kb }
        }
        i.vmPeakKB = max(size, procfs.peakSize(t.tg, size)); i.vmSizeKB = size
        i.vmHWMKB = max(peakKB, rss); i.vmRSSKB = rss
        i.rssAnonKB = rss; i.rssFileKB = 0; i.rssShmemKB = 0
        i.vmDataKB = data; i.vmStkKB = stk; i.vmExeKB = exe; i.vmLibKB = lib
        i.vmPTEKB = max(4, size / 512)   // 8 bytes of page table per 4 KiB page
        i.startCode = startCode; i.endCode = endCode
        i.startBrk = t.mm.brkStart
    }

    /// The name /proc/<pid>/maps shows for a VMA: the loaded file for ELF segments (the interpreter's
    /// from AT_BASE up), the mapped file's path, [heap]/[stack]/[vdso]/[vvar], or nothing.
    func procfsMapName(_ v: VMA, _ rec: ProcfsExecRecord, exe: String) -> String {
        switch v.tag {
        case "elf":
            if rec.interpreterBase != 0 && v.start >= rec.interpreterBase && !rec.interpreter.isEmpty
                && v.start < rec.interpreterBase + (1 << 30) { return rec.interpreter }
            return exe
        case "[heap]", "[stack]", "[vdso]", "[vvar]": return v.tag
        default: return v.tag.hasPrefix("/") ? v.tag : ""
        }
    }

    func procfsMaps(_ t: Task, resident: Bool) -> [Procfs.MapEntry] {
        // VMAs the Sentry splits off a mapping for its own reasons (a page copied for syscall patching
        // or a forced /proc/<pid>/mem write, a file's pages past its end) show as part of their
        // mapping's line when they continue it (same file, offsets and permissions), as on Linux.
        // Other splits stay lines of their own (Linux keeps e.g. a written relro part apart).
        let pieces = procfsMapPieces(t, resident: resident)
        let vmas = t.mm.vmas
        var out: [Procfs.MapEntry] = []
        for (i, e) in pieces.enumerated() {
            if i > 0, var last = out.last, last.inode == e.inode, last.devMajor == e.devMajor,
               last.devMinor == e.devMinor, last.end == e.start, last.permissions == e.permissions,
               last.path == e.path, e.inode == 0 || last.offset &+ (last.end - last.start) == e.offset,
               vmas[i].backing.pastEnd && e.inode != 0 || vmas[i].backing.internalCopy || vmas[i - 1].backing.internalCopy {
                last.end = e.end
                last.rssKB += e.rssKB
                last.anonymousKB += e.anonymousKB
                out[out.count - 1] = last
            } else {
                out.append(e)
            }
        }
        return out
    }

    private func procfsMapPieces(_ t: Task, resident: Bool) -> [Procfs.MapEntry] {
        let rec = procfs.record(t.tg)
        return t.mm.vmas.map { v in
            var p: UInt8 = 0
            if v.prot & PROT_R != 0 { p |= 1 }
            if v.prot & PROT_W != 0 { p |= 2 }
            if v.prot & PROT_X != 0 { p |= 4 }
            // The vDSO pages are shared by every process but Linux shows them private.
            if v.shared && v.tag != "[vdso]" && v.tag != "[vvar]" { p |= 8 }
            let r = resident ? procfsResidentKB(v) : 0
            let name = procfsMapName(v, rec, exe: rec.exe.isEmpty ? t.tg.name : rec.exe)
            let d = v.fileDev
            return Procfs.MapEntry(start: v.start, end: v.end, permissions: p,
                                   offset: v.fileIno == 0 ? 0 : v.fileOffset0 &+ UInt64(v.backingOffset),
                                   devMajor: UInt32(((d >> 8) & 0xfff) | ((d >> 32) & ~0xfff)),
                                   devMinor: UInt32((d & 0xff) | ((d >> 12) & ~0xff)), inode: v.fileIno, path: name,
                                   rssKB: r, anonymousKB: name.hasPrefix("/") ? 0 : r)
        }
    }

    func procfsFDs(_ t: Task) -> [Procfs.FDEntry] {
        var out: [Procfs.FDEntry] = []
        for (n, e) in t.fds.entries.enumerated() {
            guard let e else { continue }
            var st = Glibc.stat()
            let ino = e.file.stat(&st) == 0 ? UInt64(st.st_ino) : 0
            let pos = e.file.seek(0, SEEK_CUR)
            out.append(Procfs.FDEntry(fd: Int32(n), target: procfsFDTarget(e.file),
                                      flags: UInt32(bitPattern: e.file.statusFlags | (e.cloexec ? O_CLOEXEC : 0)),
                                      position: pos > 0 ? UInt64(pos) : 0, mountID: 1, inode: ino))
        }
        return out
    }

    /// What readlink(/proc/<pid>/fd/N) shows.
    func procfsFDTarget(_ f: FileDescription) -> String {
        switch f {
        case let p as PipeEnd: return "pipe:[\(p.pipe.inode)]"
        case let s as UnixSocket: return "socket:[\(s.inode)]"
        case let s as InetSocket:
            var st = Glibc.stat()
            return "socket:[\(s.stat(&st) == 0 ? UInt64(st.st_ino) : 0)]"
        case is EventFD: return "anon_inode:[eventfd]"
        case is TimerFD: return "anon_inode:[timerfd]"
        case is EpollFile: return "anon_inode:[eventpoll]"
        case let h as HostStreamFile:
            // The application's stdio: show pipes, sockets and devices as the host names them, never
            // a host file path.
            var buf = [CChar](repeating: 0, count: 256)
            let n = readlink("/proc/self/fd/\(h.fd)", &buf, 255)
            let host = n > 0 ? String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
            if host.hasPrefix("pipe:") || host.hasPrefix("socket:") || host.hasPrefix("/dev/") { return host }
            return "anon_inode:[stdio]"
        default:
            if let p = f.path { return p }
            var st = Glibc.stat()
            if f.stat(&st) == 0 && st.st_mode & S_IFMT == S_IFCHR {
                switch st.st_rdev {
                case (1 << 8) | 3: return "/dev/null"
                case (1 << 8) | 5: return "/dev/zero"
                case (1 << 8) | 7: return "/dev/full"
                case (1 << 8) | 8: return "/dev/random"
                default: return "/dev/urandom"
                }
            }
            return "anon_inode:[\(String(describing: type(of: f)))]"
        }
    }

    /// The sandbox's mount table: the VFS's mounts, parents first (ids are positions, from 1).
    func procfsMounts(_ caller: Task? = nil) -> [Procfs.MountEntry] {
        let all = vfs.allMounts()
        var out: [Procfs.MountEntry] = []
        for (i, m) in all.enumerated() {
            let parentIndex = m.parent.flatMap { p in all.firstIndex { $0 === p } } ?? i
            var point = "/"
            if let p = m.parent, let d = m.point { point = vfs.pathOf(VLocation(mount: p, dentry: d)) }
            let pseudo = ["proc", "sysfs", "devpts", "mqueue", "cgroup2"].contains(m.fsType)
            let mode = m.readOnly ? "ro" : "rw"
            // The device its objects report (AnonDevice.swift; the host's for direct gofer mounts).
            var st = Glibc.stat()
            let dev = m.root.inode.getattr(caller, &st) == 0 ? UInt64(st.st_dev) : 0
            let devMajor = UInt32(((dev >> 8) & 0xfff) | ((dev >> 32) & ~0xfff))
            let devMinor = UInt32((dev & 0xff) | ((dev >> 12) & ~0xff))
            out.append(Procfs.MountEntry(mountID: UInt32(i + 1), parentID: UInt32(parentIndex + 1), devMajor: devMajor,
                                         devMinor: devMinor, root: "/", mountPoint: point,
                                         options: mode + (pseudo ? ",nosuid,nodev,noexec" : "") + (m.atime == .noatime ? ",noatime" : (m.atime == .strictatime ? "" : ",relatime")),
                                         fsType: m.fsType, source: m.source.isEmpty ? "none" : m.source, superOptions: mode))
        }
        return out
    }
}

extension ProcfsNeeds {
    /// Ids, name and state only (listings and system-wide files).
    static var light: ProcfsNeeds { var n = ProcfsNeeds(); n.isLightFlag = true; return n }
    var isLight: Bool { isLightFlag }
}

enum ProcfsCostSwitch {
    static let walkRSS: Bool = getenv("BULWARK_PROCFS_RSS_WALK").map { String(cString: $0) == "1" } ?? false
}
