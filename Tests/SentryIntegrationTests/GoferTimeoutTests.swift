// --gofer-timeout: how long the Sentry waits for a gofer reply. A reply delayed (fault injection
// in the gofer) past the timeout makes the call EIO (the gofer counts as dead) without waiting for
// it; within the timeout (or the 10 s default) the call succeeds. Bad values are refused.
import Foundation
import Testing
import TestSupport

@Suite("Sentry gofer timeout")
struct GoferTimeoutTests {
    /// `stat -f /` through the gofer (--overlay2 none: StatFS is a gofer call) with its reply held 3 s.
    func statfsWithDelayedReply(_ extra: [String]) throws -> (ProcessResult, Double) {
        let start = Date()
        let r = try Sentry.run(["/bin/busybox", "stat", "-f", "-c", "%t", "/"],
                               extra: ["--overlay2", "none", "--fault", "channel=gofer,message=StatFS,action=delay,ms=3000"] + extra,
                               timeout: 30)
        return (r, Date().timeIntervalSince(start))
    }

    @Test func shortTimeoutGivesEIOWithoutWaitingForTheReply() throws {
        // Timed inside the sandbox: the gofer, still sleeping on the held reply, keeps the test's
        // stderr pipe open after the Sentry has exited.
        let script = "s=$(busybox date +%s); busybox stat -f -c %t / || echo failed; echo $(( $(busybox date +%s) - s ))"
        let r = try Sentry.run(["/bin/busybox", "sh", "-c", script],
                               extra: ["--overlay2", "none", "--gofer-timeout", "0.5",
                                       "--fault", "channel=gofer,message=StatFS,action=delay,ms=3000"], timeout: 30)
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.first == "failed", "\(r)")
        #expect(r.stderr.contains("Input/output error"), "\(r)")
        #expect((Int(lines.last ?? "") ?? 99) <= 2, "\(r)")
    }

    @Test func longerTimeoutAndTheDefaultWaitForTheReply() throws {
        let native = try Sentry.native(["/bin/busybox", "stat", "-f", "-c", "%t", "/"])
        for extra in [["--gofer-timeout", "6"], []] {
            let (r, elapsed) = try statfsWithDelayedReply(extra)
            #expect(r.exitCode == 0, "\(extra): \(r)")
            #expect(r.stdout == native.stdout)
            #expect(elapsed >= 3)
        }
    }

    @Test func badValuesAreRefused() throws {
        for bad in ["0", "-1", "abc", "100000"] {
            let r = try Sentry.run(["/bin/true"], extra: ["--gofer-timeout", bad])
            #expect(r.exitCode == 2, "\(bad): \(r)")
            #expect(r.stderr.contains("--gofer-timeout needs seconds"))
        }
    }
}
