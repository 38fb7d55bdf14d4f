// Session 6 (netsec): the netstack in sandbox mode holds only its link and its channel. The container's
// network namespace is made here the way Docker's bridge driver does before it starts a container: a
// veth pair with one end moved into a named namespace, addressed and up before `bulwark run` (so before
// the netstack starts); config.json joins it by path. The supervisor opens the AF_PACKET link and takes
// the interface over; the netstack runs in a user namespace of its own with no capability and carries
// real traffic (python3 -m http.server in the sandbox, curl from the peer namespace).
import Foundation
import Glibc
import Testing
import TestSupport

/// Two named network namespaces joined by a veth pair: "peer" (the host side, the kernel's TCP/IP) and
/// "box" (the container's), each end addressed and up. Removed on close, also after failures.
final class ContainerVeth {
    let peerNS: String, boxNS: String, peerIf: String, boxIf: String, peerIP: String, boxIP: String

    static let unavailableReason: String? = {
        if geteuid() != 0 { return "network namespaces need root" }
        for p in ["/usr/sbin/ip", "/usr/bin/curl", "/usr/bin/python3"] where !FileManager.default.isExecutableFile(atPath: p) {
            return "\(p) is not installed"
        }
        return nil
    }()

    /// `addressed`: false leaves the box end up but without an address (nothing the netstack can take).
    init(_ n: Int, addressed: Bool = true) throws {
        let tag = "\(getpid() % 100_000)s\(n)"
        peerNS = "bwsp\(tag)"; boxNS = "bwsb\(tag)"; peerIf = "bwsp\(tag)"; boxIf = "bwsb\(tag)"
        peerIP = "10.78.\(n).1"; boxIP = "10.78.\(n).2"
        let r = try ProcessRunner.shell("""
            set -e
            ip netns add \(peerNS)
            ip netns add \(boxNS)
            ip link add \(peerIf) netns \(peerNS) type veth peer name \(boxIf) netns \(boxNS)
            ip -n \(peerNS) addr add \(peerIP)/24 dev \(peerIf)
            ip -n \(peerNS) link set lo up
            ip -n \(peerNS) link set \(peerIf) up
            ip -n \(boxNS) link set \(boxIf) up
            """ + (addressed ? """

            ip -n \(boxNS) addr add \(boxIP)/24 dev \(boxIf)
            ip -n \(boxNS) route add default via \(peerIP)
            """ : "") + " </dev/null", timeout: 20)
        if r.exitCode != 0 {
            close()
            throw SandboxNetSetupError(description: "veth setup failed: \(r.stderr)")
        }
    }

    var boxPath: String { "/var/run/netns/\(boxNS)" }

    func onPeer(_ command: String, timeout: Double = 30) throws -> ProcessResult {
        try ProcessRunner.run("/usr/sbin/ip", ["netns", "exec", peerNS, "/bin/sh", "-c", command + " </dev/null"], timeout: timeout)
    }

    func close() {
        _ = try? ProcessRunner.shell("""
            for ns in \(peerNS) \(boxNS); do
              for p in $(ip netns pids $ns 2>/dev/null); do kill -9 $p 2>/dev/null; done
              ip netns del $ns 2>/dev/null
            done; true
            """ + " </dev/null", timeout: 10)
    }
}

struct SandboxNetSetupError: Error, CustomStringConvertible { var description: String }

