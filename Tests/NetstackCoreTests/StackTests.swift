import Testing
@testable import NetstackCore

@Suite struct StackTests {
    @Test func arpResolvesAndQueuesPendingPackets() throws {
        let p = Pair()
        let ub = p.b.socket(.datagram)
        try p.b.bind(ub, SocketAddress(.any, 9000))
        let ua = p.a.socket(.datagram)
        // Three datagrams before the neighbour is known: all wait for the one ARP exchange.
        for i in 0..<3 { try p.a.sendTo(ua, [UInt8(i)], to: SocketAddress(Pair.addrB, 9000)) }
        #expect(p.a.stats.arpRequestsSent == 1)
        var got: [[UInt8]] = []
        p.run(for: Time.second) {
            while let (d, _) = try? p.b.recvFrom(ub, max: 100) { got.append(d) }
            return got.count == 3
        }
        #expect(got == [[0], [1], [2]])
        #expect(p.a.neighbour(Pair.addrB, interface: 1) == Pair.macB)
        #expect(p.b.neighbour(Pair.addrA, interface: 1) == Pair.macA)  // learnt from the request
        #expect(p.a.stats.arpRequestsSent == 1)
    }

    @Test func arpGivesUpAfterRetries() throws {
        let p = Pair()
        let u = p.a.socket(.datagram)
        try p.a.sendTo(u, [1], to: SocketAddress(IPv4Address(10, 0, 0, 99), 9))
        p.run(for: 10 * Time.second)
        #expect(p.a.stats.arpRequestsSent == 3)
        #expect(p.a.stats.droppedUnresolved == 1)
        #expect(p.a.neighbour(IPv4Address(10, 0, 0, 99), interface: 1) == nil)
    }

    @Test func pingOverTheWireAndLoopback() throws {
        let p = Pair()
        try p.a.ping(Pair.addrB, identifier: 77, sequence: 1, payload: Array("abc".utf8))
        #expect(p.run(for: Time.second) { !p.a.echoReplies.isEmpty })
        #expect(p.a.echoReplies == [EchoReply(from: Pair.addrB, identifier: 77, sequence: 1, payload: Array("abc".utf8))])
        #expect(p.b.stats.icmpEchoRepliesSent == 1)
        try p.a.ping(.loopback, identifier: 1, sequence: 2)
        try p.a.ping(Pair.addrA, identifier: 1, sequence: 3)
        p.a.poll()
        #expect(p.a.echoReplies.map(\.sequence) == [1, 2, 3])
        #expect(throws: NetErrno.ENETUNREACH) { try p.a.ping(IPv4Address(192, 168, 9, 9), identifier: 1, sequence: 1) }
    }

    @Test func udpEchoIncludingFragmentedDatagram() throws {
        let p = Pair()
        let server = p.b.socket(.datagram)
        try p.b.bind(server, SocketAddress(.any, 7))
        let client = p.a.socket(.datagram)
        try p.a.connect(client, SocketAddress(Pair.addrB, 7))
        let big = (0..<5000).map { UInt8(truncatingIfNeeded: $0 * 31) }
        for msg in [Array("hello".utf8), big] {
            try p.a.send(client, msg)
            var echoed: [UInt8]?
            p.run(for: Time.second) {
                if let (d, from) = try? p.b.recvFrom(server, max: 65536) { _ = try? p.b.sendTo(server, d, to: from) }
                echoed = try? p.a.recv(client, max: 65536)
                return echoed != nil
            }
            #expect(echoed == msg)
        }
        #expect(p.a.readiness(client) == [.writable])
        // A datagram from a stranger does not reach the connected socket.
        let other = p.b.socket(.datagram)
        try p.b.sendTo(other, [9], to: try p.a.localAddress(client))
        p.run(for: Time.second)
        #expect(throws: NetErrno.EAGAIN) { try p.a.recv(client, max: 10) }
    }

    @Test func udpPortUnreachableRefusesConnectedSocket() throws {
        let p = Pair()
        let c = p.a.socket(.datagram)
        try p.a.connect(c, SocketAddress(Pair.addrB, 4444))
        try p.a.send(c, [1, 2, 3])
        p.run(for: Time.second)
        #expect(p.b.stats.icmpUnreachableSent == 1)
        #expect(p.a.readiness(c).contains(.error))
        #expect(throws: NetErrno.ECONNREFUSED) { try p.a.recv(c, max: 10) }
        #expect(throws: NetErrno.EAGAIN) { try p.a.recv(c, max: 10) }  // reported once
        // An unconnected socket is not told (as Linux without IP_RECVERR).
        let u = p.a.socket(.datagram)
        try p.a.sendTo(u, [1], to: SocketAddress(Pair.addrB, 4445))
        p.run(for: Time.second)
        #expect(p.a.socketError(u) == nil)
    }

