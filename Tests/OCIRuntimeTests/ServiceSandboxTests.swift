// The services the launcher starts (gofer, procfs, netstack), each in its own sandbox; their seccomp
// policies and the Sentry's in force (a test hook makes each one call a forbidden host syscall: it must
// die by SIGSYS and the launcher must tear the sandbox down); procfs restarted after it dies; delete
// cleaning up after crashes. Real bulwark, real Sentry, the host's root read-only as the rootfs.
import Foundation
import Glibc
import Testing
import TestSupport

/// Host processes of a sandbox, found under its supervisor (the services are reparented to it).
struct SandboxProcesses {
    static func children(_ pid: Int) -> [Int] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return tasks.flatMap { tid in
            ((try? String(contentsOfFile: "/proc/\(pid)/task/\(tid)/children", encoding: .utf8)) ?? "")
                .split(separator: " ").compactMap { Int($0) }
        }
    }

    static func descendants(_ pid: Int) -> [Int] {
        var result: [Int] = []
        var queue = [pid]
        while let next = queue.popLast() {
            result.append(next)
            queue += children(next)
        }
        return result
    }

    static func cmdline(_ pid: Int) -> String {
        ((try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? "").replacingOccurrences(of: "\0", with: " ")
    }

    static func status(_ pid: Int, _ field: String) -> String? {
        let text = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").first { $0.hasPrefix(field + ":") }
            .map { $0.dropFirst(field.count + 1).trimmingCharacters(in: .whitespaces) }
    }

    /// Alive and not a zombie.
    static func isAlive(_ pid: Int) -> Bool {
        guard let state = status(pid, "State") else { return false }
        return !state.hasPrefix("Z") && !state.hasPrefix("X")
    }

    /// The service `name` (e.g. "bulwark-procfs") among the supervisor's children, waiting (bounded).
    static func service(_ name: String, supervisor: Int, seconds: Double = 10) -> Int? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let pid = children(supervisor).first(where: { cmdline($0).hasPrefix("/") && cmdline($0).contains("/\(name) ") }) {
                return pid
            }
            usleep(50_000)
        }
        return nil
    }
}

/// A container over the host's root whose init runs `script`, started with `run -d`, a launcher log
/// and `environment` added to the launcher's.
struct ServiceContainer {
    let f: LauncherFixture
    let id: String
    let out: String
    let log: String

    /// `networkPath`: join that network namespace (a bind-mounted netns, as Docker passes its own).
    init(_ f: LauncherFixture, id: String, script: String, network: Bool = false, networkPath: String? = nil,
         environment: [String: String] = [:], capabilities: [String] = []) throws {
        self.f = f
        self.id = id
        var config = LauncherFixture.defaultConfig(args: ["/bin/sh", "-c", script])
        if !capabilities.isEmpty, var process = config["process"] as? [String: Any] {
            process["capabilities"] = Dictionary(uniqueKeysWithValues: ["bounding", "effective", "permitted"].map { ($0, capabilities) })
            config["process"] = process
        }
        config["root"] = ["path": "/", "readonly": true]
        if network { config["linux"] = ["namespaces": [["type": "pid"], ["type": "mount"], ["type": "network"]]] }
        if let networkPath { config["linux"] = ["namespaces": [["type": "pid"], ["type": "mount"], ["type": "network", "path": networkPath]]] }
        let bundle = try f.makeBundle("bundle-\(id)", config: config)
        out = f.scratch.appendingPathComponent("\(id).out").path
        log = f.scratch.appendingPathComponent("\(id).log").path
        let env = environment.map { "\($0.key)=\(shellQuote($0.value))" }.joined(separator: " ")
        let line = [f.bulwark, "--root", f.root, "--log", log, "run", "-d", "--bundle", bundle, id].map(shellQuote).joined(separator: " ")
        let r = try ProcessRunner.shell("exec env \(env) \(line) </dev/null >\(shellQuote(out)) 2>&1", timeout: 60)
        #expect(r.exitCode == 0, "\(r)")
    }

    var output: String { (try? String(contentsOfFile: out, encoding: .utf8)) ?? "" }
    var logText: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

    var supervisor: Int? { (try? f.state(id))?["pid"] as? Int }

    /// Polls until `condition` holds (bounded).
    func waitFor(seconds: Double = 15, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return true }
            usleep(50_000)
        }
        return false
    }
}

/// Shell commands that make the Sentry use procfs (a /proc read) and the netstack (an inet socket: a
/// refused connection is enough), which the launcher starts on first use.
let useProcAndNetwork = "cat /proc/uptime >/dev/null; /bin/bash -c 'exec 3<>/dev/tcp/127.0.0.1/9' 2>/dev/null;"

