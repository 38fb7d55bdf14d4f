// A netstack the Sentry spawns, killed by a fault while a python program sets up a loopback TCP
// transfer: the program gets a clean ENETDOWN (no hang), the Sentry exits by itself, and the
// netstack's log names the fault.
import Foundation
import TestSupport
import Testing

@Suite struct SentryNetstackFaultTests {
    static let workload = """
    import socket, errno
    try:
        srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen(1)
        cl = socket.create_connection(srv.getsockname(), timeout=5)
        c, _ = srv.accept()
        cl.sendall(b'x' * 100000)
        print('ok')
    except OSError as e:
        print(errno.errorcode.get(e.errno, str(e.errno)))
    """

    @Test(.enabled(if: hasPython)) func killedNetstackGivesENETDOWN() throws {
        let args = ["run", "--rootfs", "/", "--env", "PATH=/usr/bin:/bin",
                    "--fault", "channel=netstack,action=kill-peer,nth=4", "--", "/usr/bin/python3", "-c", Self.workload]
        let r = try ProcessRunner.run(SentryGuest.sentry, args, timeout: 60)
        #expect(!r.timedOut)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.stdout == "ENETDOWN\n", "\(r)")
        #expect(r.stderr.contains("bulwark-netstack: fault: kill-peer on"), "\(r)")
        #expect(r.stderr.contains("bulwark-sentry: netstack connection lost"), "\(r)")
        let clean = try ProcessRunner.run(SentryGuest.sentry, ["run", "--rootfs", "/", "--env", "PATH=/usr/bin:/bin", "--",
                                                               "/usr/bin/python3", "-c", Self.workload], timeout: 60)
        #expect(clean.stdout == "ok\n", "\(clean)")
    }

    /// The netstack dies while a task is blocked in accept (after one connection was accepted through
    /// an accept record): accept wakes with ENETDOWN instead of hanging.
    static let acceptWorkload = """
    import socket, errno, threading, time
    srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen(4)
    cl = socket.create_connection(srv.getsockname(), timeout=5)
    c, peer = srv.accept()
    print('first', peer == cl.getsockname())
    def later():
        time.sleep(0.5)
        try: socket.socket()
        except OSError: pass
    threading.Thread(target=later, daemon=True).start()
    try:
        srv.accept()
        print('accepted')
    except OSError as e:
        print(errno.errorcode.get(e.errno, str(e.errno)))
    """

    @Test(.enabled(if: hasPython)) func netstackDeathDuringAcceptGivesENETDOWN() throws {
        // The third Socket request (the thread's, while the main thread sleeps in accept) kills it.
        let args = ["run", "--rootfs", "/", "--env", "PATH=/usr/bin:/bin",
                    "--fault", "channel=netstack,message=Socket,action=kill-peer,nth=3", "--", "/usr/bin/python3", "-c", Self.acceptWorkload]
        let r = try ProcessRunner.run(SentryGuest.sentry, args, timeout: 60)
        #expect(!r.timedOut)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.stdout == "first True\nENETDOWN\n", "\(r)")
        #expect(r.stderr.contains("bulwark-sentry: netstack connection lost"), "\(r)")
    }
}
