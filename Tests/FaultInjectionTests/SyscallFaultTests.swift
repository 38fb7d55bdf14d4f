// Syscall faults applied by the real bulwark-sentry (`run --fault syscall=...`) to real guests: python3
// opening /etc/hostname (issue 8's Done-when check) and a C program (Tests/Programs/faultio.c) for short
// transfers and latency. Expected values come from native runs or from the library's own decision.
import FaultInjection
import Foundation
import LinuxABI
import TestSupport
import Testing

enum SentryGuest {
    static var sentry: String { TestPaths.executable("bulwark-sentry") }
    static let scratch: URL = { try! TestPaths.makeScratchDirectory("bulwark-fault-guests") }()
    nonisolated(unsafe) static var compiled: [String: String] = [:]
    static let lock = NSLock()

    static func compile(_ name: String) throws -> String {
        lock.lock()
        defer { lock.unlock() }
        if let path = compiled[name] { return path }
        let path = try GuestPrograms.compile(name, into: scratch)
        compiled[name] = path
        return path
    }

    /// Runs `argv` under the Sentry with rootfs "/" and the given --fault specs.
    static func run(_ argv: [String], faults: [String], strace: Bool = false, timeout: Double = 60) throws -> ProcessResult {
        var args = ["run", "--rootfs", "/", "--env", "PATH=/usr/bin:/bin", "--env", "LANG=C.UTF-8"]
        if strace { args.append("--strace") }
        for f in faults { args += ["--fault", f] }
        return try ProcessRunner.run(sentry, args + ["--"] + argv, timeout: timeout)
    }
}

let hasPython = FileManager.default.isExecutableFile(atPath: "/usr/bin/python3")
    && FileManager.default.fileExists(atPath: "/etc/hostname")

@Suite struct SyscallFaultTests {
    /// Opens /etc/hostname nine times and prints ok or the errno name of each attempt.
    static let opener = """
    import errno
    out = []
    for i in range(9):
        try:
            with open('/etc/hostname') as f:
                f.read()
            out.append('ok')
        except OSError as e:
            out.append(errno.errorcode[e.errno])
    print(' '.join(out))
    """

    @Test(.enabled(if: hasPython))
    func pythonEveryThirdOpenOfHostnameFailsWithEIOAndStartUpIsUntouched() throws {
        let spec = "syscall=openat,path=/etc/hostname,errno=EIO,every=3"
        let r = try SentryGuest.run(["/usr/bin/python3", "-c", Self.opener], faults: [spec], strace: true)
        #expect(!r.timedOut)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.stdout == "ok ok EIO ok ok EIO ok ok EIO\n", "\(r)")
        // Exactly three injections, logged and marked in --strace; every other openat ran normally.
        let logLines = r.stderr.split(separator: "\n").filter { $0.hasPrefix("bulwark-sentry: fault: ") }
        #expect(logLines == [3, 6, 9].map { "bulwark-sentry: fault: openat \"/etc/hostname\" -> EIO (rule 1, call #\($0))" })
        let straceOpenat = r.stderr.split(separator: "\n").filter { $0.contains("] openat(") }
        let injected = straceOpenat.filter { $0.hasSuffix("= -1 EIO (injected EIO)") }
        #expect(injected.count == 3)
        #expect(injected.allSatisfy { $0.contains("\"/etc/hostname\"") })
        #expect(straceOpenat.count > 9, "python's start-up opens appear in the trace too")
        #expect(straceOpenat.filter { $0.contains("injected") }.count == 3)
    }

    @Test(.enabled(if: hasPython))
    func seededProbabilisticSpecGivesTheSameFailuresOnEveryRunAndMatchesThePlan() throws {
        let spec = "syscall=openat,path=/etc/hostname,errno=ENOSPC,probability=0.5,seed=11"
        let first = try SentryGuest.run(["/usr/bin/python3", "-c", Self.opener], faults: [spec])
        let second = try SentryGuest.run(["/usr/bin/python3", "-c", Self.opener], faults: [spec])
        #expect(first.exitCode == 0 && second.exitCode == 0, "\(first)\n\(second)")
        #expect(first.stdout == second.stdout)
        // The library decides the same sequence in-process: the Sentry applied exactly that.
        let plan = try SyscallFaultPlan(specs: [spec])
        let predicted = (0..<9).map { _ in
            plan.decide(syscall: SyscallNumber(name: "openat")!, path: "/etc/hostname") == nil ? "ok" : "ENOSPC"
        }
        #expect(first.stdout == predicted.joined(separator: " ") + "\n")
        #expect(predicted.contains("ok") && predicted.contains("ENOSPC"), "seed 11 should mix both outcomes")
    }

    @Test func shortReadsAndWritesAndLatencyOnACProgram() throws {
        let program = try SentryGuest.compile("faultio")
        let clean = try SentryGuest.run([program], faults: [])
        let native = try ProcessRunner.run(program, timeout: 20)
        #expect(clean.exitCode == 0, "\(clean)")
        #expect(clean.stdout == native.stdout)
        #expect(clean.stdout == "pipe-write 32\npipe-read 32\nfile-write 32\nfile-preadv 32\nfile-pread 32\ngetppid-slow no\n")

        let faulty = try SentryGuest.run([program], faults: [
            "syscall=read,fd-type=pipe,action=short,bytes=5",
            "syscall=write,fd-type=file,action=short,bytes=20,nth=1",
            "syscall=preadv,action=short,bytes=7",
            "syscall=getppid,action=delay,ms=200",
        ], strace: true)
        #expect(faulty.exitCode == 0, "\(faulty)")
        // The pipe write is not a file write (fd-type filter); the file holds 20 bytes after the short write.
        #expect(faulty.stdout == "pipe-write 32\npipe-read 5\nfile-write 20\nfile-preadv 7\nfile-pread 20\ngetppid-slow yes\n")
        #expect(faulty.stderr.contains("bulwark-sentry: fault: read fd 3 (pipe) shortened to at most 5 bytes -> 5 (rule 1, call #1)"))
        #expect(faulty.stderr.contains("bulwark-sentry: fault: getppid delayed 200ms (rule 4, call #1)"))
        #expect(faulty.stderr.split(separator: "\n").contains { $0.contains("] getppid(") && $0.hasSuffix("(injected delay 200ms)") })
        #expect(faulty.stderr.contains("(injected short, at most 5 bytes)"))
    }

    @Test func badSpecsAreUsageErrorsNamingTheProblem() throws {
        let cases: [(String, String)] = [
            ("syscall=getpid,path=/x,errno=EIO", "'path' does not apply to getpid"),
            ("syscall=openat,fd-type=pipe,errno=EIO", "'fd-type' does not apply to openat"),
            ("syscall=getpid,action=short,bytes=1", "action 'short' applies only to read"),
            ("syscall=nosuchcall,errno=EIO", "not an x86-64 Linux syscall name"),
            ("syscall=read,errno=EWHAT", "not a Linux errno name"),
        ]
        for (spec, message) in cases {
            let r = try SentryGuest.run(["/bin/true"], faults: [spec], timeout: 20)
            #expect(r.exitCode == 2, "\(spec): \(r)")
            #expect(r.stderr.contains(message), "\(spec): \(r.stderr)")
        }
    }
}