@Suite("bulwark services: sandboxes, seccomp, restart, cleanup", .enabled(if: getuid() == 0, "namespaces and pivot_root need root"))
struct ServiceSandboxTests {
    /// procfs and the netstack start when the Sentry first needs them, not with the container: an idle
    /// container has only the gofer; a /proc read starts procfs (and gets its answer), an inet socket
    /// the netstack, each in its own sandbox like the eagerly started gofer.
    @Test func procfsAndNetstackStartOnFirstUse() throws {
        try LauncherFixture.with { f in
            let c = try ServiceContainer(f, id: "lazy1", script: "echo started; while true; do sleep 0.1; done", network: true)
            #expect(c.waitFor { c.output.contains("started") }, "\(c.output)")
            let supervisor = try #require(c.supervisor)
            #expect(SandboxProcesses.service("bulwark-gofer", supervisor: supervisor) != nil)
            #expect(SandboxProcesses.service("bulwark-procfs", supervisor: supervisor, seconds: 0.5) == nil, "procfs started before any /proc access")
            #expect(SandboxProcesses.service("bulwark-netstack", supervisor: supervisor, seconds: 0.1) == nil, "the netstack started before any socket")
            let proc = try f.run(["exec", "lazy1", "/bin/sh", "-c", "grep '^Name:' /proc/self/status"], timeout: 30)
            #expect(proc.stdout.contains("Name:"), "\(proc)")
            let procfs = try #require(SandboxProcesses.service("bulwark-procfs", supervisor: supervisor), "no procfs after a /proc read")
            #expect(SandboxProcesses.service("bulwark-netstack", supervisor: supervisor, seconds: 0.1) == nil)
            let net = try f.run(["exec", "lazy1", "/bin/bash", "-c", "(exec 3<>/dev/tcp/127.0.0.1/9) 2>/dev/null || echo refused"], timeout: 30)
            #expect(net.stdout.contains("refused"), "\(net)")
            let netstack = try #require(SandboxProcesses.service("bulwark-netstack", supervisor: supervisor), "no netstack after a socket")
            for pid in [procfs, netstack] {
                let theirs = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/pid")
                #expect(theirs != (try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/pid")))
                #expect(SandboxProcesses.status(pid, "Seccomp") == "2")
                #expect(((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/root/")) ?? ["unreadable"]).isEmpty)
            }
            #expect(try f.run(["delete", "--force", "lazy1"]).exitCode == 0)
            #expect(c.waitFor(seconds: 5) { ![procfs, netstack].contains(where: SandboxProcesses.isAlive) })
        }
    }

