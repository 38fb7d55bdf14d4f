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
            #expect(remoteErrno { try c.channel.call(Gofer.Walk.messageID, body: body, timeout: .seconds(5)) } == .EINVAL)
        }
        // An id no schema defines, and reply-only ids sent as requests.
        #expect(remoteErrno { try c.channel.call(999, body: [], timeout: .seconds(5)) } == .ENOSYS)
        #expect(remoteErrno { try c.channel.call(Gofer.WalkReply.messageID, body: [], timeout: .seconds(5)) } == .ENOSYS)
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

    @Test func nodeTableIsBoundedAndReleasedNodesAreReused() throws {
        let gofer = try GoferFixture { p in
            _ = FileManager.default.createFile(atPath: p.root + "/f", contents: nil)
        }
        let c = gofer.client
        let root = try c.attach()
        // 2000 walk/close cycles stay within the descriptor limit: close really releases.
        for _ in 0..<2000 {
            let inodes = try c.walk(root.fid, ["f"])
            try c.close(inodes.map(\.fid))
        }
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
        for (args, message) in [([String](), "--root DIR is required"),
                                (["--root", "/nonexistent-gofer-root"], "ENOENT"),
                                (["--root", "/tmp", "--mount", "nocolon"], "is not SRC:DST[:ro]")] {
            unlink(socket)
            let result = try ProcessRunner.run(TestPaths.executable("bulwark-gofer"), ["--listen", socket] + args, timeout: 10)
            #expect(result.exitCode == 1, "\(args): \(result)")
            #expect(result.stderr.contains(message), "\(args): \(result.stderr)")
        }
    }
}
