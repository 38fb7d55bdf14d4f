// The container lifecycle through the real `bulwark` binary, with a stand-in Sentry (a shell script) so
// the launcher's process topology is tested whatever state the Sentry is in.
import Foundation
import Glibc
import Testing
import TestSupport

@Suite("bulwark lifecycle")
struct LifecycleTests {
    @Test func createStartKillDelete() throws {
        try LauncherFixture.with { f in
            let bundle = try f.makeBundle()
            let sentry = try f.makeStandInSentry("exec sleep 30")
            let pidFile = f.scratch.appendingPathComponent("init.pid").path
            let create = try f.runDetached(["create", "--bundle", bundle, "--pid-file", pidFile,
                                            "--sentry-binary", sentry, "life"])
            #expect(create.exitCode == 0, "\(create)")
            let state = try #require(try f.state("life"))
            #expect(state["status"] as? String == "created")
            #expect(state["id"] as? String == "life")
            #expect(state["bundle"] as? String == bundle)
            #expect(state["rootfs"] as? String == "\(bundle)/rootfs")
            let pid = try #require(state["pid"] as? Int)
            #expect(pid > 0)
            let pidText = try String(contentsOfFile: pidFile, encoding: .utf8)
            #expect(pidText == String(pid))
            // The Sentry is not started before `start`.
            #expect(!FileManager.default.fileExists(atPath: "\(sentry).args"))

            let start = try f.run(["start", "life"])
            #expect(start.exitCode == 0, "\(start)")
            #expect(try f.status("life") == "running")
            #expect(try f.state("life")?["pid"] as? Int == pid)
            // The Sentry got exactly the command-line contract.
            var args = try String(contentsOfFile: "\(sentry).args", encoding: .utf8).split(separator: "\n").map(String.init)
            // The supervisor adds the control channel's listening socket.
            let control = try #require(args.firstIndex(of: "--control-fd"))
            #expect(Int(args[control + 1]) ?? -1 >= 3)
            args.removeSubrange(control...(control + 1))
            #expect(args == ["run", "--rootfs", "\(bundle)/rootfs", "--cwd", "/", "--env", "PATH=/usr/bin:/bin",
                             "--hostname", "sandbox", "--uid", "0", "--gid", "0", "--caps", "0,0,0,0,0", "--", "/bin/true"])
            // ps lists the Sentry's process (the stand-in's sleep).
            let ps = try f.run(["ps", "--format", "json", "life"])
            #expect(ps.exitCode == 0)
            let pids = try #require(try JSONSerialization.jsonObject(with: Data(ps.stdout.utf8)) as? [Int])
            #expect(pids.count == 1)
            #expect(pids.first != pid)

            let again = try f.run(["start", "life"])
            #expect(again.exitCode == 1)
            #expect(again.stderr.contains("cannot start an already running container"))
            let early = try f.run(["delete", "life"])
            #expect(early.exitCode == 1)
            #expect(early.stderr.contains("cannot delete container life that is not stopped: running"), "\(early)")

            let kill = try f.run(["kill", "life", "TERM"])
            #expect(kill.exitCode == 0, "\(kill)")
            #expect(try f.waitForStatus("life", "stopped"))
            #expect(try f.state("life")?["pid"] as? Int == 0)
            let wait = try f.run(["wait", "life"])
            #expect(wait.stdout.contains("\"exitStatus\":143"), "\(wait)")
            let killStopped = try f.run(["kill", "life"])
            #expect(killStopped.exitCode == 1)
            #expect(killStopped.stderr.contains("container not running"))

