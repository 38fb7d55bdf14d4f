import Testing
@testable import NetstackCore

extension Pair {
    /// A listener on B:port and a connection from A; returns (client on A, accepted on B, listener on B).
    func establish(port: UInt16 = 80, backlog: Int = 8) throws -> (SocketID, SocketID, SocketID) {
        let l = b.socket(.stream)
        try b.bind(l, SocketAddress(.any, port))
        try b.listen(l, backlog: backlog)
        let c = a.socket(.stream)
        #expect(throws: NetErrno.EINPROGRESS) { try a.connect(c, SocketAddress(Pair.addrB, port)) }
        var accepted: SocketID?
        let ok = run(for: 30 * Time.second) {
            if accepted == nil, let (s, _) = try? b.accept(l) { accepted = s }
            return accepted != nil && a.readiness(c).contains(.writable)
        }
        #expect(ok)
        guard let s = accepted else { throw NetErrno.ETIMEDOUT }
        return (c, s, l)
    }
}

func pattern(_ n: Int, seed: UInt64) -> [UInt8] {
    var r = SplitMix64(seed: seed)
    var out = [UInt8](repeating: 0, count: n)
    var i = 0
    while i < n {
        var v = r.next()
        for _ in 0..<8 where i < n {
            out[i] = UInt8(truncatingIfNeeded: v)
            v >>= 8
            i += 1
        }
    }
    return out
}

struct TransferResult {
    var received: [UInt8]
    var simulatedTime: Int64
    var retransmits: Int
    var timeouts: Int
    var eof: Bool
    var badChecksums = 0
}

/// Sends `data` from A to B over a wire with the given impairments, then closes; B reads to EOF.
func transfer(_ data: [UInt8], loss: Double = 0, reorder: Double = 0, duplicate: Double = 0, corrupt: Double = 0,
              seed: UInt64 = 1, limit: Int64 = 900 * Time.second) throws -> TransferResult {
    let p = Pair(seed: seed)
    p.wire.corruptPercent = corrupt
    p.wire.lossPercent = loss
    p.wire.reorderPercent = reorder
    p.wire.duplicatePercent = duplicate
    let (c, s, _) = try p.establish()
    let start = p.now
    var sent = 0
    var closed = false
    var received = [UInt8]()
    received.reserveCapacity(data.count)
    var eof = false
    p.run(for: limit) {
        while sent < data.count, let n = try? p.a.send(c, Array(data[sent..<min(sent + 65536, data.count)])) { sent += n }
        if sent == data.count && !closed {
            try? p.a.close(c)
            closed = true
        }
        while true {
            guard let d = try? p.b.recv(s, max: 100_000) else { break }
            if d.isEmpty { eof = true; break }
            received += d
        }
        return eof
    }
    return TransferResult(received: received, simulatedTime: p.now - start, retransmits: p.a.stats.tcpRetransmits,
                          timeouts: p.a.stats.tcpTimeouts, eof: eof,
                          badChecksums: p.a.stats.badChecksum + p.b.stats.badChecksum)
}

@Suite struct TCPTests {
    @Test func handshakeNegotiatesOptions() throws {
        let p = Pair()
        let (c, s, l) = try p.establish()
        #expect(p.a.tcpState(c) == .established && p.b.tcpState(s) == .established)
        let ca = p.a.tcpSockets[c]!, sb = p.b.tcpSockets[s]!
        #expect(ca.timestampsOn && sb.timestampsOn && ca.sackOn && sb.sackOn)
        #expect(ca.sndScale == sb.rcvScale && ca.rcvScale == sb.sndScale && ca.rcvScale == 3)
        #expect(ca.mss == 1460 - 12 && sb.mss == 1460 - 12)
        #expect(try p.b.peerAddress(s) == p.a.localAddress(c))
        #expect(try p.a.peerAddress(c) == SocketAddress(Pair.addrB, 80))
        #expect(p.b.readiness(l) == [])
        #expect(throws: NetErrno.EAGAIN) { try p.b.accept(l) }
        #expect(throws: NetErrno.EAGAIN) { try p.b.recv(s, max: 10) }
        #expect(throws: NetErrno.EISCONN) { try p.a.connect(c, SocketAddress(Pair.addrB, 80)) }
    }

    @Test func smallExchangeBothWaysAndOrderlyClose() throws {
        let p = Pair()
        let (c, s, _) = try p.establish()
        #expect(try p.a.send(c, Array("ping".utf8)) == 4)
        var got: [UInt8] = []
        p.run(for: Time.second) { got += (try? p.b.recv(s, max: 100)) ?? []; return got.count == 4 }
        #expect(got == Array("ping".utf8))
        try p.b.send(s, Array("pong".utf8))
        got = []
        p.run(for: Time.second) { got += (try? p.a.recv(c, max: 100)) ?? []; return got.count == 4 }
        #expect(got == Array("pong".utf8))
        // A closes first: A ends in TIME-WAIT, B sees EOF, then closes (LAST-ACK -> CLOSED).
        try p.a.close(c)
        p.run(for: Time.second) { p.b.readiness(s).contains(.readHup) }
        #expect(p.b.tcpState(s) == .closeWait)
        #expect(try p.b.recv(s, max: 10) == [])
        try p.b.close(s)
        p.run(for: Time.second) { p.b.tcpConnectionCount == 0 }
        #expect(p.b.tcpConnectionCount == 0)
        #expect(p.a.tcpConnections.values.first?.state == .timeWait)
        p.run(for: 61 * Time.second)
        #expect(p.a.tcpConnectionCount == 0)
    }

    @Test func connectToClosedPortIsRefused() throws {
        let p = Pair()
        let c = p.a.socket(.stream)
        #expect(throws: NetErrno.EINPROGRESS) { try p.a.connect(c, SocketAddress(Pair.addrB, 81)) }
        p.run(for: Time.second) { p.a.readiness(c).contains(.error) }
        #expect(p.a.readiness(c) == [.error, .hup, .writable, .readable, .readHup])
        #expect(p.a.socketError(c) == .ECONNREFUSED)
        #expect(p.a.readiness(c) == [.hup, .writable])
        #expect(p.b.stats.tcpResetsSent == 1)
    }

