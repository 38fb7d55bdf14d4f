// exec, ps, pause and resume through the Control channel of the real Sentry: a container whose init
// loops over the host's root (read-only), and processes started in it with `bulwark exec`.
import Foundation
import Glibc
import Testing
import TestSupport

/// A running container whose init prints "tick" every 0.1 s to `out` (its stdout is that file).
struct TickingContainer {
    let f: LauncherFixture
    let id: String
    let out: String

    init(_ f: LauncherFixture, id: String, script: String = "while true; do echo tick; sleep 0.1; done",
         resources: [String: Any]? = nil) throws {
        self.f = f
        self.id = id
        var config = LauncherFixture.defaultConfig(args: ["/bin/sh", "-c", script])
        config["root"] = ["path": "/", "readonly": true]
        if let resources { config["linux"] = ["resources": resources] }
        let bundle = try f.makeBundle("bundle-\(id)", config: config)
        // Not "<id>.out" alone: tests write their exec output next to it and must not share its file.
        out = f.scratch.appendingPathComponent("\(id).init.out").path
        let line = [f.bulwark, "--root", f.root, "run", "-d", "--bundle", bundle, id].map(shellQuote).joined(separator: " ")
        let r = try ProcessRunner.shell("exec \(line) </dev/null >\(shellQuote(out)) 2>&1", timeout: 60)
        #expect(r.exitCode == 0, "\(r)")
    }

    var ticks: Int {
        ((try? String(contentsOfFile: out, encoding: .utf8)) ?? "").components(separatedBy: "tick").count - 1
    }

    /// Polls until init has printed at least `n` ticks (bounded).
    func waitForTicks(_ n: Int, seconds: Double = 10) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if ticks >= n { return true }
            usleep(20_000)
        }
        return false
    }
}

@Suite("bulwark exec, ps, pause")
struct ExecTests {
    @Test func execRunsAProcessWithItsOwnStdioAndStatus() throws {
        try LauncherFixture.with { f in
            let c = try TickingContainer(f, id: "ex1")
            let r = try f.run(["exec", "--env", "GREETING=hello-exec", "--cwd", "/usr", "ex1",
                               "/bin/sh", "-c", "echo $GREETING; pwd; echo oops >&2; exit 5"], timeout: 30)
            #expect(r.exitCode == 5, "\(r)")
            #expect(r.stdout == "hello-exec\n/usr\n", "\(r)")
            #expect(r.stderr.contains("oops"))
            // Output went to exec's stdio, not init's.
            #expect(!((try? String(contentsOfFile: c.out, encoding: .utf8)) ?? "").contains("hello-exec"))
            let missing = try f.run(["exec", "ex1", "/no/such/program"], timeout: 30)
            #expect(missing.exitCode == 1)
            #expect(missing.stderr.contains("/no/such/program"), "\(missing)")
        }
    }

    @Test func execFromAProcessFile() throws {
        try LauncherFixture.with { f in
            _ = try TickingContainer(f, id: "ex2")
            let process: [String: Any] = ["args": ["/bin/sh", "-c", "echo $A-$(id -u); exit 3"], "env": ["A=from-file", "PATH=/usr/bin:/bin"],
                                          "cwd": "/", "user": ["uid": 0, "gid": 0]]
            let file = f.scratch.appendingPathComponent("process.json")
            try JSONSerialization.data(withJSONObject: process).write(to: file)
            let r = try f.run(["exec", "--process", file.path, "ex2"], timeout: 30)
            #expect(r.exitCode == 3, "\(r)")
            #expect(r.stdout == "from-file-0\n", "\(r)")
        }
    }

    /// --detach: a waiter process stands for the new process (its pid in --pid-file) and exits with
    /// its status, as containerd's shim expects.
    @Test func execDetachedLeavesAWaiterWithTheStatus() throws {
        try LauncherFixture.with { f in
            _ = try TickingContainer(f, id: "ex3")
            let pidFile = f.scratch.appendingPathComponent("exec.pid").path
            let r = try f.run(["exec", "-d", "--pid-file", pidFile, "ex3", "/bin/sh", "-c", "sleep 0.5; exit 9"], timeout: 30)
            #expect(r.exitCode == 0, "\(r)")
            let pid = try #require(Int32(try String(contentsOfFile: pidFile, encoding: .utf8)))
            // Our child's child: wait for it through /proc (it is reparented away from us).
            let deadline = Date().addingTimeInterval(15)
            while Date() < deadline, let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  !stat.contains(") Z ") {
                usleep(20_000)
            }
            let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
            #expect(stat.isEmpty || stat.contains(") Z "), "the waiter outlived the process: \(stat)")
        }
    }

