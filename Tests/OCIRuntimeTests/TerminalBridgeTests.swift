// process.terminal: the application's stdio is an in-sandbox pseudo-terminal (/dev/pts/N inside the
// sandbox) whose master the Sentry bridges to the host pty sent on --console-socket. A Python driver
// plays the container engine: it receives the master (socket.recv_fds), types into it, resizes it
// (TIOCSWINSZ) and reads what comes back; the application is the host's /bin/sh and coreutils.
import Foundation
import Glibc
import Testing
import TestSupport

/// argv[1] = spec JSON file, argv[2] = result JSON file. The spec: socket, launch (argv started at
/// once; it connects to the socket), then (argvs run in order after the master arrived), winsize
/// (set on the master before `then`), steps ([op, ...]: ["expect", text, seconds], ["send", text],
/// ["resize", rows, cols], ["sleep", seconds]), waitLaunch (wait for launch's exit at the end).
private let driver = #"""
import json, os, select, socket, struct, subprocess, sys, time, fcntl, termios
spec = json.load(open(sys.argv[1]))
result = {"name": "", "launch": None, "then": [], "steps": [], "transcript": ""}
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(spec["socket"]); s.listen(1); s.settimeout(20)
launch = subprocess.Popen(spec["launch"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=open(sys.argv[2] + ".launch.err", "w"))
try:
    c, _ = s.accept()
    msg, fds, _, _ = socket.recv_fds(c, 1024, 1)
    result["name"] = msg.decode()
    m = fds[0]
    if "winsize" in spec:
        fcntl.ioctl(m, termios.TIOCSWINSZ, struct.pack("HHHH", spec["winsize"][0], spec["winsize"][1], 0, 0))
    for argv in spec.get("then", []):
        if argv == "waitLaunch":
            result["launch"] = launch.wait(timeout=30); continue
        result["then"].append(subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=30).returncode)
    buf = b""
    def pump(until, seconds):
        global buf
        end = time.time() + seconds
        while (until is None or until not in buf) and time.time() < end:
            r, _, _ = select.select([m], [], [], 0.05)
            if not r: continue
            try: d = os.read(m, 4096)
            except OSError: break
            if not d: break
            buf += d
        return until is None or until in buf
    for step in spec["steps"]:
        op = step[0]
        if op == "expect": result["steps"].append(pump(step[1].encode(), step[2] if len(step) > 2 else 10))
        elif op == "send": os.write(m, step[1].encode())
        elif op == "resize": fcntl.ioctl(m, termios.TIOCSWINSZ, struct.pack("HHHH", step[1], step[2], 0, 0))
        elif op == "sleep": pump(None, step[1])
    if spec.get("waitLaunch"):
        pump(None, 0.3)
        result["launch"] = launch.wait(timeout=30)
    result["transcript"] = buf.decode(errors="replace")
finally:
    if launch.poll() is None and spec.get("waitLaunch"): launch.kill()
    json.dump(result, open(sys.argv[2], "w"))
