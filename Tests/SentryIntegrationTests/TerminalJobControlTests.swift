// Pseudo-terminals, job control, file locks and edge-triggered epoll in the Sentry, each compared
// with the same program run natively.
import Foundation
import Testing
import TestSupport

@Suite("Sentry terminals, job control, file locks, epoll edges")
struct TerminalJobControlTests {
    static let python = "/usr/bin/python3"
    static let env = ["PATH=/usr/bin:/bin", "LANG=C.UTF-8"]

    func compareProgram(_ name: String) throws {
        let exe = try Sentry.compile(name)
        let native = try Sentry.native([exe])
        let sandboxed = try Sentry.run([exe])
        #expect(native.exitCode == 0, "\(name) natively: \(native)")
        #expect(!sandboxed.timedOut, "\(name) timed out")
        #expect(sandboxed.stdout == native.stdout, "\(name): sandbox\n\(sandboxed)\nnative\n\(native)")
        #expect(sandboxed.exitCode == native.exitCode)
    }

    @Test func jobControlStopContinueWaitAndSIGTTIN() throws { try compareProgram("jobcontrol") }
    @Test func flockAndRecordLocksBetweenProcesses() throws { try compareProgram("filelocks") }
    @Test func epollEdgeTriggeredAndOneShot() throws { try compareProgram("epoll_edge") }
    /// Signal frames built from LinuxABI's RTSigFrame: siginfo, uc_flags, segments, masks, uc_stack.
    @Test func signalFrameContentsMatchLinux() throws { try compareProgram("sigframe") }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script")))
    func scriptRunsACommandOnAPseudoTerminal() throws {
        let argv = ["/usr/bin/script", "-qc", "echo hi; tty | cut -c1-9", "/dev/null"]
        let native = try Sentry.native(argv)
        let sandboxed = try Sentry.run(argv)
        #expect(!sandboxed.timedOut)
        #expect(native.stdout == "hi\r\n/dev/pts/\r\n", "native: \(native)")
        #expect(sandboxed.stdout == native.stdout, "\(sandboxed)")
        #expect(sandboxed.exitCode == native.exitCode)
    }

    /// stty reads and changes the termios of the pty script gives it: defaults, raw, sane.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script")))
    func sttyOnAPseudoTerminal() throws {
        let argv = ["/usr/bin/script", "-qc", "stty -a; stty raw -echo; stty -g; stty sane; stty -g; stty rows 30 cols 100; stty size", "/dev/null"]
        let native = try Sentry.native(argv)
        let sandboxed = try Sentry.run(argv)
        #expect(native.stdout.contains("intr = ^C"), "native: \(native)")
        #expect(native.stdout.hasSuffix("30 100\r\n"), "native: \(native)")
        #expect(!sandboxed.timedOut)
        #expect(sandboxed.stdout == native.stdout, "\(sandboxed)")
    }

