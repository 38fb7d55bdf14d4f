// Per-socket TCP_KEEPIDLE / TCP_KEEPINTVL / TCP_KEEPCNT driving keepalive probes, and SO_LINGER {on, 0}
// turning close into a reset, on the deterministic in-memory wire.
import Testing
@testable import NetstackCore

@Suite struct SocketOptionTests {
    /// Keepalive probes A sent (ACK-only segments below snd.una: seq = snd.una - 1, no payload).
    static func probes(_ p: Pair, after t0: Int64) -> [Int64] {
        p.wire.log.filter { $0.side == 0 && $0.time >= t0 }.compactMap { e -> Int64? in
            guard let (_, t, len) = tcpOf(e.frame), len == 0, t.flags == [.ack] else { return nil }
            return e.time
        }
    }

    @Test func keepIdleIntervalAndCountTimeOutASilentPeer() throws {
        let p = Pair()   // stack defaults: 7200 s idle; the socket's own values must win
        let (c, _, _) = try p.establish()
        try p.a.setOption(c, .keepIdle(5))
        try p.a.setOption(c, .keepInterval(2))
        try p.a.setOption(c, .keepCount(3))
        try p.a.setOption(c, .keepAlive(true))
        p.wire.filter = { side, _ in side != 1 }   // B disappears at once
        p.wire.keepLog = true
        let t0 = p.now
        p.run(for: 10_900 * Time.millisecond)   // idle 5 + 3 probes * 2 s = 11 s
        #expect(p.a.tcpState(c) == .established)
        #expect(p.run(for: 200 * Time.millisecond) { p.a.tcpState(c) == .closed })
        #expect(p.a.socketError(c) == .ETIMEDOUT)
        let elapsed = p.now - t0
        #expect(elapsed >= 10_900 * Time.millisecond && elapsed <= 11_100 * Time.millisecond, "\(elapsed)")
        // Three probes, at idle, idle + intvl, idle + 2 intvl (the 4th deadline aborts with a RST).
        let sent = Self.probes(p, after: t0).map { ($0 - t0) / Time.millisecond }
        #expect(sent.count == 3 && sent.first.map { abs($0 - 5000) <= 5 } == true, "\(sent)")
        #expect(zip(sent, sent.dropFirst()).allSatisfy { abs($1 - $0 - 2000) <= 5 }, "\(sent)")
    }

    @Test func answeredProbesKeepTheConnection() throws {
        let p = Pair()
        let (c, _, _) = try p.establish()
        try p.a.setOption(c, .keepIdle(1))
        try p.a.setOption(c, .keepInterval(1))
        try p.a.setOption(c, .keepCount(1))
        try p.a.setOption(c, .keepAlive(true))
        p.wire.keepLog = true
        let t0 = p.now
        p.run(for: 20 * Time.second)
        #expect(p.a.tcpState(c) == .established)
        #expect(Self.probes(p, after: t0).count >= 15)   // one per idle second, each answered
    }

    @Test func keepaliveOptionsAreInheritedByAcceptedConnections() throws {
        let p = Pair()
        let l = p.b.socket(.stream)
        try p.b.bind(l, SocketAddress(.any, 81))
        try p.b.setOption(l, .keepIdle(3))
        try p.b.setOption(l, .keepInterval(1))
        try p.b.setOption(l, .keepCount(2))
        try p.b.setOption(l, .keepAlive(true))
        try p.b.listen(l, backlog: 4)
        let c = p.a.socket(.stream)
        #expect(throws: NetErrno.EINPROGRESS) { try p.a.connect(c, SocketAddress(Pair.addrB, 81)) }
        var s: SocketID?
        #expect(p.run { if s == nil, let (x, _) = try? p.b.accept(l) { s = x }; return s != nil })
        let accepted = try #require(s)
        p.wire.filter = { side, _ in side != 0 }   // A disappears
        let t0 = p.now
        #expect(p.run(for: 10 * Time.second) { p.b.tcpState(accepted) == .closed })
        #expect(p.b.socketError(accepted) == .ETIMEDOUT)
        let elapsed = (p.now - t0) / Time.millisecond
        #expect(elapsed >= 4_900 && elapsed <= 5_100, "\(elapsed)")   // 3 + 2 * 1
    }

