// /proc and /sys in the Sentry: a SyntheticMount whose contents bulwark-procfs renders from a snapshot
// of kernel state. A file's whole content is fetched at open (like Linux's seq_file), so one open +
// reads + close of /proc/self/status is one round trip; directories are listed at open; stat lists
// the parent; magic links (fd/N, exe, cwd, root) open the object itself without the server.
import Glibc
import IPC
import ProcfsServer
import Protocol

final class ProcfsMount: SyntheticMount {
    let fsType: String
    /// First component of the server's paths: "proc" or "sys".
    let root: String
    let device: UInt
    /// Listings of directories whose entries are fixed (see `stat`), by path relative to the mount.
    private var staticEntries: [String: [Procfs.ProcEntry]] = [:]

    init(sys: Bool) {
        fsType = sys ? "sysfs" : "proc"
        root = sys ? "sys" : "proc"
        device = sys ? 0x15 : 0x16
    }

    func serverPath(_ rel: String) -> String { rel.isEmpty ? root : root + "/" + rel }

    /// One request for `rel` with the snapshot it needs; kernel lock held on entry and exit.
    func request<R>(_ t: Task, _ rel: String,
                    _ body: (ProcfsClient, String, Procfs.Snapshot) throws(ProcfsClientError) -> R) -> KResult<R> {
        let k = t.kernel
        guard let conn = k.procfs.connection else { return .failure(EIO) }
        let needs = ProcfsNeeds(kernel: k, caller: t, components: rel.split(separator: "/"), isProc: root == "proc")
        let snapshot = k.procfsSnapshot(caller: t, needs: needs)
        let path = serverPath(rel)
        return conn.perform(k) { (c: ProcfsClient) throws(ProcfsClientError) -> R in try body(c, path, snapshot) }
    }

    static func split(_ rel: String) -> (parent: String, name: String) {
        guard let slash = rel.lastIndex(of: "/") else { return ("", rel) }
        return (String(rel[..<slash]), String(rel[rel.index(after: slash)...]))
    }

    // MARK: SyntheticMount

    /// The type of a per-process entry (self, thread-self, mounts, /proc/<pid>/...) known without the
    /// server, with `self` resolved in the returned path; nil when only the server knows (system files,
    /// /proc/sys, /sys). A path walk asks stat and readlink for every component: these stay local so
    /// that /proc/self/status still costs one round trip (the open).
    func localType(_ t: Task, _ rel: String) -> KResult<(type: UInt8, resolved: String)>? {
        guard root == "proc" else { return nil }
        var c = rel.split(separator: "/").map(String.init)
        guard let first = c.first else { return nil }
        let k = t.kernel
        switch first {
        case "self", "thread-self", "mounts":
            if c.count == 1 { return .success((10, rel)) }
            if first == "mounts" { return .failure(ENOTDIR) }
            c.replaceSubrange(0..<1, with: first == "self" ? [String(t.tg.pid)] : [String(t.tg.pid), "task", String(t.tid)])
        default:
            guard Int32(first) != nil else { return nil }
        }
        let resolved = c.joined(separator: "/")
        guard let pid = Int32(c[0]), let g = k.tasks[pid]?.tg ?? k.threadGroups[pid] else { return .failure(ENOENT) }
        var i = 1
        if c.count > 1 && c[1] == "task" {
            if c.count == 2 { return .success((4, resolved)) }
            guard let tid = Int32(c[2]), let task = k.tasks[tid], task.tg === g else { return .failure(ENOENT) }
            i = 3
        }
        guard i < c.count else { return .success((4, resolved)) }
        guard let type = ProcfsLayout.taskEntryType(c[i]), !(i == 3 && c[i] == "task") else { return .failure(ENOENT) }
        if i + 1 == c.count { return .success((type, resolved)) }
        guard type == 4, i + 2 == c.count else { return .failure(type == 4 ? ENOENT : ENOTDIR) }
        switch c[i] {
        case "fd", "fdinfo":
            guard let n = Int(c[i + 1]), let leader = g.threads.first, leader.fds.get(n) != nil else { return .failure(ENOENT) }
            return .success((c[i] == "fd" ? 10 : 8, resolved))
        case "ns":
            return ProcfsLayout.isNamespace(c[i + 1]) ? .success((10, resolved)) : .failure(ENOENT)
        default:
            return nil   // task/<tid> handled above
        }
    }

