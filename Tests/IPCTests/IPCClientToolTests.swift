// bulwark-ipc-client against a running service.
import Foundation
import Testing
import TestSupport

@Suite struct IPCClientToolTests {
    let client = TestPaths.executable("bulwark-ipc-client")

    @Test func pingsARunningServiceAndPrintsTheReply() throws {
        try TestPaths.withScratchDirectory("client") { dir in
            let (service, path) = try ServiceTests().startListening("bulwark-gofer", in: dir)
            let ping = try ProcessRunner.run(client, ["--connect", path, "--message", "0", "--body", "cafe01"], timeout: 10)
            #expect(ping.exitCode == 0)
            #expect(ping.stdout == "reply: message=0 request=1 flags=0x1 fds=0 length=19\nbody: cafe01\n")
            let unknown = try ProcessRunner.run(client, ["--connect", path, "--message", "4242"], timeout: 10)
            #expect(unknown.exitCode == 1)
            #expect(unknown.stdout.contains("error reply: ENOSYS (38): bulwark-gofer: unknown message id 4242"))
            service.kill()
            service.finish()
        }
    }

    @Test func reportsUsageAndConnectionErrors() throws {
        let help = try ProcessRunner.run(client, ["--help"], timeout: 10)
        #expect(help.exitCode == 0 && help.stdout.contains("usage: bulwark-ipc-client"))
        let badBody = try ProcessRunner.run(client, ["--connect", "/x", "--message", "0", "--body", "zz"], timeout: 10)
        #expect(badBody.exitCode == 2 && badBody.stderr.contains("--body"))
        let missing = try ProcessRunner.run(client, ["--connect", "/nonexistent/bulwark.sock", "--message", "0"], timeout: 10)
        #expect(missing.exitCode == 1 && missing.stderr.contains("ENOENT"))
    }
}
