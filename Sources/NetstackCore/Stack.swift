// The stack object: interfaces, routes, the neighbour table, IPv4 input and output, and timers.
// Everything runs on the caller's thread: `poll()` drains the links and fires due timers; the clock and
// the links are injected, so a test drives the stack deterministically.

public struct StackConfig: Sendable {
    /// Seeds the random source (ISNs, ephemeral ports, IP identifications).
    public var seed: UInt64 = 1
    public var reassemblyMemoryLimit = 4 << 20
    public var reassemblyTimeout: Int64 = 30 * Time.second
    public var arpRetryInterval: Int64 = 1 * Time.second
    public var arpAttempts = 3
    /// How long a resolved neighbour is trusted before it is resolved again.
    public var arpReachableTime: Int64 = 60 * Time.second
    public var arpPendingLimit = 32
    public var udpReceiveBufferBytes = 212_992
    public var tcp = TCPConfig()

    public init() {}
}

public final class NetworkInterface {
    public let index: Int
    public let name: String
    public let mac: MACAddress
    public let address: IPv4Address
    public let prefixLength: Int
    public let mtu: Int
    let link: (any Link)?

    init(index: Int, name: String, mac: MACAddress, address: IPv4Address, prefixLength: Int, mtu: Int, link: (any Link)?) {
        self.index = index
        self.name = name
        self.mac = mac
        self.address = address
        self.prefixLength = prefixLength
        self.mtu = mtu
        self.link = link
    }

    /// /proc/net/dev counters: frames (with their Ethernet header) received and sent.
    public internal(set) var rxBytes = 0
    public internal(set) var rxPackets = 0
    public internal(set) var txBytes = 0
    public internal(set) var txPackets = 0
    func countTx(_ n: Int) { txBytes += n; txPackets += 1 }
    func countRx(_ n: Int) { rxBytes += n; rxPackets += 1 }

    /// IPv6 addresses with their on-link prefix lengths (a link-local one is made from the MAC).
    public internal(set) var ipv6: [IPv6InterfaceAddress] = []

    public var isLoopback: Bool { link == nil }
    var subnetBroadcast: IPv4Address {
        IPv4Address(raw: address.raw | ~IPv4Address.mask(prefix: prefixLength))
    }
}

public struct IPv6InterfaceAddress: Equatable, Sendable {
    public var address: IPv6Address
    public var prefixLength: Int
}

public struct Route: Equatable, Sendable {
    public var destination: IPv4Address
    public var prefixLength: Int
    public var gateway: IPv4Address?
    public var interface: Int

    public init(destination: IPv4Address, prefixLength: Int, gateway: IPv4Address?, interface: Int) {
        self.destination = destination
        self.prefixLength = prefixLength
        self.gateway = gateway
        self.interface = interface
    }

    func matches(_ a: IPv4Address) -> Bool {
        let m = IPv4Address.mask(prefix: prefixLength)
        return a.raw & m == destination.raw & m
    }
}

/// The outcome of a route lookup: where to send and which source address to use.
struct RouteResult {
    var interface: NetworkInterface
    var nextHop: IPv4Address
    var source: IPv4Address
    var isLocal: Bool
}

struct NeighbourKey: Hashable {
    var interface: Int
    var address: IPv4Address
}

struct Neighbour {
    var mac: MACAddress?
    /// IPv4 packets (with Ethernet headroom) waiting for resolution.
    var pending: [[UInt8]] = []
    var attempts = 0
    /// Next request when unresolved; expiry when resolved.
    var deadline: Int64
}

