// Event objects and timers are released with their last reference (session 9): event_lifetime.c,
// run natively and in the sandbox, closes armed timerfds (also in an epoll set), lets processes with
// armed interval and POSIX timers exit or exec, and churns eventfd/epoll/signalfd/inotify. Outputs
// must match, and the Sentry's debug log must report no live event object and no armed timer at
// init's exit (a timerfd retained itself through its timer's closure before).
import Foundation
import Testing
import TestSupport

@Suite("Sentry event object lifetimes")
struct EventLifetimeTests {
    @Test func closedTimersAndEventObjectsAreReleased() throws {
        let exe = try Sentry.compile("event_lifetime")
        let native = try Sentry.native([exe])
        #expect(native.exitCode == 0)
        var env = ProcessInfo.processInfo.environment
        env["BULWARK_SENTRY_DEBUG"] = "1"
        let sandboxed = try ProcessRunner.run(Sentry.binary, ["run", "--rootfs", "/", "--env", "PATH=/usr/bin:/bin", "--", exe],
                                              environment: env, timeout: 60)
        #expect(!sandboxed.timedOut)
        #expect(sandboxed.stdout == native.stdout, "sandbox\n\(sandboxed.stdout)\nnative\n\(native.stdout)")
        #expect(sandboxed.exitCode == native.exitCode)
        let line = sandboxed.stderr.split(separator: "\n").first { $0.contains("live objects at init's exit") }
        #expect(line?.hasSuffix("timerfd 0, eventfd 0, epoll 0, signalfd 0, inotify 0, armed timers 0") == true,
                "\(line.map(String.init) ?? "no live-objects line"); log tail:\n\(sandboxed.stderr.suffix(1500))")
    }
}
