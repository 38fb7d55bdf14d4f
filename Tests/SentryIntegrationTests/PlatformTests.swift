// The two platforms (ptrace, systrap): the guest programs run under systrap as under native Linux,
// registers and FP state survive trapped calls, busy loops are interruptible, the stub's trusted code
// page gives no way to the host, and a stub killed from outside ends the sandbox instead of hanging it.
// BULWARK_PLATFORM=systrap runs every other Sentry test on systrap too.
import Foundation
import Testing
import TestSupport

@Suite("Sentry platforms: ptrace and systrap")
struct PlatformTests {
    static let systrap = ["--platform", "systrap"]

    @Test(arguments: ["threads", "signals", "memory", "forkexec", "events", "threadexec", "efault", "platform", "wakeups"])
    func guestProgramsUnderSystrapMatchNative(_ name: String) throws {
        let exe = try Sentry.compile(name)
        let native = try Sentry.native([exe])
        let sandboxed = try Sentry.run([exe], extra: Self.systrap)
        #expect(!sandboxed.timedOut, "\(name) timed out")
        #expect(sandboxed.stdout == native.stdout, "\(name): sandbox\n\(sandboxed)\nnative\n\(native)")
        #expect(sandboxed.exitCode == native.exitCode)
    }

    /// Both systrap hand-off modes, pinned with BULWARK_SYSTRAP_HANDOFF instead of left to the adaptive
    /// policy: "split" (stub on the other CPU, both sides spin; a blocked task parks its stub and wakes it
    /// early when woken, BULWARK_SYSTRAP_EARLY_WAKE=1) and "same" (one CPU, futex hand-offs). Blocking, waking, threads, signals and
    /// register state behave as natively in each. (On a one-CPU machine both runs are "same".)
    @Test(arguments: ["split", "same"])
    func bothHandOffModesMatchNative(_ mode: String) throws {
        var env = ProcessInfo.processInfo.environment
        env["BULWARK_SYSTRAP_HANDOFF"] = mode
        env["BULWARK_SYSTRAP_EARLY_WAKE"] = "1"   // the parked stub's early wake-up too (off by default)
        for name in ["wakeups", "threads", "signals", "platform"] {
            _ = try Self.expectSystrapMatchesNative(name, environment: env, timeout: 20, label: "\(name) (\(mode))")
        }
    }

    /// The blocking-path knobs of session 9 (off by default), with split pinned: a task about to sleep
    /// spins on its wake word first (BULWARK_SYSTRAP_BLOCK_SPIN_US; on the socket arena's generation
    /// without announcing sleep, so the netstack skips its FUTEX_WAKE), and the round trip after a
    /// park sleeps at once instead of spinning (BULWARK_SYSTRAP_PARKED_SPIN_US=0). No wake-up may be
    /// lost: pipes, futexes, signals and timeouts (wakeups, threads, signals) and inet readiness
    /// sleeps (inet_wakeups: epoll, poll, blocking reads, 2000 request/response round trips) behave
    /// as natively.
    @Test func blockingPathSpinKnobsKeepEveryWakeUp() throws {
        let env = try Self.expectBlockingProgramsMatchNative(
            ["BULWARK_SYSTRAP_BLOCK_SPIN_US": "30", "BULWARK_SYSTRAP_PARKED_SPIN_US": "0"], label: "block spin")
        try Self.expectInetWakeupsMatchNative("basic", environment: env, label: "block spin")
    }

    /// Preemption-aware spinning (session 11): a spin that was descheduled sleeps at once, the stub
    /// with stub_sleeping = 2. With a 1 us threshold every interrupt or preemption during a spin takes
    /// that path (and the early wake of a parked stub runs too): no wake-up may be lost.
    @Test func preemptedSpinsKeepEveryWakeUp() throws {
        _ = try Self.expectBlockingProgramsMatchNative(
            ["BULWARK_SYSTRAP_PREEMPT_US": "1", "BULWARK_SYSTRAP_EARLY_WAKE": "1"], label: "preempt 1 us")
    }

    /// A netstack doorbell due after a system call is held while the application's next call comes
    /// quickly (BULWARK_SYSTRAP_KICK_HOLD_US, session 12), never past its deadline: in inet_wakeups'
    /// busypoll mode neither side ever blocks (non-blocking reads and getppid() between them), so only
    /// the deadline can send the doorbell out; basic mode's epoll, blocking reads and 2000 round trips
    /// must lose nothing either. Split pinned; the default hold (20 us) and the longest (1000 us).
    @Test(arguments: ["20", "1000"])
    func heldDoorbellsStillGoOut(_ hold: String) throws {
        var env = ProcessInfo.processInfo.environment
        env["BULWARK_SYSTRAP_HANDOFF"] = "split"
        env["BULWARK_SYSTRAP_KICK_HOLD_US"] = hold
        for mode in ["busypoll", "basic"] {
            try Self.expectInetWakeupsMatchNative(mode, environment: env, label: "hold \(hold) us")
        }
    }

