// Format tests for /proc/net/*, /proc/cpuinfo, /proc/<pid>/io and cgroup: the host's own files are
// parsed into a snapshot, rendered by the real bulwark-procfs, and compared field by field (fields the
// snapshot does not carry, such as kernel pointers and TCP timers, by shape only).
import Foundation
import Glibc
import ProcfsServer
import Protocol
import Testing
import TestSupport

@Suite struct NetFormatTests {
    static func hex32(_ s: Substring) -> [UInt8] {
        // The kernel's %08X of a __be32 on a little-endian host: bytes in reverse.
        let v = UInt32(s, radix: 16)!
        return [UInt8(v & 0xff), UInt8(v >> 8 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 24)]
    }

    /// Parses host /proc/net/{tcp,udp,tcp6,udp6} lines into snapshot sockets.
    static func sockets(_ text: String, protocol p: UInt8, v6: Bool) -> [Procfs.NetSocket] {
        text.split(separator: "\n").dropFirst().map { line in
            let f = line.split(separator: " ")
            func addr(_ s: Substring) -> ([UInt8], UInt16) {
                let parts = s.split(separator: ":")
                var bytes: [UInt8] = []
                if v6 {
                    for i in 0..<4 {
                        let start = parts[0].index(parts[0].startIndex, offsetBy: i * 8)
                        bytes += hex32(parts[0][start..<parts[0].index(start, offsetBy: 8)])
                    }
                } else { bytes = hex32(parts[0]) }
                return (bytes, UInt16(parts[1], radix: 16)!)
            }
            let (la, lp) = addr(f[1]), (ra, rp) = addr(f[2])
            let q = f[4].split(separator: ":")
            return Procfs.NetSocket(protocol: p, family: v6 ? 10 : 2, state: UInt8(f[3], radix: 16)!,
                                    localAddress: la, localPort: lp, remoteAddress: ra, remotePort: rp,
                                    txQueue: UInt32(q[0], radix: 16)!, rxQueue: UInt32(q[1], radix: 16)!,
                                    uid: UInt32(f[7])!, inode: UInt64(f[9])!)
        }
    }

