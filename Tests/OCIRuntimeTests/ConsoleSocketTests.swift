// --console-socket: the master of the container's (or exec'd process's) terminal arrives over a Unix
// socket with SCM_RIGHTS, as runc sends it; what the application writes to its stdio comes out of it.
// The receiving end is a small Python program (socket.recv_fds), independent of our own code.
import Foundation
import Glibc
import Testing
import TestSupport

private let receiver = """
import os, socket, sys, time
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path); s.listen(1)
open(out + ".ready", "w").close()
c, _ = s.accept()
msg, fds, _, _ = socket.recv_fds(c, 1024, 1)
data = b""
end = time.time() + 20
while time.time() < end and b"done" not in data:
    try:
        chunk = os.read(fds[0], 4096)
    except OSError:
        break
    if not chunk:
        break
    data += chunk
with open(out, "wb") as f:
    f.write(b"name=" + msg + b"\\n" + data)
"""

private let havePython = (try? ProcessRunner.shell("python3 -c 'import socket; socket.recv_fds'", timeout: 10))?.exitCode == 0

/// Starts the receiver on `socket`; returns the process and the file it writes when done.
private func startReceiver(_ f: LauncherFixture, _ name: String) throws -> (Process, String, String) {
    let script = f.scratch.appendingPathComponent("recv.py").path
    try receiver.write(toFile: script, atomically: true, encoding: .utf8)
    let socket = f.scratch.appendingPathComponent("\(name).sock").path
    let out = f.scratch.appendingPathComponent("\(name).console").path
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3", script, socket, out]
    try p.runForTest()
    let deadline = Date().addingTimeInterval(10)
    while !FileManager.default.fileExists(atPath: out + ".ready") && Date() < deadline { usleep(10_000) }
    return (p, socket, out)
}

private func finish(_ p: Process, _ out: String) -> String {
    let deadline = Date().addingTimeInterval(25)
    while p.isRunning && Date() < deadline { usleep(20_000) }
    p.stopForTest()
    return (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
}

@Suite("bulwark --console-socket")
struct ConsoleSocketTests {
    @Test(.enabled(if: havePython, "python3 with socket.recv_fds is needed"))
    func containerTerminalComesThroughTheConsoleSocket() throws {
        try LauncherFixture.with { f in
            var config = LauncherFixture.defaultConfig(args: ["/bin/sh", "-c", "test -t 0 && test -t 1 && echo on-a-tty; echo done"])
            config["root"] = ["path": "/", "readonly": true]
            var process = config["process"] as! [String: Any]
            process["terminal"] = true
            config["process"] = process
            let bundle = try f.makeBundle(config: config)
            // Detached without a console socket: refused, as runc does.
            let refused = try f.run(["create", "--bundle", bundle, "noconsole"])
            #expect(refused.exitCode == 1 && refused.stderr.contains("cannot allocate tty"), "\(refused)")
            let (p, socket, out) = try startReceiver(f, "c")
            let create = try f.run(["create", "--bundle", bundle, "--console-socket", socket, "tty1"], timeout: 30)
            #expect(create.exitCode == 0, "\(create)")
            let start = try f.run(["start", "tty1"], timeout: 30)
            #expect(start.exitCode == 0, "\(start)")
            let text = finish(p, out)
            #expect(text.hasPrefix("name=/dev/pts/"), "\(text)")
            #expect(text.contains("on-a-tty"), "\(text)")
        }
    }

    @Test(.enabled(if: havePython, "python3 with socket.recv_fds is needed"))
    func execTerminalComesThroughTheConsoleSocket() throws {
        try LauncherFixture.with { f in
            _ = try TickingContainer(f, id: "tty2")
            let (p, socket, out) = try startReceiver(f, "e")
            let r = try f.run(["exec", "-t", "--console-socket", socket, "tty2", "/bin/sh", "-c",
                               "test -t 0 && test -t 1 && echo exec-on-a-tty; echo done; exit 6"], timeout: 30)
            #expect(r.exitCode == 6, "\(r)")
            let text = finish(p, out)
            #expect(text.contains("exec-on-a-tty"), "\(text)")
        }
    }
}