    /// Runs inet_wakeups in `mode` natively and under systrap with `environment`: the native run
    /// finishes ("done"), and the sandboxed one finishes in time (a lost wake-up or doorbell hangs
    /// it) with the same stdout and exit code 0.
    static func expectInetWakeupsMatchNative(_ mode: String, environment: [String: String], label: String) throws {
        let exe = try Sentry.compile("inet_wakeups")
        let native = try Sentry.native([exe, mode], timeout: 30)
        let sandboxed = try ProcessRunner.run(Sentry.binary, ["run", "--rootfs", "/", "--platform", "systrap",
                                                              "--env", "PATH=/usr/bin:/bin", "--", exe, mode],
                                              environment: environment, timeout: 60)
        #expect(!sandboxed.timedOut, "\(mode), \(label): a lost wake-up or doorbell hangs the program: \(sandboxed)")
        #expect(native.exitCode == 0 && native.stdout.hasSuffix("done\n"), "\(native)")
        #expect(sandboxed.stdout == native.stdout, "\(mode), \(label): sandbox\n\(sandboxed)\nnative\n\(native)")
        #expect(sandboxed.exitCode == 0)
    }

    /// The wakeups, threads and signals programs under split systrap with the hand-off `knobs` set
    /// behave as natively; returns the environment used.
    static func expectBlockingProgramsMatchNative(_ knobs: [String: String], label: String) throws -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["BULWARK_SYSTRAP_HANDOFF"] = "split"
        for (k, v) in knobs { env[k] = v }
        for name in ["wakeups", "threads", "signals"] {
            _ = try expectSystrapMatchesNative(name, environment: env, timeout: 30, label: "\(name) (\(label))")
        }
        return env
    }

    /// Runs guest program `name` natively and under systrap with `environment`, expects the same stdout
    /// and exit code, and returns the sandboxed run (for checks of its log).
    static func expectSystrapMatchesNative(_ name: String, environment: [String: String], timeout: Double,
                                           label: String) throws -> ProcessResult {
        let exe = try Sentry.compile(name)
        let native = try Sentry.native([exe])
        let sandboxed = try ProcessRunner.run(Sentry.binary, ["run", "--rootfs", "/", "--platform", "systrap",
                                                              "--env", "PATH=/usr/bin:/bin", "--", exe],
                                              environment: environment, timeout: timeout)
        #expect(!sandboxed.timedOut, "\(label) timed out")
        #expect(sandboxed.stdout == native.stdout, "\(label): sandbox\n\(sandboxed)\nnative\n\(native)")
        #expect(sandboxed.exitCode == native.exitCode)
        return sandboxed
    }

    /// Syscall patching (on by default; set explicitly here): hot `mov $nr,%eax; syscall` sites, and
    /// glibc's `read` form `xor %eax,%eax; syscall` through nearby padding, are rewritten to enter the
    /// stub directly. syscall_patch.c checks results, a leaf's red zone, registers (callee-saved,
    /// arguments, SSE/AVX, flags), threads racing a patch, a signal handler after a patched call,
    /// restarted and interrupted reads through both forms, fork and exec; the other programs (signals,
    /// threads, the busy loop's timer kick...) run patched too. The Sentry's debug log must show that
    /// sites of both forms were patched.
    @Test(arguments: ["syscall_patch", "signals", "threads", "platform", "forkexec", "threadexec", "wakeups", "memory", "events"])
    func patchedSyscallSitesMatchNative(_ name: String) throws {
        var env = ProcessInfo.processInfo.environment
        env["BULWARK_SYSTRAP_PATCH"] = "1"
        env["BULWARK_SENTRY_DEBUG"] = "1"
        let sandboxed = try Self.expectSystrapMatchesNative(name, environment: env, timeout: 30, label: name)
        if name == "syscall_patch" {
            let patched = sandboxed.stderr.components(separatedBy: "syscall patch: site").count - 1
            let xorForm = sandboxed.stderr.components(separatedBy: "(xor form)").count - 1
            #expect(patched >= 5 && xorForm >= 1, "patched \(patched), xor form \(xorForm); log:\n\(sandboxed.stderr.suffix(2000))")
        }
    }

    /// /proc/self/mem shows the program's own bytes at patched sites (session 9): patched_text.c
    /// calls glibc's getpid and read until the sandbox patches them, then compares its code read
    /// through /proc/self/mem with the library file's bytes (stdout matches native), and libc's
    /// /proc/self/maps lines; a write through /proc/self/mem to read's read-only code (forced, as on
    /// Linux) puts the file's bytes back and read still works; a forced write to read-only data
    /// shows; after mprotect makes getpid's page writable, plain loads show the file's bytes too (the page got them back),
    /// a write through /proc/self/mem works and getpid still works. stderr must show that plain loads
    /// did see rewritten bytes before (the sites were patched, so the overlay was exercised).
    @Test func patchedSitesReadAsTheProgramsOwnBytes() throws {
        var env = ProcessInfo.processInfo.environment
        env["BULWARK_SYSTRAP_PATCH"] = "1"
        let sandboxed = try Self.expectSystrapMatchesNative("patched_text", environment: env, timeout: 30, label: "patched_text")
        func differing(_ what: String) -> Int? {
            guard let line = sandboxed.stderr.split(separator: "\n").first(where: { $0.hasPrefix("\(what): plain loads differ") }),
                  let n = line.split(separator: " ").dropLast().last else { return nil }
            return Int(n)
        }
        #expect((differing("getpid") ?? 0) > 0, "getpid's site was not patched: \(sandboxed.stderr)")
        #expect((differing("read") ?? 0) > 0, "read's site was not patched: \(sandboxed.stderr)")
        #expect(differing("getpid again") == 0, "\(sandboxed.stderr)")
    }

    @Test(arguments: ["ptrace", "systrap"])
    func registersSurviveAndBusyLoopsAreInterrupted(_ platform: String) throws {
        let exe = try Sentry.compile("platform")
        let native = try Sentry.native([exe])
        let sandboxed = try Sentry.run([exe], extra: ["--platform", platform])
        #expect(!sandboxed.timedOut)
        #expect(native.stdout.contains("ticks 1"))
        #expect(sandboxed.stdout == native.stdout, "\(sandboxed)")
        #expect(sandboxed.exitCode == 0)
    }

    /// Stubs are reused across processes (StubPool.recycle): many fork+exec cycles work, and a forked
    /// child sees neither the FPU control state nor the mappings a previous process left in its stub.
    @Test(arguments: ["ptrace", "systrap"])
    func reusedStubsCarryNothingOver(_ platform: String) throws {
        let exe = try Sentry.compile("stubreuse")
        let native = try Sentry.native([exe])
        let sandboxed = try Sentry.run([exe], extra: ["--platform", platform])
        #expect(!sandboxed.timedOut)
        #expect(native.stdout.contains("fork+exec 40 of 40"))
        #expect(native.stdout.contains("probe unmapped"))
        #expect(sandboxed.stdout == native.stdout, "\(sandboxed)")
        #expect(sandboxed.exitCode == 0)
    }

    @Test(arguments: ["ptrace", "systrap"])
    func jumpingIntoTheStubCodeNeverReachesTheHost(_ platform: String) throws {
        let exe = try Sentry.compile("platform")
        let r = try Sentry.run([exe, "trampoline"], extra: ["--platform", platform])
        #expect(!r.timedOut)
        // ptrace emulates the call, then the stub's int3 kills the program (SIGTRAP); systrap's filter
        // refuses getpid from the stub page and the stub dies (SIGKILL). Either way nothing is printed.
        let expected: Int32 = platform == "ptrace" ? 128 + 5 : 128 + 9
        #expect(r.exitCode == expected, "\(r)")
        #expect(r.stdout.contains("ticks 1"))
        #expect(!r.stdout.contains("trampoline getpid"))
    }

    @Test func aStubKilledFromOutsideEndsTheSandbox() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Sentry.binary)
        // A busy loop: the task thread is waiting on the stub's mailbox (not blocked in a Sentry call).
        p.arguments = ["run", "--rootfs", "/", "--platform", "systrap", "--", "/bin/sh", "-c", "while :; do :; done"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.runForTest()
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() } }
        // Find the Sentry's systrap stubs (children under a seccomp filter) and kill them.
        var killed = 0
        let deadline = Date().addingTimeInterval(10)
        Thread.sleep(forTimeInterval: 1)
        while killed == 0 && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.2)
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(p.processIdentifier)/task")) ?? []
            for t in tasks {
                let children = (try? String(contentsOfFile: "/proc/\(p.processIdentifier)/task/\(t)/children", encoding: .utf8)) ?? ""
                for c in children.split(separator: " ").compactMap({ Int32($0) }) {
                    let status = (try? String(contentsOfFile: "/proc/\(c)/status", encoding: .utf8)) ?? ""
                    if status.contains("Seccomp:\t2") { kill(c, SIGKILL); killed += 1 }
                }
            }
        }
        #expect(killed > 0)
        let end = Date().addingTimeInterval(10)
        while p.isRunning && Date() < end { Thread.sleep(forTimeInterval: 0.05) }
        #expect(!p.isRunning, "the Sentry kept running after its stub died")
        if !p.isRunning { #expect(p.terminationStatus == 128 + 9) }
    }

    @Test func unknownPlatformIsAUsageError() throws {
        let r = try ProcessRunner.run(Sentry.binary, ["run", "--rootfs", "/", "--platform", "kvm", "--", "/bin/true"], timeout: 10)
        #expect(r.exitCode == 2)
        #expect(r.stderr.contains("--platform needs ptrace or systrap"))
    }
}
