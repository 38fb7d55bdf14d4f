// Format tests: a snapshot built from this test process's own host /proc files is rendered by the real
// bulwark-procfs and compared, field by field and byte by byte, with what Linux printed.
import Foundation
import Glibc
import ProcfsServer
import Protocol
import Testing

@Suite struct FormatTests {
    /// Fields of /proc/<pid>/status the snapshot does not carry (their names and order are still checked).
    static let uncarriedStatusFields: Set<String> = [
        "Ngid", "TracerPid", "Kthread", "VmPin", "VmSwap", "HugetlbPages", "CoreDumping", "THP_enabled",
        "untag_mask", "Seccomp_filters", "Speculation_Store_Bypass", "SpeculationIndirectBranch",
        "Cpus_allowed", "Cpus_allowed_list", "Mems_allowed", "Mems_allowed_list",
    ]
    /// Status fields whose presence depends on the host kernel's configuration/version.
    static let configDependentStatusFields: Set<String> = ["x86_Thread_features", "x86_Thread_features_locked", "Kthread", "untag_mask"]

    @Test func statusMatchesHost() throws {
        let host = try HostProc.text("/proc/self/status")
        var snapshot = Procfs.Snapshot()
        snapshot.tasks = [HostProc.task(fromStatus: host)]
        snapshot.cpuCount = UInt32(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        let ours = try withProcfs { try $0.read("proc/self/status", snapshot) }
        let hostFields = HostProc.statusFields(host)
        let ourFields = HostProc.statusFields(ours)
        #expect(ourFields.map(\.0).filter { !Self.configDependentStatusFields.contains($0) } ==
                hostFields.map(\.0).filter { !Self.configDependentStatusFields.contains($0) })
        let hostLines = Dictionary(host.split(separator: "\n").map { (String($0.prefix(while: { $0 != ":" })), String($0)) },
                                   uniquingKeysWith: { a, _ in a })
        var compared = 0
        for line in ours.split(separator: "\n") {
            let name = String(line.prefix(while: { $0 != ":" }))
            #expect(line.hasPrefix(name + ":\t"), "\(line): not Name:<tab>value")
            guard !Self.uncarriedStatusFields.contains(name), let hostLine = hostLines[name] else { continue }
            #expect(String(line) == hostLine, "status field \(name)")
            compared += 1
        }
        #expect(compared >= 40)
        #expect(ours.hasSuffix("\n"))
    }

