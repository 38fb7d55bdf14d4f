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

    /// The oci-run layout: an empty rootfs with /usr and /etc bound read-only from the host.
    @Test(.enabled(if: !sentryNotImplemented, "bulwark-sentry reports not implemented"))
    func runsAProgramFromBindMountedUsr() throws {
        try LauncherFixture.with { f in
            var config = LauncherFixture.defaultConfig(args: ["/bin/sh", "-c", "ls /usr/bin/env >/dev/null && echo bound; exit 4"])
            config["mounts"] = ["/usr", "/etc"].map {
                ["destination": $0, "type": "bind", "source": $0, "options": ["rbind", "ro", "nosuid"]]
            }
            let bundle = try f.makeBundle(config: config)
            for (link, target) in [("bin", "usr/bin"), ("lib", "usr/lib"), ("lib64", "usr/lib64"), ("sbin", "usr/sbin")] {
                try FileManager.default.createSymbolicLink(atPath: "\(bundle)/rootfs/\(link)", withDestinationPath: target)
            }
            let r = try f.run(["run", "--bundle", bundle, "usrbind"], timeout: 60)
            #expect(r.exitCode == 4, "\(r)")
            #expect(r.stdout.contains("bound"))
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
