// The control side of IP sockets under churn: Tests/Programs/inet_accept_churn.c connects, accepts,
// sets TCP_NODELAY/SO_KEEPALIVE/TCP_KEEPIDLE/INTVL/CNT (sent to the netstack one-way), exchanges a byte
// and closes (Close is one-way too) 520 times (1040 sockets) over loopback, more rounds than the Sentry has socket
// slots; then reads the options back, checks the EINVAL refusals and SO_LINGER {1, 0}. Its output
// must equal a native run's.
import Foundation
import Testing
import TestSupport

@Suite("Sentry IP socket control calls", .serialized)
struct InetControlTests {
    @Test func acceptCloseChurnWithOptionsMatchesNative() throws {
        let exe = try Sentry.compile("inet_accept_churn")
        let native = try Sentry.native([exe, "520"])
        let start = Date()
        let sandboxed = try Sentry.run([exe, "520"], timeout: 60)
        let seconds = Date().timeIntervalSince(start)
        #expect(!sandboxed.timedOut)
        #expect(native.exitCode == 0, "\(native)")
        #expect(native.stdout.hasSuffix("done\n"))
        #expect(sandboxed.stdout == native.stdout, "sandbox\n\(sandboxed)\nnative\n\(native)")
        #expect(sandboxed.exitCode == 0)
        print("inet_accept_churn 520 rounds in the sandbox: \(String(format: "%.1f", seconds)) s")
    }

    /// Reply-less accept (SysInetAccept.swift): queue order, peers, flags, EAGAIN, a blocking accept,
    /// a listener closed with unaccepted connections, a backlog of 2, and 1100 accepts over time
    /// (more than the 1024 slots), all as on Linux.
    @Test func acceptQueueMatchesNative() throws {
        let exe = try Sentry.compile("inet_accept_queue")
        let native = try Sentry.native([exe, "1100"], timeout: 30)
        let sandboxed = try Sentry.run([exe, "1100"], timeout: 90)
        #expect(!sandboxed.timedOut)
        #expect(native.exitCode == 0, "\(native)")
        #expect(native.stdout.hasSuffix("done\n"))
        #expect(sandboxed.stdout == native.stdout, "sandbox\n\(sandboxed)\nnative\n\(native)")
        #expect(sandboxed.exitCode == 0)
    }
}