    @Test func loopbackConnection() throws {
        let p = Pair()
        let l = p.a.socket(.stream)
        try p.a.bind(l, SocketAddress(IPv4Address.loopback, 8080))
        try p.a.listen(l, backlog: 4)
        let c = p.a.socket(.stream)
        #expect(throws: NetErrno.EINPROGRESS) { try p.a.connect(c, SocketAddress(IPv4Address.loopback, 8080)) }
        var s: SocketID?
        p.run(for: Time.second) { if s == nil { s = try? p.a.accept(l).0 }; return s != nil }
        let data = pattern(300_000, seed: 3)
        var sent = 0, got = [UInt8]()
        p.run(for: 10 * Time.second) {
            while sent < data.count, let n = try? p.a.send(c, Array(data[sent..<min(sent + 65536, data.count)])) { sent += n }
            while let d = try? p.a.recv(s!, max: 1 << 20), !d.isEmpty { got += d }
            return got.count == data.count
        }
        #expect(got == data)
        #expect(p.a.tcpSockets[c]!.mss > 60000)  // loopback MTU
        // Our own interface address also goes through loopback, and nothing reaches the wire.
        let l2 = p.a.socket(.stream)
        try p.a.bind(l2, SocketAddress(Pair.addrA, 9090))
        try p.a.listen(l2, backlog: 1)
        let c2 = p.a.socket(.stream)
        let framesBefore = p.a.stats.framesOut
        #expect(throws: NetErrno.EINPROGRESS) { try p.a.connect(c2, SocketAddress(Pair.addrA, 9090)) }
        p.run(for: Time.second) { p.a.readiness(l2).contains(.readable) }
        let (_, peer) = try p.a.accept(l2)
        #expect(peer.ip == .v4(Pair.addrA))
        #expect(p.a.stats.framesOut == framesBefore)
    }

