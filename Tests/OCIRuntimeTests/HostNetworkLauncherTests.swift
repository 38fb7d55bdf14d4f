// `bulwark --network host run`: the launcher starts bulwark-netstack --network host in the host's
// network namespace, so the container reaches a server on the host's 127.0.0.1; with the default
// --network sandbox the container has its own namespace and the same connection is refused.
import Foundation
import Glibc
import Testing
import TestSupport

@Suite("bulwark --network host", .serialized)
struct HostNetworkLauncherTests {
    static let server = """
    import socket, sys
    t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind(('127.0.0.1', 0)); t.listen(4); t.settimeout(40)
    print(t.getsockname()[1], flush=True)
    c, _ = t.accept()
    c.sendall(b'host-' + c.recv(100)); c.close()
    """

    static func client(_ port: String) -> String {
        """
        import errno, socket
        try:
            c = socket.create_connection(('127.0.0.1', \(port)), timeout=10)
            c.sendall(b'hello'); print(c.recv(100).decode(), flush=True)
        except OSError as e:
            print('error', errno.errorcode.get(e.errno, e.errno), flush=True)
        """
    }

    @Test func containerReachesAHostServerOnlyWithHostNetwork() throws {
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") else { return }
        let host = Process()
        host.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        host.arguments = ["-c", Self.server]
        let out = Pipe()
        host.standardOutput = out
        try host.runForTest()
        defer { if host.isRunning { kill(host.processIdentifier, SIGKILL) }; host.waitUntilExit() }
        let port = String(decoding: out.availableData(within: 30), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        try #require(Int(port) != nil, "host server: \(port)")
        try LauncherFixture.with { f in
            var config = LauncherFixture.defaultConfig(args: ["/usr/bin/python3", "-c", Self.client(port)])
            config["root"] = ["path": "/", "readonly": true]
            let bundle = try f.makeBundle(config: config)
            let isolated = try f.run(["run", "--bundle", bundle, "netsandbox"], timeout: 60)
            #expect(isolated.stdout == "error ECONNREFUSED\n", "\(isolated)")
            let shared = try f.run(["run", "--bundle", bundle, "nethost"], globals: ["--network", "host"], timeout: 60)
            #expect(shared.exitCode == 0, "\(shared)")
            #expect(shared.stdout == "host-hello\n", "\(shared)")
        }
    }
}
