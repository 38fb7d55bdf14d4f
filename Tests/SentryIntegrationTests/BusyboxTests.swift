// Priority 1 and 2: static busybox runs unmodified under the Sentry, output and exit status equal
// to native runs.
import Foundation
import Testing
import TestSupport

@Suite("Sentry runs static busybox")
struct BusyboxTests {
    @Test func echoHelloMatchesNative() throws {
        let argv = ["/bin/busybox", "echo", "hello"]
        let sandboxed = try Sentry.run(argv)
        let native = try Sentry.native(argv)
        #expect(!sandboxed.timedOut)
        #expect(sandboxed.stdout == "hello\n")
        #expect(sandboxed.stdout == native.stdout)
        #expect(sandboxed.exitCode == 0)
    }

    @Test func shellPipelineLoopAndExitStatus() throws {
        let script = "echo hello; echo a b | tr a-z A-Z; for i in 1 2 3; do echo $i; done | wc -l; exit 3"
        let argv = ["/bin/busybox", "sh", "-c", script]
        let sandboxed = try Sentry.run(argv)
        let native = try Sentry.native(argv)
        #expect(!sandboxed.timedOut)
        #expect(sandboxed.stdout == native.stdout)
        #expect(sandboxed.exitCode == 3)
        #expect(native.exitCode == 3)
    }

    @Test func shellSeesStdinAndSignalsKillChildren() throws {
        // SIGKILL: native results must not depend on dispositions inherited from the test runner.
        let script = "read x; echo got $x; sh -c 'kill -KILL $$'; echo status $?"
        let argv = ["/bin/busybox", "sh", "-c", script]
        let sandboxed = try Sentry.run(argv, stdin: "line\n")
        let native = try Sentry.native(argv, stdin: "line\n")
        #expect(!sandboxed.timedOut)
        #expect(sandboxed.stdout == native.stdout)
        #expect(sandboxed.exitCode == native.exitCode)
    }

    @Test func missingProgramExits127() throws {
        let r = try Sentry.run(["/no/such/program"])
        #expect(r.exitCode == 127)
        #expect(r.stderr.contains("No such file"))
        let r2 = try ProcessRunner.run(Sentry.binary, ["run", "--rootfs", "/nonexistent-rootfs", "--", "/bin/true"], timeout: 10)
        #expect(r2.exitCode == 127)
        #expect(r2.stderr.contains("rootfs"))
    }

    @Test func nonExecutableExits126() throws {
        let r = try Sentry.run(["/etc/passwd"])
        #expect(r.exitCode == 126)
    }

    @Test func killedBySignalGives128PlusN() throws {
        let r = try Sentry.run(["/bin/busybox", "sh", "-c", "kill -KILL $$"])
        #expect(r.exitCode == Int32(128 + 9), "\(r)")
    }
}

@Suite("Sentry identity and scripts")
struct IdentityAndScriptTests {
    @Test func hostnameUnameAndIdsComeFromTheCommandLine() throws {
        let r = try Sentry.run(["/bin/busybox", "sh", "-c", "hostname; uname -s; uname -n; id -u; id -g; echo $$"],
                               extra: ["--hostname", "sbx-test", "--uid", "0", "--gid", "0"])
        #expect(r.stdout == "sbx-test\nLinux\nsbx-test\n0\n0\n1\n")
    }

    @Test func shebangScriptsRunThroughTheirInterpreter() throws {
        try TestPaths.withScratchDirectory { dir in
            let script = dir.appendingPathComponent("hello.sh")
            try "#!/bin/busybox sh\necho script \"$0\" \"$@\"\nexit 4\n".write(to: script, atomically: true, encoding: .utf8)
            chmod(script.path, 0o755)
            let sandboxed = try Sentry.run([script.path, "a", "b"])
            let native = try Sentry.native([script.path, "a", "b"])
            #expect(sandboxed.stdout == native.stdout)
            #expect(sandboxed.stdout == "script \(script.path) a b\n")
            #expect(sandboxed.exitCode == 4)
        }
    }

    @Test func cwdOptionSetsTheWorkingDirectory() throws {
        let r = try Sentry.run(["/bin/busybox", "pwd"], extra: ["--cwd", "/usr/bin"])
        #expect(r.stdout == "/usr/bin\n")
    }
}

@Suite("Sentry host signals")
struct HostSignalTests {
    @Test func sigtermToTheSentryReachesInit() throws {
        // The Sentry forwards SIGTERM to pid 1; sh's trap handler runs and exits 7.
        let script = "trap 'echo got TERM; exit 7' TERM; echo ready; while :; do sleep 0.05; done"
        // A host shell starts the Sentry in the background and sends SIGTERM to the Sentry process.
        let sentry = Sentry.binary
        // SIGTERM goes only once the trap is installed ("ready" printed): a fixed sleep lost that race on
        // a loaded machine. The wait is bounded (10 s).
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("sigterm-\(getpid()).out").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let quoted = script.replacingOccurrences(of: "\"", with: "\\\"")
        let outer = "\(sentry) run --rootfs / -- /bin/busybox sh -c \"\(quoted)\" >\(out) & p=$!; "
            + "i=0; until grep -q ready \(out) || [ $i -ge 200 ]; do sleep 0.05; i=$((i+1)); done; "
            + "kill -TERM $p; wait $p; s=$?; cat \(out); echo status $s"
        let r = try ProcessRunner.run("/bin/sh", ["-c", outer], timeout: 20)
        #expect(r.stdout.contains("ready\n"))
        #expect(r.stdout.contains("got TERM\n"))
        #expect(r.stdout.contains("status 7\n"), "\(r)")
    }
}
