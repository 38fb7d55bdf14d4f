// /proc/<pid>/... and /proc/<pid>/task/<tid>/...: the per-process files, in Linux's formats
// (fs/proc/array.c, base.c, task_mmu.c, fd.c).
import HostOS
import LinuxABI
import Protocol
import ServiceKit

extension ProcfsView {
    static let taskFiles: [(String, UInt8)] = [
        ("auxv", EntryType.regular), ("cgroup", EntryType.regular), ("cmdline", EntryType.regular),
        ("comm", EntryType.regular), ("cwd", EntryType.link), ("environ", EntryType.regular),
        ("exe", EntryType.link), ("fd", EntryType.directory), ("fdinfo", EntryType.directory),
        ("gid_map", EntryType.regular), ("io", EntryType.regular), ("limits", EntryType.regular),
        ("maps", EntryType.regular), ("mem", EntryType.regular), ("mountinfo", EntryType.regular),
        ("mounts", EntryType.regular), ("net", EntryType.directory),
        ("ns", EntryType.directory), ("oom_score", EntryType.regular), ("oom_score_adj", EntryType.regular),
        ("root", EntryType.link), ("setgroups", EntryType.regular), ("smaps", EntryType.regular),
        ("stat", EntryType.regular), ("statm", EntryType.regular), ("status", EntryType.regular),
        ("task", EntryType.directory), ("uid_map", EntryType.regular),
    ]

    static let namespaces: [(String, UInt64)] = [
        ("cgroup", 4026531835), ("ipc", 4026531839), ("mnt", 4026531841), ("net", 4026531840),
        ("pid", 4026531836), ("pid_for_children", 4026531836), ("time", 4026531834),
        ("time_for_children", 4026531834), ("user", 4026531837), ("uts", 4026531838),
    ]

    func resolveTask(_ t: Procfs.TaskInfo, _ parts: [Substring], base: String, isThread: Bool) throws(ServiceFailure) -> Node {
        guard let first = parts.first else {
            var out: [Procfs.ProcEntry] = []
            for (name, type) in Self.taskFiles where !(isThread && name == "task") {
                out.append(entry(name, type, base + "/" + name))
            }
            return .directory(out)
        }
        let rest = Array(parts.dropFirst())
        let name = String(first)
        switch name {
        case "task" where !isThread:
            guard let tidText = rest.first else {
                let threads = snapshot.tasks.filter { $0.tgid == t.tgid }
                return .directory(threads.map { entry(String($0.pid), EntryType.directory, base + "/task/\($0.pid)") })
            }
            guard let tid = Int32(tidText), let thread = snapshot.tasks.first(where: { $0.pid == tid && $0.tgid == t.tgid })
            else { throw notFound(base + "/task/" + tidText) }
            return try resolveTask(thread, Array(rest.dropFirst()), base: base + "/task/\(tid)", isThread: true)
        case "fd", "fdinfo":
            if rest.isEmpty {
                let type = name == "fd" ? EntryType.link : EntryType.regular
                return .directory(snapshot.fds.map { entry(String($0.fd), type, "\(base)/\(name)/\($0.fd)") })
            }
            guard rest.count == 1, let n = Int32(rest[0]), let fd = snapshot.fds.first(where: { $0.fd == n })
            else { throw notFound(base + "/" + name + "/" + rest.joined(separator: "/")) }
            if name == "fd" { return .link(fd.target) }
            return .file(Array("pos:\t\(fd.position)\nflags:\t\(Fmt.octal(fd.flags))\nmnt_id:\t\(fd.mountID)\nino:\t\(fd.inode)\n".utf8))
        case "net":
            return try resolveNet(rest)   // the sandbox has one network namespace
        case "ns":
            if rest.isEmpty {
                return .directory(Self.namespaces.map { entry($0.0, EntryType.link, base + "/ns/" + $0.0) })
            }
            guard rest.count == 1, let ns = Self.namespaces.first(where: { $0.0 == rest[0] })
            else { throw notFound(base + "/ns/" + rest.joined(separator: "/")) }
            let kind = ns.0.hasSuffix("_for_children") ? String(ns.0.dropLast("_for_children".count)) : ns.0
            return .link("\(kind):[\(ns.1)]")
        default:
            break
        }
        guard Self.taskFiles.contains(where: { $0.0 == name && !(isThread && name == "task") }) else {
            throw notFound(base + "/" + name)
        }
        guard rest.isEmpty else { throw ServiceFailure(.ENOTDIR, "\(base)/\(name) is not a directory") }
        switch name {
        case "exe": return .link(t.exe)
        case "cwd": return .link(t.cwd)
        case "root": return .link(t.root)
        case "stat": return .file(taskStat(t))
        case "statm": return .file(statm(t))
        case "status": return .file(status(t))
        case "cmdline": return .file(t.cmdline)
        case "environ": return .file(t.environ)
        case "auxv": return .file(t.auxv)
        case "comm": return .file(Array((t.comm + "\n").utf8))
        case "maps": return .file(maps(smaps: false))
        case "smaps": return .file(maps(smaps: true))
        case "limits": return .file(limits())
        case "mounts": return .file(mounts())
        case "mountinfo": return .file(mountinfo())
        case "cgroup": return .file(Array("0::/\n".utf8))
        case "oom_score": return .file(Array("\(oomScore(t))\n".utf8))
        case "oom_score_adj": return .file(Array("\(t.oomScoreAdj)\n".utf8))
        case "io": return .file(io(t))
        case "uid_map", "gid_map": return .file(Array("         0          0 4294967295\n".utf8))
        case "setgroups": return .file(Array("allow\n".utf8))
        case "mem": return .file([])   // opened by the Sentry itself (memory access); listed here
        default: throw notFound(base + "/" + name)
        }
    }

