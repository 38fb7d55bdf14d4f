// Bad input and a dying gofer: error replies, continued service, clean client failures.
import Foundation
import Glibc
import GoferServer
import HostOS
import IPC
import LinuxABI
import Protocol
import TestSupport
import Testing
import Wire

@Suite struct GoferRobustnessTests {
    @Test func malformedBodiesAndUnknownIdsGetErrorRepliesAndServingContinues() throws {
        let gofer = try GoferFixture { p in
            _ = FileManager.default.createFile(atPath: p.root + "/f", contents: nil)
        }
        let c = gofer.client
        let root = try c.attach()
        // A well-framed request whose body is garbage.
        for body: [UInt8] in [[1, 2, 3], [], [UInt8](repeating: 0xff, count: 64)] {
            #expect(remoteErrno { _ = try c.channel.call(Gofer.Walk.messageID, body: body, timeout: .seconds(5)) } == .EINVAL)
        }
        // An id no schema defines, and reply-only ids sent as requests.
        #expect(remoteErrno { _ = try c.channel.call(999, body: [], timeout: .seconds(5)) } == .ENOSYS)
        #expect(remoteErrno { _ = try c.channel.call(Gofer.WalkReply.messageID, body: [], timeout: .seconds(5)) } == .ENOSYS)
        // Unknown node ids everywhere.
        let bogus: UInt64 = 0x7777_0000_0042
        #expect(remoteErrno { try c.walk(bogus, ["f"]) } == .EBADF)
        #expect(openErrno(c, bogus, flags: O_RDONLY) == .EBADF)
        #expect(remoteErrno { try c.mkdir(bogus, "x", mode: 0o755) } == .EBADF)
        #expect(remoteErrno { try c.getdents(bogus) } == .EBADF)
        #expect(remoteErrno { try c.link(root.fid, "x", target: bogus) } == .EBADF)
        #expect(remoteErrno { try c.walk(root.fid, [String](repeating: "f", count: 300)) } == .EINVAL)
        // Still serving.
        #expect(try c.walk(root.fid, ["f"]).count == 1)
    }

    /// Random bodies for every gofer message id: each gets a reply (an error, or success for a body
    /// that happens to decode), the gofer never dies, and nothing appears outside the root.
    @Test func randomBodiesForEveryMessageIdNeverKillTheGofer() throws {
        let gofer = try GoferFixture { p in
            _ = FileManager.default.createFile(atPath: p.root + "/f", contents: nil)
        }
        let c = gofer.client
        let root = try c.attach()
        var generator = SystemRandomNumberGenerator()
        var replies = 0
        for id in UInt16(1)...36 {
            for _ in 0..<20 {
                let length = Int.random(in: 0...96, using: &generator)
                let body = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
                do {
                    _ = try c.channel.call(id, body: body, timeout: .seconds(5))
                    replies += 1
                } catch {
                    guard case .remote = error else { Issue.record("id \(id): \(error)"); return }
                    replies += 1
                }
            }
        }
        #expect(replies == 36 * 20)
        #expect(try c.walk(root.fid, ["f"]).count == 1)
        #expect(try FileManager.default.contentsOfDirectory(atPath: gofer.outside) == ["secret"])
    }

    @Test func nodeTableIsBoundedAndReleasedNodesAreReused() throws {
        let gofer = try GoferFixture(["--max-nodes", "50"]) { p in
            _ = FileManager.default.createFile(atPath: p.root + "/f", contents: nil)
        }
        let c = gofer.client
        let root = try c.attach()
        // 500 walk/close cycles fit in 50 slots: close really releases.
        for _ in 0..<500 {
            let inodes = try c.walk(root.fid, ["f"])
            try c.close(inodes.map(\.fid))
        }
        // Filling the table gives ENFILE, not a crash; releasing makes room again.
        var held: [UInt64] = []
        var full: Errno?
        for _ in 0..<60 {
            do { held += try c.walk(root.fid, ["f"]).map(\.fid) } catch {
                if case .remote(let errno, _) = error { full = errno }
                break
            }
        }
        #expect(full == .ENFILE && held.count == 49)
        try c.close(held)
        #expect(try c.walk(root.fid, ["f"]).count == 1)
    }

