// Real programs over the network in the sandbox: `bulwark-sentry run --network sandbox` inside a
// network namespace whose veth end the netstack takes over (SandboxNetFixture.swift), reached from
// the other end with the kernel's own TCP/IP: python3 -m http.server with curl, redis-server with
// redis-cli and redis-benchmark, nginx with curl, iperf3 both ways; `ip addr` inside shows the
// interface's address; a TCP echo over loopback still works inside.
import Foundation
import Testing
import TestSupport

@Suite("Network programs in the sandbox over a veth", .serialized)
struct NetworkAppTests {
    /// A file of known content, served by the web servers and compared byte for byte.
    static func makeSite(_ dir: URL) throws -> Data {
        var body = Data()
        for i in 0..<20_000 { body.append(contentsOf: "line \(i) of the bulwark test page\n".utf8) }
        try body.write(to: dir.appendingPathComponent("page.txt"))
        return body
    }

    @Test(.enabled(if: SandboxNet.skipReason(["/usr/bin/curl"]) == nil, "\(SandboxNet.skipReason(["/usr/bin/curl"]) ?? "")"))
    func pythonHTTPServerFetchedWithCurl() throws {
        let net = try SandboxNet()
        defer { net.close() }
        let site = try TestPaths.makeScratchDirectory("bulwark-site")
        defer { try? FileManager.default.removeItem(at: site) }
        let body = try Self.makeSite(site)
        try net.startSandbox(["/usr/bin/python3", "-m", "http.server", "8000", "--bind", "0.0.0.0", "--directory", site.path])
        try net.waitForPort(8000)
        let r = try net.onPeer("curl -sS --max-time 20 -o \(site.path)/fetched http://\(net.boxIP):8000/page.txt && echo fetched")
        #expect(r.stdout.contains("fetched"), "\(r)\n\(net.sandboxOutput())")
        #expect(FileManager.default.contents(atPath: site.path + "/fetched") == body)
        let listing = try net.onPeer("curl -sS --max-time 20 http://\(net.boxIP):8000/")
        #expect(listing.stdout.contains("page.txt"), "\(listing)")
        net.stopSandbox()
    }

    @Test(.enabled(if: SandboxNet.skipReason(["/usr/bin/redis-server", "/usr/bin/redis-cli", "/usr/bin/redis-benchmark"]) == nil,
                   "\(SandboxNet.skipReason(["/usr/bin/redis-server", "/usr/bin/redis-cli", "/usr/bin/redis-benchmark"]) ?? "")"))
    func redisServerWithCliAndBenchmark() throws {
        let net = try SandboxNet()
        defer { net.close() }
        try net.startSandbox(["/usr/bin/redis-server", "--port", "6379", "--bind", "0.0.0.0", "--protected-mode", "no",
                              "--save", "", "--appendonly", "no", "--dir", net.scratch.path])
        try net.waitForPort(6379)
        let cli = "redis-cli -h \(net.boxIP) -p 6379"
        let set = try net.onPeer("\(cli) set greeting hello-from-host && \(cli) get greeting && \(cli) incr counter && \(cli) incr counter")
        #expect(set.stdout == "OK\nhello-from-host\n1\n2\n", "\(set)\n\(net.sandboxOutput())")
        let bench = try net.onPeer("redis-benchmark -h \(net.boxIP) -p 6379 -q -n 2000 -c 10 -t set,get 2>&1", timeout: 60)
        #expect(bench.stdout.contains("SET:") && bench.stdout.contains("GET:"), "\(bench)")
        print("redis-benchmark in the sandbox (-n 2000 -c 10):", bench.stdout.split(separator: "\r").last.map(String.init) ?? bench.stdout)
        // Connection churn: 300 connect+close in a burst, then the server still answers promptly.
        let churn = try net.onPeer("""
            python3 -c '
            import socket, time
            t = time.monotonic()
            for i in range(300):
                socket.create_connection(("\(net.boxIP)", 6379), timeout=10).close()
            print("churn %.2f s" % (time.monotonic() - t))' && timeout 20 \(cli) ping
            """, timeout: 60)
        #expect(churn.stdout.hasSuffix("PONG\n"), "\(churn)\n\(net.sandboxOutput())")
        print("redis: 300 connect+close:", String(churn.stdout.prefix { $0 != "\n" }))
        net.stopSandbox()
    }