/// Counters for tests and diagnostics.
public struct StackStats: Sendable {
    public var framesIn = 0
    public var framesOut = 0
    public var malformed = 0
    public var badChecksum = 0
    public var arpRequestsSent = 0
    public var icmpEchoRepliesSent = 0
    public var icmpUnreachableSent = 0
    public var droppedNoRoute = 0
    public var droppedUnresolved = 0
    public var tcpSegmentsIn = 0
    public var tcpSegmentsOut = 0
    public var tcpRetransmits = 0
    public var tcpTimeouts = 0
    public var tcpPAWSDropped = 0
    public var tcpFastRetransmits = 0
    public var tcpResetsSent = 0
    public var tcpChallengeACKs = 0
    /// /proc/net/netstat TcpExt ListenOverflows: SYNs and handshake-completing ACKs dropped because
    /// the listener's accept queue was full.
    public var tcpListenOverflows = 0
    /// TcpExt ListenDrops: every segment a listener dropped (the overflows above, and SYNs beyond the
    /// embryonic bound).
    public var tcpListenDrops = 0
    /// TcpExt TCPReqQFullDrop: SYNs dropped because the listener had `synBacklog` embryonic
    /// connections (Linux counts this when its request queue is full and it sends no syncookie).
    public var tcpReqQFullDrop = 0
    /// SYNs that took over a connection in TIME-WAIT (RFC 6191).
    public var tcpTimeWaitReused = 0
    public var ipv6Dropped = 0
    public var ndpSolicitationsSent = 0
    // /proc/net/snmp (IPv4 only, as Linux's file): Ip, Icmp, Tcp opens, Udp.
    public var ipInReceives = 0
    public var ipInDelivers = 0
    public var ipOutRequests = 0
    // /proc/net/netstat's IpExt: octets (IP header included) and received packets by ECN codepoint.
    public var ipInOctets = 0
    public var ipOutOctets = 0
    public var ipInNoECTPkts = 0
    public var ipInECT1Pkts = 0
    public var ipInECT0Pkts = 0
    public var ipInCEPkts = 0
    public var icmpInMsgs = 0
    public var icmpOutMsgs = 0
    public var tcpActiveOpens = 0
    public var tcpPassiveOpens = 0
    public var udpInDatagrams = 0
    public var udpNoPorts = 0
    public var udpOutDatagrams = 0
}

/// An ICMP echo reply received for `ping`.
public struct EchoReply: Equatable, Sendable {
    public var from: IPv4Address
    public var identifier: UInt16
    public var sequence: UInt16
    public var payload: [UInt8]
}

public final class NetworkStack {
    /// Until this time, the application fell behind on a listener's accept queue (more than
    /// `acceptPressureQueue` connections, or half the backlog, waited): a driver that spins for work
    /// instead of sleeping should not (the application's accept loop needs the CPU).
    public internal(set) var acceptPressureUntil: Int64 = 0
    static let acceptPressureHold: Int64 = 50 * Time.millisecond
    static let acceptPressureQueue = 8
    /// The frame being handled has a TCP checksum the link vouched for (Link.receivedChecksumTrusted).
    var receivedChecksumTrusted = false
    /// Headroom reserved in front of every outgoing IPv4 packet for the Ethernet header.
    static let linkHeadroom = EthernetHeader.length
    /// Offset of the transport header in a packet built by the stack.
    static let transportOffset = EthernetHeader.length + IPv4Header.minLength

    let clock: any NetClock
    public internal(set) var config: StackConfig
    var rng: SplitMix64
    public internal(set) var stats = StackStats()

    public private(set) var interfaces: [NetworkInterface] = []
    public private(set) var routes: [Route] = []
    var neighbours: [NeighbourKey: Neighbour] = [:]
    var neighbours6: [Neighbour6Key: Neighbour] = [:]
    var ipv6Gateway: (address: IPv6Address, interface: Int)?
    /// ICMPv6 echo replies received (the answer to `ping6`), oldest first.
    public var echoReplies6: [EchoReply6] = []
    var loopbackQueue: [[UInt8]] = []
    /// Transmit buffers a link gave back after sending them (FramePool.swift): `makePacket` reuses them.
    public let framePool = FramePool()
    let reassembler: IPv4Reassembler
    var ipIdentification: UInt16

