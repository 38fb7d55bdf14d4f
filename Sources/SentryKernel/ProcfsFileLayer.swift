// The only calls procfs makes into the Sentry's file layer: opening and stat'ing a path for a magic
// link (/proc/<pid>/exe, cwd, root, fd/N) and canonicalising an executable's path. When the file layer
// changes, only this file changes.
import Glibc

extension Kernel {
    func procfsOpen(_ t: Task, _ path: String, flags: Int32) -> KResult<FileDescription> {
        fs.open(path, flags: flags, task: t)
    }

    func procfsStat(_ t: Task, _ path: String, _ st: inout stat) -> Int32 {
        fs.stat(path, followLinks: true, &st, task: t)
    }

    /// stat of the directory a synthetic mount covers (the root file system's own /sys).
    func procfsCoveredStat(_ path: String, _ st: inout stat) -> Int32 {
        fs.stat(path, followLinks: true, &st)
    }

    static func procfsNormalize(_ path: String) -> String { BootstrapHostFS.normalize(path) }

    /// `path` with symlinks resolved inside the root (as /proc/<pid>/exe shows it); `path` if unknown.
    func procfsCanonicalPath(_ path: String) -> String {
        let fd = fs.openHost(path, flags: O_PATH)
        guard fd >= 0 else { return path }
        defer { Glibc.close(fd) }
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/fd/\(fd)", &buf, 4095)
        guard n > 0 else { return path }
        let host = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let root = config.rootfs == "/" ? "" : BootstrapHostFS.normalize(config.rootfs)
        guard host.hasPrefix(root + "/") else { return path }
        return String(host.dropFirst(root.count))
    }
}
