// The only calls procfs makes into the Sentry's file layer (the VFS): opening and stat'ing a path for
// a magic link (/proc/<pid>/exe, cwd, root, fd/N) and canonicalising an executable's path.
import Glibc

extension Kernel {
    func procfsOpen(_ t: Task, _ path: String, flags: Int32) -> KResult<FileDescription> {
        vfs.open(t, at: vfs.root, path, flags: flags, mode: 0)
    }

    func procfsStat(_ t: Task, _ path: String, _ st: inout stat) -> Int32 {
        switch vfs.resolve(t, at: vfs.root, path, follow: true) {
        case .failure(let e): return -e
        case .success(let target): return vfs.stat(t, target, &st)
        }
    }

    /// stat of the directory a synthetic mount covers: not reachable through the VFS (the mount hides
    /// it), so /sys shows its own synthetic attributes.
    func procfsCoveredStat(_ path: String, _ st: inout stat) -> Int32 { -ENOENT }

    /// Lexical normalisation of an absolute path ("." and ".." components; ".." at / stays at /).
    static func procfsNormalize(_ path: String) -> String {
        var parts: [Substring] = []
        for c in path.split(separator: "/", omittingEmptySubsequences: true) {
            if c == "." { continue }
            if c == ".." { if !parts.isEmpty { parts.removeLast() }; continue }
            parts.append(c)
        }
        return "/" + parts.joined(separator: "/")
    }

    /// `path` with symlinks resolved (as /proc/<pid>/exe shows it); `path` if it does not resolve.
    func procfsCanonicalPath(_ path: String) -> String {
        if case .success(.loc(let l)) = vfs.resolve(nil, at: vfs.root, path, follow: true) { return vfs.pathOf(l) }
        return path
    }
}
