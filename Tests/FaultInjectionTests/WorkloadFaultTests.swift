// Workloads against real services while each is killed, delayed past the caller's timeout, or fed
// corrupt replies (issue 8's suite). Today the Sentry talks to no service yet, so the workloads drive
// the services through their own clients the way the Sentry will: a python-like "write a record, fsync
// it" loop through the gofer, and a loop reading /proc files through procfs. Each case asserts a clean
// error in bounded time, that the service process is gone afterwards (no hang, reaped), that data synced
// before the fault is intact on the host, and that the service's log names the fault.
import FaultInjection
import Foundation
import Glibc
import GoferServer
import HostOS
import IPC
import Protocol
import ProcfsServer
import TestSupport
import Testing

/// A gofer serving a fresh scratch root, with --fault specs, and a GoferClient. Its timeout is generous
/// unless a case is about the timeout: a real fsync on a loaded host can take longer than a short one.
final class GoferUnderFault {
    let root: String
    let service: FaultyService
    let client: GoferClient

    init(faults: [String], timeout: Duration = .seconds(5)) throws {
        root = try TestPaths.makeScratchDirectory("bulwark-gofer-faults").path
        service = try FaultyService("bulwark-gofer", arguments: ["--root", root], faults: faults)
        client = GoferClient(service.channel, timeout: timeout)
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    static func record(_ i: Int) -> String { "record \(i): " + String(repeating: "x", count: i % 7) + "\n" }

    /// The python-like workload: `f.write(record); os.fsync(f)` for records 1...count through a descriptor
    /// donated by the gofer, stopping at the first failed fsync.
    struct Outcome {
        var synced = 0
        var failure: IPCError?
        var failureSeconds = 0.0
    }

    func writeAndFsync(records count: Int, file: String = "journal", client: GoferClient? = nil) throws -> Outcome {
        let client = client ?? self.client
        let rootNode = try client.attach()
        let (node, fd) = try client.create(rootNode.fid, file, flags: O_RDWR, mode: 0o644)
        defer { _ = Glibc.close(fd) }
        var outcome = Outcome()
        for i in 1...count {
            let bytes = Array(Self.record(i).utf8)
            guard bytes.withUnsafeBytes({ Glibc.write(fd, $0.baseAddress, $0.count) }) == bytes.count else {
                throw FaultTestFailure("short write to the donated descriptor")
            }
            let (result, seconds) = timed { Result { () throws(IPCError) in try client.fsync(node.fid) } }
            if case .failure(let error) = result {
                outcome.failure = error
                outcome.failureSeconds = seconds
                break
            }
            outcome.synced = i
        }
        return outcome
    }

    /// The host file starts with every record that was synced, intact.
    func syncedDataIsIntact(_ synced: Int, file: String = "journal") -> Bool {
        guard let text = try? String(contentsOfFile: root + "/" + file, encoding: .utf8) else { return false }
        return text.hasPrefix((1...max(synced, 1)).prefix(synced).map(Self.record).joined())
    }
}

/// A procfs service with --fault specs and a ProcfsClient (a generous timeout unless a case is about it).
final class ProcfsUnderFault {
    let service: FaultyService
    let client: ProcfsClient

    init(faults: [String], timeout: Duration = .seconds(5)) throws {
        service = try FaultyService("bulwark-procfs", faults: faults)
        client = ProcfsClient(channel: service.channel, timeout: timeout)
    }

    /// The "cat /proc/... in a loop" workload: reads until the first failure.
    func readLoop(_ count: Int, client: ProcfsClient? = nil) -> (reads: Int, failure: ProcfsClientError?, seconds: Double) {
        let client = client ?? self.client
        let paths = ["proc/uptime", "proc/meminfo", "proc/loadavg", "proc/version"]
        for i in 0..<count {
            let (result, seconds) = timed {
                Result { () throws(ProcfsClientError) in
                    try client.read(paths[i % paths.count], pid: 1, tid: 1, snapshot: Procfs.Snapshot())
                }
            }
            if case .failure(let error) = result { return (i, error, seconds) }
        }
        return (count, nil, 0)
    }
}

func isConnectionLoss(_ error: IPCError?) -> Bool {
    switch error {
    case .peerClosed?, .peerDied?, .closed?: return true
    default: return false
    }
}

@Suite(.serialized) struct GoferWorkloadFaultTests {
    @Test func killedGoferFailsTheNextFsyncCleanlyAndSyncedRecordsAreOnTheHost() throws {
        let gofer = try GoferUnderFault(faults: ["channel=gofer,message=Fsync,action=kill-peer,nth=3"])
        let outcome = try gofer.writeAndFsync(records: 10)
        #expect(outcome.synced == 3)
        #expect(isConnectionLoss(outcome.failure), "\(String(describing: outcome.failure))")
        #expect(outcome.failureSeconds < 2)
        #expect(gofer.syncedDataIsIntact(3))
        let status = try #require(gofer.service.waitExit(seconds: 5))
        #expect(status & 0x7f == SIGKILL)
        #expect(gofer.service.stderr.contains("bulwark-gofer: fault: kill-peer on Fsync #3\n"))
        // Every later call fails at once; nothing waits on the dead service.
        let (later, seconds) = timed { Result { () throws(IPCError) in try gofer.client.attach() } }
        #expect(seconds < 1)
        if case .success = later { Issue.record("a call on a dead gofer succeeded") }
    }

