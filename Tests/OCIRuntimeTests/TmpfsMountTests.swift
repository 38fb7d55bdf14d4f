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
            let rootfs = URL(fileURLWithPath: bundle).appendingPathComponent("rootfs")
            for dir in ["proc", "bin", "dev"] {
                try FileManager.default.createDirectory(at: rootfs.appendingPathComponent(dir), withIntermediateDirectories: true)
            }
            try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: rootfs.appendingPathComponent("bin/busybox").path)
            let runcOut = f.scratch.appendingPathComponent("runc.out").path
            let runcState = f.scratch.appendingPathComponent("runc-state").path
            let native = try ProcessRunner.shell(
                "exec \(ProcessIdentityTests.runc!) --root \(shellQuote(runcState)) run --bundle \(shellQuote(bundle)) tmpfs-runc-\(getpid()) </dev/null >\(shellQuote(runcOut)) 2>&1",
                timeout: 30)
            let expected = (try? String(contentsOfFile: runcOut, encoding: .utf8)) ?? ""
            #expect(native.exitCode == 0, "runc: \(expected)")
            #expect(expected.contains("/data 750 1000 100"), "\(expected)")
            let sandbox = try f.run(["run", "--bundle", bundle, "tmpfs-\(getpid())"], timeout: 30)
            #expect(sandbox.exitCode == 0, "\(sandbox.stderr)")
            #expect(sandbox.stdout == expected)
        }
    }
}
