// /proc/net/{dev,tcp,tcp6,udp,udp6,unix,route,if_inet6} and /sys/class/net/<if>/..., in the formats of
// net/core/net-procfs.c, net/ipv4/tcp_ipv4.c, udp.c, net/ipv6/tcp_ipv6.c, udp.c (ip6_udp...),
// net/unix/af_unix.c, net/ipv4/fib_trie.c and net/ipv6/addrconf.c. Kernel pointers (%pK) read as
// zeros, as for an unprivileged reader with kptr_restrict.
import Protocol
import ServiceKit

extension ProcfsView {
    static let netFiles = ["dev", "if_inet6", "netstat", "route", "snmp", "tcp", "tcp6", "udp", "udp6", "unix"]

    func resolveNet(_ parts: [Substring]) throws(ServiceFailure) -> Node {
        guard let first = parts.first else {
            return .directory(Self.netFiles.map { entry($0, EntryType.regular, "proc/net/" + $0) })
        }
        guard parts.count == 1 else {
            throw Self.netFiles.contains(String(first)) ? ServiceFailure(.ENOTDIR, "proc/net/\(first) is not a directory")
                                                      : notFound("proc/net/" + parts.joined(separator: "/"))
        }
        switch first {
        case "dev": return .file(netDev())
        case "if_inet6": return .file(ifInet6())
        case "route": return .file(route())
        case "netstat": return .file(netNetstat())   // NetNetstat.swift
        case "snmp": return .file(netSnmp())   // NetSnmp.swift
        case "tcp": return .file(inetSockets(tcp: true, v6: false))
        case "tcp6": return .file(inetSockets(tcp: true, v6: true))
        case "udp": return .file(inetSockets(tcp: false, v6: false))
        case "udp6": return .file(inetSockets(tcp: false, v6: true))
        case "unix": return .file(unixSockets())
        default: throw notFound("proc/net/\(first)")
        }
    }

    func netDev() -> [UInt8] {
        var o = Text()
        o.line("Inter-|   Receive                                                |  Transmit")
        o.line(" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed")
        for i in snapshot.interfaces {
            // "%6s: %7llu %7llu %4llu %4llu %4llu %5llu %10llu %9llu %8llu %7llu %4llu %4llu %4llu %5llu %7llu %10llu"
            // (Linux 5.15 on; before, "%6s:%8llu": the same text until the received bytes reach 8 digits)
            let rx = [Fmt.right(i.rxBytes, 7), Fmt.right(i.rxPackets, 7), Fmt.right(0, 4), Fmt.right(0, 4), Fmt.right(0, 4),
                      Fmt.right(0, 5), Fmt.right(0, 10), Fmt.right(0, 9)]
            let tx = [Fmt.right(i.txBytes, 8), Fmt.right(i.txPackets, 7), Fmt.right(0, 4), Fmt.right(0, 4), Fmt.right(0, 4),
                      Fmt.right(0, 5), Fmt.right(0, 7), Fmt.right(0, 10)]
            o.line(Fmt.right(i.name, 6) + ": " + (rx + tx).joined(separator: " "))
        }
        return o.bytes
    }

    /// "%pi6 %02x %02x %02x %02x %8s": address, ifindex, prefix length, scope, flags (IFA_F_PERMANENT).
    func ifInet6() -> [UInt8] {
        var o = Text()
        for i in snapshot.interfaces {
            for a in i.addresses where a.family == 10 && a.address.count == 16 {
                let scope: UInt8 = a.address[0] == 0xfe && a.address[1] & 0xc0 == 0x80 ? 0x20
                    : (a.address.prefix(15).allSatisfy { $0 == 0 } && a.address[15] == 1 ? 0x10 : 0)
                o.line(a.address.map { Fmt.hex($0, 2) }.joined() + " " + Fmt.hex(i.index, 2) + " " +
                       Fmt.hex(a.prefixLength, 2) + " " + Fmt.hex(scope, 2) + " 80 " + Fmt.right(i.name, 8))
            }
        }
        return o.bytes
    }

    /// A 4-byte network-order address as the kernel's %08X of the __be32 (little-endian host).
    static func be32Hex(_ b: [UInt8], at i: Int = 0) -> String {
        guard b.count >= i + 4 else { return "00000000" }
        let v = UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24
        return Fmt.hex(v, 8).uppercased()
    }

    static func prefixMask(_ bits: UInt8) -> [UInt8] {
        let m: UInt32 = bits == 0 ? 0 : UInt32.max << (32 - UInt32(min(bits, 32)))
        return [UInt8(m >> 24), UInt8(m >> 16 & 0xff), UInt8(m >> 8 & 0xff), UInt8(m & 0xff)]
    }

    /// /proc/net/route: the main table's IPv4 routes, every line padded to 127 columns.
    func route() -> [UInt8] {
        var o = Text()
        func padded(_ s: String) { o.line(Fmt.left(s, 127)) }
        padded("Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT")
        for r in snapshot.routes where r.interfaceName != "lo" {
            let flags = 1 | (r.gateway.isEmpty ? 0 : 2)   // RTF_UP, RTF_GATEWAY
            padded("\(r.interfaceName)\t\(Self.be32Hex(r.destination))\t\(Self.be32Hex(r.gateway))\t" +
                   "\(Fmt.hex(flags, 4).uppercased())\t0\t0\t0\t\(Self.be32Hex(Self.prefixMask(r.prefixLength)))\t0\t0\t0")
        }
        return o.bytes
    }