    @Test func outOfRangeValuesAreEINVALAsOnLinux() throws {
        let p = Pair()
        let t = p.a.socket(.stream)
        #expect(throws: NetErrno.EINVAL) { try p.a.setOption(t, .keepIdle(0)) }
        #expect(throws: NetErrno.EINVAL) { try p.a.setOption(t, .keepIdle(32768)) }
        #expect(throws: NetErrno.EINVAL) { try p.a.setOption(t, .keepInterval(0)) }
        #expect(throws: NetErrno.EINVAL) { try p.a.setOption(t, .keepCount(128)) }
        try p.a.setOption(t, .keepIdle(32767))
        try p.a.setOption(t, .keepCount(127))
        let u = p.a.socket(.datagram)
        #expect(throws: NetErrno.ENOPROTOOPT) { try p.a.setOption(u, .keepIdle(5)) }
    }

    @Test func lingerZeroCloseSendsResetAndDropsUnsentData() throws {
        let p = Pair()
        let (c, s, _) = try p.establish()
        try p.a.setOption(c, .linger(true, 0))
        p.wire.keepLog = true
        let t0 = p.now
        try p.a.close(c)
        #expect(p.run { p.b.peekError(s) != nil || p.b.tcpState(s) == .closed })
        #expect(p.b.socketError(s) == .ECONNRESET)
        let fromA = p.wire.log.filter { $0.side == 0 && $0.time >= t0 }.compactMap { tcpOf($0.frame)?.1.flags }
        #expect(fromA.contains { $0.contains(.rst) } && !fromA.contains { $0.contains(.fin) }, "\(fromA)")
        #expect(p.a.tcpConnectionCount == 0)   // no TIME-WAIT after an abortive close
    }

    @Test func lingerWithATimeoutStillClosesGracefully() throws {
        let p = Pair()
        let (c, s, _) = try p.establish()
        try p.a.setOption(c, .linger(true, 5))
        p.wire.keepLog = true
        let t0 = p.now
        try p.a.close(c)
        #expect(p.run { (try? p.b.recv(s, max: 10))?.isEmpty == true })   // EOF, not a reset
        let fromA = p.wire.log.filter { $0.side == 0 && $0.time >= t0 }.compactMap { tcpOf($0.frame)?.1.flags }
        #expect(fromA.contains { $0.contains(.fin) } && !fromA.contains { $0.contains(.rst) }, "\(fromA)")
    }

    @Test func typeOfServiceIsWrittenIntoEveryPacket() throws {
        let p = Pair()
        let (c, s, _) = try p.establish()
        try p.a.setOption(c, .typeOfService(0xbb))   // TCP: the ECN bits (low two) are the stack's
        p.wire.keepLog = true
        let t0 = p.now
        _ = try p.a.send(c, [UInt8](repeating: 7, count: 3000))
        #expect(p.run { ((try? p.b.bytesReadable(s)) ?? 0) >= 3000 })
        let tcpTOS = Set(p.wire.log.filter { $0.side == 0 && $0.time >= t0 }.compactMap { tcpOf($0.frame)?.0.tos })
        #expect(tcpTOS == [0xb8], "\(tcpTOS)")
        let u = p.a.socket(.datagram)
        try p.a.setOption(u, .typeOfService(0x2b))   // UDP: written as given
        let before = p.wire.log.count
        _ = try p.a.sendTo(u, [1, 2, 3], to: SocketAddress(Pair.addrB, 9))
        p.run(for: 10 * Time.millisecond)
        let udpTOS = p.wire.log[before...].compactMap { e -> UInt8? in
            guard let ip = try? IPv4Header.parse(e.frame, at: 14), ip.proto == IPProtocol.udp else { return nil }
            return ip.tos
        }
        #expect(udpTOS == [0x2b], "\(udpTOS)")
        #expect(throws: NetErrno.EINVAL) { try p.a.setOption(u, .trafficClass(256)) }
    }

    @Test func interfaceCountersCountFrames() throws {
        let p = Pair()
        let (c, s, _) = try p.establish()
        let a = p.a.interfaces[1], b = p.b.interfaces[1]
        let (aTx, bRx) = (a.txPackets, b.rxPackets)
        let (aTxBytes, bRxBytes) = (a.txBytes, b.rxBytes)
        for _ in 0..<10 {   // ten 100-byte writes, each pushed out at once
            try p.a.setOption(c, .noDelay(true))
            _ = try p.a.send(c, [UInt8](repeating: 1, count: 100))
            p.run(for: 50 * Time.millisecond)
        }
        #expect(((try? p.b.bytesReadable(s)) ?? 0) == 1000)
        #expect(a.txPackets - aTx >= 10 && b.rxPackets - bRx == a.txPackets - aTx)   // a lossless wire
        #expect(a.txBytes - aTxBytes >= 10 * (14 + 20 + 20 + 100) && b.rxBytes - bRxBytes == a.txBytes - aTxBytes)
        #expect(b.txPackets > 0 && a.rxPackets > 0)   // the ACKs
    }
}