    @Test func killedGoferEndsTheCallWithinTheTimeout() throws {
        let gofer = try GoferFixture()
        let c = gofer.client
        let root = try c.attach()
        // Stop the gofer so the next request is in flight when it dies.
        kill(gofer.pid, SIGSTOP)
        let pid = gofer.pid
        let killer = Thread { usleep(200_000); kill(pid, SIGKILL) }
        killer.start()
        let start = Date()
        var failure: IPCError?
        do { _ = try c.walk(root.fid, ["x"]) } catch { failure = error }
        let elapsed = Date().timeIntervalSince(start)
        #expect(failure == .peerClosed || failure == .peerDied, "got \(String(describing: failure))")
        #expect(elapsed < 5)
        #expect(gofer.waitExit() != nil)
        // Later calls fail at once.
        #expect(throws: IPCError.self) { try c.stat(root.fid) }
    }

    /// Started bare (as ServiceKit's generic tests do), the gofer answers but serves no mount.
    @Test func withoutRootEveryAttachIsENOENT() throws {
        let pair = try UnixSocket.pair().releaseBoth()
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pair.second, 3)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)   // never the runner's stdin
        let path = TestPaths.executable("bulwark-gofer")
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup(path), strdup("--channel-fd"), strdup("3"), nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        #expect(posix_spawn(&pid, path, &actions, nil, argv, environ) == 0)
        _ = Glibc.close(pair.second)
        let client = GoferClient(Channel(OwnedFD(adopting: pair.first)))
        #expect(remoteErrno { try client.attach() } == .ENOENT)
        client.channel.close()
        var status: Int32 = 0
        var exited = false
        for _ in 0..<2500 {
            if waitpid(pid, &status, WNOHANG) == pid { exited = true; break }
            usleep(2000)
        }
        if !exited { kill(pid, SIGKILL); _ = waitpid(pid, &status, 0) }
        #expect(exited && status == 0)   // exit 0 when the client closes
    }

    /// Once serving, the gofer runs under its seccomp filter with no capabilities left but the five
    /// file ones it keeps (CAP_CHOWN, DAC_OVERRIDE, DAC_READ_SEARCH, FOWNER, FSETID).
    @Test func goferServesUnderSeccompWithoutCapabilities() throws {
        let gofer = try GoferFixture()
        _ = try gofer.client.attach()
        let status = try String(contentsOfFile: "/proc/\(gofer.pid)/status", encoding: .utf8)
        func field(_ name: String) -> String? {
            status.split(separator: "\n").first { $0.hasPrefix(name + ":") }
                .map { $0.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces) }
        }
        #expect(field("Seccomp") == "2")
        #expect(field("NoNewPrivs") == "1")
        for f in ["CapEff", "CapPrm"] {
            let bits = UInt64(field(f) ?? "", radix: 16)
            #expect(bits != nil && bits! & ~UInt64(0x1f) == 0, "\(f): \(field(f) ?? "?")")
        }
    }

    /// Round-trip figure for small RPCs (walk one name + close), printed for the report.
    @Test func smallRPCLatency() throws {
        let gofer = try GoferFixture { p in
            _ = FileManager.default.createFile(atPath: p.root + "/f", contents: nil)
        }
        let c = gofer.client
        let root = try c.attach()
        let count = 2000
        let start = Date()
        for _ in 0..<count { _ = try c.stat(root.fid) }
        let stat = Date().timeIntervalSince(start) / Double(count)
        let start2 = Date()
        for _ in 0..<count {
            let inodes = try c.walk(root.fid, ["f"])
            try c.close(inodes.map(\.fid))
        }
        let walk = Date().timeIntervalSince(start2) / Double(count)
        print("gofer latency: stat \(Int(stat * 1e6)) us, walk+close \(Int(walk * 1e6)) us")
        #expect(stat < 0.01)
    }

    @Test func goferExitsCleanlyWhenTheClientCloses() throws {
        let gofer = try GoferFixture()
        _ = try gofer.client.attach()
        gofer.client.channel.close()
        let status = try #require(gofer.waitExit())
        #expect(status & 0x7f == 0 && (status >> 8) & 0xff == 0)
    }

    @Test func badOptionsAreUsageErrors() throws {
        let socket = "/tmp/gofer-options-\(getpid()).sock"
        defer { unlink(socket) }
        for (args, message) in [(["--mount", "/tmp:/x"], "--mount and --read-only need --root DIR"),
                                (["--root", "/nonexistent-gofer-root"], "ENOENT"),
                                (["--root", "/tmp", "--mount", "nocolon"], "is not SRC:DST[:ro]")] {
            unlink(socket)
            let result = try ProcessRunner.run(TestPaths.executable("bulwark-gofer"), ["--listen", socket] + args, timeout: 10)
            #expect(result.exitCode == 1, "\(args): \(result)")
            #expect(result.stderr.contains(message), "\(args): \(result.stderr)")
        }
    }
}
