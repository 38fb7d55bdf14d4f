// config.json bind mounts, set up by the supervisor in a private mount namespace of its own before the
// Sentry starts, so the Sentry's --rootfs view includes them (e.g. oci-run's read-only /usr and /etc).
// Other mount types (proc, tmpfs, devpts...) are the Sentry's to emulate and are not host mounts.
// Nothing propagates back to the host: the namespace is made private (MS_REC|MS_PRIVATE) first.
import Foundation
import Glibc
import HostOS

struct BindMount: Codable, Sendable {
    /// Absolute host path.
    var source: String
    /// The destination inside the container (absolute, as in config.json).
    var destination: String
    var readonly: Bool
    var recursive: Bool
}

struct BindPlan: Codable, Sendable {
    var rootfs: String
    var mounts: [BindMount]

    /// The bind mounts of `config`, with sources resolved against the bundle and checked to exist.
    static func make(config: OCIConfig, bundle: String, rootfs: String) throws(RuntimeError) -> BindPlan {
        var mounts: [BindMount] = []
        for (i, m) in config.mounts.enumerated() {
            guard m.isBind else { continue }
            guard let rawSource = m.source, !rawSource.isEmpty else {
                throw RuntimeError("config.json: mounts[\(i)].source: a bind mount needs a source")
            }
            let source = rawSource.hasPrefix("/") ? rawSource : (bundle as NSString).appendingPathComponent(rawSource)
            guard FileSystem.exists(source) else {
                throw RuntimeError("config.json: mounts[\(i)].source: \(source): no such file or directory")
            }
            mounts.append(BindMount(source: source, destination: m.destination,
                                    readonly: m.options.contains("ro"), recursive: m.options.contains("rbind")))
        }
        return BindPlan(rootfs: rootfs, mounts: mounts)
    }

    /// Runs in the supervisor: a private mount namespace, then each bind mount under the rootfs.
    func apply() throws(RuntimeError) {
        guard !mounts.isEmpty else { return }
        do {
            try Namespaces.unshare(.mount)
            try Mount.makePrivate("/")
        } catch {
            throw RuntimeError("a private mount namespace for the bind mounts", error)
        }
        for m in mounts {
            let target = try prepareTarget(for: m)
            do {
                try Mount.mount(source: m.source, target: target, type: nil,
                                flags: m.recursive ? [.bind, .recursive] : [.bind])
                if m.readonly {
                    try Mount.mount(source: nil, target: target, type: nil, flags: [.bind, .remount, .readOnly])
                }
            } catch {
                throw RuntimeError("bind mount \(m.source) on \(m.destination)", error)
            }
        }
    }

    /// The host path of `m`'s destination under the rootfs, created (directory, or empty file for a file
    /// source) if missing. No component may be a symlink: a symlink in an untrusted rootfs could otherwise
    /// point the mount anywhere on the host.
    private func prepareTarget(for m: BindMount) throws(RuntimeError) -> String {
        var path = rootfs
        let components = m.destination.split(separator: "/").map(String.init)
        for (index, component) in components.enumerated() {
            guard component != ".." else { throw RuntimeError("mount destination \(m.destination): contains ..") }
            if component == "." { continue }
            path += "/" + component
            var st = stat()
            if lstat(path, &st) == 0 {
                if (st.st_mode & S_IFMT) == S_IFLNK {
                    throw RuntimeError("mount destination \(m.destination): \(path) is a symbolic link")
                }
                continue
            }
            let last = index == components.count - 1
            var sourceIsDirectory: ObjCBool = true
            _ = FileManager.default.fileExists(atPath: m.source, isDirectory: &sourceIsDirectory)
            do {
                if last && !sourceIsDirectory.boolValue {
                    try FileSystem.open(path, flags: O_WRONLY | O_CREAT | O_EXCL, mode: 0o644).close()
                } else {
                    try FileSystem.makeDirectory(path, mode: 0o755)
                }
            } catch {
                throw RuntimeError("create mount point \(path)", error)
            }
        }
        return path
    }
}
