// Starts the real bulwark-procfs on one end of a socketpair and talks to it through ProcfsClient.
import Foundation
import Glibc
import HostOS
import IPC
import ProcfsServer
import Protocol
import TestSupport

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// One running bulwark-procfs with a client; killed and reaped by `stop`.
final class ProcfsHarness {
    let pid: pid_t
    let client: ProcfsClient

    init(timeout: Duration = .seconds(2)) throws {
        let pair = try UnixSocket.pair().releaseBoth()
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pair.second, 3)
        let path = TestPaths.executable("bulwark-procfs")
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup(path), strdup("--channel-fd"), strdup("3"), nil]
        defer { argv.forEach { free($0) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, path, &actions, nil, argv, environ)
        _ = Glibc.close(pair.second)
        guard rc == 0 else {
            _ = Glibc.close(pair.first)
            throw TestFailure("posix_spawn \(path): \(rc)")
        }
        pid = child
        client = ProcfsClient(channel: Channel(OwnedFD(adopting: pair.first)), timeout: timeout)
    }

    /// Closes the channel (the service exits on end of stream) and reaps it, killing it after 5 s.
    func stop() {
        client.channel.close()
        var status: Int32 = 0
        for _ in 0..<2500 {
            if waitpid(pid, &status, WNOHANG) == pid { return }
            usleep(2000)
        }
        kill(pid, SIGKILL)
        _ = waitpid(pid, &status, 0)
    }

    static var me: Int32 { getpid() }

    func read(_ path: String, _ snapshot: Procfs.Snapshot, pid: Int32 = ProcfsHarness.me, tid: Int32? = nil) throws -> String {
        switch try client.read(path, pid: pid, tid: tid ?? pid, snapshot: snapshot) {
        case .content(let bytes): return String(decoding: bytes, as: UTF8.self)
        case .link(let target): throw TestFailure("\(path) is a link to \(target)")
        }
    }
}

/// Runs `body` with a fresh server, always stopping it.
func withProcfs<T>(timeout: Duration = .seconds(2), _ body: (ProcfsHarness) throws -> T) throws -> T {
    let h = try ProcfsHarness(timeout: timeout)
    defer { h.stop() }
    return try body(h)
}
