// A scratch state root, bundles and a stand-in Sentry for tests that run the real built `bulwark`.
import Foundation
import TestSupport

struct LauncherFixture {
    let scratch: URL
    var root: String { scratch.appendingPathComponent("state").path }
    let bulwark = TestPaths.executable("bulwark")

    static func with<T>(_ body: (LauncherFixture) throws -> T) throws -> T {
        try TestPaths.withScratchDirectory("bulwark-oci") { dir in
            let fixture = LauncherFixture(scratch: dir)
            defer { fixture.cleanUp() }
            return try body(fixture)
        }
    }

    /// Kills whatever containers a failed test left behind.
    func cleanUp() {
        let ids = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        for id in ids { _ = try? run(["delete", "--force", id]) }
    }

    /// Runs bulwark with --root set. Output goes through files (see runDetached): capturing through
    /// ProcessRunner's pipes once lost a short stdout under parallel load.
    func run(_ args: [String], globals: [String] = [], timeout: Double = 20) throws -> ProcessResult {
        try runDetached(args, globals: globals, timeout: timeout)
    }

    /// Runs bulwark with stdio on files (create leaves a supervisor holding fds 0-2, so pipes would never
    /// reach end of file).
    func runDetached(_ args: [String], globals: [String] = [], timeout: Double = 20) throws -> ProcessResult {
        let tag = UUID().uuidString.prefix(8)
        let out = scratch.appendingPathComponent("out-\(tag)").path
        let err = scratch.appendingPathComponent("err-\(tag)").path
        let line = ([bulwark, "--root", root] + globals + args).map(shellQuote).joined(separator: " ")
        var result = try ProcessRunner.shell("exec \(line) </dev/null >\(shellQuote(out)) 2>\(shellQuote(err))",
                                             timeout: timeout)
        result.stdout = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        result.stderr = (try? String(contentsOfFile: err, encoding: .utf8)) ?? ""
        return result
    }

    /// A bundle with an empty rootfs and a config.json made from `config` (see `defaultConfig`).
    func makeBundle(_ name: String = "bundle", config: [String: Any]? = nil, rawConfig: String? = nil) throws -> String {
        let dir = scratch.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("rootfs"), withIntermediateDirectories: true)
        let text: String
        if let rawConfig {
            text = rawConfig
        } else {
            let data = try JSONSerialization.data(withJSONObject: config ?? Self.defaultConfig(), options: [.prettyPrinted])
            text = String(decoding: data, as: UTF8.self)
        }
        try text.write(to: dir.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        return dir.path
    }

    static func defaultConfig(args: [String] = ["/bin/true"]) -> [String: Any] {
        [
            "ociVersion": "1.0.2",
            "process": ["terminal": false, "user": ["uid": 0, "gid": 0], "args": args,
                        "env": ["PATH=/usr/bin:/bin"], "cwd": "/"] as [String: Any],
            "root": ["path": "rootfs", "readonly": true] as [String: Any],
            "hostname": "sandbox",
            "linux": ["namespaces": [["type": "pid"], ["type": "mount"]]],
        ]
    }

    /// A stand-in for bulwark-sentry: a shell script that records its arguments and runs `body`. It lets
    /// the launcher's process topology be tested independently of the Sentry.
    func makeStandInSentry(_ body: String) throws -> String {
        let path = scratch.appendingPathComponent("stand-in-sentry-\(UUID().uuidString.prefix(6))").path
        let script = "#!/bin/sh\nprintf '%s\\n' \"$@\" > \(shellQuote(path)).args\n\(body)\n"
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        return path
    }

    /// Makes directories under the bundle's rootfs, and copies the host's static busybox to /bin when asked.
    func prepareRootfs(_ bundle: String, directories: [String], busybox: Bool = false) throws -> URL {
        let rootfs = URL(fileURLWithPath: bundle).appendingPathComponent("rootfs")
        for dir in directories + (busybox ? ["bin"] : []) {
            try FileManager.default.createDirectory(at: rootfs.appendingPathComponent(dir), withIntermediateDirectories: true)
        }
        if busybox { try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: rootfs.appendingPathComponent("bin/busybox").path) }
        return rootfs
    }

    /// Runs `bundle` under the host's runc (the reference for behaviour tests): its exit status and its
    /// stdout and stderr together, as one file.
    func runUnderRunc(_ runc: String, bundle: String, id: String) throws -> (exitCode: Int32?, output: String) {
        let out = scratch.appendingPathComponent("runc-\(id).out").path
        let state = scratch.appendingPathComponent("runc-state").path
        let r = try ProcessRunner.shell(
            "exec \(runc) --root \(shellQuote(state)) run --bundle \(shellQuote(bundle)) \(id)-\(getpid()) </dev/null >\(shellQuote(out)) 2>&1",
            timeout: 30)
        return (r.exitCode, (try? String(contentsOfFile: out, encoding: .utf8)) ?? "")
    }

    func state(_ id: String) throws -> [String: Any]? {
        let result = try run(["state", id])
        guard result.exitCode == 0 else { return nil }
        return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
    }

    func status(_ id: String) throws -> String? { try state(id)?["status"] as? String }

    /// Polls until `id` has `status` (bounded).
    func waitForStatus(_ id: String, _ status: String, seconds: Double = 5) throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try self.status(id) == status { return true }
            usleep(20_000)
        }
        return false
    }
}

func shellQuote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }
