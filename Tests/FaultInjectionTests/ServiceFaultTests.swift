// End to end: real service executables started with --channel-fd and --fault, called through
// IPC.Channel with ServiceKit's Ping. Every wait is bounded; every service is reaped.
import FaultInjection
import Foundation
import Glibc
import HostOS
import IPC
import ServiceKit
import TestSupport
import Testing

/// A service on the other end of a socketpair, its stderr in a scratch file.
final class FaultyService {
    let pid: pid_t
    let channel: Channel
    let stderrPath: String
    private var reaped: Int32?

    /// `commandLine`, when given, replaces `--channel-fd 3 ARGUMENTS` (e.g. a Sentry with `--control-fd 3`).
    init(_ service: String, arguments: [String] = [], faults: [String], commandLine: [String]? = nil) throws {
        let pair = try UnixSocket.pair().releaseBoth()
        stderrPath = try TestPaths.makeScratchDirectory("bulwark-faults").appendingPathComponent("stderr").path
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pair.second, 3)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)   // never the runner's stdin
        let path = TestPaths.executable(service)
        let arguments = commandLine.map { [path] + $0 } ?? ([path, "--channel-fd", "3"] + arguments + faults.flatMap { ["--fault", $0] })
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &actions, nil, argv, environ)
        _ = Glibc.close(pair.second)
        guard rc == 0 else {
            _ = Glibc.close(pair.first)
            throw FaultTestFailure("posix_spawn \(path): \(rc)")
        }
        self.pid = pid
        channel = Channel(OwnedFD(adopting: pair.first))
    }

    func ping(_ body: [UInt8], timeout: Duration = .seconds(5)) -> Result<[UInt8], IPCError> {
        Result { () throws(IPCError) in Array(try channel.call(ServiceMessage.ping, body: body, timeout: timeout).body) }
    }

    /// Waits at most `seconds` for exit; the wait status, or nil (after SIGKILL and reaping) on timeout.
    func waitExit(seconds: Double = 5) -> Int32? {
        if let reaped { return reaped }
        var status: Int32 = 0
        for _ in 0..<Int(seconds * 500) {
            if waitpid(pid, &status, WNOHANG) == pid {
                reaped = status
                return status
            }
            usleep(2000)
        }
        kill(pid, SIGKILL)
        _ = waitpid(pid, &status, 0)
        reaped = status
        return nil
    }

    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    deinit {
        channel.close()
        if reaped == nil { _ = waitExit(seconds: 5) }
        try? FileManager.default.removeItem(atPath: (stderrPath as NSString).deletingLastPathComponent)
    }
}

