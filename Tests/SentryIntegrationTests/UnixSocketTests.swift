// AF_UNIX sockets served by the Sentry: a C program and python3 (socketpair, multiprocessing.Pipe,
// asyncio over a socketpair) run natively and in the sandbox with outputs compared; AF_INET must
// be refused (EAFNOSUPPORT) and reported, never faked, until the netstack is wired in.
import Foundation
import Testing
import TestSupport

@Suite("Sentry AF_UNIX sockets")
struct UnixSocketTests {
    @Test func unixSocketsMatchNative() throws {
        let exe = try Sentry.compile("unix_sockets")
        let native = try Sentry.native([exe])
        let sandboxed = try Sentry.run([exe])
        #expect(!sandboxed.timedOut)
        #expect(native.exitCode == 0)
        #expect(native.stdout.hasSuffix("done\n"))
        #expect(sandboxed.stdout == native.stdout, "sandbox\n\(sandboxed)\nnative\n\(native)")
        #expect(sandboxed.exitCode == 0)
    }

    @Test func inetSocketsAreCreated() throws {
        // Since the netstack is wired in (InetSocketTests), AF_INET/AF_INET6 sockets are created.
        let exe = try Sentry.compile("unix_sockets")
        let r = try Sentry.run([exe, "inet"])
        let native = try Sentry.native([exe, "inet"])
        #expect(r.stdout == native.stdout, "\(r)")
    }

    static let script = """
    import socket, multiprocessing, asyncio, os
    a, b = socket.socketpair()
    a.sendall(b"hello"); print("socketpair", b.recv(10), a.family == socket.AF_UNIX, a.type == socket.SOCK_STREAM)
    b.close(); print("eof-after-close", a.recv(10))
    p, c = multiprocessing.Pipe()
    pid = os.fork()
    if pid == 0:
        c.send({"n": [1, 2, 3]}); os._exit(0)
    print("pipe", p.recv()); os.waitpid(pid, 0)
    async def main():
        loop = asyncio.get_running_loop()
        r, w = socket.socketpair()
        r.setblocking(False); w.setblocking(False)
        reader, writer = await asyncio.open_unix_connection(sock=r)
        await loop.sock_sendall(w, b"line one\\nline two\\n")
        print("asyncio", await reader.readline(), await reader.readline())
        w.close()
        print("asyncio eof", await reader.read())
        writer.close()
    asyncio.run(main())
    """

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/python3")))
    func pythonSocketpairPipeAsyncio() throws {
        let argv = ["/usr/bin/python3", "-c", UnixSocketTests.script]
        let env = ["PATH=/usr/bin:/bin", "LANG=C.UTF-8"]
        let native = try Sentry.native(argv, env: env, timeout: 60)
        let sandboxed = try Sentry.run(argv, env: env, timeout: 60)
        #expect(native.stdout.contains("asyncio eof"))
        #expect(!sandboxed.timedOut)
        #expect(sandboxed.stdout == native.stdout, "\(sandboxed)")
        #expect(sandboxed.exitCode == 0)
    }
}