    /// Every service runs in its own pid/mount/ipc/uts namespaces, with no capabilities and a seccomp
    /// filter; procfs and the netstack in an empty root; the netstack in the container's network
    /// namespace, the others in empty ones; the Sentry gets all three channels.
    @Test func servicesRunInTheirOwnSandboxes() throws {
        try LauncherFixture.with { f in
            // A /proc read and an inet socket first: procfs and the netstack start on first use.
            let c = try ServiceContainer(f, id: "sb1", script: "\(useProcAndNetwork) echo started; while true; do sleep 0.1; done", network: true)
            #expect(c.waitFor { c.output.contains("started") }, "\(c.output)")
            let supervisor = try #require(c.supervisor)
            let ours = { (ns: String) in try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/\(ns)") }
            let containerNet = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(supervisor)/ns/net")
            for name in ["bulwark-gofer", "bulwark-procfs", "bulwark-netstack"] {
                let pid = try #require(SandboxProcesses.service(name, supervisor: supervisor), "\(name) is not a child of the supervisor")
                for ns in ["pid", "mnt", "ipc", "uts"] {
                    let theirs = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/\(ns)")
                    #expect(theirs != ours(ns), "\(name) shares our \(ns) namespace")
                }
                let net = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/net")
                if name == "bulwark-netstack" {
                    #expect(net == containerNet, "the netstack is not in the container's network namespace")
                } else {
                    #expect(net != containerNet && net != ours("net"), "\(name) is not in an empty network namespace")
                }
                #expect(SandboxProcesses.status(pid, "Seccomp") == "2", "\(name) has no seccomp filter")
                // The gofer keeps exactly the file capabilities a root application's chown/chmod need
                // (CHOWN, DAC_OVERRIDE, DAC_READ_SEARCH, FOWNER, FSETID = 0x1f), as runsc's gofer does.
                let allowed = name == "bulwark-gofer" ? "000000000000001f" : "0000000000000000"
                #expect(SandboxProcesses.status(pid, "CapEff") == allowed, "\(name) kept capabilities")
                #expect(SandboxProcesses.status(pid, "NoNewPrivs") == "1")
                let root = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/root/")) ?? ["unreadable"]
                if name == "bulwark-gofer" {
                    #expect(root.contains("usr"), "the gofer lost its root: \(root)")
                } else {
                    #expect(root.isEmpty, "\(name)'s root is not empty: \(root)")
                }
            }
            let sentry = try #require(SandboxProcesses.children(supervisor).first { SandboxProcesses.cmdline($0).contains("bulwark-sentry run") })
            let line = SandboxProcesses.cmdline(sentry)
            for flag in ["--gofer-fd", "--procfs-fd", "--netstack-fd"] { #expect(line.contains(flag), "\(line)") }
            #expect(SandboxProcesses.status(sentry, "Seccomp") == "2", "the Sentry has no seccomp filter")
            // The Sentry keeps no host capability after set-up, in any of its threads (capabilities are
            // per thread), with an empty bounding set and no_new_privs; nor do its stubs (its only
            // children here: the launcher runs the services).
            let threads = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(sentry)/task")) ?? []
            #expect(threads.count >= 2, "the Sentry's threads: \(threads)")
            for tid in threads {
                let text = (try? String(contentsOfFile: "/proc/\(sentry)/task/\(tid)/status", encoding: .utf8)) ?? ""
                for field in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
                    let value = text.split(separator: "\n").first { $0.hasPrefix(field + ":") }?.split(separator: "\t").last.map(String.init)
                    #expect(value == "0000000000000000", "Sentry thread \(tid): \(field) \(value ?? "missing")")
                }
                #expect(text.contains("NoNewPrivs:\t1"), "Sentry thread \(tid) lacks no_new_privs")
            }
            let stubs = SandboxProcesses.children(sentry)
            #expect(!stubs.isEmpty, "the Sentry has no stub")
            for stub in stubs {
                #expect(SandboxProcesses.status(stub, "CapPrm") == "0000000000000000", "stub \(stub) \(SandboxProcesses.cmdline(stub))")
                #expect(SandboxProcesses.status(stub, "CapEff") == "0000000000000000", "stub \(stub)")
            }
            // The sandbox works through them: files, /proc, loopback networking; and its root's emulated
            // privileges (chown to another owner, mknod of a device) do not need the Sentry's host ones.
            let r = try f.run(["exec", "sb1", "/bin/sh", "-c", "test -d /usr/bin && grep -q '^Name:' /proc/self/status && echo through-services"], timeout: 30)
            #expect(r.stdout.contains("through-services"), "\(r)")
            let root = try f.run(["exec", "sb1", "/bin/sh", "-c", "touch /dev/shm/owned && chown 4321:4321 /dev/shm/owned && stat -c %u:%g /dev/shm/owned && mknod /dev/shm/nul c 1 3 && echo mknod-ok"], timeout: 30)
            #expect(root.stdout.contains("4321:4321") && root.stdout.contains("mknod-ok"), "\(root)")
            #expect(try f.run(["delete", "--force", "sb1"]).exitCode == 0)
        }
    }

    /// The gofer, procfs and the netstack (also in the container's network namespace, session 6: the
    /// supervisor opens its link) run in user namespaces of their own, identity-mapped over every id;
    /// their capabilities count only there. The gofer's still reach files of any owner (a 0600 file of
    /// uid 4321 is read through it by the sandbox's root).
    @Test(arguments: [true, false])
    func servicesRunInTheirOwnUserNamespaces(_ containerNetwork: Bool) throws {
        try LauncherFixture.with { f in
            let secret = f.scratch.appendingPathComponent("secret").path
            try "only-uid-4321".write(toFile: secret, atomically: true, encoding: .utf8)
            #expect(chown(secret, 4321, 4321) == 0 && chmod(secret, 0o600) == 0)
            let c = try ServiceContainer(f, id: "userns\(containerNetwork)", script: "\(useProcAndNetwork) cat \(shellQuote(secret)); echo; echo started; while true; do sleep 0.1; done",
                                         network: containerNetwork, capabilities: ["CAP_DAC_OVERRIDE"])
            #expect(c.waitFor { c.output.contains("started") }, "\(c.output)")
            #expect(c.output.contains("only-uid-4321"), "the gofer could not read another uid's file: \(c.output)")
            let supervisor = try #require(c.supervisor)
            let ourUser = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/user")
            let read = { (path: String) in ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "")
                .split(whereSeparator: { $0 == " " || $0 == "\n" }).joined(separator: " ") }
            for name in ["bulwark-gofer", "bulwark-procfs", "bulwark-netstack"] {
                let pid = try #require(SandboxProcesses.service(name, supervisor: supervisor), "no \(name)")
                let user = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/user")
                // pid 1 of its own pid namespace, seen from here with its host pid first.
                #expect(SandboxProcesses.status(pid, "NSpid")?.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init) == [String(pid), "1"])
                #expect(user != ourUser, "\(name) shares our user namespace")
                #expect(read("/proc/\(pid)/uid_map") == "0 0 4294967295", "\(name) uid_map: \(read("/proc/\(pid)/uid_map"))")
                #expect(read("/proc/\(pid)/gid_map") == "0 0 4294967295", "\(name) gid_map")
                #expect(SandboxProcesses.status(pid, "Uid")?.hasPrefix("0") == true)
                #expect(SandboxProcesses.status(pid, "CapEff") == (name == "bulwark-gofer" ? "000000000000001f" : "0000000000000000"))
            }
            #expect(try f.run(["delete", "--force", c.id]).exitCode == 0)
        }
    }