    // Sockets.
    var nextSocketID: Int32 = 3
    var udpSockets = SocketIDMap<UDPSocket>()
    var tcpSockets = SocketIDMap<TCPSocket>()
    /// Established and embryonic connections by 4-tuple; listeners by local address.
    var tcpConnections = ConnectionTable()
    var tcpListeners: [SocketAddress: TCPSocket] = [:]

    /// Sockets whose readiness may have changed since `takeChangedSockets()` was last called, each
    /// once (its `changeListed` flag): a list, not a Set, so touching one costs no hashing.
    var changedTCP: [TCPSocket] = []
    var changedUDP: [UDPSocket] = []
    private var changedTCPScratch: [TCPSocket] = []
    private var changedUDPScratch: [UDPSocket] = []
    /// Connections with an armed timer, by deadline (TCPTimerQueue.swift).
    var timers = TCPTimerQueue()
    /// Tests pin the initial sequence number here (e.g. just below 2^32 to cross the wrap).
    var isnOverride: UInt32?
    /// The key of the ISN and timestamp-offset hashes (RFC 6528), derived from the seed without
    /// drawing from `rng`.
    var isnSecret: UInt64 { var m = SplitMix64(seed: config.seed ^ 0x6a09_e667_f3bc_c908); return m.next() }

    /// Echo replies received (the answer to `ping`), oldest first.
    public var echoReplies: [EchoReply] = []

    public init(clock: any NetClock, config: StackConfig = StackConfig()) {
        self.clock = clock
        self.config = config
        rng = SplitMix64(seed: config.seed)
        reassembler = IPv4Reassembler(memoryLimit: config.reassemblyMemoryLimit, timeout: config.reassemblyTimeout)
        ipIdentification = UInt16(truncatingIfNeeded: rng.next())
        interfaces.append(NetworkInterface(index: 0, name: "lo", mac: .zero, address: .loopback, prefixLength: 8,
                                           mtu: 65536, link: nil))
        routes.append(Route(destination: IPv4Address(127, 0, 0, 0), prefixLength: 8, gateway: nil, interface: 0))
        interfaces[0].ipv6 = [IPv6InterfaceAddress(address: .loopback, prefixLength: 128)]
    }

    var now: Int64 { clock.nanoseconds }

    // MARK: Configuration

    /// Adds an Ethernet interface and its connected route; returns its index.
    @discardableResult
    public func addInterface(name: String, mac: MACAddress, address: IPv4Address, prefixLength: Int, mtu: Int = 1500,
                             link: any Link) -> Int {
        let i = interfaces.count
        interfaces.append(NetworkInterface(index: i, name: name, mac: mac, address: address,
                                           prefixLength: max(0, min(32, prefixLength)), mtu: max(68, mtu), link: link))
        interfaces[i].ipv6 = [IPv6InterfaceAddress(address: .linkLocal(mac: mac), prefixLength: 64)]
        let m = IPv4Address.mask(prefix: prefixLength)
        routes.append(Route(destination: IPv4Address(raw: address.raw & m), prefixLength: prefixLength, gateway: nil, interface: i))
        return i
    }

    public func addRoute(_ r: Route) throws(NetErrno) {
        guard r.interface >= 0, r.interface < interfaces.count, (0...32).contains(r.prefixLength) else { throw .EINVAL }
        routes.append(r)
    }

    public func setDefaultGateway(_ gw: IPv4Address, interface: Int) throws(NetErrno) {
        routes.removeAll { $0.prefixLength == 0 }
        try addRoute(Route(destination: .any, prefixLength: 0, gateway: gw, interface: interface))
    }

    func isLocalAddress(_ a: IPv4Address) -> Bool {
        if a.isLoopback { return true }
        for i in interfaces where i.address == a { return true }
        return false
    }

