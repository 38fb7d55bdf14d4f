// OCI createContainer and startContainer hooks: their order among the other hooks and the application,
// the state each gets on stdin and its working directory, checked against runc with the same bundle;
// where they run (the container's mount and network namespaces, i.e. the supervisor's); failures.
import Foundation
import Glibc
import Testing
import TestSupport

/// A hook that appends "NAME STATUS CWD" to `log`, STATUS taken from the state on its stdin. Plain
/// POSIX sh (runc resolves startContainer's /bin/sh inside the container: busybox there), no PATH.
private func markerHook(_ name: String, log: String) -> [String: Any] {
    let script = "s=$(cat); t=${s#*\\\"status\\\":\\\"}; echo \(name) ${t%%\\\"*} $(pwd) >> \(shellQuote(log))"
    return ["path": "/bin/sh", "args": ["sh", "-c", script]]
}

private let hookKinds = ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]

@Suite("OCI hooks: createContainer and startContainer", .enabled(if: getuid() == 0, "namespaces, bind mounts and runc need root"))
struct ContainerHooksTests {
    /// One bundle under runc and under bulwark: every hook runs once, in the spec's order relative to
    /// the application (prestart, createRuntime, createContainer, startContainer, then the application;
    /// poststop last), with runc's state status and working directory. The marker directory is bound at
    /// its own path into the container, so runc's startContainer hook (run inside the container's root)
    /// and the application write to the same file as bulwark's host-side hooks.
    @Test(.enabled(if: ProcessIdentityTests.runc != nil && FileManager.default.isExecutableFile(atPath: "/bin/busybox"),
                   "runc and busybox-static are needed"))
    func hooksRunInOrderWithRuncsStateAndDirectories() throws {
        try LauncherFixture.with { f in
            let marks = f.scratch.appendingPathComponent("marks").path
            try FileManager.default.createDirectory(atPath: marks, withIntermediateDirectories: true)
            let log = marks + "/log"
            var config = LauncherFixture.defaultConfig(args: ["/bin/sh", "-c", "echo app >> \(shellQuote(log))"])
            config["linux"] = ["namespaces": [["type": "pid"], ["type": "mount"], ["type": "uts"]]]   // runc sets the hostname
            config["mounts"] = [["destination": "/proc", "type": "proc", "source": "proc"],
                                ["destination": marks, "type": "bind", "source": marks, "options": ["rbind", "rw"]]]
            config["hooks"] = Dictionary(uniqueKeysWithValues: hookKinds.map { ($0, [markerHook($0, log: log)]) })
            let bundle = try f.makeBundle(config: config)
            let rootfs = try f.prepareRootfs(bundle, directories: ["proc", "dev", "tmp"], busybox: true)
            try FileManager.default.createSymbolicLink(atPath: rootfs.appendingPathComponent("bin/sh").path, withDestinationPath: "busybox")

            func entries() -> [[String]] {
                let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                return text.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
            }
            let native = try f.runUnderRunc(ProcessIdentityTests.runc!, bundle: bundle, id: "hooks-runc")
            #expect(native.exitCode == 0, "runc: \(native.output)")
            let runc = entries()
            try? FileManager.default.removeItem(atPath: log)
            let r = try f.run(["run", "--bundle", bundle, "hooks-\(getpid())"], timeout: 60)
            #expect(r.exitCode == 0, "\(r)")
            let ours = entries()

            for (who, lines) in [("runc", runc), ("bulwark", ours)] {
                let names = lines.map { $0.first ?? "" }
                #expect(names.sorted() == (hookKinds + ["app"]).sorted(), "\(who): \(lines)")
                guard names.sorted() == (hookKinds + ["app"]).sorted() else { continue }
                let position = { (name: String) in names.firstIndex(of: name)! }
                for (a, b) in [("prestart", "createRuntime"), ("createRuntime", "createContainer"),
                               ("createContainer", "startContainer"), ("startContainer", "app"),
                               ("createContainer", "poststart"), ("app", "poststop"), ("poststart", "poststop")] {
                    #expect(position(a) < position(b), "\(who): \(a) after \(b): \(names)")
                }
            }
            // runc 1.1 races poststart (run by `runc run` once init is released) with startContainer
            // (run by init itself); bulwark's supervisor runs startContainer before answering start.
            let oursNames = ours.map { $0.first ?? "" }
            if let s = oursNames.firstIndex(of: "startContainer"), let p = oursNames.firstIndex(of: "poststart") {
                #expect(s < p, "\(oursNames)")
            }
            let byName = { (lines: [[String]]) in
                Dictionary(lines.filter { $0.count == 3 }.map { ($0[0], ($0[1], $0[2])) }, uniquingKeysWith: { a, _ in a })
            }
            let theirs = byName(runc), mine = byName(ours)
            // Same status in the state as runc, except poststart: runc 1.1 says "created" there (its
            // state is read before init is running), the spec and bulwark "running".
            for kind in hookKinds where kind != "poststart" {
                #expect(mine[kind]?.0 == theirs[kind]?.0, "\(kind): runc \(String(describing: theirs[kind])) bulwark \(String(describing: mine[kind]))")
            }
            #expect(mine["poststart"]?.0 == "running")
            // Working directories: the bundle for the runtime's hooks, the rootfs for createContainer
            // (runc: before pivot_root); startContainer runs in the container's "/" under runc, in the
            // host path of that root under bulwark (it cannot enter the Sentry's VFS).
            for kind in ["prestart", "createRuntime", "createContainer", "poststop"] {
                #expect(mine[kind]?.1 == theirs[kind]?.1, "\(kind): runc \(String(describing: theirs[kind])) bulwark \(String(describing: mine[kind]))")
            }
            #expect(theirs["startContainer"]?.1 == "/")
            #expect(mine["startContainer"]?.1 == rootfs.path)
        }
    }

