// /proc and /sys inside the sandbox, end to end: the real bulwark-sentry spawns the real bulwark-procfs,
// and unmodified tools (procps, busybox, python3) read it. Every test checks that only the sandbox's
// own processes are visible, and formats are compared with the host's /proc where that makes sense.
import Foundation
import Glibc
import Testing
import TestSupport

@Suite("procfs in the Sentry", .serialized)
struct ProcfsSentryTests {
    static let env = ["PATH=/usr/bin:/bin"]

    /// Runs a busybox shell script in the sandbox and expects exit status 0.
    func sandbox(_ script: String, stdin: String = "") throws -> ProcessResult {
        let r = try Sentry.run(["/bin/busybox", "sh", "-c", script], env: Self.env, stdin: stdin, timeout: 30)
        #expect(!r.timedOut, "\(r)")
        #expect(r.exitCode == 0, "\(r)")
        return r
    }

    /// Lines of `ps`-like output after the header, split into columns.
    func rows(_ text: String) -> [[Substring]] {
        text.split(separator: "\n").dropFirst().map { $0.split(separator: " ", omittingEmptySubsequences: true) }
    }

    /// The host's own process names (comm) other than the ones the sandbox runs, to make sure none leaks.
    func hostOnlyNames(excluding sandboxNames: Set<String>) -> Set<String> {
        var names = Set<String>()
        for case let pid? in ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).map({ Int($0) }) {
            if let comm = try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8) {
                let c = comm.trimmingCharacters(in: .newlines)
                if !sandboxNames.contains(c) && c.count > 3 { names.insert(c) }
            }
        }
        return names
    }

    @Test func procpsPsAuxShowsExactlyTheSandboxProcesses() throws {
        let r = try sandbox("sleep 3 & /usr/bin/ps aux; kill $!")
        let native = try Sentry.native(["/usr/bin/ps", "aux"], env: Self.env)
        // Same columns as the host's ps prints for itself (widths follow each system's pid_max).
        func header(_ s: String) -> [Substring] { s.split(separator: "\n").first?.split(separator: " ") ?? [] }
        #expect(header(r.stdout) == header(native.stdout))
        let lines = rows(r.stdout)
        #expect(lines.map { $0[1] } == ["1", "2", "3"], "\(r.stdout)")
        #expect(lines.allSatisfy { $0.count >= 11 && $0[0] == "root" })
        let commands = lines.map { $0[10...].joined(separator: " ") }
        #expect(commands == ["/bin/busybox sh -c sleep 3 & /usr/bin/ps aux; kill $!", "sleep 3", "/usr/bin/ps aux"], "\(r.stdout)")
        for name in hostOnlyNames(excluding: ["sleep", "ps", "busybox", "sh"]) {
            #expect(!r.stdout.contains(name), "host process \(name) visible")
        }
    }

    @Test func procpsPsEfAndBusyboxPs() throws {
        let r = try sandbox("/usr/bin/ps -ef; busybox ps")
        #expect(r.stdout.contains("UID          PID    PPID  C STIME TTY          TIME CMD"), "\(r.stdout)")
        #expect(r.stdout.contains("/usr/bin/ps -ef"))
        #expect(r.stdout.contains("PID   USER     COMMAND"), "\(r.stdout)")
        #expect(r.stdout.contains("busybox ps"))
        // Only pids 1 (the shell), 2 (ps) and 3 (busybox ps) ever existed.
        for row in rows(r.stdout) where row.count > 1 {
            if let pid = Int(row[1]) ?? Int(row[0]) { #expect(pid >= 1 && pid <= 3, "\(row)") }
        }
    }

    @Test func topBatchFreeAndUptime() throws {
        let r = try sandbox("sleep 3 & /usr/bin/top -b -n 1; /usr/bin/free; /usr/bin/uptime; kill $!")
        #expect(r.stdout.contains("Tasks:   3 total"), "\(r.stdout)")
        let topRows = r.stdout.split(separator: "\n").filter { $0.contains(" root ") }
        #expect(topRows.count == 3, "\(r.stdout)")
        #expect(r.stdout.contains("load average:"))
        // free: Mem: total used free shared buff/cache available, consistent with each other.
        let mem = r.stdout.split(separator: "\n").first { $0.hasPrefix("Mem:") }.map { $0.split(separator: " ").dropFirst().compactMap { Int($0) } }
        let m = try #require(mem, "\(r.stdout)")
        #expect(m.count == 6 && m[0] > 0 && m[1] + m[2] <= m[0] && m[1] > 0, "\(m)")
        #expect(r.stdout.range(of: #"up \d+ min,  \d+ users?,  load average: \d+\.\d\d, \d+\.\d\d, \d+\.\d\d"#, options: .regularExpression) != nil, "\(r.stdout)")
    }

    @Test func pgrepAndPkillSeeAndSignalSandboxProcesses() throws {
        let r = try sandbox("sleep 5 & /usr/bin/pgrep -l sleep; /usr/bin/pgrep -f 'sleep 5'; /usr/bin/pkill -TERM sleep; wait $!; echo status $?; /usr/bin/pgrep sleep; echo none $?")
        // pgrep -f also matches the shell (pid 1), whose command line contains the pattern.
        #expect(r.stdout == "2 sleep\n1\n2\nstatus 143\nnone 1\n", "\(r.stdout)")
    }

    @Test func pythonCPUCountLoadAverageRusageAndMaps() throws {
        let script = """
        import os, resource
        print(os.cpu_count())
        print(len(os.getloadavg()))
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >= 0)
        maps = open('/proc/self/maps').read().splitlines()
        print(sum(1 for l in maps if l.endswith('[stack]')), sum(1 for l in maps if l.endswith('[vdso]')))
        print(any('libc.so.6' in l for l in maps), any('python3' in l for l in maps))
        """
        let r = try Sentry.run(["/usr/bin/python3", "-c", script], env: Self.env, timeout: 30)
        let native = try Sentry.native(["/usr/bin/python3", "-c", "import os; print(os.cpu_count())"], env: Self.env)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.stdout == native.stdout + "3\nTrue\n1 1\nTrue True\n", "\(r)")
    }

    @Test func mapsLinesHaveTheHostsFormat() throws {
        let r = try sandbox("cat /proc/self/maps")
        let native = try Sentry.native(["/bin/busybox", "cat", "/proc/self/maps"], env: Self.env)
        // "start-end perms offset major:minor inode", the path starting at column 74 when present.
        let pattern = #"^[0-9a-f]{8,16}-[0-9a-f]{8,16} [r-][w-][x-][ps] [0-9a-f]{8} [0-9a-f]{2}:[0-9a-f]{2} \d+ *( {1,}\S.*)?$"#
        for l in native.stdout.split(separator: "\n") { #expect(l.range(of: pattern, options: .regularExpression) != nil, "native \(l)") }
        for l in r.stdout.split(separator: "\n") { #expect(l.range(of: pattern, options: .regularExpression) != nil, "\(l)") }
        func pathColumn(_ s: String) -> Int? {
            s.split(separator: "\n").first { $0.hasSuffix("[stack]") }.map { $0.distance(from: $0.startIndex, to: $0.firstIndex(of: "[")!) }
        }
        #expect(pathColumn(r.stdout) != nil && pathColumn(r.stdout) == pathColumn(native.stdout))
        for name in ["[stack]", "[vdso]", "[vvar]", "/usr/bin/busybox"] {
            #expect(r.stdout.contains(name), "\(name) missing: \(r.stdout)")
        }
    }

    @Test func statusAndStatHaveTheHostsFields() throws {
        let r = try sandbox("cat /proc/self/status; echo ====; cat /proc/self/stat")
        let native = try Sentry.native(["/bin/busybox", "sh", "-c", "cat /proc/self/status; echo ====; cat /proc/self/stat"], env: Self.env)
        let parts = r.stdout.components(separatedBy: "====\n"), nparts = native.stdout.components(separatedBy: "====\n")
        try #require(parts.count == 2 && nparts.count == 2, "\(r)")
        func keys(_ s: String) -> [String] { s.split(separator: "\n").map { String($0.prefix { $0 != ":" }) } }
        let mine = keys(parts[0]), host = keys(nparts[0])
        // Every field we print exists on the host, in the host's order.
        #expect(mine.filter { !host.contains($0) } == [], "fields the host does not have")
        #expect(host.filter { mine.contains($0) } == mine, "order differs from the host")
        #expect(parts[0].contains("Name:\tcat\n"))
        #expect(parts[0].contains("Pid:\t2\n") && parts[0].contains("PPid:\t1\n"), "\(parts[0])")
        // stat: 52 fields after the comm, like the host's.
        func statFields(_ s: String) -> Int { s.split(separator: ")").last!.split(separator: " ").count + 2 }
        #expect(statFields(parts[1]) == statFields(nparts[1]), "\(parts[1]) vs \(nparts[1])")
        // The shell execs its last command: the second cat is pid 1.
        #expect(parts[1].hasPrefix("1 (cat) R 0 1 1 "), "\(parts[1])")
    }

    @Test func fdDirectoryExeLinkAndMountinfo() throws {
        let r = try sandbox("/usr/bin/ls -l /proc/self/fd; echo ===; readlink /proc/self/exe; /usr/bin/readlink /proc/self/exe; echo ===; cat /proc/self/mountinfo; echo ===; cat /proc/mounts", stdin: "")
        let sections = r.stdout.components(separatedBy: "===\n")
        try #require(sections.count == 4, "\(r)")
        // ls -l: one symlink line per descriptor 0, 1, 2.
        // Link modes follow the access mode and sizes are 64, as on Linux.
        let fdLines = sections[0].split(separator: "\n").filter { $0.hasPrefix("l") }
        #expect(fdLines.first?.hasPrefix("lr-x------ 1 root root 64 ") == true, "\(sections[0])")
        #expect(fdLines.count >= 3, "\(sections[0])")
        for fd in 0...2 { #expect(fdLines.contains { $0.contains(" \(fd) -> ") }, "fd \(fd): \(sections[0])") }
        // Listed when read, as on Linux: the directory's own descriptor is there too.
        #expect(fdLines.contains { $0.contains(" 3 -> /proc/") }, "\(sections[0])")
        // The link resolves like the host's (symlinks in the path resolved).
        let native = try Sentry.native(["/bin/busybox", "readlink", "/proc/self/exe"], env: Self.env)
        let nativeCoreutils = try Sentry.native(["/usr/bin/readlink", "/proc/self/exe"], env: Self.env)
        #expect(sections[1] == native.stdout + nativeCoreutils.stdout, "\(sections[1])")
        // mountinfo: "id parent major:minor root mountpoint options - fstype source superoptions".
        let mountLines = sections[2].split(separator: "\n")
        for l in mountLines {
            #expect(l.range(of: #"^\d+ \d+ \d+:\d+ / /\S* \S+ - \S+ \S+ \S+$"#, options: .regularExpression) != nil, "\(l)")
        }
        #expect(mountLines.contains { $0.contains(" / /proc ") && $0.contains(" - proc proc ") })
        #expect(mountLines.contains { $0.contains(" / /sys ") && $0.contains(" - sysfs sysfs ") })
        #expect(mountLines.contains { $0.contains(" / / ") })
        #expect(sections[3].contains("proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0"), "\(sections[3])")
    }

    @Test func writesToCommOomScoreAdjAndSysctlReachTheKernel() throws {
        let r = try sandbox("""
        echo renamed > /proc/self/comm; cat /proc/$$/comm /proc/self/comm; \
        echo 500 > /proc/self/oom_score_adj; cat /proc/self/oom_score_adj; \
        echo sandboxhost > /proc/sys/kernel/hostname; hostname; uname -n; \
        echo 1000 > /proc/sys/kernel/pid_max; cat /proc/sys/kernel/pid_max; \
        echo 5000 > /proc/self/oom_score_adj || echo rejected
        """)
        // The shell (builtin echo) renamed itself; cat's own comm is unchanged.
        #expect(r.stdout == "renamed\ncat\n500\nsandboxhost\nsandboxhost\n1000\nrejected\n", "\(r)")
        #expect(r.stderr.contains("Invalid argument"), "\(r.stderr)")
    }

    @Test func sysCpuTopologyMatchesTheCPUCount() throws {
        let r = try sandbox("cat /sys/devices/system/cpu/online; ls /sys/devices/system/cpu | grep -c '^cpu[0-9]'; nproc")
        let n = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        #expect(r.stdout == "0\(n > 1 ? "-\(n - 1)" : "")\n\(n)\n\(n)\n", "\(r)")
    }

    @Test func threadsAppearUnderTask() throws {
        let script = """
        import os, threading
        e = threading.Event()
        t = threading.Thread(target=e.wait); t.start()
        tids = sorted(int(x) for x in os.listdir('/proc/self/task'))
        print(len(tids), tids[0] == os.getpid(), open('/proc/self/status').read().count('Threads:\\t2'))
        print(open('/proc/%d/task/%d/stat' % (os.getpid(), tids[1])).read().split()[0] == str(tids[1]))
        e.set(); t.join()
        """
        let r = try Sentry.run(["/usr/bin/python3", "-c", script], env: Self.env, timeout: 30)
        #expect(r.stdout == "2 True 1\nTrue\n", "\(r)")
    }
}
