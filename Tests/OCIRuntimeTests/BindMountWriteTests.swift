// config.json bind mounts under the launcher: a read-write bind is served by the gofer outside the
// root's in-memory overlay, so what the container writes there is on the host afterwards; a read-only
// bind refuses writes.
import Foundation
import Testing
import TestSupport

@Suite("bulwark bind mounts")
struct BindMountWriteTests {
    @Test func writesToAReadWriteBindReachTheHost() throws {
        try LauncherFixture.with { f in
            let host = f.scratch.appendingPathComponent("hostdir")
            try FileManager.default.createDirectory(at: host, withIntermediateDirectories: true)
            try "from the host\n".write(to: host.appendingPathComponent("old"), atomically: true, encoding: .utf8)
            var config = LauncherFixture.defaultConfig(args: ["/bin/sh", "-c",
                "cat /mnt/data/old; echo written-inside > /mnt/data/new && sync; echo x > /mnt/ro/x || echo ro-refused"])
            config["root"] = ["path": "/", "readonly": true]
            config["mounts"] = [
                ["destination": "/mnt/data", "type": "bind", "source": host.path, "options": ["rbind", "rw"]],
                ["destination": "/mnt/ro", "type": "bind", "source": host.path, "options": ["rbind", "ro"]],
            ]
            let bundle = try f.makeBundle(config: config)
            let r = try f.run(["run", "--bundle", bundle, "bind1"], timeout: 60)
            #expect(r.exitCode == 0, "\(r)")
            #expect(r.stdout.contains("from the host"), "\(r)")
            #expect(r.stdout.contains("ro-refused"), "\(r)")
            let written = try? String(contentsOf: host.appendingPathComponent("new"), encoding: .utf8)
            #expect(written == "written-inside\n", "the write did not reach the host: \(r)")
            #expect(!FileManager.default.fileExists(atPath: host.appendingPathComponent("x").path))
        }
    }
}
