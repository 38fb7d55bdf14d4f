// bulwark-netstack as a service (--listen, --network none): netstack.schema requests over IPC drive
// NetstackCore's loopback, under the service's seccomp allowlist.
import Foundation
import Glibc
import HostOS
import IPC
import LinuxABI
import Protocol
import Testing
import TestSupport
import Wire

@Suite struct ServiceRequestTests {
    final class Service {
        let process = Process()
        let channel: Channel
        var writer = MessageWriter()
        init(_ path: String) throws {
            process.executableURL = URL(fileURLWithPath: TestPaths.executable("bulwark-netstack"))
            process.arguments = ["--listen", path, "--network", "none"]
            process.standardOutput = FileHandle.nullDevice
            try process.runForTest()
            let deadline = Date().addingTimeInterval(10)
            var fd: OwnedFD?
            while fd == nil {
                fd = try? UnixSocket.connect(path: path)
                if fd == nil {
                    guard Date() < deadline, process.isRunning else { throw KernelSocketError(description: "service did not start") }
                    usleep(10_000)
                }
            }
            channel = Channel(fd!)
        }
        func call<R: WireRequest>(_ r: R) throws -> R.Reply {
            var fds = ReceivedFDs()
            return try channel.call(r, writer: &writer, receivedFDs: &fds, timeout: .seconds(5))
        }
        deinit { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
    }

    /// The errno of the service's error reply, nil when the call succeeded.
    func errnoOf(_ body: () throws -> Void) -> Errno? {
        do { try body() } catch IPCError.remote(let e, _) { return e } catch { return nil }
        return nil
    }

    static func v4(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8, _ port: UInt16) -> Netstack.SocketAddress {
        Netstack.SocketAddress(family: 2, port: port, address: [a, b, c, d])
    }

    @Test func loopbackTCPThroughRequests() throws {
        try TestPaths.withScratchDirectory("bulwark-netstack-svc") { dir in
            let svc = try Service(dir.appendingPathComponent("s").path)
            let listener = try svc.call(Netstack.Socket(family: 2, type: 1)).handle
            _ = try svc.call(Netstack.Bind(handle: listener, address: Self.v4(127, 0, 0, 1, 8080)))
            _ = try svc.call(Netstack.Listen(handle: listener, backlog: 8))
            let client = try svc.call(Netstack.Socket(family: 2, type: 1)).handle
            // Non-blocking connect over loopback: EINPROGRESS, or done at once.
            do { _ = try svc.call(Netstack.Connect(handle: client, address: Self.v4(127, 0, 0, 1, 8080))) } catch IPCError.remote(let e, _) {
                #expect(e == .EINPROGRESS)
            }
            var accepted: Netstack.AcceptReply?
            for _ in 0..<50 where accepted == nil {
                accepted = try? svc.call(Netstack.Accept(handle: listener))
                if accepted == nil { usleep(10_000) }
            }
            let a = try #require(accepted)
            let local = try svc.call(Netstack.GetName(handle: client, peer: false)).address
            #expect(a.peer == local)
            #expect(local.address == [127, 0, 0, 1])
            let peer = try svc.call(Netstack.GetName(handle: client, peer: true)).address
            #expect(peer == Self.v4(127, 0, 0, 1, 8080))
            let soError = try svc.call(Netstack.GetOption(handle: client, level: 1, name: 4, size: 4)).value
            #expect(soError == [0, 0, 0, 0])
            _ = try svc.call(Netstack.SetOption(handle: client, level: 6, name: 1, value: [1, 0, 0, 0]))
            _ = try svc.call(Netstack.Shutdown(handle: client, how: 1))
            _ = try svc.call(Netstack.Close(handle: a.handle))
            _ = try svc.call(Netstack.Close(handle: client))
        }
    }

    @Test func errorsAreLinuxErrnos() throws {
        try TestPaths.withScratchDirectory("bulwark-netstack-svc") { dir in
            let svc = try Service(dir.appendingPathComponent("s").path)
            #expect(errnoOf { _ = try svc.call(Netstack.Socket(family: 1, type: 1)) } == .EAFNOSUPPORT)
            let a = try svc.call(Netstack.Socket(family: 2, type: 2)).handle
            let b = try svc.call(Netstack.Socket(family: 2, type: 2)).handle
            _ = try svc.call(Netstack.Bind(handle: a, address: Self.v4(127, 0, 0, 1, 5353)))
            #expect(errnoOf { _ = try svc.call(Netstack.Bind(handle: b, address: Self.v4(127, 0, 0, 1, 5353))) } == .EADDRINUSE)
            #expect(errnoOf { _ = try svc.call(Netstack.Close(handle: 999)) } == .EBADF)
            // Connecting to a closed loopback port is refused (RST over loopback).
            let c = try svc.call(Netstack.Socket(family: 2, type: 1)).handle
            _ = try? svc.call(Netstack.Connect(handle: c, address: Self.v4(127, 0, 0, 1, 9)))
            let err = try svc.call(Netstack.GetOption(handle: c, level: 1, name: 4, size: 4)).value
            #expect(err == [111, 0, 0, 0])   // ECONNREFUSED
        }
    }
}
