// Issue 8's suite through the OCI launcher: `bulwark run --detach --fault ...` runs a real workload while
// one service (gofer, netstack, procfs) is killed under it; then `bulwark delete --force` must leave no
// process (supervisor, Sentry, stubs, the service), no mount and no state behind, and the Sentry's log
// (`--debug-log`) must name the failed service. Also faults on the control channel, which the Sentry
// serves for the launcher: a corrupt or late reply fails the one command cleanly, a Sentry killed
// after a reply stops the container.
import Foundation
import Glibc
import TestSupport
import Testing

/// A detached container under a LauncherBundle, with its stdout/stderr files and the Sentry's log.
struct DetachedContainer {
    let fixture: LauncherBundle
    let id: String
    var out: String { fixture.scratch.appendingPathComponent("\(id).out").path }
    var err: String { fixture.scratch.appendingPathComponent("\(id).err").path }
    var debugDir: String { fixture.scratch.appendingPathComponent("debug").path }
    var sentryLog: String { (try? String(contentsOfFile: "\(debugDir)/\(id).sentry.log", encoding: .utf8)) ?? "" }
    var stateDir: String { fixture.root + "/" + id }

    /// `bulwark <args>` with the fixture's root, log and debug log (stdio on files).
    func bulwark(_ args: [String], stdout: String? = nil, stderr: String? = nil, timeout: Double = 30) throws -> ProcessResult {
        let o = stdout ?? fixture.scratch.appendingPathComponent("cmd-\(UUID().uuidString.prefix(8))").path
        let e = stderr ?? o + ".err"
        let line = ([fixture.bulwark, "--root", fixture.root, "--log", fixture.log, "--debug-log", debugDir] + args)
            .map(fixture.quote).joined(separator: " ")
        // Every service from the start (the launcher otherwise starts procfs and the netstack on first
        // use), so the test's snapshot of the sandbox's processes has the one it kills.
        var r = try ProcessRunner.shell("exec env BULWARK_EAGER_SERVICES=1 \(line) </dev/null >\(fixture.quote(o)) 2>\(fixture.quote(e))", timeout: timeout)
        r.stdout = (try? String(contentsOfFile: o, encoding: .utf8)) ?? ""
        r.stderr = (try? String(contentsOfFile: e, encoding: .utf8)) ?? ""
        return r
    }

    func start(faults: [String]) throws -> ProcessResult {
        try FileManager.default.createDirectory(atPath: debugDir, withIntermediateDirectories: true)
        return try bulwark(["run", "--detach", "--bundle", fixture.bundle] + faults.flatMap { ["--fault", $0] } + [id],
                           stdout: out, stderr: err)
    }

    /// The container's stdout once it has `lines` lines (nil if not within `seconds`).
    func waitForOutput(lines: Int, seconds: Double = 40) -> String? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
            if text.split(separator: "\n").count >= lines { return text }
            usleep(100_000)
        }
        return nil
    }

    /// Every host process of the container: supervisor, Sentry and the Sentry's children.
    func processes() throws -> [pid_t] {
        let sentryText = try String(contentsOfFile: stateDir + "/sentry.pid", encoding: .utf8)
        let sentry = try #require(pid_t(sentryText.trimmingCharacters(in: .whitespacesAndNewlines)))
        let state = try bulwark(["state", id])
        let json = try JSONSerialization.jsonObject(with: Data(state.stdout.utf8)) as? [String: Any]
        let supervisor = try #require((json?["pid"] as? NSNumber)?.int32Value)
        return [supervisor, sentry] + childrenOf(sentry)
    }

    func status() -> String? {
        guard let s = try? bulwark(["state", id]) else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(s.stdout.utf8)) as? [String: Any])?["status"] as? String
    }
}