    /// Longest-prefix match. Packets to one of our own addresses go through loopback.
    func route(to dst: IPv4Address) -> RouteResult? {
        if isLocalAddress(dst) {
            return RouteResult(interface: interfaces[0], nextHop: dst, source: dst.isLoopback ? .loopback : dst, isLocal: true)
        }
        if dst.isBroadcast {
            guard interfaces.count > 1 else { return nil }
            return RouteResult(interface: interfaces[1], nextHop: dst, source: interfaces[1].address, isLocal: false)
        }
        var best: Route?
        for r in routes where r.matches(dst) {
            if best == nil || r.prefixLength > best!.prefixLength { best = r }
        }
        guard let r = best else { return nil }
        let ifc = interfaces[r.interface]
        return RouteResult(interface: ifc, nextHop: r.gateway ?? dst, source: ifc.address, isLocal: ifc.isLoopback)
    }

    // MARK: Driving

    /// Processes every received frame and looped-back packet and fires due timers.
    public func poll() {
        var rounds = 0
        var progress = true
        while progress && rounds < 64 {
            progress = false
            rounds += 1
            for ifc in interfaces {
                guard let link = ifc.link else { continue }
                var n = 0
                while n < 1024, let f = link.receive() {
                    n += 1
                    progress = true
                    stats.framesIn += 1
                    receivedChecksumTrusted = link.receivedChecksumTrusted
                    ifc.countRx(f.count)
                    handleFrame(f, on: ifc)
                    receivedChecksumTrusted = false
                }
            }
            if !loopbackQueue.isEmpty {
                progress = true
                let q = loopbackQueue
                loopbackQueue.removeAll(keepingCapacity: true)
                // Looped-back TCP never left this process: its checksum was never computed (emit).
                receivedChecksumTrusted = true
                defer { receivedChecksumTrusted = false }
                for p in q {
                    interfaces[0].countTx(p.count)   // lo: sent and received, headroom = its Ethernet header
                    interfaces[0].countRx(p.count)
                    if p.count > NetworkStack.linkHeadroom && p[NetworkStack.linkHeadroom] >> 4 == 6 {
                        handleIPv6(p, at: NetworkStack.linkHeadroom, on: interfaces[0])
                    } else {
                        handleIPv4(p, at: NetworkStack.linkHeadroom, on: interfaces[0])
                    }
                }
            }
            // Timers once the looped-back packets are delivered (the last round regardless): after a
            // stall, an ACK already on its way must reach its sender before the sender's RTO fires,
            // as it would have on arrival. A timer's own looped-back packets make another round.
            if loopbackQueue.isEmpty || rounds == 64 {
                runTimers()
                if !loopbackQueue.isEmpty { progress = true }
            }
        }
        flushLinks()
    }

    /// Hands every link the frames it queued (Link.flush): after `poll()`, and after socket calls made
    /// outside it (the netstack's ring pump).
    public func flushLinks() {
        for ifc in interfaces { ifc.link?.flush() }
    }

    /// The earliest time at which `poll()` has timer work to do, if any.
    public var nextDeadline: Int64? {
        if !loopbackQueue.isEmpty { return now }
        var d: Int64? = reassembler.nextDeadline
        func consider(_ t: Int64?) {
            if let t, d == nil || t < d! { d = t }
        }
        for n in neighbours.values { consider(n.deadline) }
        for n in neighbours6.values { consider(n.deadline) }
        consider(earliestTCPDeadline())
        return d
    }

    func runTimers() {
        let t = now
        reassembler.expire(now: t)
        for (k, n) in neighbours where n.deadline <= t { neighbourTimer(k) }
        for (k, n) in neighbours6 where n.deadline <= t { neighbour6Timer(k) }
        tcpTimers(now: t)
    }

    /// The sockets whose readiness may have changed since the last call (for epoll-style waiting:
    /// recompute `readiness` for these only).
    public func takeChangedSockets() -> [SocketID] {
        var out: [SocketID] = []
        forEachChangedSocket { out.append($0) }
        return out
    }

