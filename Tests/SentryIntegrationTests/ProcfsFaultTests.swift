// bulwark-procfs failing under a running sandbox: killed, or stopped (hung). The read in flight fails
// with EIO after a short timeout, the sandbox keeps running, and the Sentry starts a new server on the
// next access. Also: a channel made by the launcher (--procfs-fd) is used instead of spawning.
import Foundation
import Glibc
import Testing
import TestSupport

/// A sandbox running in the background whose stdout is read line by line and whose stdin we feed.
final class LiveSandbox {
    let process = Process()
    private let input = Pipe(), output = Pipe(), errors = Pipe()
    private var buffer: [UInt8] = []

    init(_ executable: String, _ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.runForTest()
    }

    /// The next stdout line, waiting at most `seconds`.
    func line(within seconds: Double = 20) -> String? {
        let deadline = Date().addingTimeInterval(seconds)
        let fd = output.fileHandleForReading.fileDescriptor
        while true {
            if let nl = buffer.firstIndex(of: 10) {
                let l = String(decoding: buffer[..<nl], as: UTF8.self)
                buffer.removeSubrange(...nl)
                return l
            }
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { return nil }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, Int32(left * 1000) + 1) <= 0 { continue }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = read(fd, &chunk, chunk.count)
            if n <= 0 { return nil }
            buffer += chunk[0..<n]
        }
    }

    func send(_ text: String) { input.fileHandleForWriting.write(text.data(using: .utf8)!) }

    /// Children of the sandbox process named bulwark-procfs (host pids).
    func procfsServers() -> [pid_t] {
        let me = process.processIdentifier
        var out: [pid_t] = []
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = pid_t(name), let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { continue }
            guard let close = stat.lastIndex(of: ")") else { continue }
            let comm = stat[stat.index(after: stat.firstIndex(of: "(")!)..<close]
            let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
            if comm == "bulwark-procfs" && fields.count > 1 && pid_t(fields[1]) == me { out.append(pid) }
        }
        return out
    }

    /// Waits for exit (killing after `seconds`); returns stderr.
    func finish(within seconds: Double = 20) -> (status: Int32, stderr: String) {
        input.fileHandleForWriting.closeFile()
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { process.stopForTest() }
        let err = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return (process.terminationStatus, err)
    }
}

@Suite("procfs server failures under a running sandbox", .serialized)
struct ProcfsFaultTests {
    static let script = """
    head -1 /proc/self/status; echo ready; read x; \
    head -1 /proc/self/status; echo rc=$?; head -1 /proc/self/status; echo rc=$?; echo ready; read x; \
    head -1 /proc/self/status; echo rc=$?; head -1 /proc/self/status; echo rc=$?; echo done
    """

    @Test func killedOrStalledServerGivesEIOAndIsRestarted() throws {
        let s = try LiveSandbox(Sentry.binary, ["run", "--rootfs", "/", "--env", "PATH=/usr/bin:/bin", "--",
                                                "/bin/busybox", "sh", "-c", Self.script])
        #expect(s.line() == "Name:\thead")
        #expect(s.line() == "ready")
        let first = s.procfsServers()
        #expect(first.count == 1, "the Sentry started one server: \(first)")
        for p in first { kill(p, SIGKILL) }
        s.send("go\n")
        // The read after the kill fails with EIO; the next one gets a new server.
        #expect(s.line() == "rc=1")
        #expect(s.line() == "Name:\thead")
        #expect(s.line() == "rc=0")
        #expect(s.line() == "ready")
        let second = s.procfsServers()
        #expect(second.count == 1 && second != first, "\(first) then \(second)")
        // A hung server: the read times out (about 1.5 s) with EIO, then a new server answers.
        for p in second { kill(p, SIGSTOP) }
        let start = Date()
        s.send("go\n")
        #expect(s.line() == "rc=1")
        let stalled = Date().timeIntervalSince(start)
        #expect(stalled > 1.0 && stalled < 5.0, "timeout took \(stalled) s")
        #expect(s.line() == "Name:\thead")
        #expect(s.line() == "rc=0")
        #expect(s.line() == "done")
        let (status, stderr) = s.finish()
        #expect(status == 0)
        #expect(stderr.components(separatedBy: "Input/output error").count == 3, "\(stderr)")
        for p in second { kill(p, SIGKILL) }   // already killed by the Sentry; harmless if so
        let third = s.procfsServers()
        #expect(third.isEmpty || !s.process.isRunning)
    }

    @Test func launcherChannelIsUsedInsteadOfSpawning() throws {
        // python3 stands in for the launcher: it makes the socketpair, starts bulwark-procfs on one end
        // and execs the Sentry with --procfs-fd on the other.
        let launcher = """
        import os, socket, subprocess, sys
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        subprocess.Popen([sys.argv[1], '--channel-fd', str(b.fileno())], pass_fds=[b.fileno()])
        b.close()
        os.set_inheritable(a.fileno(), True)
        os.execv(sys.argv[2], [sys.argv[2], 'run', '--rootfs', '/', '--procfs-fd', str(a.fileno()), '--',
                 '/bin/busybox', 'sh', '-c', 'head -1 /proc/self/status; echo ready; read x; head -1 /proc/1/stat | cut -d" " -f1-3'])
        """
        let s = try LiveSandbox("/usr/bin/python3", ["-c", launcher, TestPaths.executable("bulwark-procfs"), Sentry.binary])
        #expect(s.line() == "Name:\thead")
        #expect(s.line() == "ready")
        // Only the launcher's server exists: the Sentry did not start its own.
        #expect(s.procfsServers().count == 1)
        s.send("go\n")
        // The shell is waiting for head (S), or has not reached wait4 yet (R).
        let stat = s.line()
        #expect(stat == "1 (busybox) S" || stat == "1 (busybox) R", "\(stat ?? "nil")")
        let (status, stderr) = s.finish()
        #expect(status == 0, "\(stderr)")
    }

    @Test func statusReadCostIsMeasured() throws {
        let prog = try Sentry.compile("procstatus")
        let native = try ProcessRunner.run(prog, ["2000"], timeout: 60)
        let sandboxed = try Sentry.run([prog, "300"], env: ["PATH=/usr/bin:/bin"], timeout: 60)
        #expect(native.exitCode == 0 && sandboxed.exitCode == 0, "\(sandboxed)")
        #expect(sandboxed.stdout.contains("/proc/self/status "), "\(sandboxed)")
        print("cost of open+read+close /proc/self/status: native \(native.stdout) sandbox \(sandboxed.stdout)")
    }
}
