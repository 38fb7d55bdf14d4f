// Channel over real SEQPACKET socketpairs and real peer processes.
import Foundation
import Glibc
import HostOS
import IPC
import LinuxABI
import Testing
import TestSupport
import Wire

@Suite struct ChannelTests {
    /// An echo peer on its own thread: answers `count` requests with the same body.
    static func echoPeer(_ raw: Int32, count: Int = 1) -> PeerThread {
        return PeerThread {
            let peer = Channel(OwnedFD(adopting: raw))
            for _ in 0..<count {
                guard let request = try? peer.receive(timeout: .seconds(5)) else { return }
                try? peer.reply(to: request.header, body: request.body)
            }
        }
    }

    @Test func roundTripCarriesBodyAndIDs() throws {
        let pair = try UnixSocket.pair().releaseBoth()
        let peer = Self.echoPeer(pair.second, count: 2)
        let channel = Channel(OwnedFD(adopting: pair.first))
        for text in ["hello", ""] {
            let reply = try channel.call(42, body: Array(text.utf8), timeout: .seconds(5))
            #expect(reply.messageID == 42)
            #expect(reply.header.flags.contains(.reply))
            #expect(String(decoding: reply.body, as: UTF8.self) == text)
        }
        #expect(peer.join())
    }

    @Test func descriptorPassedToPeerThreadIsUsable() throws {
        let pair = try UnixSocket.pair().releaseBoth()
        let raw = pair.second
        let peer = PeerThread {
            let channel = Channel(OwnedFD(adopting: raw))
            guard var request = try? channel.receive(timeout: .seconds(5)), request.fds.count == 1,
                  let passed = request.fds.take(0) else { return }
            guard fcntl(passed.rawValue, F_GETFD) & FD_CLOEXEC != 0 else { return }   // MSG_CMSG_CLOEXEC
            let text = Array("through the passed fd".utf8)
            _ = try? text.withUnsafeBytes { b in try FileIO.writeAll(passed.rawValue, b) }
            try? channel.reply(to: request.header, body: UnsafeRawBufferPointer(start: nil, count: 0))
        }
        let pipe = try FileIO.pipe()
        let channel = Channel(OwnedFD(adopting: pair.first))
        _ = try channel.call(1, body: [], fds: [pipe.write.rawValue], timeout: .seconds(5))
        #expect(peer.join())
        var got = [UInt8](repeating: 0, count: 64)
        let n = try got.withUnsafeMutableBytes { b in try FileIO.read(pipe.read.rawValue, into: b) }
        #expect(String(decoding: got[..<n], as: UTF8.self) == "through the passed fd")
    }

    @Test func descriptorPassedToPeerProcessIsUsable() throws {
        try TestPaths.withScratchDirectory("ipc-fd") { dir in
            let program = try GuestPrograms.compile("ipc_peer", into: dir)
            let path = dir.appendingPathComponent("s").path
            let listener = try UnixSocket.listen(path: path)
            let child = try BackgroundProcess(program, [path, "writefd"])
            let channel = Channel(try acceptWithin(listener.rawValue))
            let pipe = try FileIO.pipe()
            let reply = try channel.call(3, body: Array("abc".utf8), fds: [pipe.write.rawValue], timeout: .seconds(5))
            #expect(String(decoding: reply.body, as: UTF8.self) == "abc")
            var got = [UInt8](repeating: 0, count: 64)
            let n = try got.withUnsafeMutableBytes { b in try FileIO.read(pipe.read.rawValue, into: b) }
            #expect(String(decoding: got[..<n], as: UTF8.self) == "written by peer")
            child.finish()
        }
    }

    @Test func tooManyDescriptorsAreRefused() throws {
        try TestPaths.withScratchDirectory("ipc-nine") { dir in
            let program = try GuestPrograms.compile("ipc_peer", into: dir)
            let path = dir.appendingPathComponent("s").path
            let listener = try UnixSocket.listen(path: path)
            let child = try BackgroundProcess(program, [path, "ninefds"])
            let channel = Channel(try acceptWithin(listener.rawValue))
            #expect(throws: IPCError.tooManyFDs(9)) { _ = try channel.call(1, body: [], timeout: .seconds(5)).messageID }
            #expect(channel.isClosed)
            child.finish()
            #expect(child.process.terminationStatus == 0)
        }
    }

