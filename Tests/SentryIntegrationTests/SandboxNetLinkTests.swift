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

extension NetworkAppTests {
    /// Session 10 (link): the take-over puts a drop-everything tc ingress filter on the box's veth so the
    /// host kernel no longer routes (and drops) every frame the netstack receives. The netstack's
    /// AF_PACKET socket (ETH_P_ALL) sees frames before tc ingress, so everything still works: ARP and
    /// ICMP echo (ping), IPv6 with neighbour discovery (ping -6) and TCP; the filter counted the frames
    /// it kept from the kernel.
    @Test(.enabled(if: SandboxNet.skipReason(["/usr/bin/python3", "/usr/sbin/tc", "/usr/bin/ping"]) == nil,
                   "\(SandboxNet.skipReason(["/usr/bin/python3", "/usr/sbin/tc", "/usr/bin/ping"]) ?? "")"))
    func theTakenOverLinkKeepsFramesFromTheHostKernelAndStillCarriesPingIPv6AndTCP() throws {
        let net = try SandboxNet()
        defer { net.close() }
        let six = "fd77:\(net.boxIP.split(separator: ".")[2])::"
        let setup = try ProcessRunner.shell("""
            ip -n \(net.peerNS) addr add \(six)1/64 dev \(net.peerIf) nodad && \
            ip -n \(net.boxNS) addr add \(six)2/64 dev \(net.boxIf) nodad </dev/null
            """, timeout: 10)
        #expect(setup.exitCode == 0, "\(setup)")
        let server = "import socket; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0', 7008)); s.listen(4)\nwhile True:\n c, _ = s.accept(); c.sendall(c.recv(100).upper()); c.close()"
        try net.startSandbox(["/usr/bin/python3", "-c", server])
        try net.waitForPort(7008)
        let tc = { (what: String) in
            (try? ProcessRunner.shell("ip netns exec \(net.boxNS) tc -s \(what) show dev \(net.boxIf)\(what == "filter" ? " ingress" : "") </dev/null", timeout: 10).stdout) ?? ""
        }
        let filter = tc("filter")
        #expect(filter.contains("bpf") && filter.contains("direct-action"), "no ingress drop filter: \(filter)\n\(net.sandboxOutput())")
        let echo = try net.onPeer("python3 -c \"import socket; c = socket.create_connection(('\(net.boxIP)', 7008), timeout=10); c.sendall(b'past the filter'); print(c.recv(100).decode())\"")
        #expect(echo.stdout == "PAST THE FILTER\n", "\(echo)\n\(net.sandboxOutput())")
        let ping = try net.onPeer("ping -c 2 -W 3 \(net.boxIP)")
        #expect(ping.exitCode == 0 && ping.stdout.contains("2 received"), "\(ping)")
        let neighbour = try net.onPeer("ip neigh show \(net.boxIP)")
        #expect(neighbour.stdout.contains("lladdr"), "ARP not answered: \(neighbour)")
        let ping6 = try net.onPeer("ping -6 -c 2 -W 3 \(six)2")
        #expect(ping6.exitCode == 0 && ping6.stdout.contains("2 received"), "\(ping6)\n\(net.sandboxOutput())")
        // Every frame from the peer went through the filter and was dropped there (after our tap).
        let qdisc = tc("qdisc")
        let dropped = qdisc.split(separator: "\n").first { $0.contains("dropped") && !$0.contains("dropped 0,") }
        #expect(qdisc.contains("clsact") && dropped != nil, "\(qdisc)")
        net.stopSandbox()
    }
}
