// Pods (a container with the CRI annotations joins its pause container's sandbox) and the syscall
// counters of `bulwark debug`, through the real `bulwark` and Sentry on the host's root.
import Foundation
import Glibc
import Testing
import TestSupport

private let havePython = FileManager.default.isExecutableFile(atPath: "/usr/bin/python3")

private func memberConfig(sandbox: String, script: String) -> [String: Any] {
    var config = LauncherFixture.defaultConfig(args: ["/bin/sh", "-c", script])
    config["root"] = ["path": "/", "readonly": true]
    config["annotations"] = ["io.kubernetes.cri.container-type": "container", "io.kubernetes.cri.sandbox-id": sandbox]
    return config
}

/// The rows of `bulwark ps ID` (sandbox processes: UID PID PPID STAT HOST-PID CMD).
private func sandboxTasks(_ f: LauncherFixture, _ id: String) throws -> [String] {
    let r = try f.run(["ps", id], timeout: 30)
    return r.stdout.split(separator: "\n").dropFirst().map(String.init)
}

/// The sandbox pids in those rows.
private func sandboxPids(_ f: LauncherFixture, _ id: String) throws -> [Int] {
    try sandboxTasks(f, id).compactMap { row in row.split(separator: " ").dropFirst().first.flatMap { Int($0) } }
}

/// Polls (bounded) until a process of container `id` runs the program `name` (the CMD column is its
/// path): the member has got past its set-up (a trap, say), where a fixed sleep is outlasted by a
/// loaded host.
private func runs(_ f: LauncherFixture, _ id: String, _ name: String) throws -> Bool {
    let deadline = Date().addingTimeInterval(15)
    var rows: [String] = []
    while Date() < deadline {
        rows = try sandboxTasks(f, id)
        // UID PID PPID STAT HOST-PID CMD
        if rows.contains(where: { $0.split(separator: " ").dropFirst(5).first?.split(separator: "/").last == Substring(name) }) { return true }
        usleep(50_000)
    }
    Issue.record("container \(id) never ran \(name): \(rows)")
    return false
}

/// Polls (bounded) until the sandbox `id` has `count` processes again; records what it has if not.
private func settles(_ f: LauncherFixture, _ id: String, _ count: Int) throws -> Bool {
    let deadline = Date().addingTimeInterval(8)
    var rows: [String] = []
    while Date() < deadline {
        rows = try sandboxTasks(f, id)
        if rows.count == count { return true }
        usleep(100_000)
    }
    Issue.record("sandbox \(id) has \(rows.count) processes, not \(count): \(rows)")
    return false
}

/// Alive and not a zombie (a killed process whose new parent has not reaped it yet is gone for us).
private func isLive(_ pid: Int32) -> Bool {
    guard kill(pid, 0) == 0, let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return false }
    return !stat[close...].hasPrefix(") Z")
}

private func exitRecord(_ f: LauncherFixture, _ id: String) -> [String: Any]? {
    guard let data = FileManager.default.contents(atPath: "\(f.root)/\(id)/exit.json") else { return nil }
    return try? JSONSerialization.jsonObject(with: data) as? [String: Any]
}