    /// Mutated frames (valid-looking headers with random fields, random lengths and bodies) must each
    /// end in a message or a clean IPCError, never a crash or a hang.
    @Test func mutatedFramesNeverCrash() throws {
        var rng = SystemRandomNumberGenerator()
        var outcomes = [String: Int]()
        for _ in 0..<300 {
            let pair = try UnixSocket.pair().releaseBoth()
            defer { _ = Glibc.close(pair.second) }
            let channel = Channel(OwnedFD(adopting: pair.first), maximumMessageSize: 512)
            let bodyLength = Int.random(in: 0...600, using: &rng)
            var bytes = frame(length: FrameHeader.size + bodyLength, requestID: 1,
                              body: (0..<bodyLength).map { _ in UInt8.random(in: 0...255, using: &rng) })
            for _ in 0..<Int.random(in: 0...3, using: &rng) {
                bytes[Int.random(in: 0..<FrameHeader.size, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            try sendRaw(pair.second, bytes)
            let result = Result { () throws(IPCError) in try channel.call(7, body: [], timeout: .seconds(2)).body.count }
            switch result {
            case .success: outcomes["reply", default: 0] += 1
            case .failure(.timeout): Issue.record("a queued message must not time out")
            case .failure(let error):
                outcomes["\(error)".prefix(20).description, default: 0] += 1
                if case .remote = error {} else { #expect(channel.isClosed) }
            }
        }
        #expect(outcomes.count > 1)
    }

    @Test func peerKilledMidRequestEndsTheCall() throws {
        try TestPaths.withScratchDirectory("ipc-die") { dir in
            let program = try GuestPrograms.compile("ipc_peer", into: dir)
            let path = dir.appendingPathComponent("s").path
            let listener = try UnixSocket.listen(path: path)
            let child = try BackgroundProcess(program, [path, "die"])
            let channel = Channel(try acceptWithin(listener.rawValue))
            let (result, seconds) = timed { Result { () throws(IPCError) in try channel.call(1, body: [1, 2], timeout: .seconds(5)).messageID } }
            switch result {
            case .failure(.peerClosed), .failure(.peerDied): break
            default: Issue.record("expected peerClosed/peerDied, got \(result)")
            }
            #expect(seconds < 4)
            #expect(channel.isClosed)
            child.finish()
            #expect(child.process.terminationReason == .uncaughtSignal && child.process.terminationStatus == SIGKILL)
        }
    }

    @Test func hungPeerTimesOutAndLateReplyIsDiscarded() throws {
        let pair = try UnixSocket.pair().releaseBoth()
        let peerFD = pair.second
        defer { _ = Glibc.close(peerFD) }
        let channel = Channel(OwnedFD(adopting: pair.first))
        let (result, seconds) = timed { Result { () throws(IPCError) in try channel.call(5, body: [9], timeout: .milliseconds(200)).messageID } }
        #expect(throws: IPCError.timeout) { try result.get() }
        #expect(seconds >= 0.19 && seconds < 1.5)
        #expect(!channel.isClosed)
        // The peer now answers the abandoned request, then the next one: the late reply is dropped.
        let first = try #require(try receiveRaw(peerFD))
        try sendRaw(peerFD, frame(length: 17, messageID: 5, requestID: 1, body: [0xAA]))
        #expect(first.count == 17)
        let peer = PeerThread {
            guard let second = try? receiveRaw(peerFD) else { return }
            var reply = second
            reply[6] |= 1
            try? sendRaw(peerFD, reply)
        }
        let reply = try channel.call(6, body: [0xBB], timeout: .seconds(5))
        #expect(Array(reply.body) == [0xBB])
        #expect(reply.requestID == 2)
        #expect(peer.join())
    }

    /// Sends `garbage` as the reply to a call and checks the error and that the connection closed.
    func expectGarbageRejected(_ garbage: [UInt8], fds: [Int32] = [], maximum: Int = FrameHeader.maximumLength,
                               _ check: (IPCError) -> Bool) throws {
        let pair = try UnixSocket.pair().releaseBoth()
        let peerFD = pair.second
        defer { _ = Glibc.close(peerFD) }
        let channel = Channel(OwnedFD(adopting: pair.first), maximumMessageSize: maximum)
        try sendRaw(peerFD, garbage, fds: fds)
        let result = Result { () throws(IPCError) in try channel.call(1, body: [], timeout: .seconds(5)).messageID }
        guard case .failure(let error) = result else {
            Issue.record("garbage accepted")
            return
        }
        #expect(check(error), "unexpected error \(error)")
        #expect(channel.isClosed)
        // The peer sees the connection closed: its request arrives, then end of stream.
        _ = try receiveRaw(peerFD)
        #expect(try receiveRaw(peerFD) == nil)
    }

    @Test func replyToARequestNeverSentIsRejected() throws {
        try expectGarbageRejected(frame(length: 16, requestID: 77)) {
            if case .malformed = $0 { return true } else { return false }
        }
    }

    @Test func randomBytesCloseTheConnection() throws {
        var rng = SystemRandomNumberGenerator()
        for size in [1, 15, 16, 64, 300] {
            let garbage = (0..<size).map { _ in UInt8.random(in: 0...255, using: &rng) }
            try expectGarbageRejected(garbage) { if case .malformed = $0 { return true } else { return false } }
        }
    }

    @Test func wrongLengthIsRejected() throws {
        try expectGarbageRejected(frame(length: 100, body: [1, 2, 3])) {
            $0 == .malformed(.lengthMismatch(declared: 100, received: 19))
        }
    }

    @Test func wrongDescriptorCountIsRejectedAndTheDescriptorClosed() throws {
        let pipe = try FileIO.pipe()
        try expectGarbageRejected(frame(length: 16, fdCount: 0), fds: [pipe.write.rawValue]) {
            $0 == .malformed(.fdCountMismatch(declared: 0, received: 1))
        }
        // Our copy is the last write end once the channel closed the one it received: EOF follows.
        let (readEnd, writeEnd) = pipe.releaseBoth()
        defer { _ = Glibc.close(readEnd) }
        _ = Glibc.close(writeEnd)
        let ready = try Poll.wait(readEnd, for: Poll.readable, timeoutMilliseconds: 1000)
        #expect(ready & (Poll.hangUp | Poll.readable) != 0)
        var byte: UInt8 = 0
        let n = try withUnsafeMutableBytes(of: &byte) { b in try FileIO.read(readEnd, into: b) }
        #expect(n == 0)
    }

    @Test func oversizedIncomingIsRefused() throws {
        try expectGarbageRejected(frame(length: 8000, body: [UInt8](repeating: 1, count: 8000 - 16)),
                                  maximum: 4096) { if case .tooLarge = $0 { return true } else { return false } }
    }

    @Test func oversizedOutgoingIsRefusedBeforeSending() throws {
        let pair = try UnixSocket.pair().releaseBoth()
        defer { _ = Glibc.close(pair.second) }
        let channel = Channel(OwnedFD(adopting: pair.first), maximumMessageSize: 4096)
        #expect(throws: IPCError.tooLarge(length: 5016, limit: 4096)) {
            _ = try channel.call(1, body: [UInt8](repeating: 0, count: 5000), timeout: .seconds(1)).messageID
        }
        #expect(!channel.isClosed)
        #expect(try Poll.wait(pair.second, for: Poll.readable, timeoutMilliseconds: 0) == 0)
        #expect(throws: IPCError.tooManyFDs(9)) {
            _ = try channel.call(1, body: [], fds: [Int32](repeating: 0, count: 9), timeout: .seconds(1)).messageID
        }
    }

    @Test func errorReplyBecomesRemoteError() throws {
        let pair = try UnixSocket.pair().releaseBoth()
        let raw = pair.second
        let peer = PeerThread {
            let channel = Channel(OwnedFD(adopting: raw))
            guard let request = try? channel.receive(timeout: .seconds(5)) else { return }
            var scratch: [UInt8] = []
            try? channel.replyError(to: request.header, errno: .ENOENT, message: "no such thing", scratch: &scratch)
        }
        let channel = Channel(OwnedFD(adopting: pair.first))
        #expect(throws: IPCError.remote(errno: .ENOENT, message: "no such thing")) {
            _ = try channel.call(9, body: [], timeout: .seconds(5)).messageID
        }
        #expect(!channel.isClosed)
        #expect(peer.join())
    }

    @Test func extremeTimeoutsNeitherCrashNorHang() throws {
        let pair = try UnixSocket.pair().releaseBoth()
        let channel = Channel(OwnedFD(adopting: pair.first))
        for timeout: Duration in [.zero, .seconds(-5), .nanoseconds(1)] {
            #expect(throws: IPCError.timeout) { _ = try channel.call(1, body: [], timeout: timeout).messageID }
        }
        // A huge timeout is accepted; replies to the abandoned calls above (if they were sent) are
        // dropped and the echo of this one is returned.
        let peer = Self.echoPeer(pair.second, count: .max)
        #expect(try channel.call(1, body: [5], timeout: .seconds(Int64.max)).body.first == 5)
        channel.close()
        #expect(peer.join())
    }

    @Test func closedPeerIsReportedOnSendAndReceive() throws {
        let pair = try UnixSocket.pair().releaseBoth()
        let channel = Channel(OwnedFD(adopting: pair.first))
        _ = Glibc.close(pair.second)
        let result = Result { () throws(IPCError) in try channel.call(1, body: [], timeout: .seconds(2)).messageID }
        switch result {
        case .failure(.peerClosed), .failure(.peerDied): break
        default: Issue.record("expected peerClosed, got \(result)")
        }
        #expect(throws: IPCError.closed) { _ = try channel.call(1, body: [], timeout: .seconds(1)).messageID }
    }
}