    @Test func tcpAndUdpTablesMatchHost() throws {
        // A loopback connection closed by its client first leaves a TIME_WAIT entry, which Linux prints
        // in a shorter form (12 fields); the host's table is only sure to have one if we make it.
        let tw = try ProcessRunner.run("/usr/bin/python3", ["-c", "import socket; l=socket.socket(); l.bind(('127.0.0.1',0)); l.listen(); c=socket.create_connection(l.getsockname()); a,_=l.accept(); c.close(); a.close()"])
        #expect(tw.exitCode == 0, "\(tw)")
        var snapshot = Procfs.Snapshot()
        let names = [("tcp", UInt8(6), false), ("tcp6", 6, true), ("udp", 17, false), ("udp6", 17, true)]
        var host: [String: String] = [:]
        for (name, p, v6) in names {
            let text = try HostProc.text("/proc/net/" + name)
            host[name] = text
            snapshot.sockets += Self.sockets(text, protocol: p, v6: v6)
        }
        try withProcfs { h in
            for (name, _, v6) in names {
                let ours = try h.read("proc/net/" + name, snapshot).split(separator: "\n", omittingEmptySubsequences: false)
                let theirs = host[name]!.split(separator: "\n", omittingEmptySubsequences: false)
                #expect(ours.count == theirs.count, "\(name): line count")
                #expect(ours.first == theirs.first, "\(name): header")
                // Carried: sl, addresses, state, queues, uid, inode (fields 0-4, 7, 9); line width.
                for (o, t) in zip(ours.dropFirst(), theirs.dropFirst()) where !t.isEmpty {
                    let of = o.split(separator: " "), tf = t.split(separator: " ")
                    #expect(of.count == tf.count, "\(name): field count \(o) vs \(t)")
                    // UDP's "sl" is the hash bucket, not a line number: compared for TCP only.
                    for i in [0, 1, 2, 3, 4, 7, 9] where i < min(of.count, tf.count) && (i != 0 || name.hasPrefix("tcp")) {
                        #expect(of[i] == tf[i], "\(name) field \(i)")
                    }
                    // Uncarried (timers, retransmits, probes, refcount, pointer, rto...): same shape.
                    for i in 5..<min(of.count, tf.count) where ![7, 9].contains(i) {
                        #expect(of[i].count == tf[i].count || Int(of[i]) != nil, "\(name) field \(i): \(of[i]) vs \(tf[i])")
                    }
                    if !v6 { #expect(o.utf8.count == t.utf8.count, "\(name): padded width") }
                }
            }
        }
    }

    @Test func unixDevIfInet6AndRouteMatchHost() throws {
        var snapshot = Procfs.Snapshot()
        let unix = try HostProc.text("/proc/net/unix")
        for line in unix.split(separator: "\n").dropFirst() {
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            snapshot.unixSockets.append(Procfs.UnixSocketEntry(
                refCount: UInt32(f[1], radix: 16)!, flags: UInt32(f[3], radix: 16)!, type: UInt16(f[4], radix: 16)!,
                state: UInt8(f[5], radix: 16)!, inode: UInt64(f[6])!, path: f.count > 7 ? f[7...].joined(separator: " ") : ""))
        }
        // Interfaces from /proc/net/dev (counters) and if_inet6 (addresses).
        let dev = try HostProc.text("/proc/net/dev")
        let inet6 = try HostProc.text("/proc/net/if_inet6")
        var index: [String: UInt32] = [:]
        for l in inet6.split(separator: "\n") {
            let f = l.split(separator: " ", omittingEmptySubsequences: true)
            index[String(f[5])] = UInt32(f[1], radix: 16)!
        }
        for (n, line) in dev.split(separator: "\n").dropFirst(2).enumerated() {
            let parts = line.split(separator: ":", maxSplits: 1)
            let name = parts[0].trimmingCharacters(in: .whitespaces)
            let v = parts[1].split(separator: " ").map { UInt64($0)! }
            var i = Procfs.NetInterface(index: index[name] ?? UInt32(100 + n), name: name, rxBytes: v[0], rxPackets: v[1],
                                        txBytes: v[8], txPackets: v[9])
            for l in inet6.split(separator: "\n") {
                let f = l.split(separator: " ", omittingEmptySubsequences: true)
                guard f[5] == name else { continue }
                var a: [UInt8] = []
                var s = f[0].startIndex
                for _ in 0..<16 { let e = f[0].index(s, offsetBy: 2); a.append(UInt8(f[0][s..<e], radix: 16)!); s = e }
                i.addresses.append(Procfs.NetAddress(family: 10, address: a, prefixLength: UInt8(f[2], radix: 16)!))
            }
            snapshot.interfaces.append(i)
        }
        let route = try HostProc.text("/proc/net/route")
        for l in route.split(separator: "\n").dropFirst() {
            let f = l.split(separator: "\t").map { $0.trimmingCharacters(in: .whitespaces) }
            let mask = UInt32(f[7], radix: 16)!.byteSwapped
            snapshot.routes.append(Procfs.NetRoute(destination: Self.hex32(Substring(f[1])), prefixLength: UInt8(mask.nonzeroBitCount),
                                                   gateway: f[2] == "00000000" ? [] : Self.hex32(Substring(f[2])), interfaceName: f[0]))
        }
        let devHasErrors = dev.split(separator: "\n").dropFirst(2).contains { line in
            let v = line.split(separator: ":", maxSplits: 1)[1].split(separator: " ").map { UInt64($0)! }
            return v.enumerated().contains { ![0, 1, 8, 9].contains($0.offset) && $0.element != 0 }
        }
        try withProcfs { h in
            let ours = try h.read("proc/net/unix", snapshot).split(separator: "\n")
            let theirs = unix.split(separator: "\n")
            #expect(ours.first == theirs.first)
            #expect(ours.count == theirs.count)
            for (o, t) in zip(ours.dropFirst(), theirs.dropFirst()) {
                // All but the kernel pointer (%pK) equal; the pointer has the same width.
                #expect(o.split(separator: " ").dropFirst() == t.split(separator: " ").dropFirst(), "\(o) vs \(t)")
                #expect(o.split(separator: " ")[0].count == t.split(separator: " ")[0].count)
            }
            let ourDev = try h.read("proc/net/dev", snapshot)
            if devHasErrors {
                #expect(ourDev.split(separator: "\n").prefix(2) == dev.split(separator: "\n").prefix(2))
            } else {
                #expect(ourDev == dev)
            }
            // if_inet6: all but the address flags (not carried; ours are IFA_F_PERMANENT) equal, widths equal.
            func withoutFlags(_ s: String) -> [String] {
                s.split(separator: "\n").map { l in
                    var f = l.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
                    if f.count > 4 { f[4] = "xx" }
                    return f.joined(separator: " ")
                }.sorted()
            }
            #expect(withoutFlags(try h.read("proc/net/if_inet6", snapshot)) == withoutFlags(inet6))
            // Only routes through the host's real flags (UP, GATEWAY) can be compared exactly.
            let ourRoute = try h.read("proc/net/route", snapshot).split(separator: "\n")
            let hostRoute = route.split(separator: "\n")
            #expect(ourRoute.first == hostRoute.first)
            for (o, t) in zip(ourRoute.dropFirst(), hostRoute.dropFirst()) {
                let tf = t.split(separator: "\t"), of = o.split(separator: "\t")
                if let flags = UInt32(tf[3], radix: 16), flags & ~3 == 0 { #expect(o == t) }
                else { #expect(of.count == tf.count) }
            }
            // sys/class/net/<if>: mtu and address files exist for every interface.
            let listing = try h.client.list("sys/class/net", pid: getpid(), tid: getpid(), snapshot: snapshot)
            #expect(listing.map(\.name).sorted() == snapshot.interfaces.map(\.name).sorted())
        }
    }

    @Test func cpuinfoMatchesHost() throws {
        let host = try HostProc.text("/proc/cpuinfo")
        var snapshot = Procfs.Snapshot()
        let blocks = host.components(separatedBy: "\n\n").filter { !$0.isEmpty }
        snapshot.cpuCount = UInt32(blocks.count)
        for l in blocks[0].split(separator: "\n") {
            let p = l.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            var v = p.count > 1 ? p[1] : ""
            if v.first == " " { v = v.dropFirst() }
            snapshot.cpuinfo.append(Procfs.Tunable(name: String(p[0]), value: String(v)))
        }
        let ours = try withProcfs { try $0.read("proc/cpuinfo", snapshot) }
        let ourLines = ours.split(separator: "\n", omittingEmptySubsequences: false)
        let hostLines = host.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(ourLines.count == hostLines.count)
        for (o, h) in zip(ourLines, hostLines) where !h.hasPrefix("cpu MHz") && !h.hasPrefix("bogomips") {
            #expect(o == h)
        }
    }

    @Test func ioAndCgroupMatchHost() throws {
        let host = try HostProc.text("/proc/self/io")
        let v = Dictionary(HostProc.statusFields(host).map { ($0.0, UInt64($0.1.trimmingCharacters(in: .whitespaces))!) },
                           uniquingKeysWith: { a, _ in a })
        var t = Procfs.TaskInfo(pid: getpid(), tgid: getpid())
        t.readChars = v["rchar"]!; t.writtenChars = v["wchar"]!; t.readSyscalls = v["syscr"]!; t.writeSyscalls = v["syscw"]!
        t.readBytes = v["read_bytes"]!; t.writeBytes = v["write_bytes"]!
        let (io, cgroup) = try withProcfs { h in
            (try h.read("proc/self/io", Procfs.Snapshot(tasks: [t])), try h.read("proc/self/cgroup", Procfs.Snapshot(tasks: [t])))
        }
        if v["cancelled_write_bytes"] == 0 { #expect(io == host) }
        else { #expect(io.split(separator: "\n").map { $0.prefix { $0 != ":" } } == host.split(separator: "\n").map { $0.prefix { $0 != ":" } }) }
        // cgroup v2's line is the last of a hybrid host's: "0::<path>".
        let hostV2 = try HostProc.text("/proc/self/cgroup").split(separator: "\n").first { $0.hasPrefix("0::") }
        #expect(hostV2 != nil && cgroup.hasPrefix("0::/") && cgroup.hasSuffix("\n"))
    }

    /// /proc/net/netstat: the groups and field names are the host's (a subset, in the host's order),
    /// the values the snapshot's "Group.Name" counters, and fields without one read 0.
    @Test func netstatFieldsAreLinuxsInLinuxsOrder() throws {
        let host = try HostProc.text("/proc/net/netstat").split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        var snapshot = Procfs.Snapshot()
        snapshot.snmp = [Procfs.Tunable(name: "TcpExt.ListenOverflows", value: "7"),
                         Procfs.Tunable(name: "TcpExt.ListenDrops", value: "9"),
                         Procfs.Tunable(name: "IpExt.InOctets", value: "12345")]
        try withProcfs { h in
            let ours = try h.read("proc/net/netstat", snapshot).split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
            #expect(ours.count == 4)
            var values: [String: String] = [:]
            for k in stride(from: 0, to: ours.count - 1, by: 2) {
                let names = ours[k], vals = ours[k + 1]
                #expect(names[0] == vals[0] && names.count == vals.count)
                let theirs = host.first { $0.first == names[0] } ?? []
                // A subsequence of the host's header: present there, in the same order.
                var at = 0
                for n in names.dropFirst() {
                    guard let i = theirs[at...].firstIndex(of: n) else { Issue.record("\(names[0]) \(n) not in the host's order"); break }
                    at = i + 1
                }
                for (n, v) in zip(names.dropFirst(), vals.dropFirst()) { values[names[0] + n] = v }
            }
            #expect(ours.map { $0[0] } == ["TcpExt:", "TcpExt:", "IpExt:", "IpExt:"])
            #expect(values["TcpExt:ListenOverflows"] == "7" && values["TcpExt:ListenDrops"] == "9")
            #expect(values["IpExt:InOctets"] == "12345" && values["TcpExt:SyncookiesSent"] == "0")
        }
    }
}