    static let ptyScript = """
    import os, pty, sys, termios, fcntl, struct, tty, time
    m, s = os.openpty()
    print("isatty", os.isatty(s), os.isatty(m), os.ttyname(s).startswith("/dev/pts/"))
    os.write(m, b"hello\\x7fo wor\\x15again\\r")
    print("line", os.read(s, 100), "echo", os.read(m, 100))
    os.write(s, b"out\\n")
    print("onlcr", os.read(m, 100))
    a = termios.tcgetattr(s)
    print("flags", hex(a[0]), hex(a[1]), hex(a[3]), a[6][termios.VINTR], a[6][termios.VEOF])
    fcntl.ioctl(m, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    print("winsz", struct.unpack("HHHH", fcntl.ioctl(s, termios.TIOCGWINSZ, b"\\0" * 8)))
    os.write(m, b"\\x04")
    print("eof", os.read(s, 10))
    tty.setraw(s)
    os.write(m, b"ab\\rc")
    time.sleep(0.05)
    print("raw", os.read(s, 100), struct.unpack("i", fcntl.ioctl(s, termios.FIONREAD, b"\\0" * 4)))
    os.close(s)
    try:
        os.read(m, 10)
    except OSError as e:
        print("master after slave closed", e.errno)
    sys.stdout.flush()
    pid, fd = pty.fork()
    if pid == 0:
        print("child", os.isatty(0), os.getsid(0) == os.getpid(), os.tcgetpgrp(0) == os.getpgrp())
        sys.stdout.flush()
        os._exit(3)
    out = b""
    while True:
        try:
            d = os.read(fd, 100)
        except OSError:
            break
        if not d:
            break
        out += d
    print("pty.fork", out, os.waitpid(pid, 0)[1] >> 8)
    """

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: python)))
    func pythonOpenptyAndPtyFork() throws {
        let argv = [Self.python, "-c", Self.ptyScript]
        let native = try Sentry.native(argv, env: Self.env)
        let sandboxed = try Sentry.run(argv, env: Self.env, timeout: 30)
        #expect(native.exitCode == 0, "\(native)")
        #expect(native.stdout.contains("pty.fork b'child True True True\\r\\n' 3"), "\(native)")
        #expect(!sandboxed.timedOut)
        #expect(sandboxed.stdout == native.stdout, "\(sandboxed)")
    }

    static let vminScript = """
    import os, termios, threading, time, tty
    m, s = os.openpty()
    tty.setraw(s)
    a = termios.tcgetattr(s)
    a[6][termios.VMIN] = 3; a[6][termios.VTIME] = 0
    termios.tcsetattr(s, termios.TCSANOW, a)
    os.write(m, b"ab")
    threading.Timer(0.1, lambda: os.write(m, b"cd")).start()
    print("VMIN 3:", os.read(s, 10))
    a[6][termios.VMIN] = 5; a[6][termios.VTIME] = 2
    termios.tcsetattr(s, termios.TCSANOW, a)
    os.write(m, b"xy")
    t0 = time.time(); r = os.read(s, 10); dt = time.time() - t0
    print("VMIN 5 VTIME 2:", r, 0.15 < dt < 1.5)
    a[6][termios.VMIN] = 0; a[6][termios.VTIME] = 1
    termios.tcsetattr(s, termios.TCSANOW, a)
    t0 = time.time(); r = os.read(s, 10); dt = time.time() - t0
    print("VMIN 0 VTIME 1:", r, 0.05 < dt < 1.5)
    """

    /// Raw-mode reads honour VMIN and VTIME.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: python)))
    func pythonRawModeVMINAndVTIME() throws {
        let argv = [Self.python, "-c", Self.vminScript]
        let native = try Sentry.native(argv, env: Self.env)
        let sandboxed = try Sentry.run(argv, env: Self.env, timeout: 30)
        #expect(native.stdout.contains("VMIN 5 VTIME 2: b'xy' True"), "\(native)")
        #expect(!sandboxed.timedOut)
        #expect(sandboxed.stdout == native.stdout, "\(sandboxed)")
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: python)))
    func pythonPtySpawnCopiesOutput() throws {
        let script = "import pty, sys; st = pty.spawn(['/bin/sh', '-c', 'echo spawned; exit 4']); print('status', st >> 8)"
        let argv = [Self.python, "-c", script]
        let native = try Sentry.native(argv, env: Self.env)
        let sandboxed = try Sentry.run(argv, env: Self.env, timeout: 30)
        #expect(native.stdout == "spawned\r\nstatus 4\n", "\(native)")
        #expect(!sandboxed.timedOut)
        #expect(sandboxed.stdout == native.stdout, "\(sandboxed)")
    }

    /// `bash -i` on a pseudo-terminal: arithmetic, a background job with jobs/kill/wait, stty,
    /// ^C, ^Z + fg, and ^D, typed by Tests/Programs/pty_drive.py.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: python)))
    func interactiveBashWithJobControl() throws {
        let driver = TestPaths.repositoryRoot.appendingPathComponent("Tests/Programs/pty_drive.py").path
        let argv = [Self.python, driver]
        let native = try Sentry.native(argv, env: Self.env, timeout: 40)
        let sandboxed = try Sentry.run(argv, env: Self.env, timeout: 40)
        #expect(native.stdout.contains("42\r\n"), "\(native)")
        #expect(native.stdout.contains("all prompts seen: True exit status: 0"), "\(native)")
        #expect(!sandboxed.timedOut)
        #expect(sandboxed.stdout == native.stdout, "sandbox:\n\(sandboxed)\nnative:\n\(native)")
    }
}