@Suite("pods: containers joining a sandbox; debug syscall counts")
struct PodAndDebugTests {
    @Test func memberRunsInThePodSandboxWithItsOwnStdioAndStatus() throws {
        try LauncherFixture.with { f in
            _ = try TickingContainer(f, id: "pod1", script: "exec sleep 60")
            let bundle = try f.makeBundle("member", config: memberConfig(sandbox: "pod1",
                // It runs until the test sends USR1 (not for a fixed time that ps may outlast under load).
                script: "trap 'echo member-bye; exit 5' USR1; echo member-hi; sleep 30 & while true; do sleep 0.1; done"))
            let pidFile = f.scratch.appendingPathComponent("member.pid").path
            let out = f.scratch.appendingPathComponent("member.out").path
            let line = [f.bulwark, "--root", f.root, "create", "--bundle", bundle, "--pid-file", pidFile, "m1"]
                .map(shellQuote).joined(separator: " ")
            let create = try ProcessRunner.shell("exec \(line) </dev/null >\(shellQuote(out)) 2>&1", timeout: 30)
            #expect(create.exitCode == 0, "\(create)")
            #expect(try f.status("m1") == "created")
            let waiter = Int32((try? String(contentsOfFile: pidFile, encoding: .utf8)) ?? "") ?? 0
            #expect(waiter > 0 && kill(waiter, 0) == 0, "the pid file names a live host process")
            #expect(try settles(f, "pod1", 1))
            let before = 1
            #expect(try f.run(["start", "m1"], timeout: 30).exitCode == 0)
            // While it runs, the pod's Sentry has the member's processes; ps of the member lists only them.
            #expect(try runs(f, "m1", "sleep"))   // the script's trap comes first
            #expect(try sandboxTasks(f, "pod1").count > before)
            let memberPids = try sandboxPids(f, "m1")
            #expect(!memberPids.isEmpty && !memberPids.contains(1), "the sandbox's init is not the member's: \(memberPids)")
            #expect(try f.run(["kill", "m1", "USR1"]).exitCode == 0)
            #expect(try f.waitForStatus("m1", "stopped", seconds: 15))
            #expect(exitRecord(f, "m1")?["exitStatus"] as? Int == 5)
            let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
            #expect(text.contains("member-hi") && text.contains("member-bye"), "\(text)")
            // The member's background sleep ended with it (as in a pid namespace whose init exited);
            // the sandbox itself runs on.
            #expect(try settles(f, "pod1", before))
            #expect(try f.status("pod1") == "running")
            #expect(try f.run(["delete", "m1"]).exitCode == 0)
        }
    }

    @Test func memberKillExecAndDeleteAddressOnlyThatContainer() throws {
        try LauncherFixture.with { f in
            _ = try TickingContainer(f, id: "pod2", script: "exec sleep 60")
            let bundle = try f.makeBundle("member", config: memberConfig(sandbox: "pod2",
                script: "trap 'echo got-term; exit 3' TERM; while true; do sleep 0.1; done"))
            // init execs sleep: one process once the shell is gone.
            #expect(try settles(f, "pod2", 1))
            let baseline = 1
            func startMember() throws {
                #expect(try f.run(["create", "--bundle", bundle, "m2"], timeout: 30).exitCode == 0)
                #expect(try f.run(["start", "m2"], timeout: 30).exitCode == 0)
                // Its trap is set once its loop runs: a TERM before that would end it by the signal.
                #expect(try runs(f, "m2", "sleep"))
            }
            try startMember()
            let exec = try f.run(["exec", "m2", "/bin/sh", "-c", "echo in-member; exit 2"], timeout: 30)
            #expect(exec.exitCode == 2 && exec.stdout == "in-member\n", "\(exec)")
            // kill: SIGTERM reaches the member's init (its trap), not the sandbox's.
            #expect(try f.run(["kill", "m2", "TERM"]).exitCode == 0)
            #expect(try f.waitForStatus("m2", "stopped", seconds: 10))
            #expect(exitRecord(f, "m2")?["exitStatus"] as? Int == 3)
            #expect(try f.status("pod2") == "running")
            #expect(try f.run(["delete", "m2"]).exitCode == 0)
            // kill --all with another signal: only the member's processes.
            try startMember()
            #expect(try f.run(["kill", "--all", "m2", "TERM"]).exitCode == 0)
            #expect(try f.waitForStatus("m2", "stopped", seconds: 10))
            #expect(try f.status("pod2") == "running")
            #expect(try f.run(["delete", "m2"]).exitCode == 0)
            // SIGKILL of the member's pid-file process ends the member in the sandbox too.
            try startMember()
            #expect(try f.run(["kill", "m2", "KILL"]).exitCode == 0)
            #expect(try f.waitForStatus("m2", "stopped", seconds: 10))
            #expect(try settles(f, "pod2", baseline))
            #expect(try f.run(["delete", "m2"]).exitCode == 0)
            // delete --force of a running member.
            try startMember()
            #expect(try f.run(["delete", "--force", "m2"]).exitCode == 0)
            #expect(try settles(f, "pod2", baseline))
            #expect(try f.status("pod2") == "running")
        }
    }