    @Test(.enabled(if: SandboxNet.skipReason(["/usr/sbin/nginx", "/usr/bin/curl"]) == nil,
                   "\(SandboxNet.skipReason(["/usr/sbin/nginx", "/usr/bin/curl"]) ?? "")"))
    func nginxFetchedWithCurl() throws {
        let net = try SandboxNet()
        defer { net.close() }
        let dir = net.scratch.appendingPathComponent("nginx")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let body = try Self.makeSite(dir)
        let conf = """
            worker_processes 1;
            daemon off;
            master_process off;
            pid \(dir.path)/nginx.pid;
            error_log stderr warn;
            events { worker_connections 64; }
            http {
                access_log off;
                client_body_temp_path \(dir.path)/body;
                proxy_temp_path \(dir.path)/proxy;
                fastcgi_temp_path \(dir.path)/fastcgi;
                uwsgi_temp_path \(dir.path)/uwsgi;
                scgi_temp_path \(dir.path)/scgi;
                server {
                    listen 8080;
                    root \(dir.path);
                }
            }
            """
        try conf.write(to: dir.appendingPathComponent("nginx.conf"), atomically: true, encoding: .utf8)
        try net.startSandbox(["/usr/sbin/nginx", "-p", dir.path, "-c", dir.path + "/nginx.conf"])
        try net.waitForPort(8080)
        for round in 0..<3 {
            let out = dir.appendingPathComponent("fetched\(round)")
            let r = try net.onPeer("curl -sS --max-time 20 -o \(out.path) http://\(net.boxIP):8080/page.txt && echo fetched")
            #expect(r.stdout.contains("fetched"), "\(r)\n\(net.sandboxOutput())")
            #expect(FileManager.default.contents(atPath: out.path) == body)
        }
        let missing = try net.onPeer("curl -s -o /dev/null -w '%{http_code}' --max-time 20 http://\(net.boxIP):8080/nothing-here")
        #expect(missing.stdout == "404", "\(missing)")
        net.stopSandbox()
    }

    /// iperf3 -J: the receiver's bits per second.
    static func iperfRate(_ json: String) -> Double? {
        guard let d = json.data(using: .utf8),
              let o = try? JSONSerialization.jsonObject(with: d) as? [String: Any],
              let end = o["end"] as? [String: Any],
              let sum = end["sum_received"] as? [String: Any] else { return nil }
        return sum["bits_per_second"] as? Double
    }

    @Test(.enabled(if: SandboxNet.skipReason(["/usr/bin/iperf3"]) == nil, "\(SandboxNet.skipReason(["/usr/bin/iperf3"]) ?? "")"))
    func iperf3BothDirections() throws {
        let net = try SandboxNet()
        defer { net.close() }
        // The server in the sandbox, the client on the peer: host -> sandbox, then -R sandbox -> host.
        // Ready once it says it listens (printed after listen(2); --forceflush: stdout is a file).
        // No probe connection (waitForPort): iperf3 -s takes it for a client and may then refuse or
        // drop the real one.
        try net.startSandbox(["/usr/bin/iperf3", "-s", "-p", "5201", "--forceflush"])
        try net.waitForOutput("Server listening on 5201")
        var rates: [String] = []
        for reverse in [false, true] {
            let r = try net.onPeer("iperf3 -c \(net.boxIP) -p 5201 -t 2 -J \(reverse ? "-R" : "")", timeout: 40)
            let rate = Self.iperfRate(r.stdout)
            #expect(r.exitCode == 0 && rate != nil && rate! > 0, "\(r)\n\(net.sandboxOutput())")
            rates.append(String(format: "%@ %.1f MB/s", reverse ? "sandbox->host" : "host->sandbox", (rate ?? 0) / 8e6))
        }
        print("iperf3 -t 2:", rates.joined(separator: ", "))
        net.stopSandbox()
    }

    @Test(.enabled(if: SandboxNet.unavailableReason == nil, "\(SandboxNet.unavailableReason ?? "")"))
    func ipAddrShowsTheInterfaceAddress() throws {
        let net = try SandboxNet()
        defer { net.close() }
        try net.startSandbox(["/usr/sbin/ip", "addr"])
        #expect(net.waitForExit(seconds: 30))
        let o = net.sandboxOutput()
        #expect(o.out.contains("inet \(net.boxIP)/24"), "\(o)")
        #expect(o.out.contains(net.boxIf), "\(o)")
        #expect(o.out.contains("inet 127.0.0.1/8"), "\(o)")
        #expect(net.sandbox?.terminationStatus == 0)
    }

