// Priority 5: CPython (dynamic, threads, fork, subprocess, signals) under the Sentry vs native.
import Foundation
import Testing
import TestSupport

@Suite("Sentry runs python3")
struct PythonTests {
    static let script = """
    import threading, time, os, subprocess, signal
    out = []
    def w(i): out.append(i * i)
    ts = [threading.Thread(target=w, args=(i,)) for i in range(4)]
    [t.start() for t in ts]; [t.join() for t in ts]
    print("threads", sorted(out))
    t0 = time.time(); time.sleep(0.05); print("slept", time.time() - t0 >= 0.05)
    pid = os.fork()
    if pid == 0:
        os._exit(7)
    print("fork", os.waitpid(pid, 0)[1] >> 8)
    r = subprocess.run(["/bin/echo", "sub"], capture_output=True, text=True)
    print("subprocess", r.stdout.strip(), r.returncode)
    got = []
    signal.signal(signal.SIGUSR1, lambda s, f: got.append(s))
    os.kill(os.getpid(), signal.SIGUSR1)
    print("signal", got)
    """

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/python3")))
    func threadsSleepForkSubprocessSignals() throws {
        let argv = ["/usr/bin/python3", "-c", PythonTests.script]
        let env = ["PATH=/usr/bin:/bin", "LANG=C.UTF-8"]
        let sandboxed = try Sentry.run(argv, env: env, timeout: 60)
        let native = try Sentry.native(argv, env: env, timeout: 60)
        #expect(!sandboxed.timedOut)
        #expect(native.stdout.contains("signal [10]"))
        #expect(sandboxed.stdout == native.stdout, "\(sandboxed)")
        #expect(sandboxed.exitCode == 0)
    }
}
