// A real bulwark-gofer on a socketpair (--channel-fd 3), serving a fresh scratch directory, with a
// GoferClient to talk to it. Killed, reaped and cleaned up at deinit.
import Foundation
import Glibc
import GoferServer
import HostOS
import IPC
import LinuxABI
import Protocol
import TestSupport

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

final class GoferFixture {
    /// The scratch area: `root` is served; `outside` is a sibling the gofer must never reach.
    let base: String
    let root: String
    let outside: String
    let pid: pid_t
    let client: GoferClient
    private var reaped = false

    /// `arguments` come after --channel-fd 3 --root ROOT; `prepare` fills the scratch dirs first.
    init(_ arguments: [String] = [], extraDirectories: [String] = [], prepare: (GoferFixture.Paths) throws -> Void = { _ in }) throws {
        var template = Array("/tmp/gofer-test-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw TestFailure("mkdtemp failed") }
        let base = String(cString: made)
        let root = base + "/root"
        let outside = base + "/outside"
        self.base = base
        self.root = root
        self.outside = outside
        for dir in [root, outside] + extraDirectories.map({ base + "/" + $0 }) {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
        try "outside secret\n".write(toFile: outside + "/secret", atomically: false, encoding: .utf8)
        try prepare(Paths(base: base, root: root, outside: outside))
        let pair = try UnixSocket.pair().releaseBoth()
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pair.second, 3)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)   // never the runner's stdin
        let path = TestPaths.executable("bulwark-gofer")
        let args = [path, "--channel-fd", "3", "--root", root] + arguments.map { $0.replacingOccurrences(of: "@BASE", with: base) }
        let argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, path, &actions, nil, argv, environ)
        _ = Glibc.close(pair.second)
        guard rc == 0 else { _ = Glibc.close(pair.first); throw TestFailure("posix_spawn \(path): \(rc)") }
        pid = child
        client = GoferClient(Channel(OwnedFD(adopting: pair.first)), timeout: .seconds(5))
    }

    struct Paths { let base: String; let root: String; let outside: String }

    /// Waits at most `seconds` for the gofer to exit; the wait status, or nil (then killed) on timeout.
    func waitExit(seconds: Double = 5) -> Int32? {
        var status: Int32 = 0
        for _ in 0..<Int(seconds * 500) {
            if waitpid(pid, &status, WNOHANG) == pid { reaped = true; return status }
            usleep(2000)
        }
        kill(pid, SIGKILL)
        _ = waitpid(pid, &status, 0)
        reaped = true
        return nil
    }

    deinit {
        client.channel.close()
        if !reaped {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            _ = waitpid(pid, &status, 0)
        }
        try? FileManager.default.removeItem(atPath: base)
    }
}

/// The errno of a remote error, or nil when `body` succeeded or failed otherwise.
func remoteErrno<T>(_ body: () throws -> T) -> Errno? {
    do { _ = try body() } catch {
        if case .remote(let errno, _)? = error as? IPCError { return errno }
        return nil
    }
    return nil
}

/// lstat of a host path.
func hostStat(_ path: String) throws -> stat {
    var s = stat()
    guard lstat(path, &s) == 0 else { throw TestFailure("lstat \(path): errno \(errno)") }
    return s
}

/// Everything readable from a descriptor (from offset 0).
func readAll(_ fd: Int32) -> String {
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    var offset: off_t = 0
    while true {
        let n = pread(fd, &buffer, buffer.count, offset)
        if n <= 0 { break }
        bytes += buffer[..<n]
        offset += off_t(n)
    }
    return String(decoding: bytes, as: UTF8.self)
}

let S_IFMT_: UInt32 = 0o170000

/// The errno with which Open of `fid` fails, or nil when it succeeds (the fd is closed then).
func openErrno(_ client: GoferClient, _ fid: UInt64, flags: Int32) -> Errno? {
    do {
        let fd = try client.open(fid, flags: flags)
        fd.close()
        return nil
    } catch {
        if case .remote(let errno, _) = error { return errno }
        return nil
    }
}
