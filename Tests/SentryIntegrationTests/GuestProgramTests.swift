// C guest programs from Tests/Programs, run natively and under the Sentry, outputs compared.
import Foundation
import Testing
import TestSupport

@Suite("Sentry runs guest C programs")
struct GuestProgramTests {
    func compare(_ name: String, args: [String] = [], file: String = #filePath) throws {
        let exe = try Sentry.compile(name)
        let native = try Sentry.native([exe] + args)
        let sandboxed = try Sentry.run([exe] + args)
        #expect(!sandboxed.timedOut, "\(name) timed out")
        #expect(sandboxed.stdout == native.stdout, "\(name): sandbox\n\(sandboxed)\nnative\n\(native)")
        #expect(sandboxed.exitCode == native.exitCode)
    }

    @Test func badPointersGiveEFAULT() throws {
        try compare("efault")
        let exe = try Sentry.compile("efault")
        let r = try Sentry.run([exe])
        #expect(r.stdout.contains("write(1, (void*)1, 10): r=-1 errno=Bad address"))
        #expect(r.stdout.contains("still alive"))
    }
}

@Suite("Sentry kernel areas, compared with native runs")
struct KernelAreaTests {
    func compare(_ name: String) throws {
        let exe = try Sentry.compile(name)
        let native = try Sentry.native([exe])
        let sandboxed = try Sentry.run([exe])
        #expect(!sandboxed.timedOut, "\(name) timed out")
        #expect(native.exitCode == 0)
        #expect(sandboxed.stdout == native.stdout, "\(name): sandbox\n\(sandboxed)\nnative\n\(native)")
        #expect(sandboxed.exitCode == native.exitCode)
    }

    @Test func threadsAndFutexes() throws { try compare("threads") }
    @Test func signalsHandlersSigreturnAltstackRestart() throws { try compare("signals") }
    @Test func memoryMmapMprotectSegvHandler() throws { try compare("memory") }
    @Test func forkExecWait() throws { try compare("forkexec") }
    @Test func pollEpollEventfdTimerfdTimers() throws { try compare("events") }
    @Test func execAndExitFromThreads() throws { try compare("threadexec") }
    @Test func signalDrivenIOWithOwnersAndSetsig() throws { try compare("asyncio") }
    /// Many tasks blocked at once (pipe readers, futex waiters, poll/epoll waiters, blocked writers):
    /// each event wakes the right one, none is lost (targeted wake-ups, WaitQueue.swift).
    @Test func blockedTasksAreWokenOneByOne() throws { try compare("wakeups") }
}

@Suite("Sentry maps Bulwark's vDSO")
struct VDSOMappingTests {
    @Test func clocksRunWithoutTrapping() throws {
        let exe = try Sentry.compile("vdso")
        let native = try Sentry.native([exe])
        let sandboxed = try Sentry.run([exe], extra: ["--strace"])
        #expect(!sandboxed.timedOut)
        #expect(sandboxed.stdout == native.stdout, "\(sandboxed)")
        // 100000 clock_gettime calls, none of them reached the Sentry.
        #expect(!sandboxed.stderr.contains("clock_gettime("))
        #expect(!sandboxed.stderr.contains("gettimeofday("))
    }
}
