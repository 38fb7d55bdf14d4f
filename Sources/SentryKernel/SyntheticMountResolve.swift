// How path-based calls reach a SyntheticMount: the VFS asks these first (nil: no synthetic tree holds
// the path). Final symlinks are followed here, magic links (/proc/<pid>/fd/N, exe, cwd, root) are
// opened directly; links inside a synthetic tree (self, thread-self) are the mount's business.
import Glibc

extension MountRegistry {
    func open(_ t: Task, _ path: String, flags: Int32) -> KResult<FileDescription>? {
        guard let (fs, rel) = find(path) else { return nil }
        if flags & O_NOFOLLOW == 0, let r = fs.openMagicLink(t, rel, flags: flags) { return r }
        return fs.open(t, rel, flags: flags)
    }

    func stat(_ t: Task, _ path: String, follow: Bool, _ st: inout stat) -> Int32? {
        guard var (fs, rel) = find(path) else { return nil }
        var path = path
        for _ in 0..<8 {
            let r = fs.stat(t, rel, &st)
            if r < 0 || !follow || st.st_mode & S_IFMT != S_IFLNK { return r }
            if let magic = fs.openMagicLink(t, rel, flags: O_PATH) {
                switch magic {
                case .success(let f): return Int32(f.stat(&st))
                case .failure(let e): return -e
                }
            }
            guard case .success(let target) = fs.readlink(t, rel) else { return -EINVAL }
            let parent = path.split(separator: "/").dropLast().joined(separator: "/")
            path = BootstrapHostFS.normalize(target.hasPrefix("/") ? target : "/" + parent + "/" + target)
            guard let next = find(path) else { return t.kernel.procfsStat(t, path, &st) }
            (fs, rel) = next
        }
        return -ELOOP
    }

    func readlink(_ t: Task, _ path: String) -> KResult<[UInt8]>? {
        guard let (fs, rel) = find(path) else { return nil }
        switch fs.readlink(t, rel) {
        case .success(let s): return .success(Array(s.utf8))
        case .failure(let e): return .failure(e)
        }
    }
}
