// An in-memory tmpfs mounted at /tmp (over the read-only bootstrap file system): directories, regular
// files and symlinks kept in the Sentry. Lost when the sandbox exits.
import Glibc

final class TmpfsNode {
    enum Kind { case dir, file, symlink }
    let kind: Kind
    var data: [UInt8] = []
    var children: [String: TmpfsNode] = [:]
    var mode: UInt32
    let ino: UInt
    var uid: UInt32 = 0, gid: UInt32 = 0
    var mtime = timespec(), ctime = timespec(), atime = timespec()
    var nlink: Int = 1
    weak var parent: TmpfsNode?
    nonisolated(unsafe) static var nextIno: UInt = 2

    init(kind: Kind, mode: UInt32) {
        self.kind = kind
        self.mode = mode
        ino = TmpfsNode.nextIno
        TmpfsNode.nextIno += 1
        touch()
        if kind == .dir { nlink = 2 }
    }

    func touch() {
        clock_gettime(CLOCK_REALTIME, &mtime)
        ctime = mtime
        atime = mtime
    }

    func fillStat(_ st: inout stat) {
        st = Glibc.stat()
        st.st_dev = 0x2f
        st.st_ino = ino
        st.st_nlink = UInt(nlink)
        let type: UInt32 = kind == .dir ? S_IFDIR : (kind == .file ? S_IFREG : S_IFLNK)
        st.st_mode = type | (mode & 0o7777)
        st.st_uid = uid
        st.st_gid = gid
        st.st_size = kind == .dir ? 4096 : data.count
        st.st_blksize = 4096
        st.st_blocks = (data.count + 511) / 512
        st.st_atim = atime
        st.st_mtim = mtime
        st.st_ctim = ctime
    }
}

final class Tmpfs {
    static let mountPoint = "/tmp"
    let root = TmpfsNode(kind: .dir, mode: 0o1777)

    static func contains(_ path: String) -> Bool { path == mountPoint || path.hasPrefix(mountPoint + "/") }

    /// Components below the mount point.
    func components(_ path: String) -> [String] {
        path.dropFirst(Tmpfs.mountPoint.count).split(separator: "/").map(String.init)
    }

    /// Looks up a path; follows symlinks in intermediate components (and the last if `follow`).
    func lookup(_ path: String, follow: Bool = true, depth: Int = 0) -> KResult<TmpfsNode> {
        if depth > 8 { return .failure(ELOOP) }
        var node = root
        let comps = components(path)
        for (i, c) in comps.enumerated() {
            guard node.kind == .dir else { return .failure(ENOTDIR) }
            guard let next = node.children[c] else { return .failure(ENOENT) }
            if next.kind == .symlink && (follow || i < comps.count - 1) {
                let target = String(decoding: next.data, as: UTF8.self)
                let base = Tmpfs.mountPoint + "/" + comps[0..<i].joined(separator: "/")
                let abs = BootstrapHostFS.normalize(target.hasPrefix("/") ? target : base + "/" + target)
                guard Tmpfs.contains(abs) else { return .failure(EXDEV) }   // links leaving /tmp: not supported
                let rest = comps[(i + 1)...].joined(separator: "/")
                return lookup(rest.isEmpty ? abs : abs + "/" + rest, follow: follow, depth: depth + 1)
            }
            node = next
        }
        return .success(node)
    }

    /// The parent directory and final name of a path.
    func parentOf(_ path: String) -> KResult<(TmpfsNode, String)> {
        var comps = components(path)
        guard let name = comps.popLast() else { return .failure(EEXIST) }
        switch lookup(Tmpfs.mountPoint + "/" + comps.joined(separator: "/")) {
        case .failure(let e): return .failure(e)
        case .success(let dir):
            guard dir.kind == .dir else { return .failure(ENOTDIR) }
            return .success((dir, name))
        }
    }

    func open(_ path: String, flags: Int32, mode: UInt32, uid: UInt32, gid: UInt32) -> KResult<FileDescription> {
        var node: TmpfsNode
        switch lookup(path, follow: flags & O_NOFOLLOW == 0) {
        case .success(let n):
            if flags & O_CREAT != 0 && flags & O_EXCL != 0 { return .failure(EEXIST) }
            node = n
        case .failure(let e):
            guard e == ENOENT, flags & O_CREAT != 0 else { return .failure(e) }
            switch parentOf(path) {
            case .failure(let e2): return .failure(e2)
            case .success(let (dir, name)):
                node = TmpfsNode(kind: .file, mode: mode)
                node.uid = uid; node.gid = gid
                node.parent = dir
                dir.children[name] = node
                dir.touch()
            }
        }
        if node.kind == .symlink { return .failure(ELOOP) }
        let acc = flags & O_ACCMODE_
        if node.kind == .dir && (acc != O_RDONLY || flags & O_TRUNC != 0) { return .failure(EISDIR) }
        if flags & O_DIRECTORY != 0 && node.kind != .dir { return .failure(ENOTDIR) }
        if flags & O_TRUNC != 0 && acc != O_RDONLY { node.data.removeAll(); node.touch() }
        let f = TmpfsFile(node: node, flags: flags)
        f.path = path
        return .success(f)
    }

    func mkdir(_ path: String, mode: UInt32) -> Int32 {
        if case .success = lookup(path, follow: false) { return -EEXIST }
        switch parentOf(path) {
        case .failure(let e): return -e
        case .success(let (dir, name)):
            let n = TmpfsNode(kind: .dir, mode: mode)
            n.parent = dir
            dir.children[name] = n
            dir.nlink += 1
            dir.touch()
            return 0
        }
    }

