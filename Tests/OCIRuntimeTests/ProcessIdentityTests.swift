// config.json's process identity (user with additional gids, capabilities, rlimits, noNewPrivileges)
// and what it allows inside the container: Tests/Programs/creds.c run by runc and by bulwark from the
// same bundle, outputs compared line by line. runc is the reference, as the issue asks.
import Foundation
import Testing
import TestSupport

@Suite("Process identity: bulwark against runc", .serialized)
struct ProcessIdentityTests {
    static let runc = ["/usr/sbin/runc", "/usr/bin/runc"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Docker's default capability set.
    static let dockerCaps = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
                             "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
                             "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]

    @Test(.enabled(if: runc != nil, "runc is not installed (tools/install-deps installs it)"))
    func rootWithDockersDefaultCapabilitiesMatchesRunc() throws {
        try compare(user: ["uid": 0, "gid": 0, "additionalGids": [10, 20]],
                    capabilities: ["bounding": Self.dockerCaps, "effective": Self.dockerCaps, "permitted": Self.dockerCaps])
    }

    @Test(.enabled(if: runc != nil, "runc is not installed (tools/install-deps installs it)"))
    func nonRootWithAnAmbientCapabilityMatchesRunc() throws {
        try compare(user: ["uid": 1000, "gid": 1000, "additionalGids": [5]],
                    capabilities: ["bounding": Self.dockerCaps, "effective": ["CAP_CHOWN"], "permitted": ["CAP_CHOWN"],
                                   "inheritable": ["CAP_CHOWN"], "ambient": ["CAP_CHOWN"]], noNewPrivileges: false)
    }

    /// linux.seccomp: errno rules (with and without errnoRet), argument conditions (EQ, MASKED_EQ, GT),
    /// an unknown name (skipped) and a kill-process rule; the output and the exit status (SIGSYS) match.
    @Test(.enabled(if: runc != nil, "runc is not installed (tools/install-deps installs it)"))
    func seccompProfileMatchesRunc() throws {
        let profile: [String: Any] = [
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [
                ["names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13],
                ["names": ["mkdir", "mkdirat", "no_such_call"], "action": "SCMP_ACT_ERRNO"],
                ["names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 22,
                 "args": [["index": 0, "value": 8, "op": "SCMP_CMP_EQ"]]],
                ["names": ["umask"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5,
                 "args": [["index": 0, "value": 64, "valueTwo": 64, "op": "SCMP_CMP_MASKED_EQ"]]],
                ["names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 7,
                 "args": [["index": 1, "value": 100, "op": "SCMP_CMP_GT"]]],
                ["names": ["getpgrp"], "action": "SCMP_ACT_KILL_PROCESS"],
            ] as [[String: Any]],
        ]
        try compare(user: ["uid": 0, "gid": 0], capabilities: nil, program: "seccomp_profile", seccomp: profile,
                    minimumLines: 10)
    }

    private func compare(user: [String: Any], capabilities: [String: Any]?, program: String = "creds",
                         seccomp: [String: Any]? = nil, minimumLines: Int = 20, noNewPrivileges: Bool = true) throws {
        try LauncherFixture.with { f in
            var process: [String: Any] = ["terminal": false, "user": user, "args": ["/" + program], "env": ["PATH=/"], "cwd": "/",
                                          "noNewPrivileges": noNewPrivileges,
                                          "rlimits": [["type": "RLIMIT_NOFILE", "soft": 1024, "hard": 2048]]]
            if let capabilities { process["capabilities"] = capabilities }
            var linux: [String: Any] = ["namespaces": [["type": "pid"], ["type": "mount"], ["type": "uts"], ["type": "ipc"]]]
            if let seccomp { linux["seccomp"] = seccomp }
            let bundle = try f.makeBundle(config: [
                "ociVersion": "1.0.2",
                "process": process,
                "root": ["path": "rootfs", "readonly": true] as [String: Any],
                "hostname": "creds",
                "mounts": [["destination": "/proc", "type": "proc", "source": "proc"],
                           ["destination": "/tmp", "type": "tmpfs", "source": "tmpfs"]],
                "linux": linux,
            ])
            let rootfs = try f.prepareRootfs(bundle, directories: ["proc", "tmp", "mnt", "dev"])
            // runc gives a tmpfs the mode of the directory it covers.
            try FileManager.default.setAttributes([.posixPermissions: 0o1777], ofItemAtPath: rootfs.appendingPathComponent("tmp").path)
            let binary = try GuestPrograms.compile(program, into: rootfs, static: true)
            // A set-user-id root copy, for the exec rule.
            let suid = rootfs.appendingPathComponent(program + "-suid").path
            try FileManager.default.copyItem(atPath: binary, toPath: suid)
            #expect(chown(suid, 0, 0) == 0 && chmod(suid, 0o4755) == 0)

            let (nativeStatus, expected) = try f.runUnderRunc(Self.runc!, bundle: bundle, id: "creds-runc")
            let expectedStatus = seccomp == nil ? 0 : 128 + 31   // the kill rule: SIGSYS
            #expect(nativeStatus == Int32(expectedStatus), "runc: \(expected)")

            let sandbox = try f.run(["run", "--bundle", bundle, "creds-\(getpid())"], timeout: 30)
            #expect(sandbox.exitCode == nativeStatus, "\(sandbox.stderr)")
            let a = expected.split(separator: "\n", omittingEmptySubsequences: false)
            let b = sandbox.stdout.split(separator: "\n", omittingEmptySubsequences: false)
            #expect(a.count > minimumLines, "runc printed too little: \(expected)")
            if program == "creds" {
                // The set-user-id exec ran; without no_new_privs it made root the effective user.
                #expect(expected.contains(noNewPrivileges ? "after-exec: uid=1000/1000/1000" : "after-exec: uid=1000/0/0"), "\(expected)")
            }
            for i in 0..<max(a.count, b.count) {
                let x = i < a.count ? String(a[i]) : "<none>", y = i < b.count ? String(b[i]) : "<none>"
                #expect(x == y, "line \(i + 1): runc \(x) | bulwark \(y)")
            }
        }
    }
}
