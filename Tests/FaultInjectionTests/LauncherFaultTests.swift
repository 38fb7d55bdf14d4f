// The launcher with faults: `bulwark run --fault` reaching the Sentry, bad specs refused before anything
// exists, and a Sentry killed under a running container (the container stops in bounded time, the
// launcher's log names the Sentry, `bulwark delete` leaves no process and no state behind).
import Foundation
import Glibc
import TestSupport
import Testing

/// A state root and a bundle whose rootfs is the host's "/" (read-only), under a scratch directory.
struct LauncherBundle {
    let scratch: URL
    var root: String { scratch.appendingPathComponent("state").path }
    var bundle: String { scratch.appendingPathComponent("bundle").path }
    var log: String { scratch.appendingPathComponent("bulwark.log").path }
    let bulwark = TestPaths.executable("bulwark")

    init(args: [String]) throws {
        scratch = try TestPaths.makeScratchDirectory("bulwark-launcher-faults")
        try FileManager.default.createDirectory(atPath: bundle, withIntermediateDirectories: true)
        let config: [String: Any] = [
            "ociVersion": "1.0.2",
            "process": ["terminal": false, "user": ["uid": 0, "gid": 0], "args": args,
                        "env": ["PATH=/usr/bin:/bin", "LANG=C.UTF-8"], "cwd": "/"] as [String: Any],
            "root": ["path": "/", "readonly": true] as [String: Any],
            "hostname": "faults",
        ]
        let data = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted])
        try data.write(to: URL(fileURLWithPath: bundle + "/config.json"))
    }

    /// Runs bulwark (stdio on files: a detached supervisor keeps its fds open).
    func run(_ args: [String], timeout: Double = 30) throws -> ProcessResult {
        let out = scratch.appendingPathComponent("out-\(UUID().uuidString.prefix(8))").path
        let err = out + ".err"
        let line = ([bulwark, "--root", root, "--log", log] + args).map(quote).joined(separator: " ")
        var r = try ProcessRunner.shell("exec \(line) </dev/null >\(quote(out)) 2>\(quote(err))", timeout: timeout)
        r.stdout = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        r.stderr = (try? String(contentsOfFile: err, encoding: .utf8)) ?? ""
        return r
    }

    func cleanUp() {
        for id in (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [] {
            _ = try? run(["delete", "--force", id], timeout: 20)
        }
        try? FileManager.default.removeItem(at: scratch)
    }

    func quote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }
}

/// Alive and not a zombie.
func processIsLive(_ pid: pid_t) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return false }
    let state = stat[stat.index(close, offsetBy: 2)]
    return state != "Z" && state != "X"
}

/// Direct children of `pid` (from /proc/*/stat).
func childrenOf(_ pid: pid_t) -> [pid_t] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { name -> pid_t? in
        guard let p = pid_t(name), let stat = try? String(contentsOfFile: "/proc/\(p)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
        return fields.count > 1 && pid_t(fields[1]) == pid ? p : nil
    }
}

@Suite(.serialized) struct LauncherFaultTests {
    @Test(.enabled(if: hasPython))
    func runPassesSyscallFaultsToTheSentry() throws {
        let fixture = try LauncherBundle(args: ["/usr/bin/python3", "-c", SyscallFaultTests.opener])
        defer { fixture.cleanUp() }
        let r = try fixture.run(["run", "--bundle", fixture.bundle,
                                 "--fault", "syscall=openat,path=/etc/hostname,errno=EIO,every=3", "c1"], timeout: 60)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.stdout == "ok ok EIO ok ok EIO ok ok EIO\n", "\(r)")
        #expect(r.stderr.contains("bulwark-sentry: fault: openat \"/etc/hostname\" -> EIO (rule 1, call #9)"))
        #expect(!FileManager.default.fileExists(atPath: fixture.root + "/c1"))
    }

    @Test func runPassesGoferFaultsThroughTheSentryToItsGofer() throws {
        let fixture = try LauncherBundle(args: ["/bin/cat", "/etc/hostname"])
        defer { fixture.cleanUp() }
        let r = try fixture.run(["run", "--bundle", fixture.bundle,
                                 "--fault", "channel=gofer,message=Walk,action=delay,ms=1,nth=1", "c4"], timeout: 60)
        #expect(r.exitCode == 0, "\(r)")
        #expect(r.stdout == (try String(contentsOfFile: "/etc/hostname", encoding: .utf8)))
        #expect(r.stderr.contains("bulwark-gofer: fault: delay 1ms on Walk #1"), "\(r)")
    }

    @Test func badFaultSpecFailsCreateBeforeAnythingExists() throws {
        let fixture = try LauncherBundle(args: ["/bin/true"])
        defer { fixture.cleanUp() }
        let r = try fixture.run(["create", "--bundle", fixture.bundle, "--fault", "syscall=openat,errno=EWHAT", "c2"])
        #expect(r.exitCode != 0)
        #expect(r.stderr.contains("--fault 'syscall=openat,errno=EWHAT'"), "\(r)")
        #expect(r.stderr.contains("not a Linux errno name"))
        #expect(!FileManager.default.fileExists(atPath: fixture.root + "/c2"))
    }

    @Test func killedSentryStopsTheContainerAndDeleteLeavesNothingBehind() throws {
        let fixture = try LauncherBundle(args: ["/bin/sleep", "60"])
        defer { fixture.cleanUp() }
        let started = try fixture.run(["run", "--detach", "--bundle", fixture.bundle, "c3"])
        #expect(started.exitCode == 0, "\(started)")
        let dir = fixture.root + "/c3"
        let sentryText = try String(contentsOfFile: dir + "/sentry.pid", encoding: .utf8)
        let sentry = try #require(pid_t(sentryText.trimmingCharacters(in: .whitespacesAndNewlines)))
        let stateJSON = try fixture.run(["state", "c3"])
        let state = try JSONSerialization.jsonObject(with: Data(stateJSON.stdout.utf8)) as? [String: Any]
        let supervisor = try #require((state?["pid"] as? NSNumber)?.int32Value)
        #expect(state?["status"] as? String == "running")
        // The Sentry, its guest's stub processes (its children) and the supervisor.
        var stubs: [pid_t] = []
        let spawned = Date().addingTimeInterval(5)
        while stubs.isEmpty && Date() < spawned { usleep(20_000); stubs = childrenOf(sentry) }
        #expect(!stubs.isEmpty)
        let everything = [supervisor, sentry] + stubs

        #expect(kill(sentry, SIGKILL) == 0)
        let deadline = Date().addingTimeInterval(5)
        var status: String?
        repeat {
            usleep(50_000)
            let s = try fixture.run(["state", "c3"])
            status = (try? JSONSerialization.jsonObject(with: Data(s.stdout.utf8)) as? [String: Any])?["status"] as? String
        } while status != "stopped" && Date() < deadline
        #expect(status == "stopped")

        let deleted = try fixture.run(["delete", "c3"])
        #expect(deleted.exitCode == 0, "\(deleted)")
        #expect(!FileManager.default.fileExists(atPath: dir))
        let gone = Date().addingTimeInterval(5)
        while everything.contains(where: processIsLive) && Date() < gone { usleep(20_000) }
        #expect(everything.filter(processIsLive).isEmpty, "left behind: \(everything.filter(processIsLive))")
        let log = (try? String(contentsOfFile: fixture.log, encoding: .utf8)) ?? ""
        #expect(log.contains("the Sentry (bulwark-sentry, pid \(sentry)) died by signal 9"), "log: \(log)")
    }
}
