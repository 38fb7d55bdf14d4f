// The network part of a procfs snapshot (/proc/net/*, /sys/class/net) and the host CPU description
// for /proc/cpuinfo. Interfaces and routes come from the netstack's Interfaces request, TCP/UDP sockets
// from its ListSockets request (matched with the sandbox's own InetSocket descriptions for inode and
// owner), AF_UNIX sockets from the Sentry's own UnixSocket descriptions. Kernel lock held.
import Glibc
import Protocol

extension Kernel {
    /// Fills interfaces, routes and sockets. The netstack is asked for its interfaces (starting it
    /// if needed, as `ip link` would through netlink) and, if any IP socket exists, for its sockets.
    func procfsNet(_ s: inout Procfs.Snapshot, caller: Task) {
        var inet: [UInt64: (InetSocket, UInt32)] = [:]
        var unix: [ObjectIdentifier: (UnixSocket, UInt32)] = [:]
        for (_, t) in tasks {
            for case let e? in t.fds.entries {
                if let i = e.file as? InetSocket, inet[i.handle] == nil { inet[i.handle] = (i, t.tg.uid) }
                if let u = e.file as? UnixSocket {
                    let id = ObjectIdentifier(u)
                    unix[id] = (u, (unix[id]?.1 ?? 0) + 1)
                }
            }
        }
        if case .success(let r) = caller.netInterfaces() {
            for i in r.interfaces {
                s.interfaces.append(Procfs.NetInterface(
                    index: i.index, name: i.name, flags: i.flags, mtu: i.mtu, hardwareAddress: i.hardwareAddress,
                    addresses: i.addresses.map { Procfs.NetAddress(family: $0.family, address: $0.address, prefixLength: $0.prefixLength) },
                    rxBytes: i.rxBytes, rxPackets: i.rxPackets, txBytes: i.txBytes, txPackets: i.txPackets))
            }
            for route in r.routes {
                let name = r.interfaces.first { $0.index == route.interface }?.name ?? ""
                s.routes.append(Procfs.NetRoute(destination: route.destination, prefixLength: route.prefixLength,
                                                gateway: route.gateway, interfaceName: name))
            }
        }
        if !inet.isEmpty, let c = NetstackConnection.shared, !c.dead, case .success(let list) = c.call(Netstack.ListSockets()) {
            for x in list.sockets {
                guard let (sock, uid) = inet[x.handle] else { continue }
                var st = Glibc.stat()
                let ino = sock.stat(&st) == 0 ? UInt64(st.st_ino) : 0
                func addr(_ a: Netstack.SocketAddress) -> [UInt8] {
                    // A v6 socket's IPv4 peer shows as ::ffff:a.b.c.d, as Linux keeps it.
                    if x.family == 10 && a.address.count == 4 { return [UInt8](repeating: 0, count: 10) + [0xff, 0xff] + a.address }
                    if a.address.isEmpty { return [UInt8](repeating: 0, count: x.family == 10 ? 16 : 4) }
                    return a.address
                }
                s.sockets.append(Procfs.NetSocket(protocol: x.protocol, family: x.family, state: x.state,
                                                  localAddress: addr(x.local), localPort: x.local.port,
                                                  remoteAddress: addr(x.remote), remotePort: x.remote.port,
                                                  txQueue: x.sendQueue, rxQueue: x.receiveQueue, uid: uid, inode: ino))
            }
        }
        // /proc/net/snmp and netstat: the netstack's counters (only when it runs; else they show zeros).
        if let c = NetstackConnection.shared, !c.dead, case .success(let st) = c.call(Netstack.Stats()) {
            s.snmp = st.counters.map { Procfs.Tunable(name: $0.name, value: String($0.value)) }
        }
        for (u, refs) in unix.values.sorted(by: { $0.0.inode < $1.0.inode }) {
            var path = ""
            if let n = u.name, !n.isEmpty {
                path = n[0] == 0 ? "@" + String(decoding: n.dropFirst().map { $0 == 0 ? UInt8(ascii: "@") : $0 }, as: UTF8.self)
                                 : String(decoding: n.prefix { $0 != 0 }, as: UTF8.self)
            }
            let connected = u.peer != nil
            s.unixSockets.append(Procfs.UnixSocketEntry(refCount: refs + 1, flags: u.listening ? 0x10000 : 0,
                                                        type: UInt16(u.type), state: connected ? 3 : 1,
                                                        inode: UInt64(u.inode), path: path))
        }
    }

    /// The host's first /proc/cpuinfo block as (key with its tab padding, value), read once: the
    /// application runs on the host's CPU, so its model and feature flags are what cpuid tells anyway.
    func procfsCPUInfo() -> [Procfs.Tunable] {
        if let c = ProcfsHostCPU.cached { return c }
        var out: [Procfs.Tunable] = []
        let fd = open("/proc/cpuinfo", O_RDONLY | O_CLOEXEC)
        if fd >= 0 {
            var text: [UInt8] = []
            var buf = [UInt8](repeating: 0, count: 16384)
            while text.count < 1 << 18 {
                let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress!, 16384) }
                if n <= 0 { break }
                text += buf[0..<n]
            }
            close(fd)
            for line in text.split(separator: 10, omittingEmptySubsequences: false) {
                if line.isEmpty { if !out.isEmpty { break } else { continue } }
                guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { continue }
                let key = String(decoding: line[line.startIndex..<colon], as: UTF8.self)
                var v = line[(colon + 1)...]
                if v.first == 32 { v = v.dropFirst() }
                out.append(Procfs.Tunable(name: key, value: String(decoding: v, as: UTF8.self)))
            }
        }
        ProcfsHostCPU.cached = out
        return out
    }

}

enum ProcfsHostCPU {
    nonisolated(unsafe) static var cached: [Procfs.Tunable]? = nil
}
