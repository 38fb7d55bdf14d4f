// `bulwark-sentry run --network host`: the netstack backs each socket with a host socket in the host's
// network namespace, so a server in the sandbox is reached from the host at 127.0.0.1:PORT and the
// sandbox reaches host servers on 127.0.0.1 (TCP and UDP); with `--network none` the same client is
// refused (the sandbox's own loopback has nothing there). Replies carry the sandbox's host name
// ("bulwark", the Sentry's uname), so a reply really came from the program in the sandbox.
import Foundation
import Glibc
import Testing
import TestSupport

private let hasPython3 = FileManager.default.isExecutableFile(atPath: "/usr/bin/python3")

@Suite("--network host", .serialized)
struct HostNetworkTests {
    /// A port that was free a moment ago on 127.0.0.1 (TCP and UDP).
    static func freePort() -> Int {
        for _ in 0..<20 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            let ok = withUnsafeMutablePointer(to: &a) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
            }
            let port = Int(UInt16(bigEndian: a.sin_port))
            if ok && port >= 1024 { return port }
        }
        return 40_000 + Int.random(in: 0..<20_000)
    }

    static let sentryArgs = ["run", "--rootfs", "/", "--env", "PATH=/usr/bin:/bin"]

    @Test(.enabled(if: hasPython3)) func serverInTheSandboxIsReachedFromTheHost() throws {
        let port = Self.freePort()
        let server = """
            import os, socket
            s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(('127.0.0.1', \(port))); s.listen(4)
            print('listening', flush=True)
            for _ in range(2):
                c, peer = s.accept()
                data = c.recv(1000)
                c.sendall(os.uname().nodename.encode() + b':' + data.upper() + b':' + peer[0].encode())
                c.close()
            """
        let client = """
            import socket, sys, time
            end = time.time() + 20
            while True:
                try:
                    c = socket.create_connection(('127.0.0.1', \(port)), timeout=5); break
                except OSError:
                    if time.time() > end: raise
                    time.sleep(0.1)
            c.sendall(sys.argv[1].encode()); c.shutdown(socket.SHUT_WR)
            got = b''
            while True:
                d = c.recv(1000)
                if not d: break
                got += d
            print(got.decode())
            """
        let sentry = Process()
        sentry.executableURL = URL(fileURLWithPath: TestPaths.executable("bulwark-sentry"))
        sentry.arguments = Self.sentryArgs + ["--network", "host", "--", "/usr/bin/python3", "-c", server]
        let out = Pipe(), err = Pipe()
        sentry.standardOutput = out
        sentry.standardError = err
        try sentry.runForTest()
        defer { if sentry.isRunning { kill(sentry.processIdentifier, SIGKILL) }; sentry.waitUntilExit() }
        // Two connections from the host's own TCP/IP (plain python3, not sandboxed).
        let first = try ProcessRunner.run("/usr/bin/python3", ["-c", client, "hello from the host"], timeout: 30)
        let second = try ProcessRunner.run("/usr/bin/python3", ["-c", client, "second"], timeout: 30)
        #expect(first.stdout == "bulwark:HELLO FROM THE HOST:127.0.0.1\n", "\(first)")
        #expect(second.stdout == "bulwark:SECOND:127.0.0.1\n", "\(second)")
        let deadline = Date().addingTimeInterval(15)
        while sentry.isRunning && Date() < deadline { usleep(20_000) }
        #expect(!sentry.isRunning, "the sandboxed server should exit after two connections")
        if !sentry.isRunning {
            #expect(sentry.terminationStatus == 0, "\(String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))")
        }
    }

    /// The sandbox's client: one TCP exchange and one UDP datagram to host servers on 127.0.0.1.
    static func sandboxClient(tcp: Int, udp: Int) -> String {
        """
        import errno, socket
        try:
            c = socket.create_connection(('127.0.0.1', \(tcp)), timeout=10)
            c.sendall(b'tcp-ping'); c.shutdown(socket.SHUT_WR)
            got = b''
            while True:
                d = c.recv(1000)
                if not d: break
                got += d
            print('tcp', got.decode(), c.getsockname()[0], flush=True)
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(10)
            u.sendto(b'udp-ping', ('127.0.0.1', \(udp)))
            d, a = u.recvfrom(1000)
            print('udp', d.decode(), a[1] == \(udp), flush=True)
        except OSError as e:
            print('error', errno.errorcode.get(e.errno, e.errno), flush=True)
        """
    }

    /// A host server (plain python3): answers one TCP connection and one UDP datagram, then exits.
    static func hostServer(tcp: Int, udp: Int) -> String {
        """
        import socket, threading
        t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        t.bind(('127.0.0.1', \(tcp))); t.listen(4); t.settimeout(25)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(('127.0.0.1', \(udp))); u.settimeout(25)
        print('ready', flush=True)
        def udp():
            d, a = u.recvfrom(1000); u.sendto(b'host-' + d, a)
        th = threading.Thread(target=udp); th.start()
        c, _ = t.accept()
        d = b''
        while True:
            x = c.recv(1000)
            if not x: break
            d += x
        c.sendall(b'host-' + d); c.close()
        th.join()
        """
    }

    @Test(.enabled(if: hasPython3)) func sandboxReachesAHostServer() throws {
        let tcp = Self.freePort(), udp = Self.freePort()
        let host = Process()
        host.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        host.arguments = ["-c", Self.hostServer(tcp: tcp, udp: udp)]
        let ready = Pipe()
        host.standardOutput = ready
        try host.runForTest()
        defer { if host.isRunning { kill(host.processIdentifier, SIGKILL) }; host.waitUntilExit() }
        _ = ready.availableData(within: 30)   // "ready" (or EOF if it failed)
        let r = try ProcessRunner.run(TestPaths.executable("bulwark-sentry"),
                                      Self.sentryArgs + ["--network", "host", "--", "/usr/bin/python3", "-c", Self.sandboxClient(tcp: tcp, udp: udp)],
                                      timeout: 40)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.stdout == "tcp host-tcp-ping 127.0.0.1\nudp host-udp-ping True\n", "\(r)")
    }

    @Test(.enabled(if: hasPython3)) func withoutHostNetworkTheHostServerIsNotReachable() throws {
        let tcp = Self.freePort(), udp = Self.freePort()
        let host = Process()
        host.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        host.arguments = ["-c", Self.hostServer(tcp: tcp, udp: udp)]
        let ready = Pipe()
        host.standardOutput = ready
        try host.runForTest()
        defer { if host.isRunning { kill(host.processIdentifier, SIGKILL) }; host.waitUntilExit() }
        _ = ready.availableData(within: 30)
        let r = try ProcessRunner.run(TestPaths.executable("bulwark-sentry"),
                                      Self.sentryArgs + ["--network", "none", "--", "/usr/bin/python3", "-c", Self.sandboxClient(tcp: tcp, udp: udp)],
                                      timeout: 40)
        #expect(r.stdout == "error ECONNREFUSED\n", "\(r)")
    }
}
