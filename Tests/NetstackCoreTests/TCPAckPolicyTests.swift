// When the stack acknowledges data, as Linux does: a reader that empties its buffer after a pushed
// segment gets the ACK at once (tcp_cleanup_rbuf) unless the connection is a request/response
// exchange, whose ACKs ride on the replies (pingpong mode); a delayed ACK that fires ends that mode.
import Testing
@testable import NetstackCore

@Suite struct TCPAckPolicyTests {
    /// B's segments in the log since `t0`: (time since t0, payload length, flags).
    func segments(_ p: Pair, side: Int, since t0: Int64) -> [(Int64, Int, TCPFlags)] {
        p.wire.log.filter { $0.side == side && $0.time >= t0 }.compactMap { e in tcpOf(e.frame).map { (e.time - t0, $0.2, $0.1.flags) } }
    }

    @Test func readerEmptyingTheBufferAfterPushIsAcknowledgedAtOnce() throws {
        let p = Pair()
        let (c, s, _) = try p.establish()
        p.wire.keepLog = true
        p.wire.log = []
        let t0 = p.now
        try p.a.send(c, [1, 2, 3])
        p.run(for: 5 * Time.millisecond)
        #expect(segments(p, side: 1, since: t0).isEmpty)   // arrived at +1 ms, ACK delayed while unread
        #expect(try p.b.recv(s, max: 10) == [1, 2, 3])
        p.run(for: 5 * Time.millisecond)
        let acks = segments(p, side: 1, since: t0)
        #expect(acks.count == 1)
        #expect(acks.first.map { $0.0 < 10 * Time.millisecond && $0.1 == 0 } == true)   // not at +41 ms
    }

    @Test func nagleSenderWaitsNoDelayedAckWhenTheReaderKeepsUp() throws {
        // The sockopts.c pattern: 4 KiB written, then read by the peer, 64 times. Without the ACK on
        // read, each small write after the first waits for the peer's 40 ms delayed ACK (Nagle).
        let p = Pair()
        let (c, s, _) = try p.establish()
        let t0 = p.now
        let chunk = [UInt8](repeating: 7, count: 1000)
        for _ in 0..<64 {
            try p.a.send(c, chunk)
            var got = 0
            let ok = p.run(for: Time.second) {
                if let d = try? p.b.recv(s, max: 4096) { got += d.count }
                return got == chunk.count
            }
            #expect(ok)
        }
        #expect(p.now - t0 < 64 * 10 * Time.millisecond)   // about 2 ms a round, not 40
    }

    @Test func requestResponseAcksRideOnTheReplies() throws {
        let p = Pair()
        let (c, s, _) = try p.establish()
        p.wire.keepLog = true
        var pureAcks = 0, dataSegments = 0
        for round in 0..<10 {
            p.wire.log = []
            let t0 = p.now
            try p.a.send(c, [UInt8](repeating: 1, count: 30))   // request
            p.run(for: Time.second) { (try? p.b.bytesReadable(s)) == 30 }
            _ = try p.b.recv(s, max: 100)
            try p.b.send(s, [UInt8](repeating: 2, count: 50))   // reply at once
            p.run(for: Time.second) { (try? p.a.bytesReadable(c)) == 50 }
            _ = try p.a.recv(c, max: 100)
            p.run(for: 2 * Time.millisecond)
            guard round >= 2 else { continue }   // the first exchanges are acknowledged at once, as Linux's quickack
            for side in 0...1 {
                for (_, len, _) in segments(p, side: side, since: t0) {
                    if len == 0 { pureAcks += 1 } else { dataSegments += 1 }
                }
            }
        }
        #expect(pureAcks == 0)
        #expect(dataSegments == 16)
    }

    @Test func aDelayedAckThatFiresEndsTheRequestResponseMode() throws {
        let p = Pair()
        let (c, s, _) = try p.establish()
        for _ in 0..<3 {   // become a request/response connection
            try p.a.send(c, [1])
            p.run(for: Time.second) { (try? p.b.bytesReadable(s)) == 1 }
            _ = try p.b.recv(s, max: 10)
            try p.b.send(s, [2])
            p.run(for: Time.second) { (try? p.a.bytesReadable(c)) == 1 }
            _ = try p.a.recv(c, max: 10)
        }
        p.wire.keepLog = true
        p.wire.log = []
        var t0 = p.now
        // B reads but does not reply: interactive, so the ACK waits for the timer (+1 ms arrival, +40).
        try p.a.send(c, [3])
        p.run(for: 5 * Time.millisecond)
        _ = try p.b.recv(s, max: 10)
        p.run(for: 100 * Time.millisecond)
        let timed = segments(p, side: 1, since: t0)
        #expect(timed.count == 1 && timed[0].0 == 41 * Time.millisecond)
        // The timer fired: the next read is acknowledged at once again.
        p.wire.log = []
        t0 = p.now
        try p.a.send(c, [4])
        p.run(for: 5 * Time.millisecond)
        _ = try p.b.recv(s, max: 10)
        p.run(for: 5 * Time.millisecond)
        let quick = segments(p, side: 1, since: t0)
        #expect(quick.count == 1 && quick[0].0 < 10 * Time.millisecond)
    }
}