    @Test(.enabled(if: SandboxNet.unavailableReason == nil, "\(SandboxNet.unavailableReason ?? "")"))
    func tcpEchoOverLoopbackInside() throws {
        let net = try SandboxNet()
        defer { net.close() }
        let exe = try Sentry.compile("inet_sockets")
        let native = try Sentry.native([exe, "tcp"])
        try net.startSandbox([exe, "tcp"])
        #expect(net.waitForExit(seconds: 30))
        let o = net.sandboxOutput()
        #expect(native.stdout.hasSuffix("done\n"))
        #expect(o.out == native.stdout, "\(o)")
    }

    @Test(.enabled(if: SandboxNet.skipReason(["/usr/bin/curl"]) == nil, "\(SandboxNet.skipReason(["/usr/bin/curl"]) ?? "")"))
    func sandboxConnectsOutToTheHost() throws {
        let net = try SandboxNet()
        defer { net.close() }
        let site = try TestPaths.makeScratchDirectory("bulwark-site")
        defer { try? FileManager.default.removeItem(at: site) }
        let body = try Self.makeSite(site)
        // A kernel web server on the peer; curl inside the sandbox fetches from it.
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        server.arguments = ["netns", "exec", net.peerNS, "/usr/bin/python3", "-m", "http.server", "8001", "--bind", net.peerIP, "--directory", site.path]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.runForTest()
        defer { kill(server.processIdentifier, SIGKILL); server.waitUntilExit() }
        _ = try net.onPeer("for i in $(seq 100); do timeout 2 bash -c 'exec 3<>/dev/tcp/\(net.peerIP)/8001' 2>/dev/null && exit 0; sleep 0.1; done; exit 1")
        // To stdout: the sandbox's own writes to "/" stay in its overlay.
        try net.startSandbox(["/usr/bin/curl", "-sS", "--max-time", "20", "http://\(net.peerIP):8001/page.txt"])
        #expect(net.waitForExit(seconds: 40))
        #expect(net.sandbox?.terminationStatus == 0, "\(net.sandboxOutput().err)")
        #expect(net.sandboxOutput().out == String(decoding: body, as: UTF8.self))
    }

    /// Killing the netstack under a serving redis: the host's next connection fails, the sandbox
    /// neither hangs nor dies, says why, and still stops on SIGTERM (redis's own clean shutdown).
    @Test(.enabled(if: SandboxNet.skipReason(["/usr/bin/redis-server", "/usr/bin/redis-cli"]) == nil,
                   "\(SandboxNet.skipReason(["/usr/bin/redis-server", "/usr/bin/redis-cli"]) ?? "")"))
    func killingTheNetstackUnderRedis() throws {
        let net = try SandboxNet()
        defer { net.close() }
        try net.startSandbox(["/usr/bin/redis-server", "--port", "6379", "--bind", "0.0.0.0", "--protected-mode", "no",
                              "--save", "", "--appendonly", "no", "--dir", net.scratch.path])
        try net.waitForPort(6379)
        let ok = try net.onPeer("redis-cli -h \(net.boxIP) ping")
        #expect(ok.stdout == "PONG\n", "\(ok)")
        let killed = try ProcessRunner.shell("""
            n=0; for p in $(ip netns pids \(net.boxNS)); do
              [ "$(cat /proc/$p/comm 2>/dev/null)" = bulwark-netstac ] && kill -9 $p && n=$((n+1))
            done; echo $n
            """, timeout: 10)
        #expect(killed.stdout == "1\n", "\(killed)")
        // Nothing answers for the address any more: the connection attempt fails (bounded).
        let after = try net.onPeer("timeout 5 redis-cli -h \(net.boxIP) ping; echo rc=$?", timeout: 20)
        #expect(!after.stdout.contains("PONG"), "\(after)")
        usleep(500_000)
        #expect(net.sandbox?.isRunning == true, "the sandbox died with its netstack: \(net.sandboxOutput())")
        if let p = net.sandbox { kill(p.processIdentifier, SIGTERM) }
        #expect(net.waitForExit(seconds: 15), "the sandbox hung after the netstack died")
        #expect(net.sandboxOutput().err.contains("netstack connection lost"), "\(net.sandboxOutput().err)")
    }
}
