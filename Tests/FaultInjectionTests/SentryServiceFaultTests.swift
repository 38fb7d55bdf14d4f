// Faults in the gofer the Sentry itself spawns (`bulwark-sentry run --fault channel=gofer,...`), under a
// python workload that writes and fsyncs one journal file per record in a bind mount served by the
// gofer: killed, corrupt reply, delayed past the Sentry's gofer timeout (10 s). Each case: the program
// sees EIO at the failing record (not a hang, not a crash), records synced before are intact on the
// host, the Sentry exits by itself within its deadline, no gofer process is left, and the log names
// the failed service.
import Foundation
import Glibc
import TestSupport
import Testing

@Suite(.serialized) struct SentryGoferFaultTests {
    static let workload = """
    import os, time
    n = 0
    try:
        for i in range(1, 11):
            t0 = time.time()
            with open('/data/journal-%d' % i, 'w') as f:
                f.write('record %d\\n' % i)
                f.flush()
                os.fsync(f.fileno())
            n = i
        print('all', n)
    except OSError as e:
        print('failed after', n, os.strerror(e.errno))
    print('elapsed %.1f' % (time.time() - t0))
    """

    /// Runs the workload with `fault`; returns the result and the scratch directory (removed by the caller).
    func run(_ fault: String?, timeout: Double = 40) throws -> (ProcessResult, String) {
        let data = try TestPaths.makeScratchDirectory("bulwark-gofer-workload").path
        var args = ["run", "--rootfs", "/", "--mount", "\(data):/data", "--env", "PATH=/usr/bin:/bin"]
        if let fault { args += ["--fault", fault] }
        let r = try ProcessRunner.run(SentryGuest.sentry, args + ["--", "/usr/bin/python3", "-c", Self.workload], timeout: timeout)
        return (r, data)
    }

    /// The workload's first line (its outcome) and how long its last record (the failing one) took, by
    /// its own clock: a bound on the failing call alone does not move with the records before it.
    func outcome(_ r: ProcessResult) -> (String, Double) {
        let lines = r.stdout.split(separator: "\n").map(String.init)
        let elapsed = lines.last.flatMap { $0.hasPrefix("elapsed ") ? Double($0.dropFirst(8)) : nil } ?? -1
        return (lines.first ?? "", elapsed)
    }

    /// Records 1...n are on the host, each intact.
    func intact(_ data: String, _ n: Int) -> Bool {
        (1...n).allSatisfy { (try? String(contentsOfFile: "\(data)/journal-\($0)", encoding: .utf8)) == "record \($0)\n" }
    }

    /// No live process mentions `data` on its command line (the gofer is started with --mount DATA:/data).
    func noProcessUses(_ data: String) -> Bool {
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            let live = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).filter { name in
                guard let pid = pid_t(name), pid != getpid(),
                      let cmd = try? String(contentsOfFile: "/proc/\(name)/cmdline", encoding: .utf8) else { return false }
                return cmd.contains(data) && processIsLive(pid)
            }
            if live.isEmpty { return true }
            usleep(20_000)
        }
        return false
    }

    @Test(.enabled(if: hasPython)) func withoutFaultsEveryRecordIsWritten() throws {
        let (r, data) = try run(nil)
        defer { try? FileManager.default.removeItem(atPath: data) }
        #expect(outcome(r).0 == "all 10", "\(r)")
        #expect(intact(data, 10))
    }

    @Test(.enabled(if: hasPython)) func killedGoferGivesEIOAndSyncedRecordsAreOnTheHost() throws {
        let (r, data) = try run("channel=gofer,message=Create,action=kill-peer,nth=3")
        defer { try? FileManager.default.removeItem(atPath: data) }
        #expect(!r.timedOut)
        #expect(outcome(r).0 == "failed after 3 Input/output error", "\(r)")
        #expect(intact(data, 3))
        #expect(r.stderr.contains("bulwark-gofer: fault: kill-peer on Create #3"))
        #expect(r.stderr.contains("bulwark-sentry: service gofer (bulwark-gofer) failed"))
        #expect(noProcessUses(data))
    }

    @Test(.enabled(if: hasPython)) func corruptGoferReplyGivesEIO() throws {
        let (r, data) = try run("channel=gofer,message=Create,action=corrupt,bytes=4,nth=3,seed=5")
        defer { try? FileManager.default.removeItem(atPath: data) }
        #expect(!r.timedOut)
        #expect(outcome(r).0 == "failed after 2 Input/output error", "\(r)")
        #expect(intact(data, 2))
        #expect(r.stderr.contains("bulwark-sentry: service gofer (bulwark-gofer) failed"))
        #expect(noProcessUses(data))
    }

    @Test(.enabled(if: hasPython)) func goferDelayedPastTheSentrysTimeoutGivesEIOAtTheDeadline() throws {
        let (r, data) = try run("channel=gofer,message=Create,action=delay,ms=15000,nth=3")
        defer { try? FileManager.default.removeItem(atPath: data) }
        let seconds = outcome(r).1
        #expect(!r.timedOut)
        #expect(outcome(r).0 == "failed after 2 Input/output error", "\(r)")
        #expect(seconds >= 9 && seconds < 14, "the Sentry's gofer timeout is 10 s; record 3 must not wait for the 15 s delay: \(seconds)")
        #expect(intact(data, 2))
        #expect(r.stderr.contains("bulwark-sentry: service gofer (bulwark-gofer) failed"))
    }
}
