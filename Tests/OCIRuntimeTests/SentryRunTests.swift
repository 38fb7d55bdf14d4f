// Running a real program through the real bulwark-sentry. Skipped only while the Sentry itself reports
// "not implemented" (exit 2), per the launcher's brief; any other Sentry failure fails the test.
import Foundation
import Testing
import TestSupport

private let sentryNotImplemented: Bool = {
    guard let r = try? ProcessRunner.run(TestPaths.executable("bulwark-sentry"),
                                         ["run", "--rootfs", "/", "--", "/bin/true"], timeout: 20) else { return false }
    return r.exitCode == 2 && (r.stderr + r.stdout).contains("not implemented")
}()

@Suite("bulwark run through the Sentry")
struct SentryRunTests {
    @Test(.enabled(if: !sentryNotImplemented, "bulwark-sentry reports not implemented"))
    func runsAProgramAndReturnsItsStatus() throws {
        try LauncherFixture.with { f in
            var config = LauncherFixture.defaultConfig(args: ["/bin/sh", "-c", "echo hello-from-sandbox; exit 3"])
            config["root"] = ["path": "/", "readonly": true]
            let bundle = try f.makeBundle(config: config)
            let r = try f.run(["run", "--bundle", bundle, "real"], timeout: 60)
            #expect(r.exitCode == 3, "\(r)")
            #expect(r.stdout.contains("hello-from-sandbox"))
        }
    }

    /// Whatever the Sentry's state, the launcher reports its exit status faithfully.
    @Test func launcherReportsTheSentrysStatus() throws {
        try LauncherFixture.with { f in
            var config = LauncherFixture.defaultConfig(args: ["/bin/true"])
            config["root"] = ["path": "/", "readonly": true]
            let bundle = try f.makeBundle(config: config)
            let direct = try ProcessRunner.run(TestPaths.executable("bulwark-sentry"),
                                               ["run", "--rootfs", "/", "--cwd", "/", "--env", "PATH=/usr/bin:/bin",
                                                "--hostname", "sandbox", "--uid", "0", "--gid", "0", "--", "/bin/true"],
                                               timeout: 60)
            let r = try f.run(["run", "--bundle", bundle, "status"], timeout: 60)
            #expect(r.exitCode == direct.exitCode, "direct: \(direct)\nvia bulwark: \(r)")
        }
    }
}