            let delete = try f.run(["delete", "life"])
            #expect(delete.exitCode == 0, "\(delete)")
            let gone = try f.run(["state", "life"])
            #expect(gone.exitCode == 1)
            #expect(gone.stderr.contains("container does not exist"))
            #expect(!FileManager.default.fileExists(atPath: "\(f.root)/life"))
        }
    }

    @Test func killOfCreatedContainerStopsIt() throws {
        try LauncherFixture.with { f in
            let bundle = try f.makeBundle()
            let sentry = try f.makeStandInSentry("exec sleep 30")
            #expect(try f.runDetached(["create", "--bundle", bundle, "--sentry-binary", sentry, "k"]).exitCode == 0)
            #expect(try f.run(["kill", "k", "KILL"]).exitCode == 0)
            #expect(try f.waitForStatus("k", "stopped"))
            let start = try f.run(["start", "k"])
            #expect(start.exitCode == 1)
            #expect(start.stderr.contains("cannot start a container that has stopped"))
            #expect(try f.run(["delete", "k"]).exitCode == 0)
        }
    }

    /// As with runc, a created container is deleted (and its supervisor killed) without --force.
    @Test func deleteOfCreatedContainerKillsIt() throws {
        try LauncherFixture.with { f in
            let bundle = try f.makeBundle()
            let sentry = try f.makeStandInSentry("exec sleep 30")
            #expect(try f.runDetached(["create", "--bundle", bundle, "--sentry-binary", sentry, "dc"]).exitCode == 0)
            let pid = try #require(try f.state("dc")?["pid"] as? Int)
            let r = try f.run(["delete", "dc"])
            #expect(r.exitCode == 0, "\(r)")
            #expect(!FileManager.default.fileExists(atPath: "\(f.root)/dc"))
            let deadline = Date().addingTimeInterval(3)
            while Date() < deadline && isRunning(Int32(pid)) { usleep(10_000) }
            #expect(!isRunning(Int32(pid)))
        }
    }

    @Test func forceDeleteKillsARunningContainer() throws {
        try LauncherFixture.with { f in
            let bundle = try f.makeBundle()
            let sentry = try f.makeStandInSentry("exec sleep 30")
            #expect(try f.runDetached(["create", "--bundle", bundle, "--sentry-binary", sentry, "fd"]).exitCode == 0)
            #expect(try f.run(["start", "fd"]).exitCode == 0)
            let pid = try #require(try f.state("fd")?["pid"] as? Int)
            let sentryPid = try #require(Int32(try String(contentsOfFile: "\(f.root)/fd/sentry.pid", encoding: .utf8)))
            let delete = try f.run(["delete", "--force", "fd"])
            #expect(delete.exitCode == 0, "\(delete)")
            #expect(!FileManager.default.fileExists(atPath: "\(f.root)/fd"))
            // Neither the supervisor nor the Sentry survives (allow the reaper a moment).
            let deadline = Date().addingTimeInterval(3)
            while Date() < deadline && (isRunning(Int32(pid)) || isRunning(sentryPid)) { usleep(10_000) }
            #expect(!isRunning(Int32(pid)))
            #expect(!isRunning(sentryPid))
        }
    }

    @Test func forceDeleteOfUnknownIDSucceeds() throws {
        try LauncherFixture.with { f in
            #expect(try f.run(["delete", "--force", "nothing"]).exitCode == 0)
            let plain = try f.run(["delete", "nothing"])
            #expect(plain.exitCode == 1)
            #expect(plain.stderr.contains("container does not exist"))
        }
    }

    @Test func runExitsWithTheContainersStatus() throws {
        try LauncherFixture.with { f in
            let bundle = try f.makeBundle()
            let seven = try f.makeStandInSentry("echo out-from-container; exit 7")
            let r = try f.run(["run", "--bundle", bundle, "--sentry-binary", seven, "r7"])
            #expect(r.exitCode == 7, "\(r)")
            // fds 0-2 of run are the container's stdio.
            #expect(r.stdout.contains("out-from-container"))
            #expect(!FileManager.default.fileExists(atPath: "\(f.root)/r7"))

            let killed = try f.makeStandInSentry("kill -KILL $$")
            let k = try f.run(["run", "--bundle", bundle, "--sentry-binary", killed, "r9"])
            #expect(k.exitCode == 137, "\(k)")
        }
    }

    @Test func runForwardsSignals() throws {
        try LauncherFixture.with { f in
            let bundle = try f.makeBundle()
            let sentry = try f.makeStandInSentry("trap 'exit 42' TERM; touch \"$0.ready\"; while :; do sleep 0.05; done")
            let script = "\(shellQuote(f.bulwark)) --root \(shellQuote(f.root)) run --bundle \(shellQuote(bundle)) "
                + "--sentry-binary \(shellQuote(sentry)) sig </dev/null >/dev/null 2>&1 & p=$!; "
                + "i=0; while [ ! -e \(shellQuote(sentry)).ready ] && [ $i -lt 500 ]; do sleep 0.02; i=$((i+1)); done; "
                + "kill -TERM $p; wait $p; echo status=$?"
            let r = try ProcessRunner.shell(script, timeout: 20)
            #expect(r.stdout.contains("status=42"), "\(r)")
        }
    }

    @Test func stateFilesArePrivateAndAtomic() throws {
        try LauncherFixture.with { f in
            let bundle = try f.makeBundle()
            let sentry = try f.makeStandInSentry("exit 0")
            #expect(try f.runDetached(["create", "--bundle", bundle, "--sentry-binary", sentry, "perm"]).exitCode == 0)
            func mode(_ path: String) throws -> Int {
                (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? -1
            }
            #expect(try mode(f.root) == 0o700)
            #expect(try mode("\(f.root)/perm") == 0o700)
            #expect(try mode("\(f.root)/perm/state.json") == 0o600)
            // No temporary file is left next to it.
            let files = try FileManager.default.contentsOfDirectory(atPath: "\(f.root)/perm").sorted()
            #expect(files == ["exec.fifo", "state.json"])
        }
    }

    @Test func listShowsContainers() throws {
        try LauncherFixture.with { f in
            let bundle = try f.makeBundle()
            let sentry = try f.makeStandInSentry("exit 0")
            #expect(try f.runDetached(["create", "--bundle", bundle, "--sentry-binary", sentry, "l1"]).exitCode == 0)
            let table = try f.run(["list"])
            #expect(table.stdout.hasPrefix("ID"))
            #expect(table.stdout.contains("l1"))
            #expect(table.stdout.contains("created"))
            let json = try f.run(["list", "--format", "json"])
            let items = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
            #expect(items.map { $0["id"] as? String } == ["l1"])
            #expect(try f.run(["list", "-q"]).stdout == "l1\n")
        }
    }
}