    func stat(_ t: Task, _ rel: String, _ st: inout stat) -> Int32 {
        if let local = localType(t, rel) {
            switch local {
            case .failure(let e): return -e
            case .success(let (type, resolved)):
                if type == 10, let mode = fdLinkMode(t, resolved) {
                    fill(&st, type: 10, inode: 0, t: t, rel: resolved)
                    st.st_mode = S_IFLNK | mode
                    st.st_size = 64
                    return 0
                }
                fill(&st, type: type, inode: ProcfsLayout.inode(serverPath(resolved)), t: t, rel: resolved)
                return 0
            }
        }
        if rel.isEmpty {
            fill(&st, type: 4, inode: 1, t: t, rel: rel)
            return 0
        }
        if let fdLink = fdLinkMode(t, rel) {
            fill(&st, type: 10, inode: 0, t: t, rel: rel)
            st.st_mode = S_IFLNK | fdLink
            st.st_size = 64
            return 0
        }
        let (parent, name) = Self.split(rel)
        if let cached = staticEntries[parent], Int32(name) == nil {
            guard let e = cached.first(where: { $0.name == name }) else { return -ENOENT }
            fill(&st, type: e.type, inode: e.inode, t: t, rel: rel)
            return 0
        }
        let pid = t.tg.pid, tid = t.tid
        switch request(t, parent, { (c, path, snap) throws(ProcfsClientError) in try c.list(path, pid: pid, tid: tid, snapshot: snap) }) {
        case .failure(let e): return -e
        case .success(let entries):
            if root == "sys" || parent == "" || parent == "sys" || parent.hasPrefix("sys/") {
                // The shape of /sys, /proc/sys and /proc's fixed files never changes: later walks
                // through them stat from here (process directories are never taken from the cache).
                staticEntries[parent] = entries.filter { Int32($0.name) == nil }
            }
            guard let e = entries.first(where: { $0.name == name }) else { return -ENOENT }
            fill(&st, type: e.type, inode: e.inode, t: t, rel: rel)
            return 0
        }
    }

    func list(_ t: Task, _ rel: String) -> KResult<[Procfs.ProcEntry]> {
        let pid = t.tg.pid, tid = t.tid
        return request(t, rel, { (c, path, snap) throws(ProcfsClientError) in try c.list(path, pid: pid, tid: tid, snapshot: snap) })
    }

    func readlink(_ t: Task, _ rel: String) -> KResult<String> {
        let pid = t.tg.pid, tid = t.tid
        if root == "proc" && rel == "self" { return .success(String(pid)) }
        if root == "proc" && rel == "thread-self" { return .success("\(pid)/task/\(tid)") }
        // The caller's own /proc/<pid>/exe (what the server would answer, from the same record): static
        // glibc reads it at every start, which would otherwise start the deferred procfs server.
        if root == "proc" && (rel == "\(pid)/exe" || rel == "self/exe") {
            let rec = t.kernel.procfs.record(t.tg)
            return .success(rec.exe.isEmpty ? t.tg.name : rec.exe)
        }
        switch request(t, rel, { (c, path, snap) throws(ProcfsClientError) in try c.read(path, pid: pid, tid: tid, snapshot: snap) }) {
        case .failure(let e): return .failure(e == EISDIR ? EINVAL : e)
        case .success(.link(let target)): return .success(target)
        case .success(.content): return .failure(EINVAL)
        }
    }

    func open(_ t: Task, _ rel: String, flags: Int32) -> KResult<FileDescription> {
        if let mem = openMem(t, rel, flags: flags) { return mem }
        var rel = rel
        let pid = t.tg.pid, tid = t.tid
        for _ in 0..<8 {
            let wantsWrite = flags & O_ACCMODE_ != O_RDONLY
            switch request(t, rel, { (c, path, snap) throws(ProcfsClientError) in try c.read(path, pid: pid, tid: tid, snapshot: snap) }) {
            case .success(.content(let bytes)):
                if flags & O_DIRECTORY != 0 { return .failure(ENOTDIR) }
                if wantsWrite, let e = writeDenied(t, rel) { return .failure(e) }
                return .success(ProcfsFile(mount: self, rel: rel, data: bytes, flags: flags))
            case .success(.link(let target)):
                if flags & O_NOFOLLOW != 0 && flags & O_PATH == 0 { return .failure(ELOOP) }
                if target.hasPrefix("/") { return t.kernel.procfsOpen(t, target, flags: flags) }
                rel = Kernel.procfsNormalize("/" + Self.split(rel).parent + "/" + target).dropFirst().description
                if let magic = openMagicLink(t, rel, flags: flags) { return magic }
            case .failure(EISDIR):
                if wantsWrite { return .failure(EISDIR) }
                // Pin "self" to the opener, so whoever reads the descriptor later lists the same directory.
                var c = rel.split(separator: "/").map(String.init)
                if c.first == "self" { c[0] = String(pid) }
                else if c.first == "thread-self" { c.replaceSubrange(0..<1, with: [String(pid), "task", String(tid)]) }
                rel = c.joined(separator: "/")
                var st = Glibc.stat()
                fill(&st, type: 4, inode: rel.isEmpty ? 1 : 0, t: t, rel: rel)
                return .success(ProcfsDirectory(mount: self, rel: rel, opener: t, stat: st, flags: flags))
            case .failure(let e):
                return .failure(e)
            }
        }
        return .failure(ELOOP)
    }

