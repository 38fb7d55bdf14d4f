// Faults in the procfs server the Sentry spawns (`bulwark-sentry run --fault channel=procfs,...`) under a
// python loop reading /proc/uptime: killed, corrupt reply, delayed past the Sentry's procfs timeout. The
// read that meets the fault fails with EIO (no hang), the Sentry restarts its server on the next access
// (so later reads work again), the log names procfs, and no server is left behind.
import Foundation
import Glibc
import TestSupport
import Testing

@Suite(.serialized) struct SentryProcfsFaultTests {
    static let workload = """
    import errno, time
    out = []
    t0 = time.time()
    for i in range(9):
        try:
            with open('/proc/uptime') as f:
                f.read()
            out.append('ok')
        except OSError as e:
            out.append(errno.errorcode[e.errno])
    print(' '.join(out))
    print('elapsed %.1f' % (time.time() - t0))
    """

    func run(_ fault: String) throws -> (outcome: String, elapsed: Double, result: ProcessResult) {
        let r = try ProcessRunner.run(SentryGuest.sentry, ["run", "--rootfs", "/", "--env", "PATH=/usr/bin:/bin", "--fault", fault,
                                                           "--", "/usr/bin/python3", "-c", Self.workload], timeout: 60)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        let elapsed = lines.last.flatMap { $0.hasPrefix("elapsed ") ? Double($0.dropFirst(8)) : nil } ?? -1
        return (lines.first ?? "", elapsed, r)
    }

    @Test(.enabled(if: hasPython)) func killedProcfsGivesOneEIOThenTheRestartedServerAnswers() throws {
        let (outcome, _, r) = try run("channel=procfs,message=ReadFile,action=kill-peer,nth=3")
        #expect(!r.timedOut)
        #expect(outcome == "ok ok ok EIO ok ok ok EIO ok", "\(r)")
        #expect(r.stderr.contains("bulwark-procfs: fault: kill-peer on ReadFile #3"))
        #expect(r.stderr.contains("procfs server failed"))
    }

    @Test(.enabled(if: hasPython)) func corruptProcfsReplyGivesEIO() throws {
        let (outcome, _, r) = try run("channel=procfs,message=ReadFile,action=corrupt,bytes=4,nth=2,seed=1")
        #expect(!r.timedOut)
        #expect(outcome == "ok EIO ok EIO ok EIO ok EIO ok", "\(r)")
        #expect(r.stderr.contains("procfs server failed"))
    }

    @Test(.enabled(if: hasPython)) func procfsDelayedPastTheTimeoutGivesEIOInBoundedTime() throws {
        let (outcome, elapsed, r) = try run("channel=procfs,message=ReadFile,action=delay,ms=20000,nth=2")
        #expect(!r.timedOut)
        #expect(outcome.hasPrefix("ok EIO"), "\(r)")
        #expect(elapsed >= 0 && elapsed < 15, "\(elapsed)")
        #expect(r.stderr.contains("procfs server failed"))
    }
}