    static func stateName(_ s: UInt8) -> String {
        switch s {
        case UInt8(ascii: "R"): return "R (running)"
        case UInt8(ascii: "S"): return "S (sleeping)"
        case UInt8(ascii: "D"): return "D (disk sleep)"
        case UInt8(ascii: "T"): return "T (stopped)"
        case UInt8(ascii: "t"): return "t (tracing stop)"
        case UInt8(ascii: "X"): return "X (dead)"
        case UInt8(ascii: "Z"): return "Z (zombie)"
        case UInt8(ascii: "P"): return "P (parked)"
        case UInt8(ascii: "I"): return "I (idle)"
        default: return "S (sleeping)"
        }
    }

    func limit(_ resource: UInt32) -> (soft: UInt64, hard: UInt64) {
        if let l = snapshot.limits.first(where: { $0.resource == resource }) { return (l.soft, l.hard) }
        return (UInt64.max, UInt64.max)
    }

    /// /proc/<pid>/stat: the 52 fields of do_task_stat, space-separated.
    func taskStat(_ t: Procfs.TaskInfo) -> [UInt8] {
        let rsslim = limit(5).soft   // RLIMIT_RSS
        let state = Character(Unicode.Scalar(t.state == 0 ? UInt8(ascii: "S") : t.state))
        var f: [String] = []
        f.append("\(t.pid) (\(t.comm)) \(state)")
        let ints: [String] = [
            "\(t.ppid)", "\(t.pgid)", "\(t.sid)", "\(t.ttyNr)", "\(t.tpgid)", "\(t.flags)",
            "\(t.minorFaults)", "0", "\(t.majorFaults)", "0",
            "\(t.userTimeTicks)", "\(t.systemTimeTicks)", "0", "0",
            "\(20 + Int64(t.nice))", "\(t.nice)", "\(t.threads)", "0", "\(t.startTimeTicks)",
            "\(t.vmSizeKB * 1024)", "\(t.vmRSSKB / 4)", "\(rsslim)",
            "\(t.startCode)", "\(t.endCode)", "\(t.startStack)", "0", "0",
            "\(t.sigPending & 0x7fff_ffff)", "\(t.sigBlocked & 0x7fff_ffff)",
            "\(t.sigIgnored & 0x7fff_ffff)", "\(t.sigCaught & 0x7fff_ffff)",
            "0", "0", "0", "\(t.exitSignal)", "\(t.processor)", "0", "0", "0", "0", "0",
            "\(t.startData)", "\(t.endData)", "\(t.startBrk)", "\(t.argStart)", "\(t.argEnd)",
            "\(t.envStart)", "\(t.envEnd)", "0",
        ]
        f.append(contentsOf: ints)
        return Array((f.joined(separator: " ") + "\n").utf8)
    }