    /// /proc/<pid>[/task/<tid>]/mem (ProcfsMemUnsafe.swift): root or the target's own uid.
    func openMem(_ t: Task, _ rel: String, flags: Int32) -> KResult<FileDescription>? {
        guard root == "proc" else { return nil }
        let c = rel.split(separator: "/")
        guard c.last == "mem", c.count == 2 || (c.count == 4 && c[1] == "task") else { return nil }
        let needs = ProcfsNeeds(kernel: t.kernel, caller: t, components: c, isProc: true)
        guard let g = needs.target else { return .failure(ENOENT) }
        var task = g.threads.first
        if c.count == 4 {
            guard let tid = Int32(c[2]), let th = t.kernel.tasks[tid], th.tg === g else { return .failure(ENOENT) }
            task = th
        }
        guard let target = task, !g.zombie else { return .failure(ENOENT) }
        guard t.tg.cred.has(Cap.sysPtrace) || t.tg.uid == g.uid else { return .failure(EACCES) }
        if flags & O_DIRECTORY != 0 { return .failure(ENOTDIR) }
        return .success(ProcfsMemFile(mm: target.mm, path: "/" + serverPath(rel), flags: flags))
    }

    /// Magic links: /proc/<pid>[/task/<tid>]/{exe,cwd,root,fd/N} open what they stand for.
    func openMagicLink(_ t: Task, _ rel: String, flags: Int32) -> KResult<FileDescription>? {
        guard root == "proc" else { return nil }
        var c = rel.split(separator: "/")
        guard c.count >= 2 else { return nil }
        let name = c.count >= 2 && c[c.count - 2] == "fd" ? "fd" : String(c.last!)
        guard ["exe", "cwd", "root", "fd"].contains(name) else { return nil }
        let fdNumber: Int? = name == "fd" ? Int(c.removeLast()) : nil
        c.removeLast()   // the name
        if name == "fd" && fdNumber == nil { return nil }
        let k = t.kernel
        var target: Task?
        switch c.first! {
        case "self", "thread-self": target = t
        default:
            guard let n = Int32(c.first!) else { return nil }
            target = k.tasks[n] ?? k.threadGroups[n]?.threads.first
        }
        if c.count == 3 && c[1] == "task", let tid = Int32(c[2]) {
            target = k.tasks[tid].flatMap { $0.tg === target?.tg ? $0 : nil }
        } else if c.count != 1 {
            return nil
        }
        guard let task = target else { return .failure(ENOENT) }
        switch name {
        case "exe": return k.procfsOpen(t, task.tg.name, flags: flags & ~O_DIRECTORY)
        case "cwd": return k.procfsOpen(t, task.fsctx.cwd, flags: flags)
        case "root": return k.procfsOpen(t, "/", flags: flags)
        default:
            guard let n = fdNumber, let f = task.fds.get(n) else { return .failure(ENOENT) }
            // Linux opens the file anew: a fresh description (own offset) for files with a path,
            // a new end of the same pipe, and the same object for everything else.
            if let p = f as? PipeEnd { return .success(PipeEnd(p.pipe, reader: flags & O_ACCMODE_ != O_WRONLY, flags: flags)) }
            // An unlinked file (O_TMPFILE, or deleted while open) has no path to reopen by: its
            // location is the same object (linkat(AT_SYMLINK_FOLLOW) names an O_TMPFILE this way).
            if let l = f.location, l.dentry.dead { return k.vfs.openLocation(t, l, flags: flags) }
            if let path = f.path, f is HostFile || f is TmpfsFile || f is PathFile || f is VDirFile || f is ProcfsFile || f is ProcfsDirectory {
                return k.procfsOpen(t, path, flags: flags)
            }
            return .success(f)
        }
    }

    // MARK: writes

    /// Whether `rel` may be opened for writing by `t` (Linux's file modes: comm and oom_score_adj of
    /// one's own uid, /proc/sys for root).
    func writeDenied(_ t: Task, _ rel: String) -> Int32? {
        guard root == "proc" else { return EACCES }
        // config.json linux.readonlyPaths (Docker: /proc/sys, /proc/sysrq-trigger, ...): read-only mounts.
        let full = "/proc/" + rel
        if t.kernel.config.readonlyPaths.contains(where: { full == $0 || full.hasPrefix($0 + "/") }) { return EROFS }
        let c = rel.split(separator: "/")
        if c.first == "sys" { return t.tg.uid == 0 ? nil : EACCES }   // file mode 0644 owned by root
        guard let last = c.last, last == "comm" || last == "oom_score_adj" else { return EACCES }
        let needs = ProcfsNeeds(kernel: t.kernel, caller: t, components: c, isProc: true)
        guard let g = needs.target else { return ENOENT }
        return t.tg.cred.has(Cap.sysPtrace) || g.uid == t.tg.uid ? nil : EACCES
    }