    /// Calls `body` with every socket whose readiness may have changed since the last call (each
    /// once), and forgets them: `takeChangedSockets` without building an array.
    public func forEachChangedSocket(_ body: (SocketID) -> Void) {
        if changedTCP.isEmpty && changedUDP.isEmpty { return }   // the common case in a pump pass
        // Swapped with empty lists that keep their capacity: no allocation per call.
        var tcp = changedTCPScratch, udp = changedUDPScratch
        changedTCPScratch = []; changedUDPScratch = []
        swap(&tcp, &changedTCP)
        swap(&udp, &changedUDP)
        for t in tcp {
            t.changeListed = false
            if let id = t.id { body(id) }
        }
        for u in udp {
            u.changeListed = false
            body(u.id)
        }
        tcp.removeAll(keepingCapacity: true)
        udp.removeAll(keepingCapacity: true)
        changedTCPScratch = tcp
        changedUDPScratch = udp
    }

    /// The socket whose readiness `c` changed: `c` itself, or for an embryonic or queued
    /// connection its listener.
    func touch(_ c: TCPSocket) {
        let target: TCPSocket
        if c.id != nil { target = c } else if let l = c.listener, l.id != nil { target = l } else { return }
        if target.changeListed { return }
        target.changeListed = true
        changedTCP.append(target)
    }

    func touch(_ u: UDPSocket) {
        if u.changeListed { return }
        u.changeListed = true
        changedUDP.append(u)
    }

    // MARK: Input

    func handleFrame(_ f: [UInt8], on ifc: NetworkInterface) {
        let eth: EthernetHeader
        do { eth = try EthernetHeader.parse(f) } catch { stats.malformed += 1; return }
        guard eth.destination == ifc.mac || eth.destination.isBroadcast || eth.destination.isMulticast else { return }
        switch eth.etherType {
        case EtherType.arp: handleARP(f, on: ifc)
        case EtherType.ipv4: handleIPv4(f, at: EthernetHeader.length, on: ifc)
        case EtherType.ipv6: handleIPv6(f, at: EthernetHeader.length, on: ifc)
        default: break
        }
    }

    func handleIPv4(_ b: [UInt8], at o: Int, on ifc: NetworkInterface) {
        let h: IPv4Header
        do { h = try IPv4Header.parse(b, at: o) } catch {
            if error == .badChecksum { stats.badChecksum += 1 } else { stats.malformed += 1 }
            return
        }
        stats.ipInReceives += 1
        // IpExt (net/ipv4/ip_input.c, ip_rcv_core): the length as received, and the ECN codepoint.
        stats.ipInOctets += b.count - o
        switch h.tos & 3 {
        case 0: stats.ipInNoECTPkts += 1
        case 1: stats.ipInECT1Pkts += 1
        case 2: stats.ipInECT0Pkts += 1
        default: stats.ipInCEPkts += 1
        }
        // No forwarding: accept only what is addressed to us (or broadcast on this link).
        let forUs = isLocalAddress(h.destination) || h.destination.isBroadcast
            || (!ifc.isLoopback && h.destination == ifc.subnetBroadcast)
        guard forUs else { return }
        // Martians: loopback addresses arriving on a real link.
        if !ifc.isLoopback && (h.source.isLoopback || h.destination.isLoopback) { return }
        let payload = (o + h.headerLength)..<(o + h.totalLength)
        if h.isFragment {
            guard let (full, whole) = reassembler.add(h, b, payload: payload, now: now) else { return }
            deliver(full, whole, 0..<whole.count, on: ifc)
        } else {
            deliver(h, b, payload, on: ifc)
        }
    }

    func deliver(_ h: IPv4Header, _ b: [UInt8], _ payload: Range<Int>, on ifc: NetworkInterface) {
        stats.ipInDelivers += 1
        switch h.proto {
        case IPProtocol.icmp: handleICMP(h, b, payload)
        case IPProtocol.udp: handleUDP(h, b, payload)
        case IPProtocol.tcp: handleTCP(h, b, payload)
        default:
            sendICMPError(type: ICMPType.destinationUnreachable, code: ICMPUnreachableCode.proto, about: h, b, payload)
        }
    }

