// spec, features, logging, hooks and the not-yet-implemented subcommands.
import Foundation
@testable import OCIRuntime
import Testing
import TestSupport

@Suite("bulwark commands")
struct CommandTests {
    @Test func specWritesAConfigThatParses() throws {
        try LauncherFixture.with { f in
            let dir = f.scratch.appendingPathComponent("spec").path
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let r = try f.run(["spec", "--bundle", dir])
            #expect(r.exitCode == 0, "\(r)")
            let data = try #require(FileManager.default.contents(atPath: "\(dir)/config.json"))
            // Valid JSON for any reader, and accepted by our own checked parser.
            let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            #expect(object["ociVersion"] as? String == "1.0.2")
            let config = try OCIConfig.parse(data)
            #expect(config.process?.args == ["sh"])
            #expect(config.root?.path == "rootfs")
            #expect(config.linux.namespaces.map(\.type).contains("mount"))
            let again = try f.run(["spec", "--bundle", dir])
            #expect(again.exitCode == 1)
            #expect(again.stderr.contains("File config.json exists. Remove it first"))
        }
    }

    @Test func featuresIsJSON() throws {
        try LauncherFixture.with { f in
            let r = try f.run(["features"])
            #expect(r.exitCode == 0)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
            #expect(object["ociVersionMin"] as? String == "1.0.0")
            #expect((object["hooks"] as? [String])?.contains("prestart") == true)
        }
    }

    @Test func errorsAreJSONLinesInTheLog() throws {
        try LauncherFixture.with { f in
            let log = f.scratch.appendingPathComponent("log.json").path
            let r = try f.run(["state", "missing"], globals: ["--log", log, "--log-format", "json"])
            #expect(r.exitCode == 1)
            #expect(r.stderr.contains("container does not exist"))
            let text = try String(contentsOfFile: log, encoding: .utf8)
            let lines = text.split(separator: "\n")
            #expect(lines.count == 1)
            let entry = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
            #expect(entry["level"] as? String == "error")
            #expect(entry["msg"] as? String == "container does not exist")
            let time = try #require(entry["time"] as? String)
            #expect(ISO8601DateFormatter().date(from: time) != nil, "time \(time) is RFC 3339")
        }
    }

    @Test func commandLineErrorsExitWithOne() throws {
        try LauncherFixture.with { f in
            let r = try f.run(["kill"])
            #expect(r.exitCode == 1, "\(r)")
            #expect(r.stderr.contains("Missing expected argument '<id>'"), "\(r)")
            let unknown = try f.run(["no-such-command"])
            #expect(unknown.exitCode == 1)
            let help = try f.run(["--help"])
            #expect(help.exitCode == 0)
            #expect(help.stdout.contains("create"))
        }
    }

    @Test func goStyleFlagsAreAccepted() throws {
        try LauncherFixture.with { f in
            let r = try f.run(["list"], globals: ["--overlay2=root:memory", "--debug=false", "--systemd-cgroup",
                                                   "--ignore-cgroups", "--network=host", "--platform=ptrace"])
            #expect(r.exitCode == 0, "\(r)")
            #expect(r.stdout.hasPrefix("ID"))
            let bad = try f.run(["list"], globals: ["--platform", "kvm"])
            #expect(bad.exitCode == 1)
            #expect(bad.stderr.contains("only ptrace is implemented"), "\(bad)")
        }
    }

    @Test func detachedRunThenWait() throws {
        try LauncherFixture.with { f in
            let bundle = try f.makeBundle()
            let sentry = try f.makeStandInSentry("sleep 3; exit 6")
            let r = try f.run(["run", "--detach", "--bundle", bundle, "--sentry-binary", sentry, "dw"])
            #expect(r.exitCode == 0, "\(r)")
            #expect(try f.status("dw") == "running")
            let wait = try f.run(["wait", "dw"])
            #expect(wait.exitCode == 0)
            #expect(wait.stdout.contains("{\"id\":\"dw\",\"exitStatus\":6}"), "\(wait)")
            #expect(try f.status("dw") == "stopped")
        }
    }

    @Test func hooksGetTheStateOnStdin() throws {
        try LauncherFixture.with { f in
            let out = f.scratch.appendingPathComponent("hook-out").path
            let hook = f.scratch.appendingPathComponent("hook.sh").path
            try "#!/bin/sh\necho \"$1\" >> \(shellQuote(out))\ncat >> \(shellQuote(out))\necho >> \(shellQuote(out))\n"
                .write(toFile: hook, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: hook)
            var config = LauncherFixture.defaultConfig()
            config["hooks"] = [
                "prestart": [["path": hook, "args": ["hook.sh", "prestart"]]],
                "createRuntime": [["path": hook, "args": ["hook.sh", "createRuntime"]]],
                "poststart": [["path": hook, "args": ["hook.sh", "poststart"]]],
                "poststop": [["path": hook, "args": ["hook.sh", "poststop"]]],
            ]
            let bundle = try f.makeBundle(config: config)
            let sentry = try f.makeStandInSentry("exit 3")
            let r = try f.run(["run", "--bundle", bundle, "--sentry-binary", sentry, "hooked"])
            #expect(r.exitCode == 3, "\(r)")
            let lines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").map(String.init)
            #expect(lines.count == 8, "\(lines)")
            guard lines.count == 8 else { return }
            #expect([lines[0], lines[2], lines[4], lines[6]] == ["prestart", "createRuntime", "poststart", "poststop"])
            let prestart = try #require(try JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as? [String: Any])
            #expect(prestart["id"] as? String == "hooked")
            #expect(prestart["bundle"] as? String == bundle)
            #expect((prestart["pid"] as? Int ?? 0) > 0)
            let poststop = try #require(try JSONSerialization.jsonObject(with: Data(lines[7].utf8)) as? [String: Any])
            #expect(poststop["status"] as? String == "stopped")
        }
    }

    @Test func failingPrestartHookFailsCreate() throws {
        try LauncherFixture.with { f in
            var config = LauncherFixture.defaultConfig()
            config["hooks"] = ["prestart": [["path": "/bin/sh", "args": ["sh", "-c", "echo hook-said-no; exit 5"]]]]
            let bundle = try f.makeBundle(config: config)
            let sentry = try f.makeStandInSentry("exec sleep 30")
            let r = try f.runDetached(["create", "--bundle", bundle, "--sentry-binary", sentry, "h"])
            #expect(r.exitCode == 1)
            #expect(r.stderr.contains("error running prestart hook #0"), "\(r)")
            #expect(r.stderr.contains("hook-said-no"))
            #expect(!FileManager.default.fileExists(atPath: "\(f.root)/h"))
        }
    }

    @Test func hookTimeoutIsHonoured() throws {
        try LauncherFixture.with { f in
            var config = LauncherFixture.defaultConfig()
            config["hooks"] = ["createRuntime": [["path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1]]]
            let bundle = try f.makeBundle(config: config)
            let sentry = try f.makeStandInSentry("exec sleep 30")
            let started = Date()
            let r = try f.runDetached(["create", "--bundle", bundle, "--sentry-binary", sentry, "t"])
            #expect(r.exitCode == 1)
            #expect(r.stderr.contains("hook ran past specified timeout of 1 seconds"), "\(r)")
            #expect(Date().timeIntervalSince(started) < 10)
        }
    }
}