    /// /proc/<pid>/statm: size resident shared text lib data dt, in pages.
    func statm(_ t: Procfs.TaskInfo) -> [UInt8] {
        let fields = [t.vmSizeKB / 4, t.vmRSSKB / 4, (t.rssFileKB + t.rssShmemKB) / 4, t.vmExeKB / 4, 0,
                      (t.vmDataKB + t.vmStkKB) / 4, 0]
        return Array((fields.map(String.init).joined(separator: " ") + "\n").utf8)
    }

    /// /proc/<pid>/status, field for field as fs/proc/array.c prints it.
    func status(_ t: Procfs.TaskInfo) -> [UInt8] {
        var o = Text()
        func kb(_ name: String, _ v: UInt64) { o.line(name + ":\t" + Fmt.right(v, 8) + " kB") }
        func hex(_ name: String, _ v: UInt64) { o.line(name + ":\t" + Fmt.hex(v, 16)) }
        func ids(_ v: [UInt32]) -> String {
            (0..<4).map { String($0 < v.count ? v[$0] : (v.first ?? 0)) }.joined(separator: "\t")
        }
        o.line("Name:\t" + t.comm)
        o.line("Umask:\t" + Fmt.octal(t.umask).leftPadded(4))
        o.line("State:\t" + Self.stateName(t.state))
        o.line("Tgid:\t\(t.tgid)")
        o.line("Ngid:\t0")
        o.line("Pid:\t\(t.pid)")
        o.line("PPid:\t\(t.ppid)")
        o.line("TracerPid:\t0")
        o.line("Uid:\t" + ids(t.uids))
        o.line("Gid:\t" + ids(t.gids))
        o.line("FDSize:\t\(t.fdSize)")
        o.line("Groups:\t" + t.groups.map(String.init).joined(separator: " ") + " ")
        o.line("NStgid:\t\(t.tgid)")
        o.line("NSpid:\t\(t.pid)")
        o.line("NSpgid:\t\(t.pgid)")
        o.line("NSsid:\t\(t.sid)")
        o.line("Kthread:\t0")
        kb("VmPeak", t.vmPeakKB); kb("VmSize", t.vmSizeKB); kb("VmLck", t.vmLckKB); kb("VmPin", 0)
        kb("VmHWM", t.vmHWMKB); kb("VmRSS", t.vmRSSKB); kb("RssAnon", t.rssAnonKB); kb("RssFile", t.rssFileKB)
        kb("RssShmem", t.rssShmemKB); kb("VmData", t.vmDataKB); kb("VmStk", t.vmStkKB); kb("VmExe", t.vmExeKB)
        kb("VmLib", t.vmLibKB); kb("VmPTE", t.vmPTEKB); kb("VmSwap", 0); kb("HugetlbPages", 0)
        o.line("CoreDumping:\t0")
        o.line("THP_enabled:\t1")
        o.line("untag_mask:\t0xffffffffffffffff")
        o.line("Threads:\t\(t.threads)")
        o.line("SigQ:\t\(t.sigQueued)/\(t.sigQueueLimit)")
        hex("SigPnd", t.sigPending); hex("ShdPnd", t.shdPending); hex("SigBlk", t.sigBlocked)
        hex("SigIgn", t.sigIgnored); hex("SigCgt", t.sigCaught)
        hex("CapInh", t.capInheritable); hex("CapPrm", t.capPermitted); hex("CapEff", t.capEffective)
        hex("CapBnd", t.capBounding); hex("CapAmb", t.capAmbient)
        o.line("NoNewPrivs:\t\(t.noNewPrivs ? 1 : 0)")
        o.line("Seccomp:\t\(t.seccompMode)")
        o.line("Seccomp_filters:\t\(t.seccompMode == 2 ? 1 : 0)")
        // The sandbox does not expose the host's mitigation state.
        o.line("Speculation_Store_Bypass:\tunknown")
        o.line("SpeculationIndirectBranch:\tunknown")
        let cpus = max(snapshot.cpuCount, 1)
        let mask: UInt64 = cpus >= 64 ? UInt64.max : (UInt64(1) << UInt64(cpus)) - 1
        o.line("Cpus_allowed:\t" + String(mask, radix: 16))
        o.line("Cpus_allowed_list:\t" + Fmt.cpuList(cpus))
        // MAX_NUMNODES = 1024 on distribution kernels: 32 comma-separated words, node 0 only.
        o.line("Mems_allowed:\t" + String(repeating: "00000000,", count: 31) + "00000001")
        o.line("Mems_allowed_list:\t0")
        o.line("voluntary_ctxt_switches:\t\(t.voluntarySwitches)")
        o.line("nonvoluntary_ctxt_switches:\t\(t.involuntarySwitches)")
        return o.bytes
    }

