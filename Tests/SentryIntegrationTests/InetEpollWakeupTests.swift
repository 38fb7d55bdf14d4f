// Wake-ups of tasks blocked on AF_INET sockets: since session 7 the netstack wakes them itself (a
// shared futex on the socket arena's generation word) instead of through the Sentry's waker thread.
// Tests/Programs/inet_wakeups.c runs natively and in the sandbox with outputs compared (epoll on two
// sockets, timed waits, blocking read and poll, two sleepers at once, a signal, 2000 round trips);
// a second mode checks that the netstack's death still wakes a task in epoll_wait and one in read.
import Foundation
import Testing
import TestSupport

@Suite("Inet readiness wake-ups (epoll, poll, blocking reads)", .serialized)
struct InetEpollWakeupTests {
    @Test func wakeupsMatchNative() throws {
        let exe = try Sentry.compile("inet_wakeups")
        let native = try Sentry.native([exe, "basic"], timeout: 30)
        let sandboxed = try Sentry.run([exe, "basic"], timeout: 60)
        #expect(!sandboxed.timedOut, "a lost wake-up hangs the program: \(sandboxed)")
        #expect(native.exitCode == 0, "\(native)")
        #expect(native.stdout.hasSuffix("done\n"), "\(native)")
        #expect(sandboxed.stdout == native.stdout, "sandbox\n\(sandboxed)\nnative\n\(native)")
        #expect(sandboxed.exitCode == 0)
        func figure(_ r: ProcessResult) -> String {
            r.stderr.split(separator: "\n").first { $0.hasPrefix("ROUNDTRIPS") }.map(String.init) ?? "?"
        }
        print("TCP loopback round trips (epoll server): native \(figure(native)); sandbox \(figure(sandboxed))")
    }

    /// Sandbox only (a native netstack cannot be killed): both sleepers return once the netstack dies.
    @Test func netstackDeathWakesEverySleeper() throws {
        let exe = try Sentry.compile("inet_wakeups")
        let box = try BackgroundSandbox([exe, "idlewait"])
        #expect(box.waitForOutput("waiting", within: 20))
        usleep(200_000)   // both asleep by now
        #expect(box.killNetstack())
        // Well before the program's own 20 s epoll timeout.
        #expect(box.waitForExit(within: 10), "a sleeper was not woken when the netstack died")
        #expect(box.text.contains("reader: read -> reset/down"), "\(box.text)")
        #expect(box.text.contains("epoll_wait -> 1, hup/err 1"), "\(box.text)")
        #expect(box.text.contains("done"), "\(box.text)")
    }

    /// Closes and options are one-way requests the Sentry queues and sends when a task sleeps, or
    /// after a few system calls of a task that does not (NetstackConnection.queue): a peer still
    /// sees EOF promptly when the closing task keeps running, when it sleeps at once, and when it
    /// computes without system calls while every other task sleeps (the waker's tick, session 9), and
    /// bytes written before such computing arrive too (the deferred doorbell, session 9).
    @Test func queuedClosesReachThePeerWithoutASleep() throws {
        let exe = try Sentry.compile("inet_oneway_flush")
        let native = try Sentry.native([exe], timeout: 30)
        let sandboxed = try Sentry.run([exe], timeout: 60)
        #expect(native.exitCode == 0, "\(native)")
        #expect(native.stdout == "close, then busy: eof\nclose, then sleep: eof\nclose, then compute: eof\nwrite, then compute: data\ndone\n", "\(native)")
        #expect(sandboxed.stdout == native.stdout, "sandbox\n\(sandboxed)\nnative\n\(native)")
        #expect(sandboxed.exitCode == 0)
    }
}