"""#

private let havePython = (try? ProcessRunner.shell("python3 -c 'import socket; socket.recv_fds'", timeout: 10))?.exitCode == 0

private struct DriverResult {
    var name = ""
    var launch: Int?
    var then: [Int] = []
    var steps: [Bool] = []
    var transcript = ""
}

/// Runs the driver with `spec` (socket filled in); returns what it saw.
private func drive(_ f: LauncherFixture, _ tag: String, _ spec: [String: Any]) throws -> DriverResult {
    let script = f.scratch.appendingPathComponent("console-driver.py").path
    try driver.write(toFile: script, atomically: true, encoding: .utf8)
    var spec = spec
    spec["socket"] = f.scratch.appendingPathComponent("\(tag).sock").path
    let specFile = f.scratch.appendingPathComponent("\(tag).spec.json").path
    let resultFile = f.scratch.appendingPathComponent("\(tag).result.json").path
    try JSONSerialization.data(withJSONObject: spec).write(to: URL(fileURLWithPath: specFile))
    let r = try ProcessRunner.run("/usr/bin/env", ["python3", script, specFile, resultFile], timeout: 90)
    guard let data = FileManager.default.contents(atPath: resultFile),
          let json = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
        Issue.record("driver failed: \(r) \((try? String(contentsOfFile: resultFile + ".launch.err", encoding: .utf8)) ?? "")")
        return DriverResult()
    }
    var d = DriverResult()
    d.name = json["name"] as? String ?? ""
    d.launch = json["launch"] as? Int
    d.then = json["then"] as? [Int] ?? []
    d.steps = json["steps"] as? [Bool] ?? []
    d.transcript = json["transcript"] as? String ?? ""
    return d
}

/// A container on the host's root whose init reads shell lines from its terminal and runs them, with
/// traps that report SIGWINCH (with the new size) and SIGINT.
private func interactiveBundle(_ f: LauncherFixture) throws -> String {
    let loop = "trap 'echo winch $(stty size)' WINCH; trap 'echo got-int' INT; echo READY; "
        + "while true; do read -r line && eval \"$line\"; done"
    var config = LauncherFixture.defaultConfig(args: ["/bin/sh", "-c", loop])
    config["root"] = ["path": "/", "readonly": true]
    var process = config["process"] as! [String: Any]
    process["terminal"] = true
    config["process"] = process
    return try f.makeBundle("tty-bundle", config: config)
}

@Suite("in-sandbox terminal bridged to the console socket")
struct TerminalBridgeTests {
    @Test(.enabled(if: havePython, "python3 with socket.recv_fds is needed"))
    func initTerminalIsAnInSandboxPtyWithSizeSignalsAndEcho() throws {
        try LauncherFixture.with { f in
            let bundle = try interactiveBundle(f)
            let id = "ttyb1"
            let d = try drive(f, "c", [
                "launch": [f.bulwark, "--root", f.root, "create", "--bundle", bundle, "--console-socket",
                           f.scratch.appendingPathComponent("c.sock").path, id],
                "winsize": [40, 132],
                "then": ["waitLaunch", [f.bulwark, "--root", f.root, "start", id]],
                "steps": [
                    ["expect", "READY"],
                    // The host pty is the console; inside, stdio is the sandbox's own first pty.
                    ["send", "tty; test -t 0 && test -t 2 && echo both-ttys\n"], ["expect", "both-ttys"],
                    // The size set on the host master before start is the sandbox terminal's.
                    ["send", "echo size $(stty size)\n"], ["expect", "size 40 132"],
                    // A resize on the host becomes SIGWINCH with the new size inside.
                    ["resize", 33, 111], ["expect", "winch 33 111"],
                    // ^C typed on the host: the in-sandbox line discipline echoes it and signals the
                    // foreground group (the shell and its sleep).
                    ["send", "sleep 20; echo after-sleep\n"], ["sleep", 0.5], ["send", "\u{03}"],
                    ["expect", "\r\nafter-sleep", 8],
                    ["send", "exit 4\n"], ["sleep", 0.5],
                ],
            ])
            #expect(d.name.hasPrefix("/dev/pts/"), "\(d)")
            #expect(d.launch == 0 && d.then == [0], "\(d)")
            #expect(d.steps == [true, true, true, true, true], "\(d)")
            let lines = d.transcript.components(separatedBy: "\r\n")
            #expect(lines.contains("/dev/pts/0"), "tty inside the sandbox: \(d.transcript)")
            // Echo comes from the in-sandbox line discipline, with ONLCR and ECHOCTL.
            #expect(d.transcript.contains("tty; test -t 0 && test -t 2 && echo both-ttys\r\n"), "\(d.transcript)")
            #expect(d.transcript.contains("^Cgot-int\r\n"), "\(d.transcript)")
            #expect(!d.transcript.contains("\n\n"), "output went through OPOST once: \(d.transcript)")
            #expect(try f.waitForStatus(id, "stopped", seconds: 10))
            let exit = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(f.root)/\(id)/exit.json"))) as? [String: Any]
            #expect(exit?["exitStatus"] as? Int == 4, "\(String(describing: exit))")
        }
    }

    @Test(.enabled(if: havePython, "python3 with socket.recv_fds is needed"))
    func execTerminalIsItsOwnInSandboxPty() throws {
        try LauncherFixture.with { f in
            _ = try TickingContainer(f, id: "ttyb2", script: "sleep 60")
            let d = try drive(f, "e", [
                "launch": [f.bulwark, "--root", f.root, "exec", "-t", "--console-socket",
                           f.scratch.appendingPathComponent("e.sock").path, "ttyb2", "/bin/sh", "-c",
                           "trap 'echo got-int' INT; echo READY; tty; read -r x; echo read-$x; sleep 20; exit 6"],
                "winsize": [25, 90],
                "steps": [
                    ["expect", "READY"], ["expect", "/dev/pts/"],
                    // Canonical input with echo, then ^C while it sleeps.
                    ["send", "abc\n"], ["expect", "read-abc"], ["sleep", 0.3], ["send", "\u{03}"],
                    ["expect", "got-int"],
                ],
                "waitLaunch": true,
            ])
            #expect(d.steps == [true, true, true, true], "\(d)")
            #expect(d.transcript.contains("/dev/pts/0\r\n"), "exec's pty is a sandbox pty: \(d.transcript)")
            #expect(d.transcript.contains("abc\r\nread-abc\r\n"), "\(d.transcript)")
            #expect(d.launch == 6, "exec exits with the process's status: \(d)")
        }
    }
}