    @Test func statMatchesHost() throws {
        let host = try HostProc.text("/proc/self/stat")
        let hostFields = HostProc.statFields(host)
        var snapshot = Procfs.Snapshot()
        snapshot.tasks = [HostProc.task(fromStat: hostFields)]
        snapshot.limits = HostProc.limits(try HostProc.text("/proc/self/limits"))
        let ours = try withProcfs { try $0.read("proc/\(getpid())/stat", snapshot) }
        let ourFields = HostProc.statFields(ours)
        #expect(ours.hasSuffix("\n") && ours.hasPrefix("\(getpid()) ("))
        #expect(ourFields.count == 52 && hostFields.count == 52)
        // 1-based fields the snapshot does not carry: children's times, kstk*, wchan, sched policy, exit code...
        let uncarried: Set<Int> = [11, 13, 16, 17, 21, 29, 30, 35, 36, 37, 40, 41, 42, 43, 44, 52]
        for i in 1...min(ourFields.count, hostFields.count) where !uncarried.contains(i) {
            #expect(ourFields[i - 1] == hostFields[i - 1], "stat field \(i)")
        }
        for i in uncarried where i <= ourFields.count { #expect(Int64(ourFields[i - 1]) != nil, "stat field \(i) numeric") }
    }

    @Test func statmMatchesHost() throws {
        let host = try HostProc.text("/proc/self/statm")
        let v = host.split(whereSeparator: { $0 == " " || $0 == "\n" }).map { UInt64($0)! }
        var t = Procfs.TaskInfo(pid: getpid(), tgid: getpid())
        t.vmSizeKB = v[0] * 4; t.vmRSSKB = v[1] * 4; t.rssFileKB = v[2] * 4; t.vmExeKB = v[3] * 4; t.vmDataKB = v[5] * 4
        let ours = try withProcfs { try $0.read("proc/self/statm", Procfs.Snapshot(tasks: [t])) }
        #expect(ours == host)
    }

    @Test func mapsAndSmapsMatchHost() throws {
        let host = try HostProc.text("/proc/self/maps")
        var snapshot = Procfs.Snapshot(tasks: [Procfs.TaskInfo(pid: getpid(), tgid: getpid())])
        snapshot.maps = HostProc.maps(host)
        let (maps, smaps) = try withProcfs { h in
            (try h.read("proc/self/maps", snapshot), try h.read("proc/self/smaps", snapshot))
        }
        #expect(maps == host)
        // smaps: the same headers, and the first block's field names in the host's order.
        let hostSmaps = try HostProc.text("/proc/self/smaps")
        func firstBlockNames(_ s: String) -> [String] {
            s.split(separator: "\n").dropFirst().prefix(while: { !$0.contains("-") || $0.hasPrefix("VmFlags") })
                .map { String($0.prefix(while: { $0 != ":" })) }
        }
        #expect(firstBlockNames(smaps) == firstBlockNames(hostSmaps))
        let headers = smaps.split(separator: "\n").filter { line in
            let range = line.prefix(while: { $0 != " " }).split(separator: "-")
            return range.count == 2 && range.allSatisfy { UInt64($0, radix: 16) != nil }
        }
        #expect(headers.map(String.init) == host.split(separator: "\n").map(String.init))
        // Each smaps counter line is "Name:" padded to 16 columns, the value in 8, then " kB".
        for line in smaps.split(separator: "\n") where line.hasSuffix(" kB") {
            #expect(line.utf8.count == 27, "\(line)")
        }
    }

    @Test func limitsMatchHost() throws {
        let host = try HostProc.text("/proc/self/limits")
        var snapshot = Procfs.Snapshot(tasks: [Procfs.TaskInfo(pid: getpid(), tgid: getpid())])
        snapshot.limits = HostProc.limits(host)
        #expect(snapshot.limits.count == 16)
        let ours = try withProcfs { try $0.read("proc/self/limits", snapshot) }
        #expect(ours == host)
    }

    @Test func mountinfoMatchesHost() throws {
        let host = try HostProc.text("/proc/self/mountinfo")
        var snapshot = Procfs.Snapshot(tasks: [Procfs.TaskInfo(pid: getpid(), tgid: getpid())])
        snapshot.mounts = HostProc.mounts(host)
        let (ours, mounts) = try withProcfs { h in
            (try h.read("proc/self/mountinfo", snapshot), try h.read("proc/self/mounts", snapshot))
        }
        #expect(ours == HostProc.withoutOptionalFields(host))
        // /proc/mounts from the same entries: "source mountpoint type options 0 0".
        #expect(mounts == (try HostProc.text("/proc/self/mounts")))
    }

    @Test func fdDirectoryMatchesHost() throws {
        let file = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/self/exe"))
        defer { try? file.close() }
        let n = file.fileDescriptor
        _ = lseek(n, 123, SEEK_SET)
        let fdDir = "/proc/self/fd"
        let hostNames = try FileManager.default.contentsOfDirectory(atPath: fdDir).compactMap { Int32($0) }.sorted()
        var snapshot = Procfs.Snapshot(tasks: [Procfs.TaskInfo(pid: getpid(), tgid: getpid())])
        for fd in hostNames {
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "\(fdDir)/\(fd)"),
                  let info = try? HostProc.text("/proc/self/fdinfo/\(fd)") else { continue }
            let fields = Dictionary(HostProc.statusFields(info).map { ($0.0, $0.1) }, uniquingKeysWith: { a, _ in a })
            snapshot.fds.append(Procfs.FDEntry(fd: fd, target: target, flags: UInt32(fields["flags"]!, radix: 8)!,
                                               position: UInt64(fields["pos"]!)!, mountID: UInt32(fields["mnt_id"]!)!,
                                               inode: UInt64(fields["ino"]!)!))
        }
        let hostInfo = try HostProc.text("/proc/self/fdinfo/\(n)")
        try withProcfs { h in
            let listing = try h.client.list("proc/self/fd", pid: getpid(), tid: getpid(), snapshot: snapshot)
            #expect(listing.map(\.name) == snapshot.fds.map { String($0.fd) })
            #expect(listing.allSatisfy { $0.type == 10 })
            #expect(try h.client.read("proc/self/fd/\(n)", pid: getpid(), tid: getpid(), snapshot: snapshot) ==
                    .link(try FileManager.default.destinationOfSymbolicLink(atPath: "\(fdDir)/\(n)")))
            let info = try h.read("proc/self/fdinfo/\(n)", snapshot)
            #expect(info == hostInfo.split(separator: "\n").prefix(4).joined(separator: "\n") + "\n")
            #expect(info.hasPrefix("pos:\t123\n"))
        }
    }

    @Test func cmdlineEnvironAndCommMatchHost() throws {
        var t = HostProc.task(fromStatus: try HostProc.text("/proc/self/status"))
        t.cmdline = try HostProc.bytes("/proc/self/cmdline")
        t.environ = try HostProc.bytes("/proc/self/environ")
        t.auxv = try HostProc.bytes("/proc/self/auxv")
        let snapshot = Procfs.Snapshot(tasks: [t])
        try withProcfs { h in
            for name in ["cmdline", "environ", "auxv"] {
                let ours = try h.client.read("proc/self/" + name, pid: getpid(), tid: getpid(), snapshot: snapshot)
                #expect(ours == .content(try HostProc.bytes("/proc/self/" + name)), "\(name)")
            }
            #expect(try h.read("proc/self/comm", snapshot) == (try HostProc.text("/proc/self/comm")))
        }
    }

    @Test func systemFilesMatchHost() throws {
        var snapshot = Procfs.Snapshot()
        // uptime: "%lu.%02lu %lu.%02lu" from the same values.
        let uptime = try HostProc.text("/proc/uptime")
        let u = uptime.split(whereSeparator: { $0 == " " || $0 == "\n" }).map { String($0) }
        func centis(_ s: String) -> UInt64 { UInt64(s.replacingOccurrences(of: ".", with: ""))! * 10_000_000 }
        snapshot.uptimeNanos = centis(u[0]); snapshot.idleNanos = centis(u[1])
        // loadavg: the three loads back to fixed point.
        let load = try HostProc.text("/proc/loadavg").split(separator: " ").map(String.init)
        snapshot.loadAverage = (0..<3).map { UInt32(centis(load[$0]) / 10_000_000 * 65536 / 100) }
        snapshot.lastPID = Int32(load[4].trimmingCharacters(in: .whitespacesAndNewlines))!
        // /proc/stat's cpu lines and counters.
        let stat = try HostProc.text("/proc/stat")
        let cpuLines = stat.split(separator: "\n").filter { $0.hasPrefix("cpu") }
        snapshot.cpuCount = UInt32(cpuLines.count - 1)
        snapshot.cpuTimes = cpuLines.map { line in
            let v = line.split(separator: " ").dropFirst().map { UInt64($0)! }
            return Procfs.CPUTimes(user: v[0], nice: v[1], system: v[2], idle: v[3], iowait: v[4], irq: v[5], softirq: v[6], steal: v[7])
        }
        func counter(_ name: String) -> UInt64 {
            UInt64(stat.split(separator: "\n").first { $0.hasPrefix(name + " ") }!.split(separator: " ")[1])!
        }
        snapshot.bootTimeSeconds = counter("btime"); snapshot.contextSwitches = counter("ctxt")
        snapshot.processesCreated = counter("processes")
        let meminfo = try HostProc.text("/proc/meminfo")
        let mem = Dictionary(HostProc.statusFields(meminfo).map { ($0.0, HostProc.kb($0.1.trimmingCharacters(in: .whitespaces))) },
                             uniquingKeysWith: { a, _ in a })
        snapshot.memTotalKB = mem["MemTotal"]!; snapshot.memFreeKB = mem["MemFree"]!
        snapshot.memAvailableKB = mem["MemAvailable"]!; snapshot.buffersKB = mem["Buffers"]!
        snapshot.cachedKB = mem["Cached"]!; snapshot.swapTotalKB = mem["SwapTotal"]!; snapshot.swapFreeKB = mem["SwapFree"]!
        try withProcfs { h in
            #expect(try h.read("proc/uptime", snapshot) == uptime)
            let ourLoad = try h.read("proc/loadavg", snapshot).split(separator: " ").map(String.init)
            #expect(Array(ourLoad[0..<3]) == Array(load[0..<3]))
            #expect(ourLoad[4] == load[4])
            let ourStat = try h.read("proc/stat", snapshot)
            let ourCPU = ourStat.split(separator: "\n").filter { $0.hasPrefix("cpu") }
            #expect(ourCPU == cpuLines)
            for name in ["btime", "ctxt", "processes"] {
                #expect(ourStat.contains("\n\(name) \(counter(name))\n"), "\(name)")
            }
            // meminfo: every line in the host's format, names in the host's order, carried values equal.
            let ours = try h.read("proc/meminfo", snapshot)
            let hostNames = HostProc.statusFields(meminfo).map(\.0)
            let ourNames = HostProc.statusFields(ours).map(\.0)
            #expect(ourNames.filter { hostNames.contains($0) } == ourNames, "meminfo names unknown to the host")
            #expect(hostNames.filter { ourNames.contains($0) } == ourNames, "meminfo order differs")
            let hostLines = Set(meminfo.split(separator: "\n").map(String.init))
            for name in ["MemTotal", "MemFree", "MemAvailable", "Buffers", "Cached", "SwapTotal", "SwapFree"] {
                let line = ours.split(separator: "\n").first { $0.hasPrefix(name + ":") }.map(String.init) ?? ""
                #expect(hostLines.contains(line), "meminfo \(name): \(line)")
            }
            // /sys CPU lists in the kernel's "0-N" form.
            #expect(try h.read("sys/devices/system/cpu/online", snapshot) == (try HostProc.text("/sys/devices/system/cpu/online")))
            #expect(try h.read("sys/devices/system/cpu/possible", snapshot).hasPrefix("0"))
            let version = try h.read("proc/version", snapshot)
            #expect(version.hasPrefix("Linux version ") && version.hasSuffix("\n"))
        }
    }
}