func isRunning(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return false }
    let state = stat[stat.index(close, offsetBy: 2)]
    return state != "Z" && state != "X"
}

@Suite("bulwark bind mounts")
struct BindMountTests {
    /// The stand-in Sentry lists what the rootfs shows at the bind mount's destination; the host's mount
    /// table is unchanged afterwards (the mounts live in the supervisor's private namespace).
    @Test func bindMountsAreVisibleUnderTheRootfsOnlyToTheContainer() throws {
        guard getuid() == 0 else { return }  // bind mounts need CAP_SYS_ADMIN; CI and this machine run as root
        try LauncherFixture.with { f in
            let source = f.scratch.appendingPathComponent("shared").path
            try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
            try "marker".write(toFile: "\(source)/marker.txt", atomically: true, encoding: .utf8)
            var config = LauncherFixture.defaultConfig()
            config["mounts"] = [
                ["destination": "/data", "type": "bind", "source": source, "options": ["rbind", "ro"]],
                ["destination": "/proc", "type": "proc", "source": "proc"],
            ]
            let bundle = try f.makeBundle(config: config)
            let listing = f.scratch.appendingPathComponent("listing").path
            let sentry = try f.makeStandInSentry(
                "cat \"$3/data/marker.txt\" > \(shellQuote(listing)); touch \"$3/data/new\" 2>/dev/null && echo writable >> \(shellQuote(listing)); exit 0")
            let r = try f.run(["run", "--bundle", bundle, "--sentry-binary", sentry, "binds"])
            #expect(r.exitCode == 0, "\(r)")
            #expect(try String(contentsOfFile: listing, encoding: .utf8) == "marker")
            let mounts = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
            #expect(!mounts.contains("\(bundle)/rootfs/data"))
        }
    }

    @Test func symlinkedMountDestinationIsRefused() throws {
        guard getuid() == 0 else { return }
        try LauncherFixture.with { f in
            var config = LauncherFixture.defaultConfig()
            config["mounts"] = [["destination": "/escape/x", "type": "bind", "source": "/usr", "options": ["rbind", "ro"]]]
            let bundle = try f.makeBundle(config: config)
            try FileManager.default.createSymbolicLink(atPath: "\(bundle)/rootfs/escape", withDestinationPath: "/tmp")
            let sentry = try f.makeStandInSentry("exit 0")
            let r = try f.run(["create", "--bundle", bundle, "--sentry-binary", sentry, "sym"])
            #expect(r.exitCode == 1)
            #expect(r.stderr.contains("is a symbolic link"), "\(r)")
            #expect(!FileManager.default.fileExists(atPath: "\(f.root)/sym"))
        }
    }
}

@Suite("bulwark network namespace")
struct NetworkNamespaceTests {
    private func netns(_ pid: Int) throws -> String {
        try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/net")
    }

    /// Docker's prestart hook finds the container's network namespace through state.pid: it must be a
    /// new one (never the host's) when config.json asks for a network namespace.
    @Test func containerPidHasItsOwnNetworkNamespace() throws {
        guard getuid() == 0 else { return }  // unshare(CLONE_NEWNET) needs CAP_SYS_ADMIN
        try LauncherFixture.with { f in
            var config = LauncherFixture.defaultConfig()
            config["linux"] = ["namespaces": [["type": "pid"], ["type": "network"]]]
            let bundle = try f.makeBundle(config: config)
            let sentry = try f.makeStandInSentry("exit 0")
            #expect(try f.run(["create", "--bundle", bundle, "--sentry-binary", sentry, "net"]).exitCode == 0)
            let pid = try #require(try f.state("net")?["pid"] as? Int)
            #expect(try netns(pid) != netns(Int(getpid())))

            // --network host keeps the host's namespace.
            #expect(try f.run(["create", "--bundle", bundle, "--sentry-binary", sentry, "hostnet"],
                              globals: ["--network", "host"]).exitCode == 0)
            let hostPid = try #require(try f.state("hostnet")?["pid"] as? Int)
            #expect(try netns(hostPid) == netns(Int(getpid())))
        }
    }
}