    @Test func goferDelayedPastTheTimeoutTimesOutAndTheWorkloadCanGoOn() throws {
        // The timeout is half the delay, long enough for the undelayed first fsync on a loaded host.
        let gofer = try GoferUnderFault(faults: ["channel=gofer,message=Fsync,action=delay,ms=3000,nth=2"],
                                        timeout: .milliseconds(1500))
        let outcome = try gofer.writeAndFsync(records: 5)
        #expect(outcome.synced == 1)
        #expect(outcome.failure == .timeout)
        #expect(outcome.failureSeconds >= 1.4 && outcome.failureSeconds < 3, "at the deadline, not after the delay: \(outcome.failureSeconds)")
        #expect(gofer.syncedDataIsIntact(1))
        // The late reply is discarded; a patient retry (the gofer serves one request at a time, so it
        // answers once its delay is over) succeeds.
        let patient = GoferClient(gofer.service.channel, timeout: .seconds(5))
        let retry = try gofer.writeAndFsync(records: 3, file: "journal2", client: patient)
        #expect(retry.synced == 3 && retry.failure == nil)
        #expect(gofer.syncedDataIsIntact(3, file: "journal2"))
        gofer.service.channel.close()
        #expect(exitedNormally(gofer.service.waitExit(seconds: 6), code: 0))
        #expect(gofer.service.stderr.contains("bulwark-gofer: fault: delay 3000ms on Fsync #2\n"))
    }

    @Test func corruptGoferReplyIsMalformedTheChannelClosesAndTheGoferExits() throws {
        let gofer = try GoferUnderFault(faults: ["channel=gofer,message=Fsync,action=corrupt,bytes=4,nth=4,seed=3"])
        let outcome = try gofer.writeAndFsync(records: 8)
        #expect(outcome.synced == 3)
        guard case .malformed? = outcome.failure else {
            Issue.record("expected malformed, got \(String(describing: outcome.failure))")
            return
        }
        #expect(outcome.failureSeconds < 1)
        #expect(gofer.service.channel.isClosed)
        #expect(gofer.syncedDataIsIntact(3))
        // The client hung up on the corrupt peer: the gofer sees end of file and exits by itself.
        #expect(exitedNormally(gofer.service.waitExit(seconds: 5), code: 0))
        #expect(gofer.service.stderr.contains("bulwark-gofer: fault: corrupt 4 bytes at offset 0 on Fsync #4\n"))
    }
}

@Suite(.serialized) struct ProcfsWorkloadFaultTests {
    @Test func killedProcfsGivesEIOAtOnce() throws {
        let procfs = try ProcfsUnderFault(faults: ["channel=procfs,message=ReadFile,action=kill-peer,nth=5"])
        let run = procfs.readLoop(20)
        #expect(run.reads == 5)
        #expect(run.failure?.guestErrno == .EIO, "\(String(describing: run.failure))")
        #expect(run.seconds < 2)
        let status = try #require(procfs.service.waitExit(seconds: 5))
        #expect(status & 0x7f == SIGKILL)
        #expect(procfs.service.stderr.contains("bulwark-procfs: fault: kill-peer on ReadFile #5\n"))
    }

    @Test func procfsDelayedPastTheTimeoutGivesEIOAtTheDeadline() throws {
        // The timeout is a third of the delay, long enough for the undelayed reads on a loaded host.
        let procfs = try ProcfsUnderFault(faults: ["channel=procfs,message=ReadFile,action=delay,ms=3000,nth=3"],
                                          timeout: .seconds(1))
        let run = procfs.readLoop(10)
        #expect(run.reads == 2)
        #expect(run.failure?.guestErrno == .EIO)
        #expect(run.seconds >= 0.9 && run.seconds < 3, "at the deadline, not after the delay: \(run.seconds)")
        // The service is still there and serves the next read once its delay is over.
        let next = procfs.readLoop(3, client: ProcfsClient(channel: procfs.service.channel, timeout: .seconds(5)))
        #expect(next.reads == 3)
        procfs.service.channel.close()
        #expect(exitedNormally(procfs.service.waitExit(seconds: 6), code: 0))
    }

    @Test func corruptProcfsReplyGivesEIOAndTheServiceExits() throws {
        let procfs = try ProcfsUnderFault(faults: ["channel=procfs,action=corrupt,bytes=2,offset=0,every=4,seed=9"])
        let run = procfs.readLoop(10)
        #expect(run.reads == 3)
        #expect(run.failure?.guestErrno == .EIO)
        #expect(run.seconds < 1)
        #expect(procfs.service.channel.isClosed)
        #expect(exitedNormally(procfs.service.waitExit(seconds: 5), code: 0))
        #expect(procfs.service.stderr.contains("bulwark-procfs: fault: corrupt 2 bytes at offset 0 on ReadFile #4\n"))
    }
}
