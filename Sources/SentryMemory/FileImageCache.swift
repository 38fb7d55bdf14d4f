// Read-only images of host files in the memory file, shared by every address space that maps them:
// program text loaded by exec and read-only private file mappings (shared libraries' code). A hit
// costs one fstat instead of reading and copying the file, and the pages stay in memory, so a new
// process faults them in without the Sentry. The VMAs that map an image are private and `cow` (see
// VMA.cow): nothing writes to the shared pages; mprotect adding PROT_WRITE gives a VMA its own copy.
// Keyed by the file's identity and change times: a file changed since is a new entry. A file changed
// within the last two seconds is not cached at all, since its timestamps may not have ticked yet
// (coarse kernel timestamps) and a second change could then go unnoticed.
import Glibc

public final class FileImageCache: @unchecked Sendable {
    struct Key: Hashable {
        var dev: UInt64, ino: UInt64, size: Int64
        var mtimeSec: Int, mtimeNsec: Int, ctimeSec: Int, ctimeNsec: Int
        var offset: Int, length: Int
    }
    private struct Entry { var backing: Backing; var lastUse: UInt64 }

    /// Bytes of images kept at most (least recently used ones go first); BULWARK_IMAGE_CACHE_MB.
    public static let maxBytes: Int = {
        if let v = getenv("BULWARK_IMAGE_CACHE_MB"), let n = Int(String(cString: v)), n >= 0 { return n << 20 }
        return 256 << 20
    }()

    private unowned let file: MemoryFile
    private var entries: [Key: Entry] = [:]
    private var bytes = 0
    private var clock: UInt64 = 0
    private var mutex = pthread_mutex_t()
    public private(set) var hits = 0
    public private(set) var misses = 0

    init(file: MemoryFile) {
        self.file = file
        pthread_mutex_init(&mutex, nil)
    }

    /// A Backing of `length` bytes (a page multiple) holding the regular file `fd` from `offset` (a
    /// page multiple) on, zeros past its end; nil if the file may not be cached (the caller copies).
    /// The Backing must only be mapped read-only and `cow`.
    public func image(fd: Int32, offset: Int, length: Int) -> Backing? {
        guard FileImageCache.maxBytes > 0, length > 0, length <= FileImageCache.maxBytes / 4,
              offset >= 0, offset % pageSize == 0, length % pageSize == 0 else { return nil }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { return nil }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        if now.tv_sec - max(st.st_ctim.tv_sec, st.st_mtim.tv_sec) < 2 { return nil }
        let key = Key(dev: UInt64(st.st_dev), ino: UInt64(st.st_ino), size: Int64(st.st_size),
                      mtimeSec: st.st_mtim.tv_sec, mtimeNsec: st.st_mtim.tv_nsec,
                      ctimeSec: st.st_ctim.tv_sec, ctimeNsec: st.st_ctim.tv_nsec, offset: offset, length: length)
        pthread_mutex_lock(&mutex)
        clock += 1
        if var e = entries[key] {
            e.lastUse = clock
            entries[key] = e
            hits += 1
            pthread_mutex_unlock(&mutex)
            return e.backing
        }
        pthread_mutex_unlock(&mutex)
        guard let b = Backing(file: file, length: length) else { return nil }
        let want = max(0, min(length, Int(st.st_size) - offset))
        var done = 0
        while done < want {
            let n = pread(fd, file.pointer(b.offset + done), want - done, off_t(offset + done))
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return nil }
            done += n
        }
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        misses += 1
        entries[key] = Entry(backing: b, lastUse: clock)
        bytes += length
        while bytes > FileImageCache.maxBytes, let victim = entries.min(by: { $0.value.lastUse < $1.value.lastUse }) {
            // Mapped images stay alive through their VMAs; the cache only lets go of its reference.
            bytes -= victim.key.length
            entries[victim.key] = nil
        }
        return b
    }

    /// Forgets every image (mappings keep theirs).
    public func removeAll() {
        pthread_mutex_lock(&mutex)
        entries.removeAll()
        bytes = 0
        pthread_mutex_unlock(&mutex)
    }
}
