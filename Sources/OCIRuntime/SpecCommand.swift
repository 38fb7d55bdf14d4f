// `bulwark spec`: writes a default config.json (the same shape as `runc spec`) into the bundle directory.
import ArgumentParser
import Foundation
import HostOS

struct SpecCommand: RuntimeCommand {
    static let configuration = CommandConfiguration(commandName: "spec", abstract: "Write a new config.json.")

    @OptionGroup var globals: GlobalOptions

    @Option(name: [.short, .long], help: "Directory to write config.json into (default: the current directory).")
    var bundle: String?

    func execute() throws(RuntimeError) -> Int32 {
        let directory = bundle ?? FileManager.default.currentDirectoryPath
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw RuntimeError("chdir \(directory): no such file or directory")
        }
        let path = (directory as NSString).appendingPathComponent("config.json")
        guard !FileSystem.exists(path) else { throw RuntimeError("File config.json exists. Remove it first") }
        do {
            try FileSystem.writeAtomically(path, Array(Self.defaultSpec(rootless: globals.rootless).utf8), mode: 0o644)
        } catch {
            throw RuntimeError("write \(path)", error)
        }
        return 0
    }

    static func defaultSpec(rootless: Bool) -> String {
        let caps = "[\"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\"]"
        let namespaces = (rootless ? ["pid", "ipc", "uts", "mount", "user"] : ["pid", "network", "ipc", "uts", "mount"])
            .map { "{\"type\": \"\($0)\"}" }.joined(separator: ", ")
        let masked = ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                      "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"]
        let readonly = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        func list(_ items: [String]) -> String { "[" + items.map { JSONText.quote($0) }.joined(separator: ", ") + "]" }
        return """
        {
          "ociVersion": "\(ociVersion)",
          "process": {
            "terminal": true,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {
              "bounding": \(caps),
              "effective": \(caps),
              "permitted": \(caps),
              "ambient": \(caps)
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
          },
          "root": {"path": "rootfs", "readonly": true},
          "hostname": "bulwark",
          "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]}
          ],
          "linux": {
            "namespaces": [\(namespaces)],
            "maskedPaths": \(list(masked)),
            "readonlyPaths": \(list(readonly))
          }
        }

        """
    }
}