    /// /proc/<pid>/maps (header lines) or smaps (header plus the per-mapping counters).
    func maps(smaps: Bool) -> [UInt8] {
        var o = Text()
        for m in snapshot.maps {
            let p = m.permissions
            let perms = (p & 1 != 0 ? "r" : "-") + (p & 2 != 0 ? "w" : "-") + (p & 4 != 0 ? "x" : "-") + (p & 8 != 0 ? "s" : "p")
            o.put("\(Fmt.hex(m.start, 8))-\(Fmt.hex(m.end, 8)) \(perms) \(Fmt.hex(m.offset, 8)) " +
                  "\(Fmt.hex(m.devMajor, 2)):\(Fmt.hex(m.devMinor, 2)) \(m.inode) ")
            if !m.path.isEmpty {
                o.pad(to: 73)   // seq_setwidth(25 + 6 * sizeof(void *) - 1) then seq_pad(' ')
                o.put(m.path)
            }
            o.put("\n")
            guard smaps else { continue }
            func kb(_ name: String, _ v: UInt64) { o.line(Fmt.left(name + ":", 16) + Fmt.right(v, 8) + " kB") }
            let size = (m.end &- m.start) / 1024
            kb("Size", size); kb("KernelPageSize", 4); kb("MMUPageSize", 4); kb("Rss", m.rssKB); kb("Pss", m.rssKB)
            kb("Pss_Dirty", m.anonymousKB); kb("Shared_Clean", 0); kb("Shared_Dirty", 0)
            kb("Private_Clean", m.rssKB - min(m.rssKB, m.anonymousKB)); kb("Private_Dirty", m.anonymousKB)
            kb("Referenced", m.rssKB); kb("Anonymous", m.anonymousKB); kb("KSM", 0); kb("LazyFree", 0)
            kb("AnonHugePages", 0); kb("ShmemPmdMapped", 0); kb("FilePmdMapped", 0); kb("Shared_Hugetlb", 0)
            kb("Private_Hugetlb", 0); kb("Swap", 0); kb("SwapPss", 0); kb("Locked", 0)
            o.line(Fmt.left("THPeligible:", 16) + Fmt.right(0, 8))
            if TSC.protectionKeysEnabled { o.line(Fmt.left("ProtectionKey:", 16) + Fmt.right(0, 8)) }
            var flags: [String] = []
            if p & 1 != 0 { flags.append("rd") }
            if p & 2 != 0 { flags.append("wr") }
            if p & 4 != 0 { flags.append("ex") }
            if p & 8 != 0 { flags.append("sh") }
            flags += ["mr", "mw", "me"]
            if p & 8 != 0 { flags.append("ms") }
            o.line("VmFlags: " + flags.joined(separator: " ") + " ")
        }
        return o.bytes
    }

