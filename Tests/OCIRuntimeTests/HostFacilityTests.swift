// The launcher's HostOS facilities against the real kernel: process spawning, mounts, namespaces.
import Foundation
import Glibc
import HostOS
import Testing
import TestSupport

@Suite("launcher host facilities")
struct HostFacilityTests {
    @Test func spawnReportsExecFailureAsErrno() {
        let options = SpawnOptions(path: "/nonexistent/program", arguments: ["x"])
        #expect(throws: HostError(call: "spawn /nonexistent/program", errno: .ENOENT)) {
            _ = try ProcessSpawn.spawn(options)
        }
    }

    @Test func spawnGivesStatusAndSignal() throws {
        var options = SpawnOptions(path: "/bin/sh", arguments: ["sh", "-c", "exit 9"])
        #expect(try ProcessSpawn.wait(try ProcessSpawn.spawn(options)) == .exited(9))
        options.arguments = ["sh", "-c", "kill -USR1 $$"]
        let status = try ProcessSpawn.wait(try ProcessSpawn.spawn(options))
        #expect(status == .signaled(SIGUSR1))
        #expect(status.shellStatus == 128 + SIGUSR1)
    }

    @Test func spawnedChildInheritsOnlyStdioAndKeptDescriptors() throws {
        try TestPaths.withScratchDirectory { dir in
            // A descriptor without CLOEXEC, as a caller (containerd, Foundation.Process) may leave open.
            let leaked = open("/dev/null", O_RDONLY)
            defer { close(leaked) }
            let kept = try FileSystem.open("/dev/null", flags: O_RDONLY)
            let out = dir.appendingPathComponent("fds").path
            var options = SpawnOptions(path: "/bin/sh", arguments: ["sh", "-c", "ls /proc/self/fd > \(out)"])
            options.inheritedDescriptors = [kept.rawValue]
            #expect(try ProcessSpawn.wait(try ProcessSpawn.spawn(options)) == .exited(0))
            let fds = Set(try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").compactMap { Int32($0) })
            #expect(fds.contains(kept.rawValue))
            #expect(!fds.contains(leaked))
            #expect(fds.isSuperset(of: [0, 1, 2]))
        }
    }

    @Test func tmpfsMountAndUnmount() throws {
        guard getuid() == 0 else { return }  // mount(2) needs CAP_SYS_ADMIN; CI and this machine run as root
        try TestPaths.withScratchDirectory { dir in
            let target = dir.appendingPathComponent("mnt").path
            try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
            try Mount.mount(source: "tmpfs", target: target, type: "tmpfs", flags: [.noSuid, .noDev], data: "size=1m")
            let mounts = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
            #expect(mounts.contains(" \(target) "))
            try Mount.unmount(target)
            let after = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
            #expect(!after.contains(" \(target) "))
        }
    }

    @Test func namespaceCallsReportKernelErrors() throws {
        // 0x1 is not a namespace flag: the kernel refuses it (and nothing is unshared in the test runner).
        #expect(throws: HostError(call: "unshare", errno: .EINVAL)) { try Namespaces.unshare(.init(rawValue: 1)) }
        #expect(throws: HostError(call: "pivot_root", errno: .ENOENT)) {
            try Mount.pivotRoot("/nonexistent-new-root", putOld: "/nonexistent-new-root/old")
        }
        let ns = try Namespaces.open(pid: getpid(), name: "uts")
        // Joining the namespace we are already in is allowed for root and a no-op.
        if getuid() == 0 { try Namespaces.enter(ns, kind: .uts) }
        #expect(Namespaces.Kinds(ociName: "network") == .network)
        #expect(Namespaces.Kinds(ociName: "galaxy") == nil)
    }
}
