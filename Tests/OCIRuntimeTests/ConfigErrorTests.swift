// Errors for bad bundles, bad config.json and bad ids, checked against the wording runc uses.
import Foundation
import Testing
import TestSupport

@Suite("bulwark create: bundle, config and id errors")
struct ConfigErrorTests {
    @Test func missingBundleIsReportedLikeRunc() throws {
        try LauncherFixture.with { f in
            let r = try f.runDetached(["create", "--bundle", "/nonexistent/bundle", "c"])
            #expect(r.exitCode == 1)
            #expect(r.stderr.contains("chdir /nonexistent/bundle: no such file or directory"), "\(r)")
            #expect(!FileManager.default.fileExists(atPath: "\(f.root)/c"))
        }
    }

    @Test func missingConfigIsReportedLikeRunc() throws {
        try LauncherFixture.with { f in
            let bundle = f.scratch.appendingPathComponent("empty").path
            try FileManager.default.createDirectory(atPath: bundle, withIntermediateDirectories: true)
            let r = try f.runDetached(["create", "--bundle", bundle, "c"])
            #expect(r.exitCode == 1)
            #expect(r.stderr.contains("JSON specification file config.json not found"), "\(r)")
        }
    }

    @Test func syntaxErrorInConfig() throws {
        try LauncherFixture.with { f in
            let bundle = try f.makeBundle(rawConfig: "{")
            let r = try f.runDetached(["create", "--bundle", bundle, "c"])
            #expect(r.exitCode == 1)
            #expect(r.stderr.contains("config.json: invalid JSON"), "\(r)")
            #expect(!FileManager.default.fileExists(atPath: "\(f.root)/c"))
        }
    }

    /// Each bad field is named in the error.
    @Test(arguments: [
        ("process", "args", "\"sh\"", "config.json: process.args: must be a non-empty array of strings"),
        ("process", "args", "[]", "config.json: process.args: must be a non-empty array of strings"),
        ("process", "args", "[1]", "config.json: process.args: must be a non-empty array of strings"),
        ("process", "cwd", "\"relative\"", "config.json: process.cwd: must be an absolute path"),
        ("process", "env", "[\"NOEQUALS\"]", "config.json: process.env[0]: must have the form KEY=VALUE"),
        ("process", "terminal", "\"yes\"", "config.json: process.terminal: must be true or false"),
        ("process", "user", "{\"uid\": -1}", "config.json: process.user.uid: must be an integer in 0...4294967295"),
        ("process", "capabilities", "{\"bounding\": [\"CAP_FLY\"]}", "config.json: process.capabilities.bounding[0]: unknown capability"),
        ("process", "rlimits", "[{\"type\": \"RLIMIT_X\", \"hard\": 1, \"soft\": 1}]", "config.json: process.rlimits[0].type: unknown rlimit"),
        ("process", "oomScoreAdj", "5000", "config.json: process.oomScoreAdj: must be an integer in -1000...1000"),
        ("linux", "namespaces", "[{\"type\": \"galaxy\"}]", "config.json: linux.namespaces[0].type: unknown namespace type"),
        ("linux", "sysctl", "{\"a\": 1}", "config.json: linux.sysctl.a: must be a string"),
        ("linux", "seccomp", "{\"defaultAction\": \"SCMP_ACT_FLY\"}", "config.json: linux.seccomp.defaultAction: unknown action SCMP_ACT_FLY"),
        ("linux", "seccomp", "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ERRNO\", \"args\": [{\"index\": 6, \"value\": 0, \"op\": \"SCMP_CMP_EQ\"}]}]}",
         "config.json: linux.seccomp.syscalls[0].args[0].index: must be an integer in 0...5"),
        ("linux", "seccomp", "{\"defaultAction\": \"SCMP_ACT_NOTIFY\"}", "config.json: linux.seccomp.defaultAction: SCMP_ACT_NOTIFY is not supported"),
        ("hooks", "prestart", "[{\"path\": \"relative\"}]", "config.json: hooks.prestart[0].path: must be an absolute path"),
        ("root", "path", "\"\"", "config.json: root.path: must be a non-empty string"),
    ])
    func invalidFieldIsNamed(section: String, field: String, json: String, expected: String) throws {
        try LauncherFixture.with { f in
            // Build the config text by hand so any JSON (including wrong types) can be injected.
            let base = try JSONSerialization.data(withJSONObject: LauncherFixture.defaultConfig())
            var object = try #require(try JSONSerialization.jsonObject(with: base) as? [String: Any])
            var sectionValue = (object[section] as? [String: Any]) ?? [:]
            sectionValue[field] = "__PLACEHOLDER__"
            object[section] = sectionValue
            let text = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
                .replacingOccurrences(of: "\"__PLACEHOLDER__\"", with: json)
            let bundle = try f.makeBundle(rawConfig: text)
            let r = try f.runDetached(["create", "--bundle", bundle, "c"])
            #expect(r.exitCode == 1)
            #expect(r.stderr.contains(expected), "\(r)")
            #expect(!FileManager.default.fileExists(atPath: "\(f.root)/c"))
        }
    }

