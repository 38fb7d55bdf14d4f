// System-wide /proc files: meminfo, stat, uptime, loadavg, version, cpuinfo, filesystems.
import Protocol

extension ProcfsView {
    func meminfo() -> [UInt8] {
        let s = snapshot
        var o = Text()
        func kb(_ name: String, _ v: UInt64) { o.line(Fmt.left(name + ":", 16) + Fmt.right(v, 8) + " kB") }
        kb("MemTotal", s.memTotalKB); kb("MemFree", s.memFreeKB); kb("MemAvailable", s.memAvailableKB)
        kb("Buffers", s.buffersKB); kb("Cached", s.cachedKB); kb("SwapCached", 0)
        kb("Active", 0); kb("Inactive", 0); kb("Active(anon)", 0); kb("Inactive(anon)", 0)
        kb("Active(file)", 0); kb("Inactive(file)", 0); kb("Unevictable", 0); kb("Mlocked", 0)
        kb("SwapTotal", s.swapTotalKB); kb("SwapFree", s.swapFreeKB); kb("Dirty", 0); kb("Writeback", 0)
        let used = s.memTotalKB &- s.memFreeKB &- s.cachedKB &- s.buffersKB
        kb("AnonPages", s.memTotalKB >= s.memFreeKB + s.cachedKB + s.buffersKB ? used : 0)
        kb("Mapped", 0); kb("Shmem", 0); kb("KReclaimable", 0); kb("Slab", 0); kb("SReclaimable", 0)
        kb("SUnreclaim", 0); kb("KernelStack", 0); kb("PageTables", 0); kb("NFS_Unstable", 0); kb("Bounce", 0)
        kb("WritebackTmp", 0); kb("CommitLimit", s.memTotalKB / 2 + s.swapTotalKB); kb("Committed_AS", 0)
        kb("VmallocTotal", 34_359_738_367); kb("VmallocUsed", 0); kb("VmallocChunk", 0); kb("Percpu", 0)
        kb("AnonHugePages", 0); kb("ShmemHugePages", 0); kb("ShmemPmdMapped", 0)
        kb("FileHugePages", 0); kb("FilePmdMapped", 0)
        o.line(Fmt.left("HugePages_Total:", 16) + Fmt.right(0, 8))
        o.line(Fmt.left("HugePages_Free:", 16) + Fmt.right(0, 8))
        o.line(Fmt.left("HugePages_Rsvd:", 16) + Fmt.right(0, 8))
        o.line(Fmt.left("HugePages_Surp:", 16) + Fmt.right(0, 8))
        kb("Hugepagesize", 2048); kb("Hugetlb", 0)
        return o.bytes
    }

    /// /proc/stat: "cpu  " sum line, per-CPU lines, then the counters.
    func stat() -> [UInt8] {
        var o = Text()
        func cpuLine(_ label: String, _ c: Procfs.CPUTimes) {
            o.line(label + " \(c.user) \(c.nice) \(c.system) \(c.idle) \(c.iowait) \(c.irq) \(c.softirq) \(c.steal) 0 0")
        }
        let count = Int(max(snapshot.cpuCount, 1))
        let times = snapshot.cpuTimes
        cpuLine("cpu ", times.first ?? Procfs.CPUTimes())
        for i in 0..<count { cpuLine("cpu\(i)", i + 1 < times.count ? times[i + 1] : Procfs.CPUTimes()) }
        o.line("intr 0")
        o.line("ctxt \(snapshot.contextSwitches)")
        o.line("btime \(snapshot.bootTimeSeconds)")
        o.line("processes \(snapshot.processesCreated)")
        let running = snapshot.tasks.filter { $0.state == UInt8(ascii: "R") }.count
        let blocked = snapshot.tasks.filter { $0.state == UInt8(ascii: "D") }.count
        o.line("procs_running \(max(running, 1))")
        o.line("procs_blocked \(blocked)")
        o.line("softirq 0 0 0 0 0 0 0 0 0 0 0")
        return o.bytes
    }

    /// "%lu.%02lu %lu.%02lu": uptime and summed idle time in seconds.
    func uptime() -> [UInt8] {
        Array("\(Fmt.fixed2(snapshot.uptimeNanos / 10_000_000, scale: 100)) \(Fmt.fixed2(snapshot.idleNanos / 10_000_000, scale: 100))\n".utf8)
    }

    /// "%lu.%02lu %lu.%02lu %lu.%02lu %u/%d %d": loads (rounded like LOAD_FRAC), runnable/total, last pid.
    func loadavg() -> [UInt8] {
        let l = snapshot.loadAverage
        func load(_ i: Int) -> String {
            let v = i < l.count ? UInt64(l[i]) : 0
            return Fmt.fixed2(v + 65536 / 200, scale: 65536)
        }
        return Array("\(load(0)) \(load(1)) \(load(2)) \(max(snapshot.runnable, 1))/\(snapshot.tasks.count) \(snapshot.lastPID)\n".utf8)
    }

    func version() -> [UInt8] {
        Array("Linux version \(snapshot.kernelRelease) (bulwark@bulwark) (swift) \(snapshot.kernelVersion)\n".utf8)
    }

    /// One block per CPU. With `snapshot.cpuinfo` (the host's first block, key and value in order) the
    /// keys and values are the host's, so feature flags match what the cpuid instruction tells the
    /// application; the per-CPU keys are replaced (processor, ids, siblings, cores).
    func cpuinfo() -> [UInt8] {
        var o = Text()
        let count = max(snapshot.cpuCount, 1)
        let fields = snapshot.cpuinfo.isEmpty ? Self.genericCPU : snapshot.cpuinfo.map { ($0.name, $0.value) }
        for i in 0..<count {
            for (key, hostValue) in fields {
                let value: String
                switch key.trimmingSpaces() {
                case "processor", "core id", "apicid", "initial apicid": value = String(i)
                case "physical id": value = "0"
                case "siblings", "cpu cores": value = String(count)
                default: value = hostValue
                }
                // The host's "key<tabs>: value" layout (keys carry their own tab padding).
                o.line(value.isEmpty ? key + ":" : key + ": " + value)
            }
            o.line("")
        }
        return o.bytes
    }

    static let genericCPU: [(String, String)] = [
        ("processor\t", ""), ("vendor_id\t", "Bulwark"), ("model name\t", "Bulwark virtual CPU"),
        ("physical id\t", ""), ("siblings\t", ""), ("core id\t\t", ""), ("cpu cores\t", ""),
        ("fpu\t\t", "yes"), ("flags\t\t", "fpu tsc cx8 cmov sse sse2 syscall nx lm"),
    ]

    static let filesystemList: [(String, Bool)] = [
        ("sysfs", true), ("tmpfs", true), ("proc", true), ("devpts", true), ("mqueue", true),
        ("cgroup2", true), ("overlay", true), ("9p", true),
    ]

    func filesystems() -> [UInt8] {
        var o = Text()
        for (name, nodev) in Self.filesystemList { o.line((nodev ? "nodev" : "") + "\t" + name) }
        return o.bytes
    }
}
