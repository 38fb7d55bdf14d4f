// Open /proc and /sys files: the content fetched at open, served by read/pread/lseek without further
// requests (as Linux's seq_file serves a snapshot taken at the first read); writes go to the server.
import Glibc
import Protocol

final class ProcfsFile: FileDescription {
    let mount: ProcfsMount
    let rel: String
    private let data: [UInt8]
    private var offset = 0

    init(mount: ProcfsMount, rel: String, data: [UInt8], flags: Int32) {
        self.mount = mount
        self.rel = rel
        self.data = data
        super.init(flags: flags)
        path = "/" + mount.serverPath(rel)
    }

    private func copy(_ buf: UnsafeMutableRawBufferPointer, from off: Int) -> Int {
        guard off < data.count else { return 0 }
        let n = min(buf.count, data.count - off)
        buf.copyBytes(from: data[off..<(off + n)])
        return n
    }

    override func read(_ t: Task, _ buf: UnsafeMutableRawBufferPointer) -> Int {
        let n = copy(buf, from: offset)
        offset += n
        return n
    }

    override func pread(_ t: Task, _ buf: UnsafeMutableRawBufferPointer, _ off: Int) -> Int { copy(buf, from: off) }

    override func write(_ t: Task, _ buf: UnsafeRawBufferPointer) -> Int { mount.write(t, rel, Array(buf)) }
    override func pwrite(_ t: Task, _ buf: UnsafeRawBufferPointer, _ off: Int) -> Int { mount.write(t, rel, Array(buf)) }

    override func seek(_ off: Int, _ whence: Int32) -> Int {
        let base: Int
        switch whence {
        case SEEK_SET: base = 0
        case SEEK_CUR: base = offset
        case SEEK_END: base = data.count
        default: return -Int(EINVAL)
        }
        let (n, overflow) = base.addingReportingOverflow(off)
        guard !overflow, n >= 0 else { return -Int(EINVAL) }
        offset = n
        return n
    }

    override func stat(_ st: inout stat) -> Int {
        var s = Glibc.stat()
        mount.fill(&s, type: 8, inode: 0, t: nil, rel: rel)
        st = s
        return 0
    }

    override func poll(_ events: Int16) -> Int16 { events & (POLLIN_ | POLLOUT_) }
}

/// A directory: listed at the first getdents (as Linux reads it then, so /proc/self/fd shows the
/// directory's own descriptor) and again after a rewind.
final class ProcfsDirectory: FileDescription {
    let mount: ProcfsMount
    let rel: String
    /// The task that opened it: its view of the tree is listed ("self" is already resolved in `rel`).
    private weak var opener: Task?
    private var entries: [Procfs.ProcEntry]? = nil
    private let st: Glibc.stat
    /// Index of the next entry getdents returns (0 and 1 are "." and "..").
    private var position = 0

    init(mount: ProcfsMount, rel: String, opener: Task, stat: Glibc.stat, flags: Int32) {
        self.mount = mount
        self.rel = rel
        self.opener = opener
        self.st = stat
        super.init(flags: flags)
        path = "/" + mount.serverPath(rel)
    }

    override var isDirectory: Bool { true }

    override func read(_ t: Task, _ buf: UnsafeMutableRawBufferPointer) -> Int { -Int(EISDIR) }

    override func seek(_ off: Int, _ whence: Int32) -> Int {
        guard whence == SEEK_SET || (whence == SEEK_CUR && off == 0) else { return -Int(EINVAL) }
        let target = whence == SEEK_SET ? off : position
        guard target >= 0 else { return -Int(EINVAL) }
        if target == 0 { entries = nil }   // rewinddir lists afresh
        position = target
        return position
    }

    override func stat(_ st: inout stat) -> Int { st = self.st; return 0 }

    /// linux_dirent64 records: d_ino, d_off (the next position), d_reclen, d_type, name, NUL, padding.
    override func getdents(_ buf: UnsafeMutableRawBufferPointer) -> Int {
        if entries == nil {
            guard let t = opener else { return -Int(ENOENT) }
            switch mount.list(t, rel) {
            case .success(let e): entries = e
            case .failure(let e): return -Int(e)
            }
        }
        let entries = self.entries ?? []
        var out: [UInt8] = []
        while position < entries.count + 2 {
            let (name, type, ino): (String, UInt8, UInt64)
            switch position {
            case 0: (name, type, ino) = (".", 4, UInt64(st.st_ino))
            case 1: (name, type, ino) = ("..", 4, 1)
            default:
                let e = entries[position - 2]
                (name, type, ino) = (e.name, e.type, e.inode)
            }
            let nameBytes = Array(name.utf8)
            let reclen = (19 + nameBytes.count + 1 + 7) & ~7
            if out.count + reclen > buf.count {
                if out.isEmpty { return -Int(EINVAL) }
                break
            }
            withUnsafeBytes(of: ino.littleEndian) { out += $0 }
            withUnsafeBytes(of: Int64(position + 1).littleEndian) { out += $0 }
            withUnsafeBytes(of: UInt16(reclen).littleEndian) { out += $0 }
            out.append(type)
            out += nameBytes
            out += [UInt8](repeating: 0, count: reclen - 19 - nameBytes.count)
            position += 1
        }
        buf.copyBytes(from: out)
        return out.count
    }
}