struct FaultTestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Seconds spent in `body`.
func timed<T>(_ body: () -> T) -> (T, Double) {
    let start = DispatchTime.now().uptimeNanoseconds
    let value = body()
    return (value, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
}

func exitedNormally(_ status: Int32?, code: Int32) -> Bool {
    guard let status else { return false }
    return status & 0x7f == 0 && (status >> 8) & 0xff == code
}

@Suite(.serialized) struct ServiceFaultTests {
    @Test func delayBeyondTheCallersTimeoutTimesOutAndTheServiceKeepsServing() throws {
        let service = try FaultyService("bulwark-procfs", faults: ["channel=procfs,message=Ping,action=delay,ms=1500,nth=2"])
        #expect(service.ping([1]) == .success([1]))
        let (second, seconds) = timed { service.ping([2], timeout: .milliseconds(300)) }
        #expect(second == .failure(.timeout))
        #expect(seconds < 1.2)
        // The late reply to call 2 is discarded; call 3 gets its own reply.
        #expect(service.ping([3]) == .success([3]))
        #expect(service.ping([4]) == .success([4]))
        service.channel.close()
        #expect(exitedNormally(service.waitExit(), code: 0))
        #expect(service.stderr.contains("bulwark-procfs: fault: delay 1500ms on Ping #2\n"))
    }

    @Test func corruptReplyIsACleanMalformedErrorAndClosesTheConnection() throws {
        let service = try FaultyService("bulwark-netstack", faults: ["channel=netstack,action=corrupt,bytes=4,nth=2,seed=7"])
        #expect(service.ping([1, 2]) == .success([1, 2]))
        let result = service.ping([3, 4])
        guard case .failure(.malformed) = result else {
            Issue.record("expected malformed, got \(result)")
            return
        }
        #expect(service.channel.isClosed)
        #expect(service.ping([5]) == .failure(.closed))
        #expect(exitedNormally(service.waitExit(), code: 0))
        #expect(service.stderr.contains("bulwark-netstack: fault: corrupt 4 bytes at offset 0 on Ping #2\n"))
    }

    @Test func truncatedReplyIsMalformed() throws {
        let service = try FaultyService("bulwark-procfs", faults: ["action=truncate,bytes=8"])
        let result = service.ping([1, 2, 3])
        guard case .failure(.malformed(.truncated(needed: 16, available: 8))) = result else {
            Issue.record("expected a truncated header, got \(result)")
            return
        }
        #expect(service.channel.isClosed)
    }

    @Test func dropReplyGivesATimeoutAndLaterCallsWork() throws {
        let service = try FaultyService("bulwark-procfs", faults: ["action=drop-reply,every=2"])
        #expect(service.ping([1]) == .success([1]))
        let (second, seconds) = timed { service.ping([2], timeout: .milliseconds(300)) }
        #expect(second == .failure(.timeout))
        #expect(seconds < 1.2)
        #expect(service.ping([3]) == .success([3]))
        #expect(service.stderr.contains("bulwark-procfs: fault: drop-reply on Ping #2\n"))
    }

    @Test func killPeerAfterNEndsMessageNPlusOneAndTheServiceDiesBySIGKILL() throws {
        let service = try FaultyService("bulwark-procfs", faults: ["action=kill-peer,after=3"])
        for i: UInt8 in 1...3 { #expect(service.ping([i]) == .success([i])) }
        let (fourth, seconds) = timed { service.ping([4], timeout: .seconds(5)) }
        switch fourth {
        case .failure(.peerClosed), .failure(.peerDied): break
        default: Issue.record("expected peerClosed or peerDied, got \(fourth)")
        }
        #expect(seconds < 4)
        let status = try #require(service.waitExit())
        #expect(status & 0x7f == SIGKILL)
        #expect(kill(service.pid, 0) == -1)   // reaped: the pid is gone
        #expect(service.stderr.contains("bulwark-procfs: fault: kill-peer on Ping #3\n"))
    }

    @Test func closeGivesPeerClosed() throws {
        let service = try FaultyService("bulwark-netstack", faults: ["action=close,nth=2"])
        #expect(service.ping([1]) == .success([1]))
        #expect(service.ping([2]) == .failure(.peerClosed))
        #expect(exitedNormally(service.waitExit(), code: 0))
    }

    @Test func duplicateReplyIsSeenAsAnUnexpectedMessageOnTheNextCall() throws {
        let service = try FaultyService("bulwark-procfs", faults: ["action=duplicate,nth=1"])
        #expect(service.ping([1]) == .success([1]))
        // The copy of reply 1 arrives while call 2 waits: the channel refuses it and closes.
        let result = service.ping([2])
        guard case .failure(.malformed) = result else {
            Issue.record("expected malformed, got \(result)")
            return
        }
    }

    @Test func badFaultSpecIsAUsageError() throws {
        let bad = try ProcessRunner.run(TestPaths.executable("bulwark-procfs"),
                                        ["--channel-fd", "0", "--fault", "action=explode"], timeout: 10)
        #expect(bad.exitCode == 2)
        #expect(bad.stderr.contains("--fault: bad value 'explode' for 'action'"))
        let unknown = try ProcessRunner.run(TestPaths.executable("bulwark-procfs"),
                                            ["--listen", "/nonexistent/x", "--fault", "channel=procfs,message=Walk,action=close"],
                                            timeout: 10)
        #expect(unknown.exitCode == 2)
        #expect(unknown.stderr.contains("bulwark-procfs: --fault: unknown message 'Walk' on channel procfs"))
    }
}

/// Client-side faults: the plan installed on the caller's Channel, against a real service.
@Suite(.serialized) struct ClientFaultTests {
    func service(_ faults: [String]) throws -> FaultyService {
        let service = try FaultyService("bulwark-netstack", faults: [])
        service.channel.injectFaults(try FaultPlan(specs: faults, names: Channel.faultMessageNames),
                                     channel: .netstack, logName: "client")
        return service
    }

    @Test func delayPastTheDeadlineIsATimeoutAtTheDeadline() throws {
        let s = try service(["message=Ping,action=delay,ms=3000,nth=1"])
        let (result, seconds) = timed { s.ping([1], timeout: .milliseconds(200)) }
        #expect(result == .failure(.timeout))
        #expect(seconds < 1)
        #expect(s.ping([2]) == .success([2]))
    }

    @Test func dropReplyTimesOutThenTheChannelRecovers() throws {
        let s = try service(["action=drop-reply,nth=1"])
        #expect(s.ping([1], timeout: .milliseconds(200)) == .failure(.timeout))
        #expect(s.ping([2]) == .success([2]))
    }

    @Test func corruptRequestMakesTheServiceDropTheConnection() throws {
        let s = try service(["action=corrupt,bytes=1,offset=13"])   // the version byte
        let result = s.ping([1])
        switch result {
        case .failure(.peerClosed), .failure(.peerDied): break
        default: Issue.record("expected the service to hang up, got \(result)")
        }
        #expect(exitedNormally(s.waitExit(), code: 1))
        #expect(s.stderr.contains("unsupported") || s.stderr.contains("version"))
    }

    @Test func closeEndsTheCallWithClosed() throws {
        let s = try service(["action=close,nth=2"])
        #expect(s.ping([1]) == .success([1]))
        #expect(s.ping([2]) == .failure(.closed))
        #expect(s.channel.isClosed)
    }
}