    @Test func unknownFieldsAreIgnored() throws {
        try LauncherFixture.with { f in
            var config = LauncherFixture.defaultConfig()
            config["somethingNew"] = ["nested": [1, 2, 3]]
            var process = config["process"] as! [String: Any]
            process["futureField"] = true
            config["process"] = process
            let bundle = try f.makeBundle(config: config)
            let sentry = try f.makeStandInSentry("exit 0")
            let r = try f.runDetached(["create", "--bundle", bundle, "--sentry-binary", sentry, "c"])
            #expect(r.exitCode == 0, "\(r)")
            #expect(try f.status("c") == "created")
        }
    }

    @Test(arguments: ["a/b", "..", ".", "../escape", "with space", "ünïcode"])
    func invalidIDIsRejected(id: String) throws {
        try LauncherFixture.with { f in
            let bundle = try f.makeBundle()
            let r = try f.runDetached(["create", "--bundle", bundle, id])
            #expect(r.exitCode == 1)
            #expect(r.stderr.contains("invalid container ID format"), "\(r)")
            #expect(((try? FileManager.default.contentsOfDirectory(atPath: f.root)) ?? []).isEmpty)
            let s = try f.run(["state", id])
            #expect(s.exitCode == 1)
            #expect(s.stderr.contains("invalid container ID format"))
        }
    }

    @Test func emptyIDIsRejected() throws {
        try LauncherFixture.with { f in
            let r = try f.run(["state", ""])
            #expect(r.exitCode == 1)
            #expect(r.stderr.contains("invalid container ID format"), "\(r)")
        }
    }

    @Test func containerIsNeverCreatedTwice() throws {
        try LauncherFixture.with { f in
            let bundle = try f.makeBundle()
            let sentry = try f.makeStandInSentry("exit 0")
            let first = try f.runDetached(["create", "--bundle", bundle, "--sentry-binary", sentry, "twice"])
            #expect(first.exitCode == 0, "\(first)")
            let pid = try #require(try f.state("twice")?["pid"] as? Int)
            let second = try f.runDetached(["create", "--bundle", bundle, "--sentry-binary", sentry, "twice"])
            #expect(second.exitCode == 1)
            #expect(second.stderr.contains("container with given ID already exists"), "\(second)")
            // The first container is untouched.
            #expect(try f.state("twice")?["pid"] as? Int == pid)
            #expect(try f.status("twice") == "created")
        }
    }

    @Test func stateOfUnknownContainer() throws {
        try LauncherFixture.with { f in
            let r = try f.run(["state", "nobody"])
            #expect(r.exitCode == 1)
            #expect(r.stderr.contains("container does not exist"), "\(r)")
        }
    }

    @Test func missingSentryIsAClearError() throws {
        try LauncherFixture.with { f in
            let bundle = try f.makeBundle()
            let r = try f.runDetached(["create", "--bundle", bundle, "--sentry-binary", "/nonexistent/sentry", "c"])
            #expect(r.exitCode == 1)
            #expect(r.stderr.contains("the Sentry executable /nonexistent/sentry is missing"), "\(r)")
            #expect(!FileManager.default.fileExists(atPath: "\(f.root)/c"))
        }
    }
}