    @Test(arguments: [(0.0, 0.0, 0.0), (1.0, 0.0, 0.0), (10.0, 0.0, 0.0), (0.0, 10.0, 0.0), (0.0, 0.0, 10.0), (3.0, 5.0, 5.0)])
    func oneMegabyteTransfer(loss: Double, reorder: Double, duplicate: Double) throws {
        let data = pattern(1 << 20, seed: 11)
        let wall = ContinuousClock().now
        let r = try transfer(data, loss: loss, reorder: reorder, duplicate: duplicate, seed: 21)
        let elapsed = ContinuousClock().now - wall
        #expect(r.eof)
        #expect(r.received.count == data.count)
        #expect(r.received == data)
        if loss == 0 && reorder == 0 && duplicate == 0 { #expect(r.retransmits == 0) }
        print("1 MiB with loss \(loss)% reorder \(reorder)% dup \(duplicate)%: \(Double(r.simulatedTime) / 1e9) s simulated, \(r.retransmits) retransmits (\(r.timeouts) timeouts), wall \(elapsed)")
    }

    @Test func corruptedSegmentsAreDroppedAndRecovered() throws {
        let data = pattern(256 * 1024, seed: 12)
        let r = try transfer(data, corrupt: 5, seed: 4)
        #expect(r.received == data && r.eof)
        #expect(r.badChecksums > 0)
    }

    @Test func readinessAndChangeNotification() throws {
        let p = Pair()
        let fresh = p.a.socket(.stream)
        #expect(p.a.readiness(fresh) == [.writable, .hup])  // Linux reports a new TCP socket so
        let (c, s, l) = try p.establish()
        _ = p.a.takeChangedSockets()
        _ = p.b.takeChangedSockets()
        #expect(p.b.readiness(s) == [.writable])
        try p.a.send(c, [1, 2])
        p.run(for: Time.second) { p.b.readiness(s).contains(.readable) }
        #expect(p.b.takeChangedSockets().contains(s))
        #expect(p.b.readiness(s) == [.readable, .writable])
        try p.a.shutdown(c, .write)
        p.run(for: Time.second) { p.b.readiness(s).contains(.readHup) }
        #expect(p.b.readiness(s) == [.readable, .writable, .readHup])
        // A new connection makes the listener readable and is reported against the listener.
        let c2 = p.a.socket(.stream)
        #expect(throws: NetErrno.EINPROGRESS) { try p.a.connect(c2, SocketAddress(Pair.addrB, 80)) }
        _ = p.b.takeChangedSockets()
        p.run(for: Time.second) { p.b.readiness(l).contains(.readable) }
        #expect(p.b.takeChangedSockets().contains(l))
    }

    @Test func outOfOrderFloodIsBounded() throws {
        let p = Pair()
        let (c, s, _) = try p.establish()
        let t = p.a.tcpSockets[c]!
        let base = t.rcvNxt
        // 500 one-byte segments with gaps between them, all inside the window.
        for i in 0..<500 {
            p.wire.inject(forgeTCP(from: t.remote!, srcMAC: Pair.macB, to: t.local!, dstMAC: Pair.macA,
                                   seq: base &+ UInt32(2 + 2 * i), ack: t.sndNxt, flags: [.ack], payload: [0xee]), to: 0)
        }
        p.run(for: 10 * Time.millisecond)
        #expect(t.outOfOrder.count == TCPSocket.maxOutOfOrderRanges)
        #expect(p.a.tcpState(c) == .established)
        _ = s
    }

    @Test(arguments: [(true, true, true), (false, true, true), (true, false, true), (true, true, false), (false, false, false)])
    func optionCombinations(scaleB: Bool, timestampsB: Bool, sackB: Bool) throws {
        // A offers everything; B only some: each option is used only when both sides offered it.
        var cfg = StackConfig()
        let p = Pair(config: cfg)
        cfg.tcp.windowScaling = scaleB
        cfg.tcp.timestamps = timestampsB
        cfg.tcp.sack = sackB
        p.b.config = cfg
        p.wire.lossPercent = 2
        let (c, s, _) = try p.establish()
        let ca = p.a.tcpSockets[c]!, sb = p.b.tcpSockets[s]!
        #expect(ca.timestampsOn == timestampsB && sb.timestampsOn == timestampsB)
        #expect(ca.sackOn == sackB && sb.sackOn == sackB)
        #expect((ca.rcvScale != 0) == scaleB && ca.sndScale == sb.rcvScale && sb.sndScale == ca.rcvScale)
        let data = pattern(300_000, seed: 8)
        var sent = 0, got = [UInt8]()
        p.run(for: 120 * Time.second) {
            while sent < data.count, let n = try? p.a.send(c, Array(data[sent..<min(sent + 65536, data.count)])) { sent += n }
            while let d = try? p.b.recv(s, max: 70_000), !d.isEmpty { got += d }
            return got.count == data.count
        }
        #expect(got == data)
        #expect(ca.hasRTT)  // RTT measured either from timestamps or from a timed segment
    }

    @Test func smallMTUAndSequenceWrap() throws {
        let p = Pair(mtu: 576)
        p.a.isnOverride = 0xffff_ff00  // the transfer crosses 2^32
        p.wire.lossPercent = 1
        p.wire.reorderPercent = 2
        let (c, s, _) = try p.establish()
        #expect(p.a.tcpSockets[c]!.mss == 576 - 40 - 12)
        let data = pattern(200_000, seed: 9)
        var sent = 0, got = [UInt8]()
        p.run(for: 120 * Time.second) {
            while sent < data.count, let n = try? p.a.send(c, Array(data[sent..<min(sent + 65536, data.count)])) { sent += n }
            while let d = try? p.b.recv(s, max: 70_000), !d.isEmpty { got += d }
            return got.count == data.count
        }
        #expect(got == data)
        #expect(seqLT(p.a.tcpSockets[c]!.iss, p.a.tcpSockets[c]!.sndUna) && p.a.tcpSockets[c]!.sndUna < 0x1000_0000)
    }

    @Test func halfCloseKeepsTheOtherDirection() throws {
        let p = Pair()
        let (c, s, _) = try p.establish()
        try p.a.shutdown(c, .write)
        #expect(throws: NetErrno.EPIPE) { try p.a.send(c, [1]) }
        p.run(for: Time.second) { p.b.tcpState(s) == .closeWait }
        let data = pattern(100_000, seed: 2)
        var sent = 0, got = [UInt8]()
        var eof = false
        p.run(for: 10 * Time.second) {
            while sent < data.count, let n = try? p.b.send(s, Array(data[sent..<min(sent + 65536, data.count)])) { sent += n }
            if sent == data.count, p.b.tcpState(s) == .closeWait { try? p.b.shutdown(s, .write) }
            while let d = try? p.a.recv(c, max: 10_000) {
                if d.isEmpty { eof = true; break }
                got += d
            }
            return eof
        }
        #expect(got == data && eof)
        #expect(p.a.tcpState(c) == .timeWait)
    }

    @Test func closingListenerResetsPendingConnections() throws {
        let p = Pair()
        let (c, _, l) = try p.establish()
        let c2 = p.a.socket(.stream)
        #expect(throws: NetErrno.EINPROGRESS) { try p.a.connect(c2, SocketAddress(Pair.addrB, 80)) }
        p.run(for: Time.second) { p.b.readiness(l).contains(.readable) }
        try p.b.close(l)
        p.run(for: Time.second) { p.a.tcpState(c2) == .closed }
        #expect(p.a.socketError(c2) == .ECONNRESET)
        #expect(p.a.tcpState(c) == .established)  // the accepted connection is not the listener's any more
        // The accepted connection still holds port 80: a new listener needs SO_REUSEADDR, as on Linux.
        let l2 = p.b.socket(.stream)
        #expect(throws: NetErrno.EADDRINUSE) { try p.b.bind(l2, SocketAddress(.any, 80)) }
        try p.b.setOption(l2, .reuseAddress(true))
        try p.b.bind(l2, SocketAddress(.any, 80))
        try p.b.listen(l2, backlog: 1)
        let l3 = p.b.socket(.stream)
        try p.b.setOption(l3, .reuseAddress(true))
        #expect(throws: NetErrno.EADDRINUSE) { try p.b.bind(l3, SocketAddress(.any, 80)) }  // never over a listener
    }

    @Test func orphanedFinWait2TimesOut() throws {
        let p = Pair()
        let (c, s, _) = try p.establish()
        try p.a.close(c)
        p.run(for: Time.second)
        #expect(p.b.tcpState(s) == .closeWait)
        #expect(p.a.tcpConnections.values.first?.state == .finWait2)
        p.run(for: 61 * Time.second)
        #expect(p.a.tcpConnectionCount == 0)
    }

    @Test func randomForgedSegmentsNeverBreakTheStack() throws {
        // Forged segments with random flags, sequence and acknowledgment numbers (some near the real
        // ones) and random payloads hit a live connection while it transfers data. The stack must not
        // trap; the connection either completes the transfer intact or ends with a clean reset.
        for seed: UInt64 in 1...4 {
            let p = Pair(seed: seed)
            let (c, s, _) = try p.establish()
            var rng = SplitMix64(seed: seed * 77)
            let data = pattern(200_000, seed: seed)
            var sent = 0, got = [UInt8]()
            var failed = false
            p.run(for: 60 * Time.second) {
                let t = p.a.tcpSockets[c]!
                if rng.below(4) == 0, t.state == .established {
                    let near = rng.below(2) == 0
                    let seq = near ? t.rcvNxt &+ UInt32(truncatingIfNeeded: rng.below(200_000)) &- 100_000 : rng.next32()
                    let ack = near ? t.sndNxt &+ UInt32(truncatingIfNeeded: rng.below(200)) &- 100 : rng.next32()
                    let flags = TCPFlags(rawValue: UInt8(truncatingIfNeeded: rng.next()))
                    let payload = (0..<Int(rng.below(40))).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                    p.wire.inject(forgeTCP(from: t.remote!, srcMAC: Pair.macB, to: t.local!, dstMAC: Pair.macA, seq: seq,
                                           ack: ack, flags: flags, window: UInt16(truncatingIfNeeded: rng.next()),
                                           payload: payload), to: 0)
                }
                while sent < data.count, let n = try? p.a.send(c, Array(data[sent..<min(sent + 65536, data.count)])) { sent += n }
                do {
                    while true {
                        let d = try p.b.recv(s, max: 70_000)
                        if d.isEmpty { break }
                        got += d
                    }
                } catch NetErrno.EAGAIN {
                } catch { failed = true }
                if p.a.tcpState(c) == .closed || p.b.tcpState(s) == .closed { failed = true }
                return got.count == data.count || failed
            }
            // B's receive stream is what A sent (forged data goes to A, not B): never corrupted.
            #expect(got == Array(data.prefix(got.count)))
            if !failed { #expect(got == data) }
        }
    }

    @Test(arguments: [true, false])
    func twoHolesInOneWindowRecoverWithoutTimeout(sack: Bool) throws {
        var cfg = StackConfig()
        cfg.tcp.sack = sack
        let p = Pair(config: cfg)
        let (c, s, _) = try p.establish()
        let base = p.a.tcpSockets[c]!.sndNxt
        let mss = UInt32(p.a.tcpSockets[c]!.mss)
        // Lose the 3rd and 6th data segments of the first flight, once each.
        var toDrop: Set<UInt32> = [base &+ 2 * mss, base &+ 5 * mss]
        p.wire.filter = { side, f in
            guard side == 0, let (_, t, len) = tcpOf(f), len > 0, toDrop.contains(t.sequence) else { return true }
            toDrop.remove(t.sequence)
            return false
        }
        let data = pattern(20 * Int(mss), seed: 4)
        try #require(try p.a.send(c, data) == data.count)
        var got = [UInt8]()
        p.run(for: 10 * Time.second) { got += (try? p.b.recv(s, max: 1 << 20)) ?? []; return got.count == data.count }
        #expect(got == data)
        #expect(toDrop.isEmpty)
        #expect(p.a.stats.tcpFastRetransmits == 1)
        // SACK resends the second hole on the next duplicate ACKs; NewReno on the partial ACK. Neither times out.
        #expect(p.a.stats.tcpTimeouts == 0)
        #expect(p.a.stats.tcpRetransmits == 2)
    }

    @Test func lostFinalAckIsRecoveredFromTimeWait() throws {
        let p = Pair()
        let (c, s, _) = try p.establish()
        try p.a.close(c)
        p.run(for: Time.second) { p.b.tcpState(s) == .closeWait }
        // Lose A's ACK of B's FIN once: B retransmits the FIN from LAST-ACK; A answers from TIME-WAIT.
        var dropped = false
        p.wire.filter = { side, f in
            guard side == 0, !dropped, let (_, t, len) = tcpOf(f), len == 0, t.flags == [.ack] else { return true }
            dropped = true
            return false
        }
        try p.b.close(s)
        p.run(for: 5 * Time.second) { p.b.tcpConnectionCount == 0 }
        #expect(dropped)
        #expect(p.b.tcpConnectionCount == 0)
        #expect(p.b.stats.tcpRetransmits >= 1)
        #expect(p.a.tcpConnections.values.first?.state == .timeWait)
    }

    @Test func resetDuringHandshake() throws {
        let p = Pair()
        let l = p.b.socket(.stream)
        try p.b.bind(l, SocketAddress(.any, 80))
        try p.b.listen(l, backlog: 4)
        // B's SYN,ACK never arrives; A's side is then reset by a forged RST with the right sequence.
        try p.a.ping(Pair.addrB, identifier: 1, sequence: 1)  // resolve B first
        p.run(for: Time.second) { !p.a.echoReplies.isEmpty }
        p.wire.filter = { side, _ in side != 1 }
        let c = p.a.socket(.stream)
        #expect(throws: NetErrno.EINPROGRESS) { try p.a.connect(c, SocketAddress(Pair.addrB, 80)) }
        p.run(for: 100 * Time.millisecond)
        let embryo = try #require(p.b.tcpConnections.values.first)
        #expect(embryo.state == .synReceived && p.b.tcpListeners.values.first?.embryonic == 1)
        // An RST at the embryo's rcvNxt sends it back to LISTEN (the listener forgets it).
        let key = embryo.key!
        p.wire.inject(forgeTCP(from: key.remote, srcMAC: Pair.macA, to: key.local, dstMAC: Pair.macB, seq: embryo.rcvNxt,
                               ack: 0, flags: [.rst]), to: 1)
        p.run(for: Time.millisecond)
        #expect(p.b.tcpConnectionCount == 0 && p.b.tcpListeners.values.first?.embryonic == 0)
        // In SYN-SENT, an RST whose ACK does not cover our SYN is ignored; one that does refuses.
        let t = p.a.tcpSockets[c]!
        p.wire.inject(forgeTCP(from: t.remote!, srcMAC: Pair.macB, to: t.local!, dstMAC: Pair.macA, seq: 0,
                               ack: t.iss &+ 1000, flags: [.rst, .ack]), to: 0)
        p.run(for: Time.millisecond)
        #expect(p.a.tcpState(c) == .synSent)
        p.wire.inject(forgeTCP(from: t.remote!, srcMAC: Pair.macB, to: t.local!, dstMAC: Pair.macA, seq: 0,
                               ack: t.iss &+ 1, flags: [.rst, .ack]), to: 0)
        p.run(for: Time.millisecond)
        #expect(p.a.tcpState(c) == .closed)
        #expect(p.a.socketError(c) == .ECONNREFUSED)
    }

    @Test func pawsDropsSegmentsWithOldTimestamps() throws {
        let p = Pair()
        let (c, _, _) = try p.establish()
        let t = p.a.tcpSockets[c]!
        func inject(tsval: UInt32, _ byte: UInt8) {
            var o = TCPOptions()
            o.timestampValue = tsval
            o.timestampEcho = 0
            p.wire.inject(forgeTCP(from: t.remote!, srcMAC: Pair.macB, to: t.local!, dstMAC: Pair.macA, seq: t.rcvNxt,
                                   ack: t.sndNxt, flags: [.ack, .psh], payload: [byte], options: o), to: 0)
            p.run(for: Time.millisecond)
        }
        let recent = t.tsRecent
        inject(tsval: recent &- 1000, 1)  // an old duplicate from a previous wrap of the sequence space
        #expect(p.a.stats.tcpPAWSDropped == 1)
        #expect(throws: NetErrno.EAGAIN) { try p.a.recv(c, max: 10) }
        inject(tsval: recent &+ 5, 2)
        #expect(try p.a.recv(c, max: 10) == [2])
        #expect(t.tsRecent == recent &+ 5)
    }

    @Test func bufferOptionsPeekAndQueueSizes() throws {
        let p = Pair()
        let l = p.b.socket(.stream)
        try p.b.setOption(l, .receiveBuffer(8192))  // inherited by accepted connections
        try p.b.bind(l, SocketAddress(.any, 80))
        try p.b.listen(l, backlog: 1)
        let c = p.a.socket(.stream)
        try p.a.setOption(c, .sendBuffer(4096))
        #expect(throws: NetErrno.EINPROGRESS) { try p.a.connect(c, SocketAddress(Pair.addrB, 80)) }
        #expect(throws: NetErrno.EINVAL) { try p.a.setOption(c, .sendBuffer(1 << 20)) }  // too late
        var s: SocketID?
        p.run(for: Time.second) { s = s ?? (try? p.b.accept(l).0); return s != nil && p.a.tcpState(c) == .established }
        let server = try #require(s)
        #expect(p.b.tcpSockets[server]!.rcvScale == 0)  // 8 KiB needs no window scaling
        #expect(try p.a.send(c, [UInt8](repeating: 1, count: 10_000)) == 4096)
        #expect(try p.a.bytesUnacknowledged(c) == 4096)
        p.run(for: Time.second)
        #expect(try p.a.bytesUnacknowledged(c) == 0)
        #expect(try p.b.bytesReadable(server) == 4096)
        #expect(try p.b.recv(server, max: 3, peek: true) == [1, 1, 1])
        #expect(try p.b.bytesReadable(server) == 4096)
        #expect(try p.b.recv(server, max: 5000).count == 4096)
        #expect(try p.b.bytesReadable(server) == 0)
        #expect(throws: NetErrno.EINVAL) { try p.b.bytesReadable(l) }
    }

    @Test func manyConcurrentConnectionsOverALossyLink() throws {
        // 40 connections, each echoing its own 20 kB stream through B, over a link with loss and
        // reordering: every stream must come back intact and to its own socket.
        let p = Pair()
        p.wire.lossPercent = 2
        p.wire.reorderPercent = 2
        let l = p.b.socket(.stream)
        try p.b.bind(l, SocketAddress(.any, 7))
        try p.b.listen(l, backlog: 64)
        let n = 40
        let clients = (0..<n).map { _ in p.a.socket(.stream) }
        for c in clients { #expect(throws: NetErrno.EINPROGRESS) { try p.a.connect(c, SocketAddress(Pair.addrB, 7)) } }
        let streams = (0..<n).map { pattern(20_000, seed: UInt64(100 + $0)) }
        var sent = [Int](repeating: 0, count: n)
        var echoed = [[UInt8]](repeating: [], count: n)
        var servers: [SocketID] = []
        var pendingEcho: [SocketID: [UInt8]] = [:]
        let done = p.run(for: 300 * Time.second) {
            while let (s, _) = try? p.b.accept(l) { servers.append(s) }
            for s in servers {
                var out = pendingEcho[s] ?? []
                while let d = try? p.b.recv(s, max: 65536), !d.isEmpty { out += d }
                if !out.isEmpty, let k = try? p.b.send(s, out) { out.removeFirst(k) }
                pendingEcho[s] = out
            }
            for i in 0..<n where p.a.tcpState(clients[i]) == .established {
                if sent[i] < streams[i].count, let k = try? p.a.send(clients[i], Array(streams[i][sent[i]...])) { sent[i] += k }
                while let d = try? p.a.recv(clients[i], max: 65536), !d.isEmpty { echoed[i] += d }
            }
            return (0..<n).allSatisfy { echoed[$0].count == streams[$0].count }
        }
        #expect(done)
        for i in 0..<n { #expect(echoed[i] == streams[i]) }
        #expect(servers.count == n)
    }

    @Test func pointerSendAndReceive() throws {
        let p = Pair()
        let (c, s, _) = try p.establish()
        let data = pattern(700_000, seed: 13)  // more than the 256 KiB rings: wraps them several times
        var sent = 0
        var got = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 3000)  // an odd size, so copies straddle the ring's end
        var eof = false
        p.run(for: 60 * Time.second) {
            while sent < data.count {
                let n = data.withUnsafeBytes { all in
                    try? p.a.send(c, bytes: UnsafeRawBufferPointer(rebasing: all[sent..<min(sent + 50_000, data.count)]))
                }
                guard let n else { break }
                sent += n
            }
            if sent == data.count { try? p.a.shutdown(c, .write) }
            while true {
                let r = buffer.withUnsafeMutableBytes { try? p.b.recv(s, into: $0) }
                guard let (n, _) = r else { break }
                if n == 0 { eof = true; break }
                got += buffer[0..<n]
            }
            return eof
        }
        #expect(got == data && eof)
        // UDP: peek leaves the datagram; a short buffer truncates it.
        let u1 = p.a.socket(.datagram), u2 = p.b.socket(.datagram)
        try p.b.bind(u2, SocketAddress(.any, 5353))
        try [UInt8]([1, 2, 3, 4, 5]).withUnsafeBytes { _ = try p.a.sendTo(u1, bytes: $0, to: SocketAddress(Pair.addrB, 5353)) }
        p.run(for: Time.second) { p.b.readiness(u2).contains(.readable) }
        var small = [UInt8](repeating: 0, count: 3)
        let (n1, from) = try small.withUnsafeMutableBytes { try p.b.recv(u2, into: $0, peek: true) }
        let clientPort = try p.a.localAddress(u1).port
        #expect(n1 == 3 && small == [1, 2, 3] && from?.port == clientPort)
        let (n2, _) = try small.withUnsafeMutableBytes { try p.b.recv(u2, into: $0) }
        #expect(n2 == 3)
        #expect(throws: NetErrno.EAGAIN) { _ = try small.withUnsafeMutableBytes { try p.b.recv(u2, into: $0) } }
    }

    @Test func synRetransmitsBackOffFromInitialRTO() throws {
        var cfg = StackConfig()
        cfg.arpReachableTime = 1000 * Time.second  // the neighbour entry must outlive the test
        let p = Pair(config: cfg)
        try p.a.ping(Pair.addrB, identifier: 1, sequence: 1)  // resolve B first: the test is about TCP
        p.run(for: Time.second) { !p.a.echoReplies.isEmpty }
        p.wire.keepLog = true
        p.wire.filter = { side, _ in side != 1 }  // B is deaf
        let c = p.a.socket(.stream)
        #expect(throws: NetErrno.EINPROGRESS) { try p.a.connect(c, SocketAddress(Pair.addrB, 80)) }
        p.run(for: 200 * Time.second) { p.a.readiness(c).contains(.error) }
        let syns = p.wire.log.filter { $0.side == 0 }.compactMap { e in tcpOf(e.frame).map { (e.time, $0.1) } }.filter { $0.1.flags == [.syn] }
        // 1 s, then doubling: SYN at 0, 1, 3, 7, 15, 31, 63; then ETIMEDOUT at 127 s.
        let times = syns.map { $0.0 - syns[0].0 }
        #expect(times == [0, 1, 3, 7, 15, 31, 63].map { Int64($0) * Time.second })
        #expect(p.a.socketError(c) == .ETIMEDOUT)
    }

    @Test func dataRetransmitAtRTOThenDoubling() throws {
        let p = Pair()
        let (c, _, _) = try p.establish()
        let rto = p.a.tcpSockets[c]!.rto
        #expect(rto == 200 * Time.millisecond)  // RTT 2 ms: the 200 ms floor applies
        p.wire.keepLog = true
        p.wire.log = []
        p.wire.filter = { side, _ in side != 0 }  // everything A sends is lost
        let t0 = p.now
        try p.a.send(c, [1, 2, 3])
        p.run(for: 10 * Time.second)
        let sends = p.wire.log.filter { $0.side == 0 }.compactMap { e in tcpOf(e.frame).flatMap { $0.2 == 3 ? e.time - t0 : nil } }
        #expect(sends.count >= 5)
        #expect(Array(sends.prefix(5)) == [0, 200, 600, 1400, 3000].map { Int64($0) * Time.millisecond })
    }

    @Test func zeroWindowProbesUntilTheReaderDrains() throws {
        var cfg = StackConfig()
        cfg.tcp.receiveBufferSize = 16384
        let p = Pair(config: cfg)
        let (c, s, _) = try p.establish()
        p.wire.keepLog = true
        let data = pattern(100_000, seed: 5)
        var sent = 0
        p.run(for: 2 * Time.second) {
            while sent < data.count, let n = try? p.a.send(c, Array(data[sent..<min(sent + 8192, data.count)])) { sent += n }
            return false
        }
        let ca = p.a.tcpSockets[c]!
        #expect(ca.sndWnd == 0)
        #expect(p.b.tcpSockets[s]!.receiveBuffer.free == 0)
        // Watch the probes for a while: one byte each, spaced by a doubling interval.
        p.wire.log = []
        p.run(for: 20 * Time.second)
        let probes = p.wire.log.filter { $0.side == 0 }.compactMap { e in tcpOf(e.frame).flatMap { $0.2 == 1 ? e.time : nil } }
        #expect(probes.count >= 3)
        let gaps = zip(probes.dropFirst(), probes).map { $0 - $1 }
        for (g1, g2) in zip(gaps, gaps.dropFirst()) { #expect(g2 == min(2 * g1, 60 * Time.second)) }
        // Now read everything: the transfer completes.
        var got = [UInt8]()
        p.run(for: 120 * Time.second) {
            while sent < data.count, let n = try? p.a.send(c, Array(data[sent..<min(sent + 8192, data.count)])) { sent += n }
            while let d = try? p.b.recv(s, max: 4096), !d.isEmpty { got += d }
            return got.count == data.count
        }
        #expect(got == data)
    }

    @Test func simultaneousClose() throws {
        let p = Pair()
        let (c, s, _) = try p.establish()
        try p.a.shutdown(c, .write)
        try p.b.shutdown(s, .write)
        #expect(p.a.tcpState(c) == .finWait1 && p.b.tcpState(s) == .finWait1)
        p.run(for: Time.second) { p.a.tcpState(c) == .timeWait && p.b.tcpState(s) == .timeWait }
        #expect(p.a.tcpState(c) == .timeWait && p.b.tcpState(s) == .timeWait)
        #expect(try p.a.recv(c, max: 1) == [])
        #expect(p.a.readiness(c).contains(.hup))
        p.run(for: 61 * Time.second)
        #expect(p.a.tcpState(c) == .closed && p.b.tcpState(s) == .closed)
        #expect(p.a.tcpConnectionCount == 0 && p.b.tcpConnectionCount == 0)
    }

    @Test func simultaneousOpen() throws {
        let p = Pair()
        let ca = p.a.socket(.stream), cb = p.b.socket(.stream)
        try p.a.bind(ca, SocketAddress(.any, 5000))
        try p.b.bind(cb, SocketAddress(.any, 6000))
        #expect(throws: NetErrno.EINPROGRESS) { try p.a.connect(ca, SocketAddress(Pair.addrB, 6000)) }
        #expect(throws: NetErrno.EINPROGRESS) { try p.b.connect(cb, SocketAddress(Pair.addrA, 5000)) }
        p.run(for: 5 * Time.second) { p.a.tcpState(ca) == .established && p.b.tcpState(cb) == .established }
        #expect(p.a.tcpState(ca) == .established && p.b.tcpState(cb) == .established)
        try p.a.send(ca, [42])
        var got: [UInt8] = []
        p.run(for: Time.second) { got += (try? p.b.recv(cb, max: 10)) ?? []; return !got.isEmpty }
        #expect(got == [42])
    }

    /// Forges a segment from B's side of the connection to A.
    func forgeToA(_ p: Pair, _ c: SocketID, seq: UInt32, flags: TCPFlags) {
        let t = p.a.tcpSockets[c]!
        p.wire.inject(forgeTCP(from: t.remote!, srcMAC: Pair.macB, to: t.local!, dstMAC: Pair.macA, seq: seq,
                               ack: t.sndNxt, flags: flags), to: 0)
    }

    @Test func resetWithExactSequenceResets() throws {
        let p = Pair()
        let (c, _, _) = try p.establish()
        forgeToA(p, c, seq: p.a.tcpSockets[c]!.rcvNxt, flags: [.rst])
        p.run(for: Time.millisecond)
        #expect(p.a.tcpState(c) == .closed)
        #expect(p.a.readiness(c).contains(.error))
        #expect(throws: NetErrno.ECONNRESET) { try p.a.recv(c, max: 10) }
        #expect(try p.a.recv(c, max: 10) == [])
        #expect(throws: NetErrno.EPIPE) { try p.a.send(c, [1]) }
    }

    @Test func resetOutsideWindowIgnoredInsideChallenged() throws {
        let p = Pair()
        let (c, s, _) = try p.establish()
        let rcvNxt = p.a.tcpSockets[c]!.rcvNxt
        forgeToA(p, c, seq: rcvNxt &+ 10_000_000, flags: [.rst])   // far outside the window
        forgeToA(p, c, seq: rcvNxt &- 5, flags: [.rst])            // just before it
        p.run(for: Time.millisecond)
        #expect(p.a.tcpState(c) == .established)
        #expect(p.a.stats.tcpChallengeACKs == 0)
        forgeToA(p, c, seq: rcvNxt &+ 100, flags: [.rst])          // in the window, not exact
        p.run(for: Time.millisecond)
        #expect(p.a.tcpState(c) == .established)
        #expect(p.a.stats.tcpChallengeACKs == 1)
        // A SYN in the window also gets a challenge ACK (RFC 5961 4).
        forgeToA(p, c, seq: rcvNxt &+ 1, flags: [.syn])
        p.run(for: Time.millisecond)
        #expect(p.a.stats.tcpChallengeACKs == 2 && p.a.tcpState(c) == .established)
        // Data with an ACK far below sndUna (a blind injection, RFC 5961 5) is not accepted.
        let t = p.a.tcpSockets[c]!
        p.wire.inject(forgeTCP(from: t.remote!, srcMAC: Pair.macB, to: t.local!, dstMAC: Pair.macA, seq: rcvNxt,
                               ack: t.sndUna &- 0x4000_0000, flags: [.ack], payload: [0x66]), to: 0)
        p.run(for: Time.millisecond)
        #expect(p.a.stats.tcpChallengeACKs == 3)
        #expect(throws: NetErrno.EAGAIN) { try p.a.recv(c, max: 10) }
        // The connection still works.
        try p.a.send(c, [7])
        var got: [UInt8] = []
        p.run(for: Time.second) { got += (try? p.b.recv(s, max: 10)) ?? []; return !got.isEmpty }
        #expect(got == [7])
    }

    @Test func closeWithUnreadDataSendsReset() throws {
        let p = Pair()
        let (c, s, _) = try p.establish()
        try p.a.send(c, [1, 2, 3])
        p.run(for: Time.second) { p.b.readiness(s).contains(.readable) }
        try p.b.close(s)
        p.run(for: Time.second) { p.a.tcpState(c) == .closed }
        #expect(p.a.socketError(c) == .ECONNRESET)
    }

    @Test func synBacklogOverflowDropsThenRecovers() throws {
        let p = Pair()
        let l = p.b.socket(.stream)
        try p.b.bind(l, SocketAddress(.any, 80))
        try p.b.listen(l, backlog: 2)
        // Linux queues backlog + 1 connections (the queue is full once it holds more than backlog);
        // embryonic connections do not count. Four SYNs at once: all four are answered, and the
        // fourth client's last ACK finds the queue full and is dropped (the client is established).
        let clients = (0..<4).map { _ in p.a.socket(.stream) }
        for c in clients { #expect(throws: NetErrno.EINPROGRESS) { try p.a.connect(c, SocketAddress(Pair.addrB, 80)) } }
        p.run(for: 500 * Time.millisecond)
        #expect(clients.allSatisfy { p.a.tcpState($0) == .established })
        #expect(p.b.stats.tcpListenOverflows == 1)
        #expect(p.b.stats.tcpListenDrops == 1)
        #expect(p.b.readiness(l) == [.readable])
        // A fifth SYN finds the queue full: dropped (both counters), the client keeps retrying.
        let fifth = p.a.socket(.stream)
        #expect(throws: NetErrno.EINPROGRESS) { try p.a.connect(fifth, SocketAddress(Pair.addrB, 80)) }
        p.run(for: 100 * Time.millisecond)
        #expect(p.a.tcpState(fifth) == .synSent)
        #expect(p.b.stats.tcpListenOverflows == 2)
        #expect(p.b.stats.tcpListenDrops == 2)
        #expect(p.b.stats.tcpReqQFullDrop == 0)
        // Accepting makes room; the embryo's SYN,ACK retransmission (at 1 s) draws the fourth client's
        // ACK, which completes it, and the fifth client's SYN retransmission gets in after the next accept.
        _ = try p.b.accept(l)
        p.run(for: 1500 * Time.millisecond)
        var accepted = 1
        p.run(for: 5 * Time.second) {
            while (try? p.b.accept(l)) != nil { accepted += 1 }
            return accepted == 5
        }
        #expect(accepted == 5)
        #expect(p.a.tcpState(fifth) == .established)
        #expect(throws: NetErrno.EAGAIN) { try p.b.accept(l) }
    }

    @Test func synBacklogBoundsEmbryonicConnectionsSeparately() throws {
        let p = Pair()
        let l = p.b.socket(.stream)
        try p.b.bind(l, SocketAddress(.any, 80))
        try p.b.listen(l, backlog: 1)
        // The clients' ACKs are lost, so every answered SYN leaves an embryonic connection: backlog 1
        // (two queued connections) bounds none of them; the embryonic bound is max(backlog, 256).
        let bound = 256
        // Resolve the neighbours first (a refused connection), so that no SYN waits for ARP.
        let probe = p.a.socket(.stream)
        #expect(throws: NetErrno.EINPROGRESS) { try p.a.connect(probe, SocketAddress(Pair.addrB, 81)) }
        p.run(for: 100 * Time.millisecond)
        p.wire.filter = { side, f in
            guard side == 0, let (_, t, _) = tcpOf(f) else { return true }
            return t.flags.contains(.syn)   // A's SYNs pass, its ACKs do not
        }
        let clients = (0..<(bound + 10)).map { _ in p.a.socket(.stream) }
        for c in clients { #expect(throws: NetErrno.EINPROGRESS) { try p.a.connect(c, SocketAddress(Pair.addrB, 80)) } }
        p.run(for: 500 * Time.millisecond)
        #expect(clients.filter { p.a.tcpState($0) == .established }.count == bound)
        #expect(p.b.stats.tcpReqQFullDrop == 10)
        #expect(p.b.stats.tcpListenDrops == 10)
        #expect(p.b.stats.tcpListenOverflows == 0)
        // The ACKs flow again: the SYN,ACK retransmissions complete two (the queue then is full), the
        // rest stay embryonic and their ACKs are dropped as overflows.
        p.wire.filter = nil
        p.run(for: 1500 * Time.millisecond)
        var accepted = 0
        while (try? p.b.accept(l)) != nil { accepted += 1 }
        #expect(accepted == 2)
        #expect(p.b.stats.tcpListenOverflows >= bound - 2)
    }

    @Test func nagleHoldsSmallSegmentsUnlessNoDelay() throws {
        for noDelay in [false, true] {
            let p = Pair()
            let (c, _, _) = try p.establish()
            try p.a.setOption(c, .noDelay(noDelay))
            p.wire.keepLog = true
            p.wire.log = []
            for _ in 0..<5 { try p.a.send(c, [1]) }
            let dataSegments = p.wire.log.filter { $0.side == 0 }.compactMap { tcpOf($0.frame) }.filter { $0.2 > 0 }.count
            #expect(dataSegments == (noDelay ? 5 : 1))
        }
    }

    @Test func delayedAckAcknowledgesAfterTimeout() throws {
        let p = Pair()
        let (c, s, _) = try p.establish()
        p.wire.keepLog = true
        p.wire.log = []
        let t0 = p.now
        try p.a.send(c, [1])
        p.run(for: Time.second)
        let acks = p.wire.log.filter { $0.side == 1 }.compactMap { e in tcpOf(e.frame).map { (e.time - t0, $0.1) } }
        #expect(acks.count == 1)
        // Sent at t0, arrives at +1 ms, acknowledged 40 ms later.
        #expect(acks.first?.0 == 41 * Time.millisecond)
        _ = s
    }

    @Test func keepaliveDetectsDeadPeer() throws {
        var cfg = StackConfig()
        cfg.tcp.keepaliveIdle = 10 * Time.second
        cfg.tcp.keepaliveInterval = Time.second
        cfg.tcp.keepaliveProbes = 3
        let p = Pair(config: cfg)
        let (c, _, _) = try p.establish()
        try p.a.setOption(c, .keepAlive(true))
        p.run(for: 30 * Time.second)
        #expect(p.a.tcpState(c) == .established)  // the peer answers the probes
        p.wire.filter = { side, _ in side != 1 }  // B goes silent
        p.run(for: 30 * Time.second) { p.a.tcpState(c) == .closed }
        #expect(p.a.socketError(c) == .ETIMEDOUT)
    }

    @Test func apiErrors() throws {
        let p = Pair()
        let t = p.a.socket(.stream)
        #expect(throws: NetErrno.ENOTCONN) { try p.a.send(t, [1]) }
        #expect(throws: NetErrno.ENOTCONN) { try p.a.recv(t, max: 1) }
        #expect(throws: NetErrno.ENOTCONN) { try p.a.shutdown(t, .both) }
        #expect(throws: NetErrno.EINVAL) { try p.a.accept(t) }
        try p.a.bind(t, SocketAddress(.any, 80))
        let t2 = p.a.socket(.stream)
        #expect(throws: NetErrno.EADDRINUSE) { try p.a.bind(t2, SocketAddress(.any, 80)) }
        try p.a.listen(t, backlog: 1)
        #expect(throws: NetErrno.EINVAL) { try p.a.connect(t, SocketAddress(Pair.addrB, 1)) }
        #expect(throws: NetErrno.ENETUNREACH) { try p.a.connect(t2, SocketAddress(IPv4Address(172, 16, 0, 1), 1)) }
        try p.a.close(t)
        #expect(throws: NetErrno.EBADF) { try p.a.close(t) }
        try p.a.bind(t2, SocketAddress(.any, 80))
    }
}
