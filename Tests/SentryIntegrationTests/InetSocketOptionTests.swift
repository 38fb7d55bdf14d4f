// Socket options the netstack really implements, compared with native Linux line for line
// (Tests/Programs/sockopts.c): TCP_KEEPIDLE/KEEPINTVL/KEEPCNT ranges and read-back, SO_KEEPALIVE,
// IP_TOS and IPV6_TCLASS with Linux's ECN rule for TCP, TCP_INFO's fields from the connection, and
// SO_LINGER {1, 0} turning close into a reset. Also /proc/net/dev's loopback counters moving with
// traffic.
import Foundation
import Testing
import TestSupport

@Suite("Sentry socket options and counters over the netstack", .serialized)
struct InetSocketOptionTests {
    @Test func socketOptionsMatchNative() throws {
        let exe = try Sentry.compile("sockopts")
        let native = try Sentry.native([exe])
        let sandboxed = try Sentry.run([exe], timeout: 30)
        #expect(native.exitCode == 0 && native.stdout.hasSuffix("done\n"), "\(native)")
        #expect(sandboxed.stdout == native.stdout, "sandbox\n\(sandboxed)\nnative\n\(native)")
        #expect(sandboxed.exitCode == 0)
    }

    static let counters = """
    import socket
    def lo():
        for line in open('/proc/net/dev'):
            if line.strip().startswith('lo:'):
                f = line.split(':', 1)[1].split()
                return int(f[0]), int(f[1]), int(f[8]), int(f[9])
    before = lo()
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(('127.0.0.1', 0))
    for i in range(50):
        u.sendto(b'x' * 100, u.getsockname())
    for i in range(50):
        u.recv(200)
    after = lo()
    d = [a - b for a, b in zip(after, before)]
    print('rx packets', d[1] >= 50, 'tx packets', d[3] >= 50, 'rx bytes', d[0] >= 50 * 142, 'tx bytes', d[2] >= 50 * 142)
    """

    @Test func procNetDevCountsLoopbackTraffic() throws {
        let r = try Sentry.run(["/usr/bin/python3", "-c", Self.counters], timeout: 30)
        #expect(r.stdout == "rx packets True tx packets True rx bytes True tx bytes True\n", "\(r)")
    }

    static let snmp = """
    import socket
    def snmp():
        lines = [l.split() for l in open('/proc/net/snmp')]
        out = {}
        for names, values in zip(lines[0::2], lines[1::2]):
            for n, v in zip(names[1:], values[1:]):
                out[names[0] + n] = int(v)
        return out, [' '.join(l) for l in lines[0::2]]
    before, headers = snmp()
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(('127.0.0.1', 0))
    for i in range(50):
        u.sendto(b'x' * 10, u.getsockname())
    for i in range(50):
        u.recv(100)
    srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen(1)
    c = socket.create_connection(srv.getsockname()); a, _ = srv.accept()
    c.sendall(b'hello'); a.recv(10)
    after, _ = snmp()
    d = {k: after[k] - before.get(k, 0) for k in after}
    print('udp out', d['Udp:OutDatagrams'] == 50, 'udp in', d['Udp:InDatagrams'] == 50,
          'tcp active', d['Tcp:ActiveOpens'] == 1, 'tcp passive', d['Tcp:PassiveOpens'] == 1,
          'estab', after['Tcp:CurrEstab'] >= 2, 'segs', d['Tcp:OutSegs'] >= 4 and d['Tcp:InSegs'] >= 4,
          'ip', d['Ip:OutRequests'] >= 54 and d['Ip:InDelivers'] >= 54)
    for h in headers:
        print(h)
    """

    static let netstat = """
    import socket, time
    def netstat():
        lines = [l.split() for l in open('/proc/net/netstat')]
        return {names[0] + n: int(v) for names, values in zip(lines[0::2], lines[1::2]) for n, v in zip(names[1:], values[1:])}
    before = netstat()
    srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen(1)
    clients = []
    for i in range(3):
        c = socket.socket(); c.setblocking(False); c.connect_ex(srv.getsockname()); clients.append(c)
        time.sleep(0.05)
    after = netstat()
    d = {k: after[k] - before.get(k, 0) for k in after}
    print('overflows', d['TcpExt:ListenOverflows'] == 1, 'drops', d['TcpExt:ListenDrops'] == 1,
          'octets', d['IpExt:InOctets'] > 0 and d['IpExt:OutOctets'] > 0, 'noect', d['IpExt:InNoECTPkts'] >= 4)
    """

    /// /proc/net/netstat: backlog 1 queues two connections; the third client's SYN is dropped and
    /// counted as a listen overflow (and drop), as Linux does.
    @Test func procNetNetstatCountsListenOverflows() throws {
        let r = try Sentry.run(["/usr/bin/python3", "-c", Self.netstat], timeout: 30)
        #expect(r.stdout == "overflows True drops True octets True noect True\n", "\(r)")
    }

    /// /proc/net/snmp: the counters move with traffic; the header lines (field names) equal the host's.
    @Test func procNetSnmpCountsPacketsAndMatchesLinuxFields() throws {
        let r = try Sentry.run(["/usr/bin/python3", "-c", Self.snmp], timeout: 30)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "udp out True udp in True tcp active True tcp passive True estab True segs True ip True", "\(r)")
        let host = (try? String(contentsOfFile: "/proc/net/snmp", encoding: .utf8)) ?? ""
        let hostHeaders = host.split(separator: "\n").map(String.init).enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
        for group in ["Ip:", "Tcp:", "Udp:", "UdpLite:"] {
            #expect(lines.first { $0.hasPrefix(group + " ") } == hostHeaders.first { $0.hasPrefix(group + " ") }, "\(group)\n\(r.stdout)")
        }
    }
}
