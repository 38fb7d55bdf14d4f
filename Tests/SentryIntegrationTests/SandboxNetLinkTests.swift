// Session 6 (netsec): without the launcher, `bulwark-sentry run --network sandbox` opens the netstack's
// link itself before its capability drop and hands it over; neither the Sentry nor its netstack keeps a
// capability, and the link still carries traffic (an echo over TCP from the peer).
import Foundation
import Glibc
import Testing
import TestSupport

extension NetworkAppTests {
    @Test(.enabled(if: SandboxNet.skipReason(["/usr/bin/python3"]) == nil, "\(SandboxNet.skipReason(["/usr/bin/python3"]) ?? "")"))
    func theSentryHandsItsNetstackTheLinkAndKeepsNoCapability() throws {
        let net = try SandboxNet()
        defer { net.close() }
        let server = "import socket; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0', 7007)); s.listen(4)\nwhile True:\n c, _ = s.accept(); c.sendall(c.recv(100).upper()); c.close()"
        try net.startSandbox(["/usr/bin/python3", "-c", server])
        try net.waitForPort(7007)
        let echo = try net.onPeer("python3 -c \"import socket; c = socket.create_connection(('\(net.boxIP)', 7007), timeout=10); c.sendall(b'over the handed link'); print(c.recv(100).decode())\"")
        #expect(echo.stdout == "OVER THE HANDED LINK\n", "\(echo)\n\(net.sandboxOutput())")
        let pids = try ProcessRunner.shell("ip netns pids \(net.boxNS) </dev/null", timeout: 10).stdout.split(separator: "\n").compactMap { Int32($0) }
        let cmdline = { (pid: Int32) in ((try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? "").replacingOccurrences(of: "\0", with: " ") }
        let status = { (pid: Int32) in (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? "" }
        let netstack = try #require(pids.first { cmdline($0).contains("/bulwark-netstack ") }, "no netstack among \(pids.map(cmdline))")
        let sentry = try #require(pids.first { cmdline($0).contains("/bulwark-sentry run") })
        #expect(cmdline(netstack).contains("--link-fd") && cmdline(netstack).contains("--link-config name=\(net.boxIf),"), "\(cmdline(netstack))")
        for (name, pid) in [("netstack", netstack), ("sentry", sentry)] {
            let text = status(pid)
            for field in ["CapPrm", "CapEff", "CapBnd", "CapAmb"] {
                #expect(text.contains("\(field):\t0000000000000000"), "\(name) \(field): \(text)")
            }
            #expect(text.contains("NoNewPrivs:\t1") && text.contains("Seccomp:\t2"), "\(name): \(text)")
        }
        net.stopSandbox()
    }
}
