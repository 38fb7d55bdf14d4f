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
}
