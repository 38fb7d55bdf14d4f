// The transmit buffer pool (FramePool.swift) and the pump's stream handle (StreamHandleUnsafe.swift),
// session 11: a buffer given back is handed out once, zeroed and at the asked size; a buffer someone
// still holds is never written through (copy-on-write), so frames a link still queues stay intact;
// a stack that reuses buffers carries a TCP exchange unchanged; the handle answers as the SocketID
// queries do.
import Testing
@testable import NetstackCore

@Suite struct FramePoolTests {
    func address(_ b: [UInt8]) -> UInt {
        b.withUnsafeBytes { UInt(bitPattern: $0.baseAddress) }
    }

    @Test func aGivenBufferIsHandedOutOnceZeroedAtTheAskedSize() {
        let pool = FramePool()
        var f = [UInt8](repeating: 0xff, count: 200)
        f[0] = 1
        let storage = address(f)
        pool.give(f)
        f = []   // the caller lets go
        #expect(pool.count == 1)
        let t = pool.take(zeroed: 60)
        #expect(t.count == 60 && t.allSatisfy { $0 == 0 })
        #expect(address(t) == storage)   // the same storage, reused
        #expect(pool.count == 0 && pool.reused == 1)
        let u = pool.take(zeroed: 60)    // nothing kept: a new array, never the one handed out
        #expect(address(u) != address(t))
        #expect(pool.allocated == 1)
        pool.give(t)
        let g = pool.take(zeroed: 300)   // larger than the kept one: grown, all zero
        #expect(g.count == 300 && g.allSatisfy { $0 == 0 })
    }

    @Test func aBufferStillHeldElsewhereIsNeverWrittenThrough() {
        let pool = FramePool()
        let held = [UInt8](repeating: 7, count: 100)   // e.g. a frame a link still queues
        pool.give(held)
        var t = pool.take(zeroed: 100)
        t[5] = 9
        #expect(held.allSatisfy { $0 == 7 })   // the holder's bytes are untouched
        #expect(t[5] == 9 && t[4] == 0)
        #expect(address(t) != address(held))
    }

    @Test func thePoolIsBounded() {
        let pool = FramePool()
        for _ in 0..<(FramePool.limit + 10) { pool.give([UInt8](repeating: 1, count: 64)) }
        #expect(pool.count == FramePool.limit)
        pool.give([UInt8](repeating: 1, count: FramePool.largestKept + 1))   // too large to keep
        var empty: [UInt8] = []
        empty.removeAll()
        pool.give(empty)                                                    // no storage: not kept
        #expect(pool.count == FramePool.limit)
    }

    /// Both stacks get every frame they send back in their pools while the wire still queues it (the
    /// worst case: shared buffers): the transfer arrives intact and the pools were used.
    @Test func reusedBuffersCarryATransferIntact() throws {
        let p = Pair(seed: 3)
        p.wire.filter = { side, f in
            (side == 0 ? p.a : p.b).framePool.give(f)
            return true
        }
        let r = try transferOver(p, pattern(300_000, seed: 11))
        #expect(r == pattern(300_000, seed: 11))
        #expect(p.a.framePool.reused > 100 && p.b.framePool.reused > 100)
    }

    func transferOver(_ p: Pair, _ data: [UInt8]) throws -> [UInt8] {
        let (c, s, _) = try p.establish()
        var sent = 0
        var received: [UInt8] = []
        _ = p.run(for: 120 * Time.second) {
            if sent < data.count, let n = try? p.a.send(c, Array(data[sent..<min(data.count, sent + 8192)])) { sent += n }
            if let d = try? p.b.recv(s, max: 65536) { received += d }
            return received.count == data.count
        }
        return received
    }

    @Test func theStreamHandleAnswersAsTheSocketIDQueries() throws {
        let p = Pair(seed: 5)
        let (c, s, l) = try p.establish()
        #expect(p.a.stream(c) != nil && p.b.stream(l) != nil)
        let msg: [UInt8] = Array("GET key\r\n".utf8)
        let h = try #require(p.a.stream(c))
        let n = try msg.withUnsafeBytes { try p.a.send(h, bytes: $0) }
        #expect(n == msg.count)
        _ = p.run(for: Time.second) { (try? p.b.bytesReadable(s)) == msg.count }
        let hs = try #require(p.b.stream(s))
        let hl = try #require(p.b.stream(l))
        #expect(p.b.phase(hs) == p.b.phase(s) && p.b.phase(hl) == p.b.phase(l) && p.b.phase(hl) == .listening)
        #expect(p.b.bytesReadable(hs) == msg.count && p.b.bytesReadable(hl) == 0)
        #expect(p.b.readiness(hs) == p.b.readiness(s) && p.b.readiness(hs).contains(.readable))
        #expect(p.b.sendSpace(hs) == p.b.sendSpace(s) && p.b.peekError(hs) == nil && !p.b.lingersZero(hs))
        var buf = [UInt8](repeating: 0, count: 64)
        let got = try buf.withUnsafeMutableBytes { try p.b.recv(hs, into: $0) }
        #expect(Array(buf[0..<got]) == msg)
        #expect(throws: NetErrno.EAGAIN) { _ = try buf.withUnsafeMutableBytes { try p.b.recv(hs, into: $0) } }
        // A UDP or unknown id has no stream handle.
        let u = p.a.socket(.datagram)
        #expect(p.a.stream(u) == nil && p.a.stream(SocketID(raw: 9999)) == nil)
    }
}