/// Writes the bundle's config.json: rootfs "/" read-only, `args`, and optional read-write bind mounts
/// (their destinations must exist on the host: the rootfs is the host's "/").
func writeBundleConfig(_ fixture: LauncherBundle, args: [String], binds: [(source: String, destination: String)] = []) throws {
    let config: [String: Any] = [
        "ociVersion": "1.0.2",
        "process": ["terminal": false, "user": ["uid": 0, "gid": 0], "args": args,
                    "env": ["PATH=/usr/bin:/bin", "LANG=C.UTF-8"], "cwd": "/"] as [String: Any],
        "root": ["path": "/", "readonly": true] as [String: Any],
        "hostname": "faults",
        "mounts": binds.map { ["destination": $0.destination, "type": "bind", "source": $0.source,
                               "options": ["rbind", "rw"]] as [String: Any] },
    ]
    let data = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted])
    try data.write(to: URL(fileURLWithPath: fixture.bundle + "/config.json"))
}

/// No mount of the host's mount namespace mentions `path`.
func noMountMentions(_ path: String) -> Bool {
    let table = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
    return !table.contains(path)
}

@Suite(.serialized) struct LauncherServiceFaultTests {
    /// One service killed under a detached container, then `bulwark delete`.
    struct Case: CustomTestStringConvertible, Sendable {
        let service: String
        /// The --fault spec that kills the service, or nil: the test SIGKILLs it once the program has
        /// printed "start".
        let fault: String?
        /// The program; it prints "start" first.
        let workload: String
        /// The sandbox cannot go on without this service: the supervisor stops the container (the
        /// program dies with it). Otherwise the program goes on and prints an outcome line.
        let fatal: Bool
        /// Acceptable starts of the program's outcome line (its first line after "start"), if not fatal.
        let outcomes: [String]
        var testDescription: String { service }
    }

    /// Lists a directory (through the gofer: Getdents) every 100 ms until an error.
    static let goferLister = """
    import os, time
    n = 0
    try:
        for i in range(1, 300):
            os.listdir('/usr/share/doc')
            n = i
            time.sleep(0.1)
        print('all', n)
    except OSError as e:
        print('failed after', n, os.strerror(e.errno))
    """

    static let cases: [Case] = [
        // Killed after the 3rd Connect, while the 3rd connection is set up (accept sends no request).
        Case(service: "netstack", fault: "channel=netstack,message=Connect,action=kill-peer,nth=3",
             workload: "import time\nprint('start')\ntime.sleep(1.5)\n" + NetstackWorkload.python, fatal: true, outcomes: []),
        // Killed by the test while the program reads a directory through it. (Under the launcher the
        // root is overlaid in the Sentry's memory, so writes never reach the gofer: data on the host
        // after a gofer failure is checked by SentryGoferFaultTests, on a --mount.)
        Case(service: "gofer", fault: nil, workload: "print('start')\n" + goferLister, fatal: true, outcomes: []),
        Case(service: "procfs", fault: "channel=procfs,message=ReadFile,action=kill-peer,nth=3",
             workload: "import time\nprint('start')\ntime.sleep(1.5)\n" + SentryProcfsFaultTests.workload, fatal: false,
             outcomes: ["ok ok ok EIO"]),
    ]

    /// Every live descendant of `pid`.
    func descendants(of pid: pid_t) -> [pid_t] {
        var found: [pid_t] = []
        var frontier = [pid]
        while let p = frontier.popLast() {
            for child in childrenOf(p) where processIsLive(child) {
                frontier.append(child)
                found.append(child)
            }
        }
        return found
    }

