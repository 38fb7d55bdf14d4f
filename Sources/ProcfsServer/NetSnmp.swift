// /proc/net/snmp in the format of net/ipv4/proc.c (snmp_seq_show): for each group a header line of
// field names and a value line, "Group: a b c". The values are the netstack's counters by
// "Group.Name" (Snapshot.snmp); the ones it does not keep read 0; Ip Forwarding (2: not a router),
// DefaultTTL and Tcp's RtoAlgorithm/RtoMin/RtoMax/MaxConn are the constants Linux shows.
import Protocol

extension ProcfsView {
    static let snmpGroups: [(String, [String])] = [
        ("Ip", ["Forwarding", "DefaultTTL", "InReceives", "InHdrErrors", "InAddrErrors", "ForwDatagrams", "InUnknownProtos",
                "InDiscards", "InDelivers", "OutRequests", "OutDiscards", "OutNoRoutes", "ReasmTimeout", "ReasmReqds",
                "ReasmOKs", "ReasmFails", "FragOKs", "FragFails", "FragCreates", "OutTransmits"]),
        ("Icmp", ["InMsgs", "InErrors", "InCsumErrors", "InDestUnreachs", "InTimeExcds", "InParmProbs", "InSrcQuenchs",
                  "InRedirects", "InEchos", "InEchoReps", "InTimestamps", "InTimestampReps", "InAddrMasks", "InAddrMaskReps",
                  "OutMsgs", "OutErrors", "OutRateLimitGlobal", "OutRateLimitHost", "OutDestUnreachs", "OutTimeExcds",
                  "OutParmProbs", "OutSrcQuenchs", "OutRedirects", "OutEchos", "OutEchoReps", "OutTimestamps",
                  "OutTimestampReps", "OutAddrMasks", "OutAddrMaskReps"]),
        ("Tcp", ["RtoAlgorithm", "RtoMin", "RtoMax", "MaxConn", "ActiveOpens", "PassiveOpens", "AttemptFails", "EstabResets",
                 "CurrEstab", "InSegs", "OutSegs", "RetransSegs", "InErrs", "OutRsts", "InCsumErrors"]),
        ("Udp", ["InDatagrams", "NoPorts", "InErrors", "OutDatagrams", "RcvbufErrors", "SndbufErrors", "InCsumErrors",
                 "IgnoredMulti", "MemErrors"]),
        ("UdpLite", ["InDatagrams", "NoPorts", "InErrors", "OutDatagrams", "RcvbufErrors", "SndbufErrors", "InCsumErrors",
                     "IgnoredMulti", "MemErrors"]),
    ]

    func netSnmp() -> [UInt8] {
        var values: [String: String] = ["Ip.Forwarding": "2", "Ip.DefaultTTL": "64", "Tcp.RtoAlgorithm": "1",
                                        "Tcp.RtoMin": "200", "Tcp.RtoMax": "120000", "Tcp.MaxConn": "-1"]
        for c in snapshot.snmp { values[c.name] = c.value }
        return Self.groupLines(Self.snmpGroups, values)
    }

    /// /proc/net/snmp's and /proc/net/netstat's layout: per group a line of field names and a line of
    /// values ("Group.Field" in `values`, 0 when absent), both prefixed "Group: ".
    static func groupLines(_ groups: [(String, [String])], _ values: [String: String]) -> [UInt8] {
        var o = Text()
        for (group, fields) in groups {
            o.line(group + ": " + fields.joined(separator: " "))
            o.line(group + ": " + fields.map { values[group + "." + $0] ?? "0" }.joined(separator: " "))
        }
        return o.bytes
    }
}
