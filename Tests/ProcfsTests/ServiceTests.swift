// Behaviour of the running service: listings show only the snapshot's tasks, links, writes and their
// validation, errors as errno replies, malformed input, a killed server, the seccomp filter.
import Foundation
import Glibc
import HostOS
import IPC
import LinuxABI
import ProcfsServer
import Protocol
import Testing
import Wire

@Suite struct ProcfsServiceTests {
    /// Three processes (1, 5, 42) and a second thread (43) of 42.
    static var tasks: [Procfs.TaskInfo] {
        [Procfs.TaskInfo(pid: 1, tgid: 1, comm: "init", state: UInt8(ascii: "S")),
         Procfs.TaskInfo(pid: 5, tgid: 5, ppid: 1, comm: "sh", state: UInt8(ascii: "S")),
         Procfs.TaskInfo(pid: 42, tgid: 42, ppid: 5, comm: "worker", state: UInt8(ascii: "R"), threads: 2),
         Procfs.TaskInfo(pid: 43, tgid: 42, ppid: 5, comm: "worker", state: UInt8(ascii: "S"), threads: 2)]
    }

    func expectErrno(_ expected: Errno, _ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            try body()
            Issue.record("expected \(expected), got success", sourceLocation: sourceLocation)
        } catch {
            if case .errno(let e, _)? = error as? ProcfsClientError { #expect(e == expected, sourceLocation: sourceLocation) } else {
                Issue.record("expected \(expected), got \(error)", sourceLocation: sourceLocation)
            }
        }
    }

    @Test func listingShowsOnlySnapshotTasks() throws {
        let snapshot = Procfs.Snapshot(tasks: Self.tasks)
        try withProcfs { h in
            let root = try h.client.list("proc", pid: 42, tid: 43, snapshot: snapshot)
            let pids = root.filter { Int32($0.name) != nil }.map(\.name)
            #expect(pids == ["1", "5", "42"])    // the thread 43 is not a /proc entry, the host's pids never are
            #expect(!root.contains { $0.name == String(getpid()) })
            for name in ["self", "thread-self", "mounts"] { #expect(root.contains { $0.name == name && $0.type == 10 }) }
            for name in ["cpuinfo", "meminfo", "stat", "uptime", "loadavg", "version"] {
                #expect(root.contains { $0.name == name && $0.type == 8 })
            }
            #expect(Set(root.map(\.inode)).count == root.count)
            let threads = try h.client.list("proc/42/task", pid: 42, tid: 43, snapshot: snapshot)
            #expect(threads.map(\.name) == ["42", "43"])
            let perProcess = try h.client.list("proc/self", pid: 42, tid: 43, snapshot: snapshot).map(\.name)
            for name in ["status", "stat", "maps", "fd", "task", "ns", "limits", "mountinfo", "oom_score_adj"] {
                #expect(perProcess.contains(name))
            }
            #expect(!(try h.client.list("proc/42/task/43", pid: 42, tid: 43, snapshot: snapshot).map(\.name).contains("task")))
            #expect(try h.read("proc/thread-self/comm", snapshot, pid: 42, tid: 43) == "worker\n")
            #expect(try h.read("proc/42/task/43/status", snapshot, pid: 1).contains("\nPid:\t43\n"))
            #expect(try h.client.read("proc/self", pid: 42, tid: 43, snapshot: snapshot) == .link("42"))
            #expect(try h.client.read("proc/thread-self", pid: 42, tid: 43, snapshot: snapshot) == .link("42/task/43"))
            #expect(try h.client.read("proc/mounts", pid: 42, tid: 43, snapshot: snapshot) == .link("self/mounts"))
            #expect(try h.client.read("proc/1/ns/pid", pid: 42, tid: 43, snapshot: snapshot) == .link("pid:[4026531836]"))
            let sysctl = try h.client.list("proc/sys/kernel", pid: 1, tid: 1, snapshot: snapshot).map(\.name)
            #expect(sysctl.contains("hostname") && sysctl.contains("random") && sysctl.contains("yama"))
            var twoCPUs = snapshot
            twoCPUs.cpuCount = 2
            let cpu = try h.client.list("sys/devices/system/cpu", pid: 1, tid: 1, snapshot: twoCPUs)
            #expect(Set(cpu.map(\.name)).isSuperset(of: ["online", "possible", "present", "cpu0", "cpu1"]))
            #expect(cpu.first { $0.name == "cpu1" }?.type == 4)
            #expect(try h.read("sys/devices/system/cpu/present", twoCPUs) == "0-1\n")
            #expect(try h.read("proc/sys/fs/nr_open", twoCPUs) == "1048576\n")
            #expect(try h.read("sys/fs/cgroup/cgroup.procs", twoCPUs) == "1\n5\n42\n")
        }
    }

    @Test func errorsAreErrnoReplies() throws {
        let snapshot = Procfs.Snapshot(tasks: Self.tasks)
        try withProcfs { h in
            let c = h.client
            expectErrno(.ENOENT) { _ = try c.read("proc/7/status", pid: 1, tid: 1, snapshot: snapshot) }
            expectErrno(.ENOENT) { _ = try c.read("proc/1/nonexistent", pid: 1, tid: 1, snapshot: snapshot) }
            expectErrno(.ENOENT) { _ = try c.read("proc/42/task/5/stat", pid: 1, tid: 1, snapshot: snapshot) }
            expectErrno(.ENOENT) { _ = try c.read("proc/../etc/passwd", pid: 1, tid: 1, snapshot: snapshot) }
            expectErrno(.ENOENT) { _ = try c.list("proc/7", pid: 1, tid: 1, snapshot: snapshot) }
            expectErrno(.EISDIR) { _ = try c.read("proc/1", pid: 1, tid: 1, snapshot: snapshot) }
            expectErrno(.ENOTDIR) { _ = try c.list("proc/meminfo", pid: 1, tid: 1, snapshot: snapshot) }
            expectErrno(.ENOTDIR) { _ = try c.read("proc/1/status/x", pid: 1, tid: 1, snapshot: snapshot) }
            expectErrno(.EACCES) { _ = try c.write("proc/1/status", data: Array("x".utf8), pid: 1, tid: 1, snapshot: snapshot) }
            expectErrno(.EACCES) { _ = try c.write("proc/sys/kernel/osrelease", data: Array("9".utf8), pid: 1, tid: 1, snapshot: snapshot) }
            expectErrno(.ENOENT) { _ = try c.write("proc/9/comm", data: Array("x".utf8), pid: 1, tid: 1, snapshot: snapshot) }
            expectErrno(.EINVAL) { _ = try c.write("proc/self/oom_score_adj", data: Array("2000\n".utf8), pid: 5, tid: 5, snapshot: snapshot) }
            expectErrno(.EINVAL) { _ = try c.write("proc/sys/vm/overcommit_memory", data: Array("abc".utf8), pid: 5, tid: 5, snapshot: snapshot) }
            // Still serving after all of that.
            let comm = try h.read("proc/5/comm", snapshot)
            #expect(comm == "sh\n")
        }
    }

    @Test func writesAreValidatedAndNormalised() throws {
        let snapshot = Procfs.Snapshot(tasks: Self.tasks)
        try withProcfs { h in
            let c = h.client
            let comm = try c.write("proc/self/comm", data: Array("a-very-long-command-name\n".utf8), pid: 42, tid: 42, snapshot: snapshot)
            #expect(comm == Procfs.WriteResult(key: "comm", targetPID: 42, value: "a-very-long-com"))
            let threadComm = try c.write("proc/42/task/43/comm", data: Array("io".utf8), pid: 1, tid: 1, snapshot: snapshot)
            #expect(threadComm == Procfs.WriteResult(key: "comm", targetPID: 43, value: "io"))
            let adj = try c.write("proc/5/oom_score_adj", data: Array(" -500\n".utf8), pid: 1, tid: 1, snapshot: snapshot)
            #expect(adj == Procfs.WriteResult(key: "oom_score_adj", targetPID: 5, value: "-500"))
            let host = try c.write("proc/sys/kernel/hostname", data: Array("sandbox\n".utf8), pid: 1, tid: 1, snapshot: snapshot)
            #expect(host == Procfs.WriteResult(key: "kernel/hostname", targetPID: 0, value: "sandbox"))
            // The Sentry stores the value and sends it back in later snapshots.
            var next = snapshot
            next.hostname = host.value
            next.tunables = [Procfs.Tunable(name: "vm/max_map_count", value: "1000")]
            next.tasks[2].oomScoreAdj = -500
            #expect(try h.read("proc/sys/kernel/hostname", next) == "sandbox\n")
            #expect(try h.read("proc/sys/vm/max_map_count", next) == "1000\n")
            #expect(try h.read("proc/sys/vm/overcommit_memory", next) == "0\n")
            #expect(try h.read("proc/42/oom_score_adj", next) == "-500\n")
            // random/uuid is fresh on each read and shaped like Linux's.
            let a = try h.read("proc/sys/kernel/random/uuid", next)
            let b = try h.read("proc/sys/kernel/random/uuid", next)
            #expect(a != b)
            #expect(a.utf8.count == 37 && a.split(separator: "-").map(\.count) == [8, 4, 4, 4, 13])
            #expect(a.dropFirst(14).first == "4")
        }
    }

    @Test func malformedRequestGetsAnErrorReplyNotACrash() throws {
        try withProcfs { h in
            let garbage: [UInt8] = [200, 0, 0, 0, 255, 255, 255, 255, 9, 9, 9, 9]
            do {
                _ = try h.client.channel.call(Procfs.ReadFile.messageID, body: garbage, timeout: .seconds(2))
                Issue.record("garbage body was accepted")
            } catch let error as IPCError {
                guard case .remote(let errno, _) = error else { Issue.record("expected an error reply, got \(error)"); return }
                #expect(errno == .EINVAL)
            }
            // A snapshot whose task list points outside the body.
            var w = MessageWriter()
            try w.encode(Procfs.ReadFile(path: "proc/1/status", callerPID: 1, callerTID: 1,
                                         snapshot: Procfs.Snapshot(tasks: Self.tasks)), requestID: 1, flags: [])
            var body = Array(w.body)
            for i in stride(from: body.count - 40, to: body.count, by: 4) { body[i] = 0xff }
            do {
                _ = try h.client.channel.call(Procfs.ReadFile.messageID, body: body, timeout: .seconds(2))
            } catch let error as IPCError {
                guard case .remote = error else { Issue.record("expected an error reply, got \(error)"); return }
            }
            #expect(try h.read("proc/1/comm", Procfs.Snapshot(tasks: Self.tasks)) == "init\n")
        }
    }

    @Test func killedServerGivesACleanTransportErrorWithinTheTimeout() throws {
        let h = try ProcfsHarness(timeout: .seconds(2))
        defer { h.stop() }
        let snapshot = Procfs.Snapshot(tasks: Self.tasks)
        #expect(try h.read("proc/1/comm", snapshot) == "init\n")
        kill(h.pid, SIGKILL)
        let start = DispatchTime.now().uptimeNanoseconds
        do throws(ProcfsClientError) {
            _ = try h.client.read("proc/1/status", pid: 1, tid: 1, snapshot: snapshot)
            Issue.record("read succeeded after the server was killed")
        } catch {
            guard case .transport = error else { Issue.record("expected a transport error, got \(error)"); return }
            #expect(error.guestErrno == .EIO)
        }
        #expect(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 < 2.5)
    }

    /// The server dies while a request is outstanding (stopped first, so the request is surely in flight).
    @Test func serverKilledDuringARequestEndsItCleanly() throws {
        let h = try ProcfsHarness(timeout: .seconds(3))
        defer { h.stop() }
        let snapshot = Procfs.Snapshot(tasks: Self.tasks)
        #expect(try h.read("proc/1/comm", snapshot) == "init\n")
        kill(h.pid, SIGSTOP)
        let serverPID = h.pid
        let killer = Thread { usleep(100_000); kill(serverPID, SIGKILL) }
        let start = DispatchTime.now().uptimeNanoseconds
        killer.start()
        do throws(ProcfsClientError) {
            _ = try h.client.read("proc/1/status", pid: 1, tid: 1, snapshot: snapshot)
            Issue.record("read succeeded although the server was killed")
        } catch {
            guard case .transport = error else { Issue.record("expected a transport error, got \(error)"); return }
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        #expect(seconds >= 0.09 && seconds < 2.5, "\(seconds) s")
    }

    /// A stalled server (stopped, never answers) costs the caller the client's timeout, then EIO.
    @Test func stalledServerTimesOut() throws {
        let h = try ProcfsHarness(timeout: .milliseconds(300))
        defer { kill(h.pid, SIGKILL); h.stop() }
        let snapshot = Procfs.Snapshot(tasks: Self.tasks)
        #expect(try h.read("proc/1/comm", snapshot) == "init\n")
        kill(h.pid, SIGSTOP)
        let start = DispatchTime.now().uptimeNanoseconds
        do throws(ProcfsClientError) {
            _ = try h.client.read("proc/1/status", pid: 1, tid: 1, snapshot: snapshot)
            Issue.record("read succeeded although the server is stopped")
        } catch {
            #expect(error.guestErrno == .EIO)
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        #expect(seconds >= 0.25 && seconds < 2, "\(seconds) s")
    }

    @Test func serverRunsUnderSeccompWithNoExtraSyscalls() throws {
        #expect(ProcfsService.policyRules.isEmpty)
        try withProcfs { h in
            _ = try h.read("proc/uptime", Procfs.Snapshot())   // serving: the filter is installed by now
            let status = try HostProc.text("/proc/\(h.pid)/status")
            #expect(status.contains("\nSeccomp:\t2\n"))
            #expect(status.contains("\nCapEff:\t0000000000000000\n"))
        }
    }

    /// A figure for the report: round trips of /proc/self/status with a one-task snapshot.
    @Test func statusRoundTripCost() throws {
        let snapshot = Procfs.Snapshot(tasks: [HostProc.task(fromStatus: try HostProc.text("/proc/self/status"))])
        try withProcfs { h in
            _ = try h.read("proc/self/status", snapshot)
            let n = 2000
            let start = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<n { _ = try h.client.read("proc/self/status", pid: getpid(), tid: getpid(), snapshot: snapshot) }
            let micros = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e3 / Double(n)
            let pingStart = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<n { _ = try h.client.channel.call(0xFFFF, body: [1, 2, 3], timeout: .seconds(2)) }
            let ping = Double(DispatchTime.now().uptimeNanoseconds - pingStart) / 1e3 / Double(n)
            print("procfs: proc/self/status round trip \(micros) us, ping \(ping) us")
            #expect(micros < 5000)
        }
    }
}
