// getsockopt(TCP_INFO): what Linux's struct tcp_info reports, from the connection's own state. Only
// the fields the stack really keeps are filled; the rest stay zero (as the caller's buffer shows).

/// The filled subset of struct tcp_info, in Linux's units (microseconds, segments).
public struct TCPInfo: Equatable, Sendable {
    public var state: UInt8 = 7          // TCP_CLOSE
    public var caState: UInt8 = 0        // 0 open, 3 recovery, 4 loss
    public var retransmits: UInt8 = 0    // consecutive timeouts of the current segment
    public var probes: UInt8 = 0         // unanswered zero-window or keepalive probes
    public var backoff: UInt8 = 0
    public var options: UInt8 = 0        // 1 timestamps, 2 SACK, 4 window scale
    public var windowScales: UInt8 = 0   // snd_wscale | rcv_wscale << 4
    public var rto: UInt32 = 0
    public var sndMSS: UInt32 = 0
    public var rcvMSS: UInt32 = 0
    public var unacked: UInt32 = 0       // segments in flight
    public var sacked: UInt32 = 0
    public var rtt: UInt32 = 0
    public var rttvar: UInt32 = 0
    public var sndSsthresh: UInt32 = 0
    public var sndCwnd: UInt32 = 0
    public var advMSS: UInt32 = 0
    public var totalRetrans: UInt32 = 0

    /// Linux's layout (include/uapi/linux/tcp.h), 104 bytes up to tcpi_total_retrans.
    public func bytes() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 104)
        out[0] = state; out[1] = caState; out[2] = retransmits; out[3] = probes; out[4] = backoff
        out[5] = options; out[6] = windowScales
        func put(_ v: UInt32, _ at: Int) { for k in 0..<4 { out[at + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(k))) } }
        put(rto, 8); put(sndMSS, 16); put(rcvMSS, 20); put(unacked, 24); put(sacked, 28)
        put(rtt, 68); put(rttvar, 72)
        put(min(sndSsthresh, 0x7fff_ffff), 76); put(sndCwnd, 80); put(advMSS, 84); put(3, 88)   // tcpi_reordering: Linux's default 3
        put(totalRetrans, 100)
        return out
    }
}

extension NetworkStack {
    func countRetransmit(_ c: TCPSocket) {
        stats.tcpRetransmits += 1
        c.totalRetrans += 1
    }

    /// TCP_INFO of a TCP socket (nil: not a TCP socket).
    public func tcpInfo(_ s: SocketID) -> TCPInfo? {
        guard let t = tcpSockets[s] else { return nil }
        var i = TCPInfo()
        i.state = t.state.linuxNumber
        i.caState = t.retries > 0 && t.isSynchronized ? 4 : t.inRecovery ? 3 : 0
        i.retransmits = UInt8(clamping: t.retries)
        i.probes = UInt8(clamping: max(t.keepaliveSent, t.persistBackoff))
        i.backoff = UInt8(clamping: t.retries)
        if t.timestampsOn { i.options |= 1 }
        if t.sackOn { i.options |= 2 }
        if t.wantScale && t.isSynchronized { i.options |= 4; i.windowScales = t.sndScale | t.rcvScale << 4 }
        i.rto = UInt32(clamping: t.rto / 1000)
        i.sndMSS = UInt32(clamping: t.mss)
        i.rcvMSS = UInt32(clamping: t.advertisedMSS)
        i.advMSS = UInt32(clamping: t.advertisedMSS)
        let mss = max(1, t.mss)
        i.unacked = UInt32(clamping: (t.flightSize + mss - 1) / mss)
        i.sacked = UInt32(clamping: t.sacked.reduce(0) { $0 + Int($1.end &- $1.start) } / mss)
        if t.hasRTT {
            i.rtt = UInt32(clamping: t.srtt / 1000)
            i.rttvar = UInt32(clamping: t.rttvar / 1000)
        }
        i.sndCwnd = UInt32(clamping: t.cwnd / mss)
        i.sndSsthresh = t.ssthresh >= Int.max / 4 ? 0x7fff_ffff : UInt32(clamping: t.ssthresh / mss)
        i.totalRetrans = UInt32(clamping: t.totalRetrans)
        return i
    }
}

extension NetworkStack {
    /// /proc/net/snmp's counters that the stack keeps, as "Group.Name" -> value (the rest read 0).
    public func snmpCounters() -> [(String, Int)] {
        let s = stats
        let established = tcpConnections.values.filter { $0.state == .established || $0.state == .closeWait }.count
        return [("Ip.InReceives", s.ipInReceives), ("Ip.InDelivers", s.ipInDelivers), ("Ip.OutRequests", s.ipOutRequests), ("Ip.OutTransmits", s.ipOutRequests),
                ("Ip.OutNoRoutes", s.droppedNoRoute), ("Ip.InHdrErrors", s.malformed),
                ("Icmp.InMsgs", s.icmpInMsgs), ("Icmp.OutMsgs", s.icmpOutMsgs), ("Icmp.OutDestUnreachs", s.icmpUnreachableSent),
                ("Icmp.OutEchoReps", s.icmpEchoRepliesSent),
                ("Tcp.ActiveOpens", s.tcpActiveOpens), ("Tcp.PassiveOpens", s.tcpPassiveOpens), ("Tcp.CurrEstab", established),
                ("Tcp.InSegs", s.tcpSegmentsIn), ("Tcp.OutSegs", s.tcpSegmentsOut), ("Tcp.RetransSegs", s.tcpRetransmits),
                ("Tcp.OutRsts", s.tcpResetsSent),
                ("Udp.InDatagrams", s.udpInDatagrams), ("Udp.NoPorts", s.udpNoPorts), ("Udp.OutDatagrams", s.udpOutDatagrams),
                // /proc/net/netstat (ProcfsServer/NetNetstat.swift renders the ones listed there).
                ("TcpExt.ListenOverflows", s.tcpListenOverflows), ("TcpExt.ListenDrops", s.tcpListenDrops),
                ("TcpExt.TCPTimeouts", s.tcpTimeouts), ("TcpExt.TCPReqQFullDrop", s.tcpReqQFullDrop),
                ("TcpExt.TCPChallengeACK", s.tcpChallengeACKs),
                ("IpExt.InOctets", s.ipInOctets), ("IpExt.OutOctets", s.ipOutOctets), ("IpExt.InNoECTPkts", s.ipInNoECTPkts),
                ("IpExt.InECT1Pkts", s.ipInECT1Pkts), ("IpExt.InECT0Pkts", s.ipInECT0Pkts), ("IpExt.InCEPkts", s.ipInCEPkts)]
    }
}