    /// createContainer runs after the supervisor made the container's namespaces and bind mounts: in
    /// its network and mount namespaces (the bind is visible under the rootfs, not in ours); startContainer
    /// runs in the supervisor itself when `start` releases it, before the Sentry is spawned.
    @Test func createContainerRunsInTheContainersNamespaces() throws {
        try LauncherFixture.with { f in
            let source = f.scratch.appendingPathComponent("bound").path
            try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
            try "present".write(toFile: source + "/file", atomically: true, encoding: .utf8)
            let out = f.scratch.appendingPathComponent("create-hook").path
            let startOut = f.scratch.appendingPathComponent("start-hook").path
            var config = LauncherFixture.defaultConfig()
            config["linux"] = ["namespaces": [["type": "pid"], ["type": "mount"], ["type": "network"]]]
            config["mounts"] = [["destination": "/data", "type": "bind", "source": source, "options": ["rbind", "ro"]]]
            config["hooks"] = [
                "createContainer": [["path": "/bin/sh", "args": ["sh", "-c",
                    "readlink /proc/self/ns/net /proc/self/ns/mnt > \(shellQuote(out)); cat data/file >> \(shellQuote(out))"]]],
                "startContainer": [["path": "/bin/sh", "args": ["sh", "-c", "echo $PPID > \(shellQuote(startOut))"]]],
            ]
            let bundle = try f.makeBundle(config: config)
            let sentryRan = f.scratch.appendingPathComponent("sentry-ran").path
            let sentry = try f.makeStandInSentry("test -e \(shellQuote(startOut)) && echo after-hook > \(shellQuote(sentryRan)); exec sleep 30")
            #expect(try f.runDetached(["create", "--bundle", bundle, "--sentry-binary", sentry, "nsh"]).exitCode == 0)
            let supervisor = try #require(try f.state("nsh")?["pid"] as? Int)
            let lines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").map(String.init)
            #expect(lines.count == 3, "\(lines)")
            let ns = { (name: String) in try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(supervisor)/ns/\(name)") }
            #expect(lines.first == ns("net"), "not the container's network namespace: \(lines)")
            #expect(ns("net") != (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/net")))
            #expect(lines.dropFirst().first == ns("mnt"), "not the supervisor's mount namespace: \(lines)")
            #expect(lines.last == "present", "the bind mount was not made before createContainer: \(lines)")
            #expect(!FileManager.default.fileExists(atPath: "\(bundle)/rootfs/data/file"), "the bind leaked into our mount namespace")
            #expect(!FileManager.default.fileExists(atPath: startOut), "startContainer ran before start")
            #expect(try f.run(["start", "nsh"]).exitCode == 0)
            #expect((try? String(contentsOfFile: startOut, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) == String(supervisor))
            let deadline = Date().addingTimeInterval(10)
            while !FileManager.default.fileExists(atPath: sentryRan) && Date() < deadline { usleep(20_000) }
            #expect(FileManager.default.fileExists(atPath: sentryRan), "the Sentry did not start after the startContainer hook")
            #expect(try f.run(["delete", "--force", "nsh"]).exitCode == 0)
        }
    }

    /// A failing createContainer hook fails create (and removes the container); a failing startContainer
    /// hook fails start, the application never starts and the container is stopped.
    @Test func failingContainerHooksFailCreateOrStart() throws {
        try LauncherFixture.with { f in
            let sentryRan = f.scratch.appendingPathComponent("sentry-ran").path
            let sentry = try f.makeStandInSentry("touch \(shellQuote(sentryRan)); exec sleep 30")
            var config = LauncherFixture.defaultConfig()
            config["hooks"] = ["createContainer": [["path": "/bin/sh", "args": ["sh", "-c", "echo create-said-no; exit 4"]]]]
            let bad = try f.makeBundle("bad-create", config: config)
            let r = try f.runDetached(["create", "--bundle", bad, "--sentry-binary", sentry, "hc"])
            #expect(r.exitCode == 1)
            #expect(r.stderr.contains("error running createContainer hook #0") && r.stderr.contains("create-said-no"), "\(r)")
            #expect(!FileManager.default.fileExists(atPath: "\(f.root)/hc"))

            config["hooks"] = ["startContainer": [["path": "/bin/sh", "args": ["sh", "-c", "echo start-said-no; exit 6"]]]]
            let badStart = try f.makeBundle("bad-start", config: config)
            #expect(try f.runDetached(["create", "--bundle", badStart, "--sentry-binary", sentry, "hs"]).exitCode == 0)
            let s = try f.run(["start", "hs"])
            #expect(s.exitCode == 1)
            #expect(s.stderr.contains("error running startContainer hook #0") && s.stderr.contains("start-said-no"), "\(s)")
            #expect(try f.waitForStatus("hs", "stopped"))
            #expect(!FileManager.default.fileExists(atPath: sentryRan), "the application started despite the failed hook")
            #expect(try f.run(["delete", "hs"]).exitCode == 0)
        }
    }
}