    // MARK: Output

    /// A zeroed buffer for a packet whose transport part (header + payload) is `transportLength` bytes.
    func makePacket(transportLength: Int) -> [UInt8] {
        framePool.take(zeroed: NetworkStack.transportOffset + transportLength)
    }

    /// Fills in the IPv4 header of `p` (built by `makePacket`) and sends it along `r`.
    /// Returns false when it could not be sent (too big with DF set, no link).
    @discardableResult
    func ipOutput(_ p: consuming [UInt8], proto: UInt8, source: IPv4Address, destination: IPv4Address,
                  route r: RouteResult, dontFragment: Bool = false, ttl: UInt8 = 64, segmentSize: Int = 0, tos: UInt8 = 0) -> Bool {
        var h = IPv4Header()
        h.tos = tos
        stats.ipOutRequests += 1
        if proto == IPProtocol.icmp { stats.icmpOutMsgs += 1 }
        h.totalLength = p.count - NetworkStack.linkHeadroom
        stats.ipOutOctets += h.totalLength
        h.identification = ipIdentification
        ipIdentification &+= 1
        h.dontFragment = dontFragment
        h.ttl = ttl
        h.proto = proto
        h.source = source
        h.destination = destination
        guard h.totalLength <= 65535 else { return false }
        if r.isLocal || r.interface.isLoopback {
            h.write(into: &p, at: NetworkStack.linkHeadroom)
            loopbackQueue.append(p)
            return true
        }
        if h.totalLength <= r.interface.mtu {
            h.write(into: &p, at: NetworkStack.linkHeadroom)
            linkOutput(p, route: r)
            return true
        }
        if segmentSize > 0 && h.totalLength <= (r.interface.link?.segmentationOffload ?? 0) {
            h.dontFragment = true   // the link's segments are TCP segments, never IP fragments
            h.write(into: &p, at: NetworkStack.linkHeadroom)
            linkOutput(p, route: r, segmentSize: segmentSize)
            return true
        }
        guard !dontFragment else { return false }
        // Fragment: every piece but the last carries a multiple of 8 bytes.
        let payloadStart = NetworkStack.transportOffset
        let per = (r.interface.mtu - IPv4Header.minLength) & ~7
        var off = 0
        let total = p.count - payloadStart
        while off < total {
            let n = min(per, total - off)
            var f = makePacket(transportLength: n)
            f.replaceSubrange(payloadStart..<(payloadStart + n), with: p[(payloadStart + off)..<(payloadStart + off + n)])
            var fh = h
            fh.totalLength = IPv4Header.minLength + n
            fh.fragmentOffset = off
            fh.moreFragments = off + n < total
            fh.write(into: &f, at: NetworkStack.linkHeadroom)
            linkOutput(f, route: r)
            off += n
        }
        return true
    }

    /// Adds the Ethernet header and transmits, resolving the next hop first if needed.
    func linkOutput(_ p: consuming [UInt8], route r: RouteResult, segmentSize: Int = 0) {
        let ifc = r.interface
        guard let link = ifc.link else { return }
        let dstMAC: MACAddress
        if r.nextHop.isBroadcast || r.nextHop == ifc.subnetBroadcast {
            dstMAC = .broadcast
        } else {
            let key = NeighbourKey(interface: ifc.index, address: r.nextHop)
            if let mac = neighbours[key]?.mac {
                dstMAC = mac
            } else {
                queueForResolution(p, key: key)
                return
            }
        }
        EthernetHeader(destination: dstMAC, source: ifc.mac, etherType: EtherType.ipv4).write(into: &p)
        stats.framesOut += 1
        ifc.countTx(p.count)
        if segmentSize > 0 { link.transmit(p, segmentSize: segmentSize) } else { link.transmit(p) }
    }
}
