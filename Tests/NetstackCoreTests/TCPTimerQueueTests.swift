// The TCP timer queue (TCPTimerQueue.swift): with many connections, a timer round fires only the due
// ones and leaves the others' entries alone; the stack's next deadline is exact after deadlines are
// set, cleared, moved earlier or later; and an ACK a due delayed-ACK timer sends over loopback reaches
// its sender before the sender's later retransmission timer fires (no spurious retransmission after
// the stack was not polled for longer than an RTO).
import Testing
@testable import NetstackCore

@Suite struct TCPTimerQueueTests {
    /// A connection in the demultiplexing table (established, nothing in flight), keyed by port.
    func connection(_ s: NetworkStack, port: UInt16) -> TCPSocket {
        let c = TCPSocket(id: nil, stack: s, v6: false)
        c.local = SocketAddress(IPv4Address(10, 0, 0, 1), 80)
        c.remote = SocketAddress(IPv4Address(10, 0, 0, 2), port)
        c.state = .established
        s.tcpConnections[c.key!] = c
        return c
    }

    @Test func onlyDueConnectionsFire() {
        let clock = FakeClock()
        let s = NetworkStack(clock: clock)
        let n = 2000
        var conns: [TCPSocket] = []
        for i in 0..<n {
            let c = connection(s, port: UInt16(1000 + i))
            c.state = .timeWait
            c.orphaned = true
            // Armed in a scrambled order, due 1 ms apart.
            c.closeDeadline = Int64((i * 7919) % n + 1) * Time.millisecond
            conns.append(c)
        }
        #expect(s.nextDeadline == 1 * Time.millisecond)
        #expect(s.timers.count == n)
        clock.nanoseconds = 100 * Time.millisecond + 500_000
        s.tcpTimers(now: clock.nanoseconds)
        let fired = conns.filter { $0.state == .closed }
        #expect(fired.count == 100)
        #expect(fired.allSatisfy { $0.timerArmedAt == nil })
        #expect(conns.filter { $0.state == .timeWait }.allSatisfy { $0.closeDeadline! > clock.nanoseconds })
        #expect(s.tcpConnections.count == n - 100)
        // The round took the due entries only: the others are still queued, untouched.
        #expect(s.timers.count == n - 100)
        #expect(s.nextDeadline == 101 * Time.millisecond)
        // Nothing due: a round takes nothing off.
        s.tcpTimers(now: clock.nanoseconds)
        #expect(s.timers.count == n - 100)
    }

    @Test func nextDeadlineExactAfterSetClearAndReschedule() {
        let clock = FakeClock()
        let s = NetworkStack(clock: clock)
        let a = connection(s, port: 1)
        let b = connection(s, port: 2)
        #expect(s.nextDeadline == nil)
        a.rtoDeadline = 500
        #expect(s.nextDeadline == 500)
        a.delayedAckDeadline = 100   // earlier
        #expect(s.nextDeadline == 100)
        a.delayedAckDeadline = nil   // cleared: back to the RTO
        #expect(s.nextDeadline == 500)
        a.rtoDeadline = 800          // postponed
        #expect(s.nextDeadline == 800)
        b.keepaliveDeadline = 300
        #expect(s.nextDeadline == 300)
        b.keepaliveDeadline = 900    // postponed past a's
        #expect(s.nextDeadline == 800)
        a.rtoDeadline = nil
        #expect(s.nextDeadline == 900)
        a.persistDeadline = 50
        #expect(s.nextDeadline == 50)
        s.tcpRemove(a, error: nil)   // gone from the table: its timers go with it
        #expect(s.nextDeadline == 900)
        b.closeDeadline = 700
        #expect(s.nextDeadline == 700)
        b.closeDeadline = nil
        b.keepaliveDeadline = nil
        #expect(s.nextDeadline == nil)
        // Stale entries were dropped as they came up; re-arming a cleared connection works.
        b.rtoDeadline = 1000
        #expect(s.nextDeadline == 1000)
        // Many re-arms of the same connection do not grow the queue: only earlier times push.
        for k in 0..<1000 { b.rtoDeadline = 1000 + Int64(k) }
        #expect(s.timers.count <= 2)
        #expect(s.nextDeadline == 1999)
    }

    /// Over loopback: A sends one byte, B delays its ACK (40 ms). Nobody polls for longer than A's RTO.
    /// Then B's delayed ACK is due before A's RTO: it must reach A first (as it would have on time),
    /// so A does not retransmit.
    @Test func delayedAckOverLoopbackBeatsALaterRTOAfterAStall() throws {
        let clock = FakeClock()
        let s = NetworkStack(clock: clock)
        let l = s.socket(.stream)
        try s.bind(l, SocketAddress(IPv4Address.loopback, 7000))
        try s.listen(l, backlog: 4)
        let c = s.socket(.stream)
        #expect(throws: NetErrno.EINPROGRESS) { try s.connect(c, SocketAddress(IPv4Address.loopback, 7000)) }
        for _ in 0..<4 { s.poll() }
        let (server, _) = try s.accept(l)
        #expect(s.tcpState(c) == .established)
        // Settle: the handshake's RTT sample and any pending timer.
        clock.nanoseconds += 2 * Time.second
        s.poll()
        let retransBefore = s.stats.tcpRetransmits
        #expect(try s.send(c, [1]) == 1)
        s.poll()   // the byte reaches B, whose ACK waits (delayed)
        #expect(try s.bytesReadable(server) == 1)
        let a = try #require(s.tcpSockets[c])
        let bConn = try #require(s.tcpSockets[server])
        #expect(bConn.delayedAckDeadline != nil)
        let rto = try #require(a.rtoDeadline)
        #expect(rto > bConn.delayedAckDeadline!)
        clock.nanoseconds = rto + 100 * Time.millisecond   // a stall past both timers
        s.poll()
        #expect(s.stats.tcpRetransmits == retransBefore)
        #expect(a.totalRetrans == 0)
        #expect(a.rtoDeadline == nil)   // everything acknowledged
        #expect(s.nextDeadline == nil || s.nextDeadline! > clock.nanoseconds)
    }
}
