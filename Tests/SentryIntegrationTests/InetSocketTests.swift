// AF_INET/AF_INET6 sockets in the sandbox, served by bulwark-netstack over the socket arena: a C
// program (Tests/Programs/inet_sockets.c) and python3 run natively and in the sandbox with their
// outputs compared; a 100 MB loopback transfer reports its throughput; killing the netstack in the
// middle of a transfer makes sockets fail (never hang) while the sandbox keeps running.
import Foundation
import Testing
import TestSupport

@Suite("Sentry AF_INET sockets over the netstack", .serialized)
struct InetSocketTests {
    /// The sandbox's stderr carries one log line per stored-only socket option; stdout must match.
    func compare(_ mode: [String]) throws {
        let exe = try Sentry.compile("inet_sockets")
        let native = try Sentry.native([exe] + mode)
        let sandboxed = try Sentry.run([exe] + mode, timeout: 30)
        #expect(!sandboxed.timedOut)
        #expect(native.exitCode == 0, "\(native)")
        #expect(native.stdout.hasSuffix("done\n"))
        #expect(sandboxed.stdout == native.stdout, "sandbox\n\(sandboxed)\nnative\n\(native)")
        #expect(sandboxed.exitCode == 0)
    }

    @Test func tcpEchoOverIPv4Loopback() throws { try compare(["tcp"]) }
    @Test func tcpEchoOverIPv6Loopback() throws { try compare(["tcp6"]) }
    @Test func udpOverLoopback() throws { try compare(["udp"]) }
    @Test func nonBlockingConnectWithEpoll() throws { try compare(["nbconnect"]) }
    @Test func sendmmsgAndRecvmmsg() throws { try compare(["mmsg"]) }
    @Test func loopbackInterfaceThroughNetlinkAndIoctls() throws { try compare(["ifaces"]) }
    @Test func netstackOutlivesTheTaskThatStartedIt() throws { try compare(["childfirst"]) }

    static let web = """
    import http.server, threading, urllib.request
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = ("hello from " + self.path + "\\n").encode() * 1000
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        def log_message(self, *a): pass
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    port = srv.server_address[1]
    for p in ["/a", "/b/c"]:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{p}", timeout=10) as r:
            data = r.read()
            print(r.status, len(data), data[:20])
    srv.shutdown()
    print("ok")
    """

    @Test func pythonHTTPServerAndURLLib() throws {
        let native = try Sentry.native(["/usr/bin/python3", "-c", Self.web])
        let sandboxed = try Sentry.run(["/usr/bin/python3", "-c", Self.web], timeout: 60)
        #expect(native.stdout.hasSuffix("ok\n"), "\(native)")
        #expect(sandboxed.stdout == native.stdout, "sandbox\n\(sandboxed)\nnative\n\(native)")
        #expect(sandboxed.exitCode == 0)
    }

    /// Throughput is printed, not asserted (the machine is shared).
    @Test func bulkLoopbackTransfer() throws {
        let exe = try Sentry.compile("inet_sockets")
        let native = try Sentry.native([exe, "bulk", "100"], timeout: 60)
        let sandboxed = try Sentry.run([exe, "bulk", "100"], timeout: 120)
        #expect(sandboxed.stdout == native.stdout, "sandbox\n\(sandboxed)\nnative\n\(native)")
        #expect(sandboxed.stdout.contains("checksum match 1"))
        func figure(_ r: ProcessResult) -> String {
            r.stderr.split(separator: "\n").first { $0.hasPrefix("THROUGHPUT") }.map(String.init) ?? "?"
        }
        print("loopback TCP 100 MB: native \(figure(native)); sandbox \(figure(sandboxed))")
    }

    @Test func netstackDeathFailsSocketsWithoutHanging() throws {
        let exe = try Sentry.compile("inet_sockets")
        let box = try BackgroundSandbox([exe, "outage"])
        // Wait (bounded) until data flows, then kill the netstack the Sentry spawned.
        #expect(box.waitForOutput("transferring", within: 20))
        #expect(box.killNetstack())
        #expect(box.waitForExit(within: 20), "the sandbox hung after the netstack died")
        let text = box.text
        #expect(text.contains("server: read -> reset/down"), "\(text)")
        #expect(text.contains("client: write failed: reset/down"), "\(text)")
        #expect(text.contains("accept after outage -> -1 ENETDOWN"), "\(text)")
        #expect(text.contains("socket after outage -> -1 ENETDOWN"), "\(text)")
        #expect(text.contains("sandbox still running"), "\(text)")
        #expect(!box.process.isRunning && box.process.terminationStatus == 0)
        let log = box.log
        #expect(log.contains("netstack connection lost"), "\(log)")
    }
}
