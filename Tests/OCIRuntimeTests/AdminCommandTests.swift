// install/uninstall (Docker's daemon.json), do, events, debug and update through the real `bulwark`.
import Foundation
import Glibc
import Testing
import TestSupport

@Suite("bulwark install, do, events, debug, update")
struct AdminCommandTests {
    private func readJSON(_ path: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
    }

    @Test func installAndUninstallEditOnlyTheirRuntime() throws {
        try LauncherFixture.with { f in
            let config = f.scratch.appendingPathComponent("docker/daemon.json").path
            try FileManager.default.createDirectory(atPath: (config as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try #"{"debug": true, "runtimes": {"other": {"path": "/usr/bin/other"}}, "log-opts": {"max-size": "10m"}}"#
                .write(toFile: config, atomically: true, encoding: .utf8)
            let install = try f.run(["install", "--config-file", config, "--runtime", "bw", "--", "--network=none"])
            #expect(install.exitCode == 0, "\(install)")
            var json = try readJSON(config)
            #expect(json["debug"] as? Bool == true)
            #expect((json["log-opts"] as? [String: String])?["max-size"] == "10m")
            let runtimes = try #require(json["runtimes"] as? [String: [String: Any]])
            #expect(runtimes["other"]?["path"] as? String == "/usr/bin/other")
            #expect(runtimes["bw"]?["path"] as? String == f.bulwark)
            #expect(runtimes["bw"]?["runtimeArgs"] as? [String] == ["--network=none"])
            // The same entry again is fine; a different one needs --clobber.
            #expect(try f.run(["install", "--config-file", config, "--runtime", "bw", "--", "--network=none"]).exitCode == 0)
            let clash = try f.run(["install", "--config-file", config, "--runtime", "bw"])
            #expect(clash.exitCode == 1 && clash.stderr.contains("already exists"), "\(clash)")
            #expect(try f.run(["install", "--config-file", config, "--runtime", "bw", "--clobber"]).exitCode == 0)

            let uninstall = try f.run(["uninstall", "--config-file", config, "--runtime", "bw"])
            #expect(uninstall.exitCode == 0, "\(uninstall)")
            json = try readJSON(config)
            #expect((json["runtimes"] as? [String: Any])?.keys.sorted() == ["other"])
            let again = try f.run(["uninstall", "--config-file", config, "--runtime", "bw"])
            #expect(again.exitCode == 1 && again.stderr.contains("not found"), "\(again)")
            // A missing file is created.
            let fresh = f.scratch.appendingPathComponent("fresh/daemon.json").path
            #expect(try f.run(["install", "--config-file", fresh]).exitCode == 0)
            #expect((try readJSON(fresh)["runtimes"] as? [String: Any])?["bulwark"] != nil)
            let broken = f.scratch.appendingPathComponent("broken.json").path
            try "{not json".write(toFile: broken, atomically: true, encoding: .utf8)
            let bad = try f.run(["install", "--config-file", broken])
            #expect(bad.exitCode == 1 && bad.stderr.contains("broken.json"), "\(bad)")
        }
    }

    /// `do` runs a host program in a sandbox that sees the host's files but cannot change them.
    @Test(.enabled(if: getuid() == 0, "bulwark do needs root for its read-only mount namespace"))
    func doRunsAHostCommandReadOnly() throws {
        try LauncherFixture.with { f in
            let target = f.scratch.appendingPathComponent("written-by-do").path
            let visible = f.scratch.appendingPathComponent("visible")
            try "seen".write(to: visible, atomically: true, encoding: .utf8)
            // A write either fails (read-only) or lands in the sandbox's own overlay; never on the host.
            let r = try f.run(["do", "/bin/sh", "-c", "cat \(visible.path); echo x > \(target) || echo refused; exit 4"], timeout: 60)
            #expect(r.exitCode == 4, "\(r)")
            #expect(r.stdout.contains("seen"), "\(r)")
            #expect(!FileManager.default.fileExists(atPath: target))
            let none = try f.run(["do"])
            #expect(none.exitCode == 1 && none.stderr.contains("no command"), "\(none)")
        }
    }

    @Test func eventsAndDebugReportARunningSandbox() throws {
        try LauncherFixture.with { f in
            _ = try TickingContainer(f, id: "adm1")
            let events = try f.run(["events", "--stats", "adm1"], timeout: 30)
            #expect(events.exitCode == 0, "\(events)")
            let lines = events.stdout.split(separator: "\n")
            #expect(lines.count == 1)
            let event = try #require(try JSONSerialization.jsonObject(with: Data(lines.first.map { Array($0.utf8) } ?? [])) as? [String: Any])
            #expect(event["type"] as? String == "stats" && event["id"] as? String == "adm1")
            let data = try #require(event["data"] as? [String: Any])
            #expect(((data["pids"] as? [String: Any])?["current"] as? Int ?? 0) >= 1)
            let memory = ((data["memory"] as? [String: Any])?["usage"] as? [String: Any])?["usage"] as? Int ?? 0
            #expect(memory > 1 << 20, "\(events.stdout)")
            let badInterval = try f.run(["events", "--interval", "soon", "adm1"])
            #expect(badInterval.exitCode == 1 && badInterval.stderr.contains("--interval"))

            let debug = try f.run(["debug", "--json", "adm1"], timeout: 30)
            #expect(debug.exitCode == 0, "\(debug)")
            let report = try #require(try JSONSerialization.jsonObject(with: Data(debug.stdout.utf8)) as? [String: Any])
            let sentry = try #require(report["sentry"] as? [String: Any])
            #expect(sentry["healthy"] as? Bool == true)
            #expect((sentry["processCount"] as? Int ?? 0) >= 1)
            let tasks = try #require(report["tasks"] as? [[String: Any]])
            #expect(tasks.contains { $0["pid"] as? Int == 1 })
            let text = try f.run(["debug", "adm1"], timeout: 30)
            #expect(text.stdout.contains("Sentry: healthy"), "\(text)")
        }
    }

    @Test func updateChecksResourcesAndDoesNotPretend() throws {
        try LauncherFixture.with { f in
            _ = try TickingContainer(f, id: "adm2")
            let file = f.scratch.appendingPathComponent("res.json").path
            try #"{"memory": {"limit": "lots"}}"#.write(toFile: file, atomically: true, encoding: .utf8)
            let bad = try f.run(["update", "--resources", file, "adm2"])
            #expect(bad.exitCode == 1 && bad.stderr.contains("memory.limit: must be an integer"), "\(bad)")
            try #"{"memory": {"limit": 104857600}, "pids": {"limit": 64}}"#.write(toFile: file, atomically: true, encoding: .utf8)
            let good = try f.run(["update", "--resources", file, "adm2"])
            // Without a cgroup of its own the container cannot be limited: a clear error, not a silent success.
            #expect(good.exitCode == 1 && good.stderr.contains("no cgroup of its own"), "\(good)")
            let missing = try f.run(["update", "--resources", file, "nosuch"])
            #expect(missing.exitCode == 1 && missing.stderr.contains("does not exist"), "\(missing)")
        }
    }

    /// linux.resources become the container's cgroup (v1 or v2) with the supervisor, the Sentry and its
    /// stubs in it; update changes it; delete removes it.
    @Test(.enabled(if: getuid() == 0 && (FileManager.default.fileExists(atPath: "/sys/fs/cgroup/cgroup.controllers")
                                          || FileManager.default.fileExists(atPath: "/sys/fs/cgroup/memory/memory.limit_in_bytes")),
                   "needs root and a cgroup v1 memory hierarchy or cgroup v2"))
    func resourcesMakeACgroupThatUpdateChanges() throws {
        try LauncherFixture.with { f in
            let id = "adm3-\(getpid())"
            let c = try TickingContainer(f, id: id, resources: ["memory": ["limit": 256 << 20], "pids": ["limit": 100]])
            _ = c
            let unified = FileManager.default.fileExists(atPath: "/sys/fs/cgroup/cgroup.controllers")
            let memoryFile = unified ? "/sys/fs/cgroup/bulwark/\(id)/memory.max" : "/sys/fs/cgroup/memory/bulwark/\(id)/memory.limit_in_bytes"
            let pidsFile = unified ? "/sys/fs/cgroup/bulwark/\(id)/pids.max" : "/sys/fs/cgroup/pids/bulwark/\(id)/pids.max"
            func read(_ file: String) -> String {
                ((try? String(contentsOfFile: file, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            }
            #expect(read(memoryFile) == String(256 << 20))
            #expect(read(pidsFile) == "100")
            // The supervisor (state pid) is in it.
            let supervisor = try #require(try f.state(id)?["pid"] as? Int)
            let procs = read((memoryFile as NSString).deletingLastPathComponent + "/cgroup.procs").split(separator: "\n")
            #expect(procs.contains(Substring(String(supervisor))), "\(procs)")
            let file = f.scratch.appendingPathComponent("res.json").path
            try #"{"memory": {"limit": 134217728}, "pids": {"limit": 50}}"#.write(toFile: file, atomically: true, encoding: .utf8)
            let update = try f.run(["update", "--resources", file, id])
            #expect(update.exitCode == 0, "\(update)")
            #expect(read(memoryFile) == "134217728")
            #expect(read(pidsFile) == "50")
            #expect(try f.run(["delete", "--force", id]).exitCode == 0)
            #expect(!FileManager.default.fileExists(atPath: (memoryFile as NSString).deletingLastPathComponent))
        }
    }
}
