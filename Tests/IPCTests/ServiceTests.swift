// The service executables started with ServiceKit: --help, --listen and --channel-fd modes, Ping,
// unknown ids, garbage, seccomp and capabilities in force, and a killed service.
import Foundation
import Glibc
import HostOS
import IPC
import LinuxABI
import Testing
import TestSupport
import ServiceKit
import Wire

@Suite struct ServiceTests {
    static let services = ["bulwark-gofer", "bulwark-netstack", "bulwark-procfs"]

    /// Starts `service --listen <scratch>/s` and waits (bounded) until it accepts connections.
    func startListening(_ service: String, in dir: URL) throws -> (BackgroundProcess, String) {
        let path = dir.appendingPathComponent("s").path
        let process = try BackgroundProcess(TestPaths.executable(service), ["--listen", path])
        for _ in 0..<500 {
            // The path appears at bind(2), a moment before listen(2): probe with a real connection.
            if (try? UnixSocket.connect(path: path)) != nil { break }
            usleep(10_000)
        }
        return (process, path)
    }

    /// Starts `service --channel-fd 3` with `fd` as its descriptor 3 (posix_spawn + dup2).
    func spawnWithChannel(_ service: String, _ fd: Int32) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fd, 3)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)   // never the runner's stdin
        let path = TestPaths.executable(service)
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup(path), strdup("--channel-fd"), strdup("3"), nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &actions, nil, argv, environ)
        guard rc == 0 else { throw TestFailure("posix_spawn \(path): \(rc)") }
        return pid
    }

    /// Waits at most `seconds` for `pid`; returns the wait status, or nil (after SIGKILL) on timeout.
    func waitExit(_ pid: pid_t, seconds: Double = 5) -> Int32? {
        var status: Int32 = 0
        for _ in 0..<Int(seconds * 500) {
            if waitpid(pid, &status, WNOHANG) == pid { return status }
            usleep(2000)
        }
        kill(pid, SIGKILL)
        _ = waitpid(pid, &status, 0)
        return nil
    }

    func statusField(_ pid: Int32, _ name: String) -> String? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(name + ":") {
            return line.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces)
        }
        return nil
    }

    @Test(arguments: services) func helpPrintsUsageAndExitsZero(_ service: String) throws {
        let result = try ProcessRunner.run(TestPaths.executable(service), ["--help"], timeout: 10)
        #expect(result.exitCode == 0)
        #expect(result.stdout.contains("usage: \(service)"))
        let bad = try ProcessRunner.run(TestPaths.executable(service), ["--bogus"], timeout: 10)
        #expect(bad.exitCode == 2)
        #expect(bad.stderr.contains("unknown option"))
    }

    @Test(arguments: services) func listeningServiceAnswersPingUnderSeccomp(_ service: String) throws {
        try TestPaths.withScratchDirectory("svc") { dir in
            let (process, path) = try startListening(service, in: dir)
            let channel = Channel(try UnixSocket.connect(path: path))
            let reply = try channel.call(ServiceMessage.ping, body: Array("ping".utf8), timeout: .seconds(5))
            #expect(String(decoding: reply.body, as: UTF8.self) == "ping")
            #expect(throws: IPCError.remote(errno: .ENOSYS, message: "\(service): unknown message id 999")) {
                _ = try channel.call(999, body: [], timeout: .seconds(5)).messageID
            }
            // The filter and the capability drop are in force while it serves.
            #expect(statusField(process.pid, "Seccomp") == "2")
            #expect(statusField(process.pid, "NoNewPrivs") == "1")
            // (The gofer keeps CAP_CHOWN, DAC_OVERRIDE, DAC_READ_SEARCH, FOWNER and FSETID: bits 0-4.)
            let kept: UInt64 = service == "bulwark-gofer" ? 0x1f : 0
            var fields = ["CapEff", "CapPrm"]
            if Capabilities.isPermitted(8) { fields.append("CapBnd") }   // with CAP_SETPCAP the bounding set is emptied too
            for f in fields {
                let bits = statusField(process.pid, f).flatMap { UInt64($0, radix: 16) }
                #expect(bits != nil && bits! & ~kept == 0, "\(service) \(f)")
            }
            // A second client is served too, and the first still works after an error reply.
            let other = Channel(try UnixSocket.connect(path: path))
            #expect(try other.call(ServiceMessage.ping, body: [1], timeout: .seconds(5)).body.count == 1)
            #expect(try channel.call(ServiceMessage.ping, body: [2, 3], timeout: .seconds(5)).body.count == 2)
            process.kill()
            process.finish()
        }
    }

    @Test func channelFDMustBeAnOpenSeqpacketSocket() throws {
        let exe = TestPaths.executable("bulwark-procfs")
        let notSocket = try ProcessRunner.run(exe, ["--channel-fd", "0"], timeout: 10)   // stdin is a pipe
        #expect(notSocket.exitCode == 1)
        #expect(notSocket.stderr.contains("--channel-fd 0: getsockopt(SO_TYPE): ENOTSOCK"))
        let closed = try ProcessRunner.run(exe, ["--channel-fd", "999"], timeout: 10)
        #expect(closed.exitCode == 1)
        #expect(closed.stderr.contains("--channel-fd 999: getsockopt(SO_TYPE): EBADF"))
    }

    @Test func listenPathInUseIsAClearError() throws {
        try TestPaths.withScratchDirectory("svc") { dir in
            let path = dir.appendingPathComponent("s").path
            let existing = try UnixSocket.listen(path: path)
            let result = try ProcessRunner.run(TestPaths.executable("bulwark-gofer"), ["--listen", path], timeout: 10)
            #expect(result.exitCode == 1)
            #expect(result.stderr.contains("--listen \(path): bind/listen: EADDRINUSE"))
            _ = existing
        }
    }

    /// Test runners spawn from threads that block most signals; the service must undo that.
    @Test func serviceStopsOnSIGTERMWhateverItInherited() throws {
        try TestPaths.withScratchDirectory("svc") { dir in
            let (process, _) = try startListening("bulwark-netstack", in: dir)
            // glibc's pthread_create blocks every signal in the creating thread for a moment, and the
            // netstack starts its driver thread after it listens: wait (bounded) for that to pass. An
            // inherited mask that was never reset would stay.
            var blocked = statusField(process.pid, "SigBlk")
            for _ in 0..<100 where blocked != "0000000000000000" {
                usleep(20_000)
                blocked = statusField(process.pid, "SigBlk")
            }
            #expect(blocked == "0000000000000000")
            process.kill(SIGTERM)
            process.finish(seconds: 3)
            #expect(process.process.terminationReason == .uncaughtSignal)
            #expect(process.process.terminationStatus == SIGTERM)
        }
    }

    @Test func garbageDropsOnlyThatConnection() throws {
        try TestPaths.withScratchDirectory("svc") { dir in
            let (process, path) = try startListening("bulwark-procfs", in: dir)
            let bad = try UnixSocket.connect(path: path)
            try sendRaw(bad.rawValue, [0xde, 0xad, 0xbe, 0xef, 1, 2, 3])
            #expect(try receiveRaw(bad.rawValue) == nil)   // the service closed it
            let good = Channel(try UnixSocket.connect(path: path))
            #expect(try good.call(ServiceMessage.ping, body: [7], timeout: .seconds(5)).body.first == 7)
            process.kill()
            process.finish()
        }
    }

    @Test func channelFDServiceAnswersAndExitsWhenClosed() throws {
        let pair = try UnixSocket.pair().releaseBoth()
        let pid = try spawnWithChannel("bulwark-netstack", pair.second)
        _ = Glibc.close(pair.second)
        let channel = Channel(OwnedFD(adopting: pair.first))
        let reply = try channel.call(ServiceMessage.ping, body: Array("hi".utf8), timeout: .seconds(5))
        #expect(String(decoding: reply.body, as: UTF8.self) == "hi")
        channel.close()
        let status = try #require(waitExit(pid))
        #expect(status & 0x7f == 0 && (status >> 8) & 0xff == 0)
    }

    @Test func channelFDServiceExitsOnGarbage() throws {
        let pair = try UnixSocket.pair().releaseBoth()
        let pid = try spawnWithChannel("bulwark-gofer", pair.second)
        _ = Glibc.close(pair.second)
        defer { _ = Glibc.close(pair.first) }
        try sendRaw(pair.first, frame(length: 40, flags: [], body: [1, 2, 3]))
        let status = try #require(waitExit(pid))
        #expect(status & 0x7f == 0 && (status >> 8) & 0xff == 1)
    }

    @Test func killedServiceEndsTheCallPromptly() throws {
        let pair = try UnixSocket.pair().releaseBoth()
        let pid = try spawnWithChannel("bulwark-procfs", pair.second)
        _ = Glibc.close(pair.second)
        let channel = Channel(OwnedFD(adopting: pair.first))
        _ = try channel.call(ServiceMessage.ping, body: [], timeout: .seconds(5))
        kill(pid, SIGKILL)
        let (result, seconds) = timed { Result { () throws(IPCError) in try channel.call(ServiceMessage.ping, body: [1], timeout: .seconds(5)).messageID } }
        switch result {
        case .failure(.peerClosed), .failure(.peerDied): break
        default: Issue.record("expected peerClosed/peerDied, got \(result)")
        }
        #expect(seconds < 4)
        let status = try #require(waitExit(pid))
        #expect(status & 0x7f == SIGKILL)
    }
}