extension ServiceSandboxTests {
    /// Docker's bridge path: the netstack gets the veth from the supervisor, runs in its own user
    /// namespace with every capability set empty and no_new_privs, holds AF_PACKET sockets it could not
    /// have opened, and carries an HTTP transfer checked byte for byte. The kernel no longer owns the
    /// box's address (the supervisor took it over); the address and the default route the supervisor
    /// read reached the netstack (`ip addr`/`ip route` inside the sandbox).
    @Test(.enabled(if: ContainerVeth.unavailableReason == nil, "\(ContainerVeth.unavailableReason ?? "")"))
    func netstackOnAContainerVethHoldsOnlyItsLinkAndChannel() throws {
        let net = try ContainerVeth(1)
        defer { net.close() }
        try LauncherFixture.with { f in
            let site = f.scratch.appendingPathComponent("site")
            try FileManager.default.createDirectory(at: site, withIntermediateDirectories: true)
            var body = Data()
            for i in 0..<20_000 { body.append(contentsOf: "line \(i) of the bulwark veth page\n".utf8) }
            try body.write(to: site.appendingPathComponent("page.txt"))
            let script = "echo started; exec /usr/bin/python3 -m http.server 8000 --bind 0.0.0.0 --directory \(shellQuote(site.path))"
            let c = try ServiceContainer(f, id: "veth1", script: script, networkPath: net.boxPath)
            #expect(c.waitFor { c.output.contains("started") }, "\(c.output)\n\(c.logText)")
            let fetched = f.scratch.appendingPathComponent("fetched").path
            let r = try net.onPeer("for i in $(seq 100); do curl -sS --max-time 5 -o \(shellQuote(fetched)) http://\(net.boxIP):8000/page.txt 2>/dev/null && echo fetched && exit 0; sleep 0.2; done; exit 1", timeout: 90)
            #expect(r.stdout.contains("fetched"), "\(r)\noutput: \(c.output)\nlog: \(c.logText)")
            #expect(FileManager.default.contents(atPath: fetched) == body, "the page arrived damaged")

            let supervisor = try #require(c.supervisor)
            let pid = try #require(SandboxProcesses.service("bulwark-netstack", supervisor: supervisor), "no netstack")
            let line = SandboxProcesses.cmdline(pid)
            #expect(line.contains("--network sandbox") && line.contains("--link-fd") && line.contains("--link-config"), "\(line)")
            let link = { (path: String) in (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) ?? "?" }
            #expect(link("/proc/\(pid)/ns/net") == link("/proc/\(supervisor)/ns/net"), "not in the container's network namespace")
            #expect(link("/proc/\(pid)/ns/user") != link("/proc/self/ns/user"), "the netstack shares our user namespace")
            let read = { (path: String) in ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "")
                .split(whereSeparator: { $0 == " " || $0 == "\n" }).joined(separator: " ") }
            #expect(read("/proc/\(pid)/uid_map") == "0 0 4294967295", "uid_map: \(read("/proc/\(pid)/uid_map"))")
            #expect(read("/proc/\(pid)/gid_map") == "0 0 4294967295")
            for field in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
                #expect(SandboxProcesses.status(pid, field) == "0000000000000000", "\(field) \(SandboxProcesses.status(pid, field) ?? "missing")")
            }
            #expect(SandboxProcesses.status(pid, "NoNewPrivs") == "1")
            #expect(SandboxProcesses.status(pid, "Seccomp") == "2")
            // Its packet sockets are the supervisor's: the inodes of /proc/PID/net/packet among its fds.
            let packetInodes = Set(((try? String(contentsOfFile: "/proc/\(pid)/net/packet", encoding: .utf8)) ?? "")
                .split(separator: "\n").dropFirst().compactMap { $0.split(separator: " ").last.map(String.init) })
            let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
            let socketInodes = Set(fds.map { link("/proc/\(pid)/fd/\($0)") }.filter { $0.hasPrefix("socket:[") }
                .map { String($0.dropFirst("socket:[".count).dropLast()) })
            #expect(!packetInodes.intersection(socketInodes).isEmpty, "no AF_PACKET socket among its descriptors: \(socketInodes) vs \(packetInodes)")
            // Taken over: the kernel's end of the veth in the box has no IPv4 address left.
            let addr = try ProcessRunner.shell("ip -n \(net.boxNS) -4 addr show dev \(net.boxIf) </dev/null", timeout: 10)
            #expect(addr.exitCode == 0 && !addr.stdout.contains(net.boxIP), "\(addr)")
            let inside = try f.run(["exec", c.id, "/bin/sh", "-c", "ip -4 addr; ip route"], timeout: 30)
            #expect(inside.stdout.contains("\(net.boxIP)/24") && inside.stdout.contains("default via \(net.peerIP)"), "\(inside)")
            // The supervisor's take-over also keeps received frames from the kernel's own input (a tc
            // ingress drop after the netstack's tap, session 10), and removes it when the sandbox ends.
            let tc = { (try? ProcessRunner.shell("ip netns exec \(net.boxNS) tc filter show dev \(net.boxIf) ingress </dev/null", timeout: 10).stdout) ?? "" }
            let installed = tc()
            #expect(installed.contains("direct-action"), "no ingress drop: \(installed)")
            // The container ends (SIGTERM, forwarded to python): the supervisor's clean-up removes the filter.
            #expect(try f.run(["kill", c.id, "TERM"]).exitCode == 0)
            #expect(c.waitFor { !tc().contains("bpf") }, "the ingress drop outlived the sandbox: \(tc())\n\(c.logText)\nstate: \(String(describing: try? f.state(c.id)))")
            #expect(try f.run(["delete", "--force", c.id]).exitCode == 0)
        }
    }

    /// An interface the netstack cannot take (up, but no IPv4 address): the supervisor says why in its
    /// log and starts no netstack; the application's sockets fail (ENETDOWN) and the container goes on.
    @Test(.enabled(if: ContainerVeth.unavailableReason == nil, "\(ContainerVeth.unavailableReason ?? "")"))
    func aLinkTheSupervisorCannotOpenIsLoggedAndSocketsFail() throws {
        let net = try ContainerVeth(2, addressed: false)
        defer { net.close() }
        try LauncherFixture.with { f in
            let script = "/bin/bash -c 'exec 3<>/dev/tcp/\(net.peerIP)/80' 2>&1; echo \"connect-status $?\"; echo started; while true; do sleep 0.1; done"
            let c = try ServiceContainer(f, id: "veth2", script: script, networkPath: net.boxPath)
            #expect(c.waitFor { c.output.contains("started") }, "\(c.output)\n\(c.logText)")
            #expect(c.output.contains("connect-status 1") && c.output.contains("Network is down"), "\(c.output)")
            #expect(c.logText.contains("starting bulwark-netstack") && c.logText.contains("no IPv4 address"), "\(c.logText)")
            #expect(try f.status(c.id) == "running")
            #expect(try f.run(["delete", "--force", c.id]).exitCode == 0)
        }
    }

    /// `--network host`: the netstack stays in our network namespace (it opens the application's sockets
    /// there) but in a user namespace of its own with no capability: a port >= 1024 binds, port 80 is
    /// refused with EACCES (no CAP_NET_BIND_SERVICE over the host's network namespace).
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/python3"), "python3 is not installed"))
    func hostModeNetstackHasItsOwnUserNamespaceAndNoPrivilegedPorts() throws {
        try LauncherFixture.with { f in
            let program = """
                import errno, socket, time
                for port in (80, 0):
                    s = socket.socket()
                    try:
                        s.bind(('127.0.0.1', port)); print('bind', port, 'ok', flush=True)
                    except OSError as e:
                        print('bind', port, errno.errorcode.get(e.errno, e.errno), flush=True)
                print('started', flush=True)
                time.sleep(60)
                """
            var config = LauncherFixture.defaultConfig(args: ["/usr/bin/python3", "-c", program])
            config["root"] = ["path": "/", "readonly": true]
            let bundle = try f.makeBundle("bundle-hostns", config: config)
            let out = f.scratch.appendingPathComponent("hostns.out").path
            let line = [f.bulwark, "--root", f.root, "--network", "host", "run", "-d", "--bundle", bundle, "hostns"].map(shellQuote).joined(separator: " ")
            let r = try ProcessRunner.shell("exec \(line) </dev/null >\(shellQuote(out)) 2>&1", timeout: 60)
            #expect(r.exitCode == 0, "\(r)")
            let output = { (try? String(contentsOfFile: out, encoding: .utf8)) ?? "" }
            let deadline = Date().addingTimeInterval(30)
            while !output().contains("started") && Date() < deadline { usleep(50_000) }
            #expect(output().contains("bind 80 EACCES") && output().contains("bind 0 ok"), "\(output())")
            let supervisor = try #require((try? f.state("hostns"))?["pid"] as? Int)
            let pid = try #require(SandboxProcesses.service("bulwark-netstack", supervisor: supervisor), "no netstack")
            let link = { (path: String) in (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) ?? "?" }
            #expect(SandboxProcesses.cmdline(pid).contains("--network host"))
            #expect(link("/proc/\(pid)/ns/net") == link("/proc/self/ns/net"), "host mode left the host's network namespace")
            #expect(link("/proc/\(pid)/ns/user") != link("/proc/self/ns/user"), "host mode shares our user namespace")
            for field in ["CapPrm", "CapEff", "CapBnd", "CapAmb"] {
                #expect(SandboxProcesses.status(pid, field) == "0000000000000000", "\(field)")
            }
            #expect(try f.run(["delete", "--force", "hostns"]).exitCode == 0)
        }
    }
}