    /// The program `pid` runs (last component of argv[0]).
    func program(_ pid: pid_t) -> String {
        let cmd = (try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? ""
        return cmd.split(separator: "\0").first?.split(separator: "/").last.map(String.init) ?? ""
    }

    @Test(.enabled(if: hasPython), arguments: cases)
    func killedServiceUnderADetachedContainerThenDeleteLeavesNothing(_ c: Case) throws {
        let fixture = try LauncherBundle(args: ["/bin/true"])
        defer { fixture.cleanUp() }
        // The workload, then a long sleep: a container that survives is still running when it is deleted.
        try writeBundleConfig(fixture, args: ["/usr/bin/python3", "-u", "-c", c.workload + "\nimport time\ntime.sleep(120)\n"])
        let seed = NetstackWorkload.uniqueSeed()
        let container = DetachedContainer(fixture: fixture, id: "f-\(c.service)")
        let started = try container.start(faults: c.fault.map { ["\($0),seed=\(seed)"] } ?? [])
        #expect(started.exitCode == 0, "\(started)")
        #expect(container.waitForOutput(lines: 1) != nil, "the program did not start")
        // Every process of the container, taken before the fault: supervisor, Sentry, stubs, services.
        let supervisor = try #require(try container.processes().first)
        let everything = [supervisor] + descendants(of: supervisor)
        let services = everything.filter { program($0) == "bulwark-\(c.service)" }
        #expect(services.count == 1, "\(everything.map { "\($0) \(program($0))" })")
        if c.fault == nil { for pid in services { kill(pid, SIGKILL) } }

        if c.fatal {
            let deadline = Date().addingTimeInterval(10)
            var status = container.status()
            while status != "stopped" && Date() < deadline { usleep(50_000); status = container.status() }
            #expect(status == "stopped", "the supervisor must stop a sandbox whose \(c.service) died")
        } else {
            let output = container.waitForOutput(lines: 3, seconds: 30)
            let outcome = output?.split(separator: "\n").dropFirst().first.map(String.init) ?? ""
            #expect(c.outcomes.contains(where: outcome.hasPrefix), "output: \(output ?? "none")")
            #expect(container.status() == "running")
        }

        let deleted = try container.bulwark(["delete", "--force", container.id])
        #expect(deleted.exitCode == 0, "\(deleted)")
        #expect(!FileManager.default.fileExists(atPath: container.stateDir))
        let gone = Date().addingTimeInterval(5)
        while everything.contains(where: processIsLive) && Date() < gone { usleep(20_000) }
        #expect(everything.filter(processIsLive).isEmpty,
                "left behind: \(everything.filter(processIsLive).map { "\($0) \(program($0))" })")
        #expect(noProcessMentions("seed=\(seed)"), "a \(c.service) process is left")
        #expect(noMountMentions(fixture.scratch.path))
        // The launcher's log names the failed service; its fault line is in the service's stderr (the
        // supervisor's) or the Sentry's log.
        let launcherLog = (try? String(contentsOfFile: fixture.log, encoding: .utf8)) ?? ""
        // A service that is pid 1 of its own pid namespace cannot SIGKILL itself: kill-peer exits 137 there.
        let died = "service bulwark-\(c.service) (pid \(services.first ?? 0)) "
        #expect(launcherLog.contains(died + "died by SIGKILL") || launcherLog.contains(died + "exited with status 137"),
                "log: \(launcherLog)")
        if c.fatal { #expect(launcherLog.contains("cannot go on without bulwark-\(c.service)"), "log: \(launcherLog)") }
        if c.fault != nil {
            let all = container.sentryLog + ((try? String(contentsOfFile: container.err, encoding: .utf8)) ?? "") + launcherLog
            #expect(all.contains("bulwark-\(c.service): fault: kill-peer on"), "\(all)")
        }
    }
}

/// `--fault channel=control,...`: applied by the Sentry to its replies on the launcher's control channel.
@Suite(.serialized) struct ControlChannelFaultTests {
    func running(_ faults: [String], id: String) throws -> (LauncherBundle, DetachedContainer) {
        let fixture = try LauncherBundle(args: ["/bin/sleep", "120"])
        let container = DetachedContainer(fixture: fixture, id: id)
        let started = try container.start(faults: faults)
        #expect(started.exitCode == 0, "\(started)")
        return (fixture, container)
    }

    @Test func corruptControlReplyFailsThatCommandOnlyAndQuickly() throws {
        let (fixture, c) = try running(["channel=control,message=ExecProcess,action=corrupt,bytes=4,nth=1,seed=2"], id: "ctl-corrupt")
        defer { fixture.cleanUp() }
        let (first, seconds) = timed { try? c.bulwark(["exec", c.id, "/bin/true"]) }
        #expect(first?.exitCode != 0, "\(String(describing: first))")
        #expect(first?.stderr.contains("control channel: ExecProcess: malformed") == true, "\(String(describing: first))")
        #expect(seconds < 5)
        let second = try c.bulwark(["exec", c.id, "/bin/echo", "again"])
        #expect(second.exitCode == 0, "\(second)")
        #expect(second.stdout == "again\n")
        #expect(c.sentryLog.contains("bulwark-sentry: fault: corrupt 4 bytes at offset 0 on ExecProcess #1"), "\(c.sentryLog)")
        #expect(c.status() == "running")
    }