    static let limitRows: [(String, String?)] = [
        ("Max cpu time", "seconds"), ("Max file size", "bytes"), ("Max data size", "bytes"),
        ("Max stack size", "bytes"), ("Max core file size", "bytes"), ("Max resident set", "bytes"),
        ("Max processes", "processes"), ("Max open files", "files"), ("Max locked memory", "bytes"),
        ("Max address space", "bytes"), ("Max file locks", "locks"), ("Max pending signals", "signals"),
        ("Max msgqueue size", "bytes"), ("Max nice priority", nil), ("Max realtime priority", nil),
        ("Max realtime timeout", "us"),
    ]

    /// /proc/<pid>/limits: "%-25s %-20s %-20s %-10s" rows, as proc_pid_limits prints them.
    func limits() -> [UInt8] {
        var o = Text()
        o.line(Fmt.left("Limit", 25) + " " + Fmt.left("Soft Limit", 20) + " " + Fmt.left("Hard Limit", 20) + " " +
               Fmt.left("Units", 10))
        for (i, row) in Self.limitRows.enumerated() {
            let (soft, hard) = limit(UInt32(i))
            func value(_ v: UInt64) -> String { v == UInt64.max ? "unlimited" : String(v) }
            o.put(Fmt.left(row.0, 25) + " " + Fmt.left(value(soft), 20) + " " + Fmt.left(value(hard), 20) + " ")
            if let unit = row.1 { o.put(Fmt.left(unit, 10)) }
            o.put("\n")
        }
        return o.bytes
    }

    /// Escapes space, tab, newline and backslash as octal (mangle() in fs/proc_namespace.c).
    static func mangle(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case " ": out += "\\040"
            case "\t": out += "\\011"
            case "\n": out += "\\012"
            case "\\": out += "\\134"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    func mounts() -> [UInt8] {
        var o = Text()
        for m in snapshot.mounts {
            // /proc/mounts shows the superblock's rw/ro with the mount's flags, as show_vfsmnt does.
            o.line("\(Self.mangle(m.source)) \(Self.mangle(m.mountPoint)) \(m.fsType) \(mountOptions(m)) 0 0")
        }
        return o.bytes
    }

    func mountOptions(_ m: Procfs.MountEntry) -> String {
        let extra = m.superOptions.split(separator: ",").filter { $0 != "rw" && $0 != "ro" }
        return ([m.options] + extra.map(String.init)).filter { !$0.isEmpty }.joined(separator: ",")
    }

    func mountinfo() -> [UInt8] {
        var o = Text()
        for m in snapshot.mounts {
            o.line("\(m.mountID) \(m.parentID) \(m.devMajor):\(m.devMinor) \(Self.mangle(m.root)) " +
                   "\(Self.mangle(m.mountPoint)) \(m.options) - \(m.fsType) \(Self.mangle(m.source)) \(m.superOptions)")
        }
        return o.bytes
    }

    /// The kernel's badness scaled to 0...2000: resident share of memory per mille plus the adjustment.
    func oomScore(_ t: Procfs.TaskInfo) -> Int64 {
        let total = max(snapshot.memTotalKB, 1)
        let points = Int64(t.vmRSSKB * 1000 / total) + Int64(t.oomScoreAdj)
        return min(max(points, 0), 2000) 
    }

    func io(_ t: Procfs.TaskInfo) -> [UInt8] {
        Array(("rchar: \(t.readChars)\nwchar: \(t.writtenChars)\nsyscr: \(t.readSyscalls)\nsyscw: \(t.writeSyscalls)\n" +
               "read_bytes: \(t.readBytes)\nwrite_bytes: \(t.writeBytes)\ncancelled_write_bytes: 0\n").utf8)
    }
}

extension String {
    /// Zero-padded on the left to `width` characters ("%04o").
    func leftPadded(_ width: Int) -> String {
        utf8.count >= width ? self : String(repeating: "0", count: width - utf8.count) + self
    }
}