    /// A busybox root with `files` (path -> contents), for bundles whose root file systems differ.
    private func busyboxBundle(_ f: LauncherFixture, _ name: String, files: [String: String],
                               config: [String: Any]) throws -> String {
        var config = config
        config["root"] = ["path": "rootfs", "readonly": false]
        let bundle = try f.makeBundle(name, config: config)
        let rootfs = URL(fileURLWithPath: bundle).appendingPathComponent("rootfs")
        let fm = FileManager.default
        for d in ["bin", "proc", "sys", "dev", "tmp", "etc"] {
            try fm.createDirectory(at: rootfs.appendingPathComponent(d), withIntermediateDirectories: true)
        }
        try fm.copyItem(atPath: "/bin/busybox", toPath: rootfs.appendingPathComponent("bin/busybox").path)
        for tool in ["sh", "cat", "echo", "test", "sleep", "ls", "true"] {
            try fm.createSymbolicLink(atPath: rootfs.appendingPathComponent("bin/\(tool)").path, withDestinationPath: "busybox")
        }
        for (path, text) in files { try text.write(to: rootfs.appendingPathComponent(path), atomically: true, encoding: .utf8) }
        return bundle
    }

    /// Each container of a pod has its own root: the app sees its bundle's files, not the pause
    /// container's, in its init and in what is exec'd into it; /proc and /tmp work there; the pause
    /// container's root is unchanged. The member's gofer ends with it.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/bin/busybox"), "busybox-static is needed"))
    func memberHasItsOwnRootFileSystem() throws {
        try LauncherFixture.with { f in
            var pauseConfig = LauncherFixture.defaultConfig(args: ["/bin/sleep", "60"])
            pauseConfig["annotations"] = ["io.kubernetes.cri.container-type": "sandbox", "io.kubernetes.cri.sandbox-id": "pod5"]
            let pause = try busyboxBundle(f, "pause", files: ["marker": "pause-root\n", "only-in-pause": "x\n"], config: pauseConfig)
            let line = [f.bulwark, "--root", f.root, "run", "-d", "--bundle", pause, "pod5"].map(shellQuote).joined(separator: " ")
            let run = try ProcessRunner.shell("exec \(line) </dev/null >/dev/null 2>&1", timeout: 60)
            #expect(run.exitCode == 0, "\(run)")
            let script = "cat /marker; test -e /only-in-pause && echo sees-pause-root || echo own-root; "
                + "test -e /proc/self/status && echo proc-ok; echo written > /tmp/w && cat /tmp/w; sleep 30"
            let app = try busyboxBundle(f, "app", files: ["marker": "app-root\n"], config: memberConfig(sandbox: "pod5", script: script))
            let out = f.scratch.appendingPathComponent("app.out").path
            let create = [f.bulwark, "--root", f.root, "create", "--bundle", app, "app5"].map(shellQuote).joined(separator: " ")
            let c = try ProcessRunner.shell("exec \(create) </dev/null >\(shellQuote(out)) 2>&1", timeout: 30)
            #expect(c.exitCode == 0, "\(c)")
            #expect(try f.run(["start", "app5"], timeout: 30).exitCode == 0)
            let deadline = Date().addingTimeInterval(15)
            var text = ""
            while Date() < deadline {
                text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
                if text.contains("written") { break }
                usleep(100_000)
            }
            #expect(text == "app-root\nown-root\nproc-ok\nwritten\n", "\(text)")
            let inApp = try f.run(["exec", "app5", "/bin/sh", "-c", "cat /marker; cd /tmp && cat w"], timeout: 30)
            #expect(inApp.exitCode == 0 && inApp.stdout == "app-root\nwritten\n", "\(inApp)")
            let inPause = try f.run(["exec", "pod5", "/bin/sh", "-c", "cat /marker; test -e /tmp/w || echo no-app-tmp"], timeout: 30)
            #expect(inPause.exitCode == 0 && inPause.stdout == "pause-root\nno-app-tmp\n", "\(inPause)")
            // The member's own gofer is recorded, and gone once the member is deleted.
            let services = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(f.root)/app5/services.json"))) as? [[String: Any]]
            let goferPID = Int32(services?.first?["pid"] as? Int ?? 0)
            #expect(goferPID > 0 && isLive(goferPID), "\(String(describing: services))")
            #expect(try f.run(["delete", "--force", "app5"]).exitCode == 0)
            let gone = Date().addingTimeInterval(5)
            while Date() < gone && isLive(goferPID) { usleep(50_000) }
            #expect(!isLive(goferPID), "the member's gofer outlived it")
            #expect(try f.status("pod5") == "running")
            // The pod ends with its pause container: a member still running stops (killed) with it.
            #expect(try f.run(["create", "--bundle", app, "app5b"], timeout: 30).exitCode == 0)
            #expect(try f.run(["start", "app5b"], timeout: 30).exitCode == 0)
            #expect(try f.status("app5b") == "running")
            #expect(try f.run(["delete", "--force", "pod5"]).exitCode == 0)
            #expect(try f.waitForStatus("app5b", "stopped", seconds: 10))
            #expect(exitRecord(f, "app5b")?["exitStatus"] as? Int == 137)
            #expect(try f.run(["delete", "app5b"]).exitCode == 0)
        }
    }