    @Test func controlReplyLaterThanTheLaunchersTimeoutFailsAtTheDeadline() throws {
        // The bound is on the whole `bulwark exec` (its start and exit included, slower under load): the
        // delay is far enough past the 10 s timeout that a loaded machine cannot cross it.
        let (fixture, c) = try running(["channel=control,message=ExecProcess,action=delay,ms=16000,nth=1"], id: "ctl-delay")
        defer { fixture.cleanUp() }
        let (first, seconds) = timed { try? c.bulwark(["exec", c.id, "/bin/true"]) }
        #expect(first?.exitCode != 0, "\(String(describing: first))")
        #expect(first?.stderr.contains("control channel: ExecProcess: timed out") == true, "\(String(describing: first))")
        #expect(seconds >= 9 && seconds < 15, "the launcher's control timeout is 10 s: \(seconds)")
        // Each command has its own connection (and Sentry thread): the next one is not held up.
        let (second, quick) = timed { try? c.bulwark(["exec", c.id, "/bin/echo", "again"]) }
        #expect(second?.stdout == "again\n", "\(String(describing: second))")
        #expect(quick < 5)
    }

    @Test func closedControlConnectionFailsThatCommandOnly() throws {
        let (fixture, c) = try running(["channel=control,message=ExecProcess,action=close,nth=1"], id: "ctl-close")
        defer { fixture.cleanUp() }
        let closed = try c.bulwark(["exec", c.id, "/bin/true"])
        #expect(closed.exitCode != 0)
        #expect(closed.stderr.contains("control channel: ExecProcess: peer closed the connection"), "\(closed)")
        let again = try c.bulwark(["exec", c.id, "/bin/echo", "again"])
        #expect(again.stdout == "again\n", "\(again)")
        #expect(c.sentryLog.contains("bulwark-sentry: fault: close on ExecProcess #1"), "\(c.sentryLog)")
    }

    @Test func sentryKilledAfterAControlReplyStopsTheContainerAndDeleteLeavesNothing() throws {
        let (fixture, c) = try running(["channel=control,message=ExecProcess,action=kill-peer,nth=1"], id: "ctl-kill")
        defer { fixture.cleanUp() }
        var everything: [pid_t] = []
        let spawned = Date().addingTimeInterval(5)
        repeat { usleep(20_000); everything = (try? c.processes()) ?? [] } while everything.count < 3 && Date() < spawned
        #expect(everything.count >= 3, "supervisor, Sentry and a stub: \(everything)")
        _ = try? c.bulwark(["exec", c.id, "/bin/true"], timeout: 20)
        let deadline = Date().addingTimeInterval(5)
        var status = c.status()
        while status != "stopped" && Date() < deadline { usleep(50_000); status = c.status() }
        #expect(status == "stopped")
        #expect(c.sentryLog.contains("bulwark-sentry: fault: kill-peer on ExecProcess #1"), "\(c.sentryLog)")
        let deleted = try c.bulwark(["delete", c.id])
        #expect(deleted.exitCode == 0, "\(deleted)")
        #expect(!FileManager.default.fileExists(atPath: c.stateDir))
        let gone = Date().addingTimeInterval(5)
        while everything.contains(where: processIsLive) && Date() < gone { usleep(20_000) }
        #expect(everything.filter(processIsLive).isEmpty, "left behind: \(everything.filter(processIsLive))")
        let log = (try? String(contentsOfFile: fixture.log, encoding: .utf8)) ?? ""
        #expect(log.contains("(bulwark-sentry, pid \(everything[1])) died by signal 9"), "log: \(log)")
    }
}