    /// The done-when test of issue 6: each service (and the Sentry), made to call a host syscall outside
    /// its allowlist, dies by SIGSYS; the launcher names it and tears the whole sandbox down.
    @Test(arguments: [
        // (process, probe at request N [and which call], the container's script: it runs before the probe fires)
        ("gofer", "200", "echo started; sleep 1; i=0; while true; do i=$((i+1)); test -e /nonexistent-$i; done"),
        ("netstack", "1", "echo started; sleep 1; exec /bin/bash -c 'while true; do (exec 3<>/dev/tcp/127.0.0.1/9) 2>/dev/null; sleep 0.1; done'"),
        // Session 6: the netstack may not open a host socket (its link comes from the supervisor).
        ("netstack", "1:packet-socket", "echo started; sleep 1; exec /bin/bash -c 'while true; do (exec 3<>/dev/tcp/127.0.0.1/9) 2>/dev/null; sleep 0.1; done'"),
        // ...nor set a SOL_PACKET option (setsockopt is allowed at level SOL_SOCKET only).
        ("netstack", "1:packet-option", "echo started; sleep 1; exec /bin/bash -c 'while true; do (exec 3<>/dev/tcp/127.0.0.1/9) 2>/dev/null; sleep 0.1; done'"),
        // The supervisor's readiness Hello is the Sentry's first Control request; `ps` makes the second.
        ("sentry", "2", "echo started; while true; do sleep 0.1; done"),
    ])
    func serviceDiesBySIGSYSOutsideItsPolicyAndTheSandboxIsTornDown(_ name: String, _ at: String, _ script: String) throws {
        try LauncherFixture.with { f in
            let id = "sys-\(name)\(at.split(separator: ":").dropFirst().first.map { "-\($0)" } ?? "")"
            let c = try ServiceContainer(f, id: id, script: script, environment: ["BULWARK_TEST_SECCOMP_PROBE": "\(name):\(at)"])
            #expect(c.waitFor { c.output.contains("started") }, "the container never ran: \(c.output)")
            let supervisor = try #require(c.supervisor)
            let processes = SandboxProcesses.descendants(supervisor)
            #expect(processes.count >= 4, "supervisor, Sentry, stub, gofer: \(processes)")
            if name == "sentry" {
                _ = try f.run(["ps", id])   // its Hello is the Sentry's second Control request
            }
            // The launcher reports the death by SIGSYS and ends the sandbox.
            let what = name == "sentry" ? "bulwark-sentry" : "bulwark-\(name)"
            #expect(c.waitFor { c.logText.contains(what) && (c.logText.contains("SIGSYS") || c.logText.contains("signal 31")) },
                    "log: \(c.logText)\noutput: \(c.output)")
            #expect(try c.waitFor { try f.status(id) == "stopped" }, "the sandbox is still up: \(c.logText)")
            #expect(c.waitFor { processes.allSatisfy { !SandboxProcesses.isAlive($0) } },
                    "left behind: \(processes.filter(SandboxProcesses.isAlive).map(SandboxProcesses.cmdline))")
            let delete = try f.run(["delete", id])
            #expect(delete.exitCode == 0, "\(delete)")
            #expect(!FileManager.default.fileExists(atPath: "\(f.root)/\(id)"))
        }
    }

    /// procfs made to call a forbidden syscall dies by SIGSYS; the /proc read that killed it fails with
    /// EIO; the supervisor restarts procfs in a new sandbox and hands the Sentry its channel
    /// (ReplaceProcfs), after which /proc reads work again. The log names procfs.
    @Test func procfsDiesBySIGSYSAndIsRestarted() throws {
        try LauncherFixture.with { f in
            let script = "echo started; while true; do if cat /proc/uptime >/dev/null; then echo proc-ok; else echo proc-failed; fi; sleep 0.1; done"
            let c = try ServiceContainer(f, id: "sys-procfs", script: script, environment: ["BULWARK_TEST_SECCOMP_PROBE": "procfs:1"])
            #expect(c.waitFor { c.output.contains("proc-ok") }, "log: \(c.logText)\noutput: \(c.output)")
            let out = c.output
            #expect(out.contains("Input/output error"), "the read that killed procfs: \(out)")
            #expect(out.range(of: "proc-failed").map { out.range(of: "proc-ok")!.lowerBound > $0.lowerBound } ?? false, "\(out)")
            #expect(c.logText.contains("bulwark-procfs") && c.logText.contains("SIGSYS"), "\(c.logText)")
            #expect(c.logText.contains("restarted"), "\(c.logText)")
            let supervisor = try #require(c.supervisor)
            let procfs = try #require(SandboxProcesses.service("bulwark-procfs", supervisor: supervisor))
            #expect(SandboxProcesses.status(procfs, "Seccomp") == "2")
            #expect(try f.status("sys-procfs") == "running")
            #expect(try f.run(["delete", "--force", "sys-procfs"]).exitCode == 0)
        }
    }

    /// procfs killed mid-run: /proc reads fail (EIO) until the supervisor has restarted it, then work.
    @Test func procfsKilledMidRunComesBack() throws {
        try LauncherFixture.with { f in
            let script = "while true; do if cat /proc/uptime >/dev/null 2>&1; then echo proc-ok; else echo proc-failed; fi; sleep 0.05; done"
            let c = try ServiceContainer(f, id: "procfs-kill", script: script)
            #expect(c.waitFor { c.output.contains("proc-ok") }, "\(c.output)")
            let supervisor = try #require(c.supervisor)
            let procfs = try #require(SandboxProcesses.service("bulwark-procfs", supervisor: supervisor))
            kill(Int32(procfs), SIGKILL)
            #expect(c.waitFor { c.logText.contains("bulwark-procfs") && c.logText.contains("restarted") }, "\(c.logText)")
            let marker = c.output.count
            #expect(c.waitFor { c.output.dropFirst(marker).contains("proc-ok") }, "\(c.output)")
            let again = try #require(SandboxProcesses.service("bulwark-procfs", supervisor: supervisor))
            #expect(again != procfs)
            let r = try f.run(["exec", "procfs-kill", "/bin/cat", "/proc/self/stat"], timeout: 30)
            #expect(r.exitCode == 0, "\(r)")
            #expect(try f.run(["delete", "--force", "procfs-kill"]).exitCode == 0)
        }
    }

    /// `delete` cleans every process up even when the supervisor itself was killed (the services would
    /// otherwise be orphans) and after a service crashed.
    @Test(arguments: ["supervisor", "gofer", "netstack"])
    func deleteCleansUpAfterACrash(_ victim: String) throws {
        try LauncherFixture.with { f in
            let id = "crash-\(victim)"
            let c = try ServiceContainer(f, id: id, script: "\(useProcAndNetwork) echo started; while true; do sleep 0.1; done")
            #expect(c.waitFor { c.output.contains("started") }, "\(c.output)")
            let supervisor = try #require(c.supervisor)
            _ = SandboxProcesses.service("bulwark-netstack", supervisor: supervisor)
            let processes = SandboxProcesses.descendants(supervisor)
            let target = victim == "supervisor" ? supervisor : try #require(SandboxProcesses.service("bulwark-\(victim)", supervisor: supervisor))
            kill(Int32(target), SIGKILL)
            #expect(try c.waitFor { try f.status(id) == "stopped" })
            let delete = try f.run(["delete", "--force", id])
            #expect(delete.exitCode == 0, "\(delete)")
            #expect(c.waitFor(seconds: 5) { processes.allSatisfy { !SandboxProcesses.isAlive($0) } },
                    "left behind: \(processes.filter(SandboxProcesses.isAlive).map(SandboxProcesses.cmdline))")
            #expect(!FileManager.default.fileExists(atPath: "\(f.root)/\(id)"))
            let mounts = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
            #expect(!mounts.contains(f.scratch.path) && !mounts.contains("bulwark-empty"))
        }
    }
}