    @Test func psListsTheSandboxsProcesses() throws {
        try LauncherFixture.with { f in
            _ = try TickingContainer(f, id: "ex4")
            let json = try f.run(["ps", "--format", "json", "ex4"])
            #expect(json.exitCode == 0, "\(json)")
            let pids = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [Int])
            #expect(!pids.isEmpty)
            // Host pids (as runc prints), each a process under the container's supervisor.
            let supervisor = try #require(try f.state("ex4")?["pid"] as? Int)
            func ancestors(_ pid: Int) -> [Int] {
                var chain: [Int] = []
                var p = pid
                while p > 1, let stat = try? String(contentsOfFile: "/proc/\(p)/stat", encoding: .utf8),
                      let close = stat.lastIndex(of: ")") {
                    let fields = stat[stat.index(after: close)...].split(separator: " ")
                    p = fields.count > 1 ? Int(fields[1]) ?? 0 : 0
                    chain.append(p)
                }
                return chain
            }
            // (The loop's short-lived `sleep`s may be gone by now; init's stub is not.)
            let alive = pids.filter { FileManager.default.fileExists(atPath: "/proc/\($0)/stat") }
            #expect(!alive.isEmpty)
            for pid in alive {
                let chain = ancestors(pid)
                if chain.isEmpty { continue }   // exited just now
                #expect(chain.contains(supervisor), "\(pid) is not under \(supervisor)")
            }
            let table = try f.run(["ps", "ex4"])
            let initRow = table.stdout.split(separator: "\n").first { $0.split(separator: " ").dropFirst().first == "1" }
            #expect(initRow?.contains("/bin/sh") == true, "\(table)")
        }
    }

    @Test func pauseFreezesTheSandboxAndResumeReleasesIt() throws {
        try LauncherFixture.with { f in
            let c = try TickingContainer(f, id: "ex5")
            #expect(c.waitForTicks(2))
            let pause = try f.run(["pause", "ex5"])
            #expect(pause.exitCode == 0, "\(pause)")
            #expect(try f.status("ex5") == "paused")
            usleep(200_000)   // a tick already past its kernel entry may still land
            let frozen = c.ticks
            usleep(700_000)
            #expect(c.ticks == frozen, "init kept running while paused")
            // ps works while paused and shows the stopped state.
            let ps = try f.run(["ps", "ex5"])
            #expect(ps.exitCode == 0 && ps.stdout.contains(" T "), "\(ps)")
            let resume = try f.run(["resume", "ex5"])
            #expect(resume.exitCode == 0, "\(resume)")
            #expect(try f.status("ex5") == "running")
            #expect(c.waitForTicks(frozen + 2), "init did not run again after resume")
            let again = try f.run(["resume", "ex5"])
            #expect(again.exitCode == 1 && again.stderr.contains("not paused"), "\(again)")
        }
    }

    /// kill --all with a catchable signal reaches exec'd processes too (through the Sentry), and an
    /// exec'd process whose sandbox ends is reported as killed.
    @Test func killAllSignalsEveryProcessInTheSandbox() throws {
        try LauncherFixture.with { f in
            let c = try TickingContainer(f, id: "ex6", script: "trap 'echo init-got-usr1' USR1; while true; do echo tick; sleep 0.1; done")
            let b = [f.bulwark, "--root", f.root].map(shellQuote).joined(separator: " ")
            let script = """
            \(b) exec ex6 /bin/sh -c 'trap "exit 42" USR1; echo ready; while true; do sleep 0.1; done' >\(shellQuote(f.scratch.path))/ex6-exec.out 2>&1 &
            for i in $(seq 100); do grep -q ready \(shellQuote(f.scratch.path))/ex6-exec.out 2>/dev/null && break; sleep 0.1; done
            \(b) kill --all ex6 USR1 || echo kill-failed
            wait $!; echo "exec-status=$?"
            """
            let r = try ProcessRunner.shell(script, timeout: 60)
            #expect(r.stdout.contains("exec-status=42"), "\(r)")
            #expect(!r.stdout.contains("kill-failed"))
            // init got it too (its trap ran) and still runs.
            let deadline = Date().addingTimeInterval(10)
            while Date() < deadline && !((try? String(contentsOfFile: c.out, encoding: .utf8)) ?? "").contains("init-got-usr1") {
                usleep(50_000)
            }
            #expect(((try? String(contentsOfFile: c.out, encoding: .utf8)) ?? "").contains("init-got-usr1"))
            #expect(try f.status("ex6") == "running")
            // When the sandbox ends, a waiting exec reports its process as killed (137).
            let script2 = """
            \(b) exec ex6 /bin/sh -c 'echo ready; while true; do sleep 0.1; done' >\(shellQuote(f.scratch.path))/ex6b.out 2>&1 &
            for i in $(seq 100); do grep -q ready \(shellQuote(f.scratch.path))/ex6b.out 2>/dev/null && break; sleep 0.1; done
            \(b) kill ex6 KILL
            wait $!; echo "exec-status=$?"
            """
            let r2 = try ProcessRunner.shell(script2, timeout: 60)
            #expect(r2.stdout.contains("exec-status=137"), "\(r2)")
        }
    }

    /// The Sentry's control socket refuses garbage without harm: a malformed packet closes only that
    /// connection, an unknown message id gets an error reply (ENOSYS), and the sandbox keeps serving.
    @Test func controlChannelSurvivesBadInput() throws {
        try LauncherFixture.with { f in
            _ = try TickingContainer(f, id: "ex7")
            let socket = "\(f.root)/ex7/control.sock"
            let client = """
            import socket, struct, sys
            def conn():
                s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.settimeout(10); s.connect(sys.argv[1]); return s
            s = conn(); s.send(b"garbage"); print("garbage-closed" if s.recv(100) == b"" else "garbage-answered")
            s = conn(); body = struct.pack("<HH", 0, 0)
            s.send(struct.pack("<IHHIBBH", 16 + len(body), 99, 0, 7, 0, 1, 0) + body)
            r = s.recv(4096); length, mid, flags, rid = struct.unpack("<IHHI", r[:12])
            print("reply", mid, flags & 3, rid)
            """
            let script = f.scratch.appendingPathComponent("ctl.py").path
            try client.write(toFile: script, atomically: true, encoding: .utf8)
            let r = try ProcessRunner.run("/usr/bin/env", ["python3", script, socket], timeout: 30)
            #expect(r.stdout.contains("garbage-closed"), "\(r)")
            #expect(r.stdout.contains("reply 0 3 7"), "an error reply (id 0, reply+error flags) to request 7: \(r)")
            let ps = try f.run(["ps", "ex7"])
            #expect(ps.exitCode == 0 && ps.stdout.contains("/bin/sh"), "\(ps)")
        }
    }

    /// The launcher starts the gofer itself, in its own pid, mount, ipc, uts and (empty) network
    /// namespaces, and hands its channel to the Sentry (--gofer-fd).
    @Test(.enabled(if: getuid() == 0, "new namespaces need root"))
    func goferRunsInItsOwnNamespaces() throws {
        try LauncherFixture.with { f in
            _ = try TickingContainer(f, id: "ex8")
            let supervisor = try #require(try f.state("ex8")?["pid"] as? Int)
            func children(_ pid: Int) -> [Int] {
                let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
                return tasks.flatMap { tid in
                    ((try? String(contentsOfFile: "/proc/\(pid)/task/\(tid)/children", encoding: .utf8)) ?? "")
                        .split(separator: " ").compactMap { Int($0) }
                }
            }
            func cmdline(_ pid: Int) -> String {
                ((try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? "").replacingOccurrences(of: "\0", with: " ")
            }
            // The supervisor spawns the gofer straight into its namespaces: it is the supervisor's child.
            var found: Int?
            let deadline = Date().addingTimeInterval(5)
            while found == nil && Date() < deadline {
                found = children(supervisor).first(where: { cmdline($0).contains("bulwark-gofer") })
                if found == nil { usleep(50_000) }
            }
            let gofer = try #require(found, "no gofer under the supervisor")
            for ns in ["pid", "mnt", "ipc", "uts", "net"] {
                let theirs = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(gofer)/ns/\(ns)")
                let ours = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/\(ns)")
                #expect(theirs != ours, "the gofer shares our \(ns) namespace")
            }
            let sentry = try #require(children(supervisor).first { cmdline($0).contains("bulwark-sentry") })
            #expect(cmdline(sentry).contains("--gofer-fd"))
            // Files still come through it.
            let r = try f.run(["exec", "ex8", "/bin/sh", "-c", "test -d /usr/bin && echo files-ok"], timeout: 30)
            #expect(r.stdout.contains("files-ok"), "\(r)")
        }
    }
}
