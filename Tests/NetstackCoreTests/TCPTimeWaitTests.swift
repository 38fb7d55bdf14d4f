// A new connection on a 4-tuple the server still holds in TIME-WAIT (the server closed first, the
// client reconnects from the same port): the SYN takes the TIME-WAIT connection over at once, as on
// Linux (RFC 6191), instead of drawing an ACK, a reset from the client and a SYN retry 1 s later.
import Testing
@testable import NetstackCore

@Suite struct TCPTimeWaitTests {
    /// Connects A:port -> B:80, exchanges a byte, B closes first; returns once B's side is in
    /// TIME-WAIT and A's socket is gone.
    func serverClosesFirst(_ p: Pair, listener l: SocketID, clientPort: UInt16) throws -> Bool {
        let c = p.a.socket(.stream)
        try p.a.bind(c, SocketAddress(Pair.addrA, clientPort))
        #expect(throws: NetErrno.EINPROGRESS) { try p.a.connect(c, SocketAddress(Pair.addrB, 80)) }
        var s: SocketID?
        p.run(for: Time.second) { s = s ?? (try? p.b.accept(l).0); return s != nil && p.a.tcpState(c) == .established }
        let server = try #require(s)
        #expect(try p.a.send(c, [7]) == 1)
        p.run(for: Time.second) { ((try? p.b.bytesReadable(server)) ?? 0) == 1 }
        #expect(try p.b.recv(server, max: 10) == [7])   // unread data would make close reset instead
        try p.b.close(server)
        p.run(for: Time.second) { (try? p.a.recv(c, max: 10)) == [] }
        try p.a.close(c)
        let key = ConnectionKey(local: SocketAddress(Pair.addrB, 80), remote: SocketAddress(Pair.addrA, clientPort))
        let ok = p.run(for: Time.second) { p.b.tcpConnections[key]?.state == .timeWait && p.a.tcpSockets[c] == nil }
        if !ok { Issue.record("B: \(String(describing: p.b.tcpConnections[key]?.state)) A: \(String(describing: p.a.tcpSockets[c]?.state)) server \(String(describing: p.b.tcpSockets[server]?.state))") }
        return ok
    }

    @Test func synOnTimeWaitStartsNewConnectionAtOnce() throws {
        let p = Pair()
        let l = p.b.socket(.stream)
        try p.b.bind(l, SocketAddress(.any, 80))
        try p.b.listen(l, backlog: 4)
        for round in 0..<3 {
            #expect(try serverClosesFirst(p, listener: l, clientPort: 40000), "round \(round)")
            p.run(for: 10 * Time.millisecond)
        }
        // Each reconnection (rounds 1 and 2) found the previous one in TIME-WAIT and took it over.
        #expect(p.b.stats.tcpTimeWaitReused == 2)
        #expect(p.b.stats.tcpChallengeACKs == 0)
        // And it was immediate: one more round on the same port completes well inside a SYN timeout.
        let start = p.now
        #expect(try serverClosesFirst(p, listener: l, clientPort: 40000))
        #expect(p.now - start < 500 * Time.millisecond)
        #expect(p.b.stats.tcpTimeWaitReused == 3)
    }

    @Test func oldSequenceSynDoesNotTakeOverTimeWait() throws {
        // A SYN below what the TIME-WAIT connection already received is an old duplicate: it gets the
        // ACK (RFC 9293) and the connection stays in TIME-WAIT.
        let p = Pair()
        let l = p.b.socket(.stream)
        try p.b.bind(l, SocketAddress(.any, 80))
        try p.b.listen(l, backlog: 4)
        #expect(try serverClosesFirst(p, listener: l, clientPort: 40001))
        let key = ConnectionKey(local: SocketAddress(Pair.addrB, 80), remote: SocketAddress(Pair.addrA, 40001))
        let tw = try #require(p.b.tcpConnections[key])
        tw.timestampsOn = false
        var syn = TCPHeader()
        syn.sourcePort = 40001
        syn.destinationPort = 80
        syn.sequence = tw.rcvNxt &- 100
        syn.flags = [.syn]
        #expect(p.b.timeWaitReuse(tw, syn) == nil)
        syn.sequence = tw.rcvNxt &+ 100
        #expect(p.b.timeWaitReuse(tw, syn) == tw.sndNxt &+ 65537)
        syn.flags = [.syn, .ack]
        #expect(p.b.timeWaitReuse(tw, syn) == nil)
    }

    @Test func isnGrowsWithTheClockOnOneFourTuple() throws {
        // RFC 6528: clock plus a keyed hash of the 4-tuple, so a later connection on the same 4-tuple
        // starts above an earlier one (what the peer's TIME-WAIT check looks at).
        let p = Pair()
        let local = SocketAddress(Pair.addrA, 40002), remote = SocketAddress(Pair.addrB, 80)
        let h = p.a.connectionHash(local, remote, ports: true)
        #expect(h == p.a.connectionHash(local, remote, ports: true))
        #expect(h != p.a.connectionHash(local, SocketAddress(Pair.addrB, 81), ports: true))
        #expect(p.a.connectionHash(local, remote, ports: false) == p.a.connectionHash(SocketAddress(Pair.addrA, 1), SocketAddress(Pair.addrB, 2), ports: false))
    }
}