    @Test func udpBroadcastNeedsSOBroadcast() throws {
        let p = Pair()
        let server = p.b.socket(.datagram)
        try p.b.bind(server, SocketAddress(.any, 67))
        let c = p.a.socket(.datagram)
        let subnet = SocketAddress(IPv4Address(10, 0, 0, 255), 67)
        #expect(throws: NetErrno.EACCES) { try p.a.sendTo(c, [1], to: subnet) }
        try p.a.setOption(c, .broadcast(true))
        try p.a.sendTo(c, [1], to: subnet)
        try p.a.sendTo(c, [2], to: SocketAddress(.broadcast, 67))
        var got: [[UInt8]] = []
        p.run(for: Time.second) {
            while let (d, _) = try? p.b.recvFrom(server, max: 10) { got.append(d) }
            return got.count == 2
        }
        #expect(got == [[1], [2]])
        #expect(p.a.stats.arpRequestsSent == 0)  // broadcasts need no resolution
    }

    @Test func udpBindErrors() throws {
        let p = Pair()
        let s1 = p.a.socket(.datagram), s2 = p.a.socket(.datagram)
        try p.a.bind(s1, SocketAddress(.any, 53))
        #expect(throws: NetErrno.EADDRINUSE) { try p.a.bind(s2, SocketAddress(Pair.addrA, 53)) }
        #expect(throws: NetErrno.EADDRNOTAVAIL) { try p.a.bind(s2, SocketAddress(IPv4Address(1, 2, 3, 4), 53)) }
        #expect(throws: NetErrno.EDESTADDRREQ) { try p.a.send(s1, [1]) }
        #expect(throws: NetErrno.EBADF) { try p.a.send(SocketID(raw: 999), [1]) }
        #expect(throws: NetErrno.EAGAIN) { try p.a.recv(s1, max: -5) }
        #expect(IPv4Address("10.0.0.1") == IPv4Address(10, 0, 0, 1))
        for bad in ["+1.2.3.4", "1.2.3", "1.2.3.256", "1..2.3", " 1.2.3.4"] { #expect(IPv4Address(bad) == nil, "\(bad)") }
        try p.a.close(s1)
        try p.a.bind(s2, SocketAddress(.any, 53))
    }

    @Test func routingLongestPrefixAndDefaultGateway() throws {
        let clock = FakeClock()
        let w = Wire(clock: clock)
        let s = NetworkStack(clock: clock)
        let e0 = s.addInterface(name: "eth0", mac: MACAddress(raw: 1), address: IPv4Address(10, 1, 0, 5), prefixLength: 16, link: w.end(0))
        let e1 = s.addInterface(name: "eth1", mac: MACAddress(raw: 2), address: IPv4Address(10, 1, 2, 5), prefixLength: 24, link: w.end(1))
        try s.setDefaultGateway(IPv4Address(10, 1, 0, 1), interface: e0)
        try s.addRoute(Route(destination: IPv4Address(192, 168, 0, 0), prefixLength: 16, gateway: IPv4Address(10, 1, 2, 1), interface: e1))
        #expect(s.route(to: IPv4Address(10, 1, 2, 9))?.interface.index == e1)   // /24 beats /16
        #expect(s.route(to: IPv4Address(10, 1, 3, 9))?.interface.index == e0)
        #expect(s.route(to: IPv4Address(10, 1, 3, 9))?.nextHop == IPv4Address(10, 1, 3, 9))
        #expect(s.route(to: IPv4Address(8, 8, 8, 8))?.nextHop == IPv4Address(10, 1, 0, 1))
        #expect(s.route(to: IPv4Address(192, 168, 7, 7))?.nextHop == IPv4Address(10, 1, 2, 1))
        #expect(s.route(to: IPv4Address(10, 1, 2, 5))?.isLocal == true)
        #expect(s.route(to: IPv4Address(127, 3, 3, 3))?.interface.isLoopback == true)
        #expect(throws: NetErrno.EINVAL) { try s.addRoute(Route(destination: .any, prefixLength: 40, gateway: nil, interface: 0)) }
    }

    @Test func hostileFramesAreCountedNotFatal() {
        let p = Pair()
        var rng = SplitMix64(seed: 5)
        for _ in 0..<500 {
            var f = [UInt8](repeating: 0, count: Int(rng.below(120)))
            for i in f.indices { f[i] = UInt8(truncatingIfNeeded: rng.next()) }
            if f.count >= 14 {
                Pair.macB.store(&f, 0)
                store16(&f, 12, rng.below(2) == 0 ? EtherType.ipv4 : EtherType.arp)
            }
            p.wire.inject(f, to: 1)
        }
        p.run(for: Time.second)
        #expect(p.b.stats.framesIn == 500)
        #expect(p.b.stats.malformed + p.b.stats.badChecksum > 400)
    }
}