    /// A write to an open /proc file: the server validates, the Sentry stores.
    func write(_ t: Task, _ rel: String, _ data: [UInt8]) -> Int {
        let pid = t.tg.pid, tid = t.tid
        switch request(t, rel, { (c, path, snap) throws(ProcfsClientError) in try c.write(path, data: data, pid: pid, tid: tid, snapshot: snap) }) {
        case .failure(let e): return -Int(e)
        case .success(let r):
            let k = t.kernel
            switch r.key {
            case "comm":
                guard let task = k.tasks[r.targetPID] else { return -Int(ESRCH) }
                task.threadName = r.value
            case "oom_score_adj":
                guard let task = k.tasks[r.targetPID] else { return -Int(ESRCH) }
                k.procfs.update(task.tg) { $0.oomScoreAdj = Int32(r.value) ?? 0 }
            case "kernel/hostname": k.hostname = r.value
            case "kernel/domainname": k.domainname = r.value
            default: k.procfs.tunables[r.key] = r.value
            }
            return data.count
        }
    }

    // MARK: stat

    /// /proc/<pid>/fd/N is lr-x------, l-wx------ or lrwx------ after the descriptor's access mode
    /// (nil: not an existing fd link).
    func fdLinkMode(_ t: Task, _ rel: String) -> UInt32? {
        let c = rel.split(separator: "/")
        guard root == "proc", c.count >= 3, c[c.count - 2] == "fd", let n = Int(c.last!) else { return nil }
        let needs = ProcfsNeeds(kernel: t.kernel, caller: t, components: c, isProc: true)
        guard let g = needs.target, let task = g.threads.first, let f = task.fds.get(n) else { return nil }
        return (f.readable ? 0o500 : 0o100) | (f.writable ? 0o200 : 0)
    }

    func fill(_ st: inout stat, type: UInt8, inode: UInt64, t: Task?, rel: String) {
        // /sys keeps the attributes of the directory it covers (as the bootstrap file system showed them
        // before /sys was served). Not /proc: its link count would tell the host's process count.
        if rel.isEmpty, root == "sys", let t, t.kernel.procfsCoveredStat("/sys", &st) == 0, st.st_mode & S_IFMT == S_IFDIR {
            st.st_dev = device
            return
        }
        st = Glibc.stat()
        st.st_dev = device
        st.st_ino = UInt(inode == 0 ? ProcfsMount.inode(serverPath(rel)) : inode)
        switch type {
        case 4: st.st_mode = S_IFDIR | 0o555; st.st_nlink = 2
        case 10: st.st_mode = S_IFLNK | 0o777; st.st_nlink = 1
        default:
            let last = rel.split(separator: "/").last ?? ""
            let writable = last == "comm" || last == "oom_score_adj" || (root == "proc" && rel.hasPrefix("sys/"))
            st.st_mode = S_IFREG | (last == "mem" && root == "proc" ? 0o600 : (writable ? 0o644 : 0o444))
            st.st_nlink = 1
        }
        // Per-process entries belong to the process's owner.
        if let t, case let needs = ProcfsNeeds(kernel: t.kernel, caller: t, components: rel.split(separator: "/"), isProc: root == "proc"),
           let g = needs.target, rel.split(separator: "/").count > 1 || Int32(rel) != nil {
            st.st_uid = g.uid; st.st_gid = g.gid
        }
        st.st_blksize = 1024
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        st.st_atim = now; st.st_mtim = now; st.st_ctim = now
    }

    /// Same scheme as the server's inodes (FNV-1a of the path), for entries reached without a listing.
    static func inode(_ path: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in path.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return (h & 0x7fff_ffff) | 0x1000
    }
}

extension Kernel {
    /// Mounts /proc and /sys. `channelFD`: a connected channel to bulwark-procfs from the launcher;
    /// nil: the Sentry starts the server itself on first use (and again after a failure).
    func installProcfs(channelFD: Int32?) {
        procfs.connection = ProcfsConnection(channelFD: channelFD, timeout: .milliseconds(1500), log: { [unowned self] in self.log($0) })
        mounts.mount(ProcfsMount(sys: false), at: "/proc")
        mounts.mount(ProcfsMount(sys: true), at: "/sys")
    }
}
