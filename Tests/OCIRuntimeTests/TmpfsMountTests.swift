// config.json tmpfs mounts (mode=, uid=, gid=, ro) inside the container: busybox run by runc and by
// bulwark from the same bundle, outputs compared.
import Foundation
import Testing
import TestSupport

@Suite("tmpfs mounts from config.json, against runc")
struct TmpfsMountTests {
    @Test(.enabled(if: ProcessIdentityTests.runc != nil, "runc is not installed (tools/install-deps installs it)"))
    func tmpfsMountsMatchRunc() throws {
        let script = """
            exec 2>&1
            stat -c '%n %a %u %g' /data /ro /data/sub 2>&1
            touch /data/x && echo data-writable
            touch /ro/y 2>/dev/null || echo ro-refused
            grep -E ' /(data|ro) ' /proc/self/mounts | cut -d' ' -f2,3
            """
        try LauncherFixture.with { f in
            let bundle = try f.makeBundle(config: [
                "ociVersion": "1.0.2",
                "process": ["terminal": false, "user": ["uid": 0, "gid": 0], "args": ["/bin/busybox", "sh", "-c", script],
                            "env": ["PATH=/bin"], "cwd": "/"] as [String: Any],
                "root": ["path": "rootfs", "readonly": true] as [String: Any],
                "mounts": [["destination": "/proc", "type": "proc", "source": "proc"],
                           ["destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=750", "uid=1000", "gid=100", "size=1m"]],
                           ["destination": "/ro", "type": "tmpfs", "source": "tmpfs", "options": ["ro"]]],
                "linux": ["namespaces": [["type": "pid"], ["type": "mount"]]],
            ])
            _ = try f.prepareRootfs(bundle, directories: ["proc", "dev"], busybox: true)
            let (nativeStatus, expected) = try f.runUnderRunc(ProcessIdentityTests.runc!, bundle: bundle, id: "tmpfs-runc")
            #expect(nativeStatus == 0, "runc: \(expected)")
            #expect(expected.contains("/data 750 1000 100"), "\(expected)")
            let sandbox = try f.run(["run", "--bundle", bundle, "tmpfs-\(getpid())"], timeout: 30)
            #expect(sandbox.exitCode == 0, "\(sandbox.stderr)")
            #expect(sandbox.stdout == expected)
        }
    }

    /// linux.sysctl values show in /proc/sys; linux.readonlyPaths makes /proc/sys refuse writes (EROFS).
    @Test(.enabled(if: ProcessIdentityTests.runc != nil, "runc is not installed (tools/install-deps installs it)"))
    func sysctlAndReadonlyPathsMatchRunc() throws {
        let script = """
            exec 2>&1
            cat /proc/sys/kernel/shmmni /proc/sys/kernel/msgmax 2>/dev/null | head -1
            echo 2000 > /proc/sys/kernel/shmmni || echo refused
            cat /proc/sys/kernel/shmmni
            """
        try LauncherFixture.with { f in
            let bundle = try f.makeBundle(config: [
                "ociVersion": "1.0.2",
                "process": ["terminal": false, "user": ["uid": 0, "gid": 0], "args": ["/bin/busybox", "sh", "-c", script],
                            "env": ["PATH=/bin"], "cwd": "/",
                            "capabilities": ["bounding": ["CAP_SYS_ADMIN"], "effective": ["CAP_SYS_ADMIN"], "permitted": ["CAP_SYS_ADMIN"]]] as [String: Any],
                "root": ["path": "rootfs", "readonly": true] as [String: Any],
                "mounts": [["destination": "/proc", "type": "proc", "source": "proc"]],
                "linux": ["namespaces": [["type": "pid"], ["type": "mount"], ["type": "ipc"]],
                          "sysctl": ["kernel.shmmni": "1000"], "readonlyPaths": ["/proc/sys"]] as [String: Any],
            ])
            _ = try f.prepareRootfs(bundle, directories: ["proc", "dev"], busybox: true)
            let (nativeStatus, expected) = try f.runUnderRunc(ProcessIdentityTests.runc!, bundle: bundle, id: "sysctl-runc")
            #expect(nativeStatus == 0, "runc: \(expected)")
            #expect(expected.hasPrefix("1000\n"), "\(expected)")
            let sandbox = try f.run(["run", "--bundle", bundle, "sysctl-\(getpid())"], timeout: 30)
            #expect(sandbox.exitCode == 0, "\(sandbox.stderr)")
            #expect(sandbox.stdout == expected)
        }
    }
}