    /// tcp, tcp6, udp, udp6: one line per socket of that protocol and family.
    func inetSockets(tcp: Bool, v6: Bool) -> [UInt8] {
        var o = Text()
        let tail6 = "st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode"
        let names6 = "  sl  local_address                         remote_address                        "
        let names4 = "  sl  local_address rem_address   "
        switch (tcp, v6) {
        case (true, false): o.line(Fmt.left(names4 + tail6, 149))
        case (true, true): o.line(names6 + tail6)
        case (false, false): o.line(Fmt.left(" " + names4 + tail6 + " ref pointer drops", 127))   // udp4's has 3 spaces
        case (false, true): o.line(names6 + tail6 + " ref pointer drops")
        }
        let list = snapshot.sockets.filter { $0.protocol == (tcp ? 6 : 17) && ($0.family == 10) == v6 }
        for (n, s) in list.enumerated() {
            func addr(_ a: [UInt8], _ port: UInt16) -> String {
                let hex: String
                if v6 {
                    let b = a.count == 16 ? a : [UInt8](repeating: 0, count: 16)
                    hex = (0..<4).map { Self.be32Hex(b, at: $0 * 4) }.joined()
                } else {
                    hex = Self.be32Hex(a)
                }
                return hex + ":" + Fmt.hex(port, 4).uppercased()
            }
            let queues = Fmt.hex(s.txQueue, 8).uppercased() + ":" + Fmt.hex(s.rxQueue, 8).uppercased()
            if tcp && (s.state == 6 || s.state == 3) {
                // TIME_WAIT and SYN_RECV entries are not full sockets: Linux prints them with zero queues,
                // an active timer and no inode, and stops after the refcount and pointer (12 fields).
                let line = Fmt.right(n, 4) + ": " + addr(s.localAddress, s.localPort) + " " +
                    addr(s.remoteAddress, s.remotePort) + " " + Fmt.hex(s.state, 2).uppercased() +
                    " 00000000:00000000 " + (s.state == 6 ? "03" : "01") + ":00000000 00000000 " +
                    Fmt.right(s.state == 6 ? 0 : s.uid, 5) + " " + Fmt.right(0, 8) + " 0 " +
                    (s.state == 6 ? "3" : "0") + " 0000000000000000"
                o.line(v6 ? line : Fmt.left(line, 149))
                continue
            }
            var line = (tcp ? Fmt.right(n, 4) : Fmt.right(n, 5)) + ": " + addr(s.localAddress, s.localPort) + " " +
                addr(s.remoteAddress, s.remotePort) + " " + Fmt.hex(s.state, 2).uppercased() + " " + queues +
                " 00:00000000 00000000 " + Fmt.right(s.uid, 5) + " " + Fmt.right(0, 8) + " \(s.inode) "
            if tcp {
                // refcount, sk, rto, ato, quick/pingpong, cwnd, ssthresh (listeners: fastopen max_qlen 0).
                line += "1 0000000000000000 100 0 0 10 " + (s.state == 10 ? "0" : "-1")
                o.line(v6 ? line : Fmt.left(line, 149))
            } else {
                line += "2 0000000000000000 0"
                o.line(v6 ? line : Fmt.left(line, 127))
            }
        }
        return o.bytes
    }

    /// /proc/net/unix: "%pK: %08X %08X %08X %04X %02X %5lu" and the bound name (abstract ones with '@').
    func unixSockets() -> [UInt8] {
        var o = Text()
        o.line("Num       RefCount Protocol Flags    Type St Inode Path")
        for u in snapshot.unixSockets {
            var line = "0000000000000000: " + Fmt.hex(u.refCount, 8).uppercased() + " 00000000 " +
                Fmt.hex(u.flags, 8).uppercased() + " " + Fmt.hex(u.type, 4).uppercased() + " " +
                Fmt.hex(u.state, 2).uppercased() + " " + Fmt.right(u.inode, 5)
            if !u.path.isEmpty { line += " " + u.path }
            o.line(line)
        }
        return o.bytes
    }

    /// /sys/class/net/<if>/...: the attributes tools read.
    func sysNetFiles() -> [(String, String)] {
        var files: [(String, String)] = []
        for i in snapshot.interfaces {
            let base = "class/net/\(i.name)/"
            let mac = (i.hardwareAddress.count == 6 ? i.hardwareAddress : [UInt8](repeating: 0, count: 6))
                .map { Fmt.hex($0, 2) }.joined(separator: ":")
            let loopback = i.flags & 0x8 != 0
            let up = i.flags & 0x1 != 0
            files += [
                (base + "address", mac), (base + "addr_len", "6"),
                (base + "broadcast", loopback ? "00:00:00:00:00:00" : "ff:ff:ff:ff:ff:ff"),
                (base + "carrier", up ? "1" : "0"), (base + "flags", "0x" + String(i.flags, radix: 16)),
                (base + "ifindex", String(i.index)), (base + "iflink", String(i.index)), (base + "mtu", String(i.mtu)),
                (base + "operstate", loopback ? "unknown" : (up ? "up" : "down")),
                (base + "tx_queue_len", loopback ? "1000" : "1000"), (base + "type", loopback ? "772" : "1"),
                (base + "statistics/rx_bytes", String(i.rxBytes)), (base + "statistics/rx_packets", String(i.rxPackets)),
                (base + "statistics/tx_bytes", String(i.txBytes)), (base + "statistics/tx_packets", String(i.txPackets)),
            ]
        }
        return files
    }
}
