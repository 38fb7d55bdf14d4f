// `--fault` on every executable started by hand (gofer, netstack, procfs, the Sentry), reproducible
// seeded faults end to end (same seed, same faults, twice), and the armed drop-reply the Sentry's
// control server uses.
import FaultInjection
import Foundation
import Glibc
import HostOS
import IPC
import ServiceKit
import TestSupport
import Testing

@Suite(.serialized) struct FaultOptionTests {
    static let services = ["gofer", "netstack", "procfs"]

    /// Service-specific arguments so the service starts (the gofer needs a root to serve).
    static func arguments(_ service: String) throws -> [String] {
        service == "gofer" ? ["--root", try TestPaths.makeScratchDirectory("bulwark-fault-root").path] : []
    }

    @Test(arguments: services) func eachServiceStartedByHandAppliesItsFaultSpec(_ service: String) throws {
        let s = try FaultyService("bulwark-\(service)", arguments: try Self.arguments(service),
                                  faults: ["channel=\(service),message=Ping,action=delay,ms=1,nth=2",
                                           "channel=\(service),message=Ping,action=drop-reply,nth=3"])
        #expect(s.ping([1]) == .success([1]))
        #expect(s.ping([2]) == .success([2]))
        #expect(s.ping([3], timeout: .milliseconds(300)) == .failure(.timeout))
        #expect(s.ping([4]) == .success([4]))
        s.channel.close()
        #expect(exitedNormally(s.waitExit(), code: 0))
        #expect(s.stderr.contains("bulwark-\(service): fault: delay 1ms on Ping #2\n"), "\(s.stderr)")
        #expect(s.stderr.contains("bulwark-\(service): fault: drop-reply on Ping #3\n"), "\(s.stderr)")
    }

    @Test(arguments: services + ["sentry"]) func aBadSpecIsAUsageErrorEverywhere(_ service: String) throws {
        let exe = TestPaths.executable("bulwark-\(service)")
        let args = service == "sentry"
            ? ["run", "--rootfs", "/", "--fault", "channel=\(service),action=explode", "--", "/bin/true"]
            : ["--channel-fd", "0", "--fault", "channel=\(service),action=explode"]
        let r = try ProcessRunner.run(exe, args, timeout: 10)
        #expect(r.exitCode == 2, "\(r)")
        #expect(r.stderr.contains("--fault: bad value"), "\(r)")
        if service == "sentry" { #expect(r.stderr.contains("'channel'")) } else { #expect(r.stderr.contains("'action'")) }
    }

    /// The fault lines of one run: 30 pings against a procfs service with a seeded random rule.
    func faultLines(seed: UInt64) throws -> [Substring] {
        let s = try FaultyService("bulwark-procfs",
                                  faults: ["channel=procfs,message=Ping,action=delay,max-ms=3,probability=0.4,seed=\(seed)"])
        for i: UInt8 in 1...30 { #expect(s.ping([i]) == .success([i])) }
        s.channel.close()
        #expect(exitedNormally(s.waitExit(), code: 0))
        return s.stderr.split(separator: "\n").filter { $0.contains(": fault: ") }
    }

    @Test func theSameSeedGivesTheSameFaultsOnEveryRun() throws {
        let first = try faultLines(seed: 1234)
        let second = try faultLines(seed: 1234)
        let other = try faultLines(seed: 99)
        #expect(first.count > 3 && first.count < 27, "\(first)")
        #expect(first == second)
        #expect(first != other)
    }

    @Test func anArmedDropReplyIsNeverSent() throws {
        let pair = try UnixSocket.pair().releaseBoth()
        let client = Channel(OwnedFD(adopting: pair.first))
        let server = Channel(OwnedFD(adopting: pair.second))
        for id: UInt32 in [1, 2] {
            try [UInt8(id)].withUnsafeBytes { body in
                try client.send(messageID: 7, flags: [], requestID: id, body: body, timeout: .seconds(1))
            }
        }
        let first = try server.receive(timeout: .seconds(1))
        server.armFault(.dropReply)
        try [UInt8](repeating: 1, count: 1).withUnsafeBytes { try server.reply(to: first.header, messageID: 7, body: $0) }
        let second = try server.receive(timeout: .seconds(1))
        try [UInt8](repeating: 2, count: 1).withUnsafeBytes { try server.reply(to: second.header, messageID: 7, body: $0) }
        // Only the second reply arrives.
        let got = try client.receive(timeout: .seconds(1))
        #expect(got.header.requestID == 2)
        #expect(throws: IPCError.timeout) { _ = try client.receive(timeout: .milliseconds(100)) }
    }
}
