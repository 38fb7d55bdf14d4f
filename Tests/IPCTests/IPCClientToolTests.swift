// bulwark-ipc-client against a running service.
import Foundation
import HostOS
import IPC
import Protocol
import Testing
import TestSupport
import Wire

@Suite struct IPCClientToolTests {
    let client = TestPaths.executable("bulwark-ipc-client")

    @Test func pingsARunningServiceAndPrintsTheReply() throws {
        try TestPaths.withScratchDirectory("client") { dir in
            let (service, path) = try ServiceTests().startListening("bulwark-gofer", in: dir)
            let ping = try ProcessRunner.run(client, ["--connect", path, "--message", "65535", "--body", "cafe01"], timeout: 10)
            #expect(ping.exitCode == 0)
            #expect(ping.stdout == "reply: message=65535 request=1 flags=0x1 fds=0 length=19\nbody: cafe01\n")
            let unknown = try ProcessRunner.run(client, ["--connect", path, "--message", "4242"], timeout: 10)
            #expect(unknown.exitCode == 1)
            #expect(unknown.stdout.contains("error reply: ENOSYS (38): bulwark-gofer: unknown message id 4242"))
            service.kill()
            service.finish()
        }
    }

    @Test func decodesTheReplyWithTheChannelSchema() throws {
        try TestPaths.withScratchDirectory("client") { dir in
            let path = dir.appendingPathComponent("s").path
            let listener = try UnixSocket.listen(path: path).release()
            // A stand-in Sentry on a thread: answers one request with a Control.Pong.
            let peer = PeerThread {
                defer { close(listener) }
                guard let socket = try? acceptWithin(listener) else { return }
                let channel = Channel(socket)
                guard let request = try? channel.receive(timeout: .seconds(5)) else { return }
                var writer = MessageWriter()
                _ = try? writer.encode(Control.Pong(nonce: 7, processCount: 2), requestID: 0)
                try? channel.reply(to: request.header, messageID: Control.Pong.messageID, writer: &writer)
            }
            let result = try ProcessRunner.run(client, ["--connect", path, "--message", "13", "--channel", "control"],
                                               timeout: 10)
            #expect(peer.join())
            #expect(result.exitCode == 0, "\(result)")
            #expect(result.stdout.contains("reply: message=14 request=1 flags=0x1"))
            #expect(result.stdout.contains("decoded: \(Control.Pong(nonce: 7, processCount: 2))"))
        }
    }

    @Test func reportsUsageAndConnectionErrors() throws {
        let help = try ProcessRunner.run(client, ["--help"], timeout: 10)
        #expect(help.exitCode == 0 && help.stdout.contains("usage: bulwark-ipc-client"))
        let badBody = try ProcessRunner.run(client, ["--connect", "/x", "--message", "0", "--body", "zz"], timeout: 10)
        #expect(badBody.exitCode == 2 && badBody.stderr.contains("--body"))
        let missing = try ProcessRunner.run(client, ["--connect", "/nonexistent/bulwark.sock", "--message", "0"], timeout: 10)
        #expect(missing.exitCode == 1 && missing.stderr.contains("ENOENT"))
        let badChannel = try ProcessRunner.run(client, ["--connect", "/x", "--message", "0", "--channel", "nope"], timeout: 10)
        #expect(badChannel.exitCode == 2 && badChannel.stderr.contains("--channel must be one of control, gofer"))
    }
}