    @Test func memberOfAMissingSandboxIsRefused() throws {
        try LauncherFixture.with { f in
            let bundle = try f.makeBundle("member", config: memberConfig(sandbox: "nosuchpod", script: "true"))
            let r = try f.run(["create", "--bundle", bundle, "m3"])
            #expect(r.exitCode == 1 && r.stderr.contains("pod sandbox nosuchpod"), "\(r)")
            let bad = try f.makeBundle("bad", config: memberConfig(sandbox: "../x", script: "true"))
            let r2 = try f.run(["create", "--bundle", bad, "m4"])
            #expect(r2.exitCode == 1 && r2.stderr.contains("io.kubernetes.cri.sandbox-id"), "\(r2)")
        }
    }

    @Test(.enabled(if: havePython, "python3 is needed"))
    func debugCountsEverySystemCall() throws {
        try LauncherFixture.with { f in
            // 1000 getppid calls, a count Python makes nowhere else, then a marker and a long sleep.
            _ = try TickingContainer(f, id: "dbg1", script:
                "python3 -c 'import os, time\nfor _ in range(1000): os.getppid()\nprint(\"counted\", flush=True)\ntime.sleep(60)'")
            let deadline = Date().addingTimeInterval(30)
            var report: [String: Any] = [:]
            var getppid = 0
            while Date() < deadline {
                let r = try f.run(["debug", "--json", "dbg1"], timeout: 30)
                if r.exitCode == 0, let j = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any] {
                    report = j
                    getppid = ((j["syscalls"] as? [String: Any])?["counts"] as? [String: Any])?["getppid"] as? Int ?? 0
                    if getppid >= 1000 { break }
                }
                usleep(200_000)
            }
            let syscalls = try #require(report["syscalls"] as? [String: Any], "\(report)")
            #expect(getppid >= 1000 && getppid < 1100, "\(syscalls)")
            let counts = try #require(syscalls["counts"] as? [String: Int])
            #expect((syscalls["total"] as? Int ?? 0) >= counts.values.reduce(0, +))
            #expect((counts["execve"] ?? 0) >= 1 && (counts["wait4"] ?? 0) >= 1, "sh ran python: \(counts)")
            let text = try f.run(["debug", "--syscalls", "dbg1"], timeout: 30)
            #expect(text.exitCode == 0, "\(text)")
            #expect(text.stdout.contains("SYSCALL") && text.stdout.contains("getppid"), "\(text)")
            let short = try f.run(["debug", "dbg1"], timeout: 30)
            #expect(short.stdout.contains("top 10; --syscalls for all"), "\(short)")
        }
    }
}