    func unlink(_ path: String, dir wantDir: Bool) -> Int32 {
        switch parentOf(path) {
        case .failure(let e): return -e
        case .success(let (dir, name)):
            guard let n = dir.children[name] else { return -ENOENT }
            if wantDir {
                guard n.kind == .dir else { return -ENOTDIR }
                guard n.children.isEmpty else { return -ENOTEMPTY }
                dir.nlink -= 1
            } else if n.kind == .dir { return -EISDIR }
            dir.children[name] = nil
            n.nlink -= 1
            dir.touch()
            return 0
        }
    }

    func rename(_ from: String, _ to: String) -> Int32 {
        guard case .success(let (sdir, sname)) = parentOf(from) else { return -ENOENT }
        guard let node = sdir.children[sname] else { return -ENOENT }
        switch parentOf(to) {
        case .failure(let e): return -e
        case .success(let (ddir, dname)):
            if let existing = ddir.children[dname] {
                if existing === node { return 0 }
                if existing.kind == .dir && (node.kind != .dir || !existing.children.isEmpty) { return -(node.kind == .dir ? ENOTEMPTY : EISDIR) }
                if node.kind == .dir && existing.kind != .dir { return -ENOTDIR }
            }
            sdir.children[sname] = nil
            ddir.children[dname] = node
            node.parent = ddir
            sdir.touch(); ddir.touch()
            return 0
        }
    }

    func symlink(_ target: String, _ path: String) -> Int32 {
        if case .success = lookup(path, follow: false) { return -EEXIST }
        switch parentOf(path) {
        case .failure(let e): return -e
        case .success(let (dir, name)):
            let n = TmpfsNode(kind: .symlink, mode: 0o777)
            n.data = Array(target.utf8)
            dir.children[name] = n
            return 0
        }
    }
}

final class TmpfsFile: FileDescription {
    let node: TmpfsNode
    var offset = 0
    init(node: TmpfsNode, flags: Int32) {
        self.node = node
        super.init(flags: flags)
    }
    override var isDirectory: Bool { node.kind == .dir }

    override func read(_ t: Task, _ buf: UnsafeMutableRawBufferPointer) -> Int {
        let n = pread(t, buf, offset)
        if n > 0 { offset += n }
        return n
    }
    override func pread(_ t: Task, _ buf: UnsafeMutableRawBufferPointer, _ off: Int) -> Int {
        if node.kind == .dir { return -Int(EISDIR) }
        guard off < node.data.count else { return 0 }
        let n = min(buf.count, node.data.count - off)
        node.data.withUnsafeBytes { memcpy(buf.baseAddress!, $0.baseAddress! + off, n) }
        return n
    }
    override func write(_ t: Task, _ buf: UnsafeRawBufferPointer) -> Int {
        if statusFlags & O_APPEND != 0 { offset = node.data.count }
        let n = pwrite(t, buf, offset)
        if n > 0 { offset += n }
        return n
    }
    override func pwrite(_ t: Task, _ buf: UnsafeRawBufferPointer, _ off: Int) -> Int {
        guard off + buf.count <= 1 << 30 else { return -Int(EFBIG) }
        if node.data.count < off + buf.count { node.data.append(contentsOf: [UInt8](repeating: 0, count: off + buf.count - node.data.count)) }
        node.data.withUnsafeMutableBytes { if buf.count > 0 { memcpy($0.baseAddress! + off, buf.baseAddress!, buf.count) } }
        clock_gettime(CLOCK_REALTIME, &node.mtime)
        return buf.count
    }
    override func seek(_ off: Int, _ whence: Int32) -> Int {
        var n: Int
        switch whence {
        case SEEK_SET: n = off
        case SEEK_CUR: n = offset + off
        case SEEK_END: n = node.data.count + off
        default: return -Int(EINVAL)
        }
        if n < 0 { return -Int(EINVAL) }
        offset = n
        return n
    }
    override func stat(_ st: inout stat) -> Int { node.fillStat(&st); return 0 }
    func truncate(_ len: Int) -> Int {
        if node.kind != .file { return -Int(EINVAL) }
        if len < node.data.count { node.data.removeSubrange(len...) }
        else { node.data.append(contentsOf: [UInt8](repeating: 0, count: len - node.data.count)) }
        node.touch()
        return 0
    }

    override func getdents(_ buf: UnsafeMutableRawBufferPointer) -> Int {
        guard node.kind == .dir else { return -Int(ENOTDIR) }
        var entries: [(String, UInt, UInt8)] = [(".", node.ino, 4), ("..", node.parent?.ino ?? node.ino, 4)]
        for (name, c) in node.children.sorted(by: { $0.key < $1.key }) {
            entries.append((name, c.ino, c.kind == .dir ? 4 : (c.kind == .file ? 8 : 10)))
        }
        var written = 0
        while offset < entries.count {
            let (name, ino, type) = entries[offset]
            let nameBytes = Array(name.utf8)
            let reclen = (19 + nameBytes.count + 1 + 7) & ~7
            if written + reclen > buf.count { break }
            let p = buf.baseAddress! + written
            memset(p, 0, reclen)
            p.storeBytes(of: UInt64(ino), as: UInt64.self)
            p.storeBytes(of: Int64(offset + 1), toByteOffset: 8, as: Int64.self)
            p.storeBytes(of: UInt16(reclen), toByteOffset: 16, as: UInt16.self)
            p.storeBytes(of: type, toByteOffset: 18, as: UInt8.self)
            nameBytes.withUnsafeBytes { memcpy(p + 19, $0.baseAddress!, nameBytes.count) }
            written += reclen
            offset += 1
        }
        if written == 0 && offset < entries.count { return -Int(EINVAL) }
        return written
    }
}
