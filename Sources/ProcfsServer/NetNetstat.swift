// /proc/net/netstat in the format of net/ipv4/proc.c (netstat_seq_show): "TcpExt:" and "IpExt:", each a
// header line of field names and a value line. Linux prints ~130 TcpExt fields; most count events our
// netstack does not track (header prediction, SACK/DSACK recovery kinds, memory pressure, MPTCP...),
// where a 0 would be a false statement rather than a real zero. So only the fields below are printed,
// in Linux's order (tools such as nstat and `netstat -s` read the fields by name):
// - live, from the netstack's counters (Snapshot.snmp, "TcpExt.Name"): ListenOverflows, ListenDrops,
//   TCPReqQFullDrop, TCPTimeouts, TCPChallengeACK; IpExt InOctets, OutOctets and the received
//   packets by ECN codepoint (InNoECTPkts, InECT1Pkts, InECT0Pkts, InCEPkts);
// - real zeros: SyncookiesSent/Recv/Failed and TCPReqQFullDoCookies (the netstack has no syncookies;
//   it bounds embryonic connections instead, counted in TCPReqQFullDrop).
import Protocol

extension ProcfsView {
    static let netstatGroups: [(String, [String])] = [
        ("TcpExt", ["SyncookiesSent", "SyncookiesRecv", "SyncookiesFailed", "ListenOverflows", "ListenDrops", "TCPTimeouts",
                    "TCPReqQFullDoCookies", "TCPReqQFullDrop", "TCPChallengeACK"]),
        ("IpExt", ["InOctets", "OutOctets", "InNoECTPkts", "InECT1Pkts", "InECT0Pkts", "InCEPkts"]),
    ]

    func netNetstat() -> [UInt8] {
        var values: [String: String] = [:]
        for c in snapshot.snmp { values[c.name] = c.value }
        return Self.groupLines(Self.netstatGroups, values)
    }
}
