// /proc/<pid>/mem and /proc/<pid>/task/<tid>/mem: the process's memory through the Sentry's memory
// access (the memory file), at file offset = address. Opened by the Sentry itself (never the server).
// Permission (Linux's PTRACE_MODE_ATTACH, simplified for a sandbox without ptrace): root, or the same
// uid as the target. Reads ignore page protections like Linux's FOLL_FORCE (PROT_NONE and execute-only
// pages read); so do writes since session 9: a private page without write permission first gets a
// copy of its own (AddressSpace.prepareForcedWrite), as Linux breaks copy-on-write, so memory shared
// since fork or through the file image cache never changes behind another process's back; shared
// read-only and past-end pages are EIO. A read or write stops at the first unmapped page; none at all
// is EIO. Reads show the original bytes of syscall sites the Sentry patched, and a write to a patched
// page lands on a copy with the original bytes back (session 9).
import Glibc
import SentryMemory

final class ProcfsMemFile: FileDescription {
    /// The target's address space, kept while open (Linux pins the mm at open too).
    private let mm: AddressSpace
    private var offset: UInt64 = 0
    private let display: String

    init(mm: AddressSpace, path: String, flags: Int32) {
        self.mm = mm
        self.display = path
        super.init(flags: flags)
        self.path = path
    }

    /// Copies page by page so that a hole ends the transfer instead of failing all of it.
    /// SAFETY: `withPieces` hands out pointers into the memory file mapping that stay valid for the
    /// body's duration (kernel lock held); `buf` is the caller's scratch buffer of at least `n` bytes.
    private func transfer(_ addr: UInt64, _ buf: UnsafeMutableRawPointer, _ n: Int, write: Bool) -> Int {
        var done = 0
        while done < n {
            let a = addr &+ UInt64(done)
            if a < addr { break }   // wrapped past the top of the address space
            let chunk = min(n - done, 4096 - Int(a & 4095))
            if write && !mm.prepareForcedWrite(a, chunk) { break }
            let ok = mm.withPieces(a, chunk, needProt: 0) { p, len, off in
                if write { memcpy(p, buf + done + off, len) } else { memcpy(buf + done + off, p, len) }
            }
            if !ok { break }
            // Patched syscall sites read as the program's own bytes (PlatformGlue.swift).
            if !write { mm.restorePatchedBytes(a, buf + done, chunk) }
            done += chunk
        }
        return done == 0 && n > 0 ? -Int(EIO) : done
    }

    override func pread(_ t: Task, _ buf: UnsafeMutableRawBufferPointer, _ off: Int) -> Int {
        transfer(UInt64(bitPattern: Int64(off)), buf.baseAddress!, buf.count, write: false)
    }

    override func read(_ t: Task, _ buf: UnsafeMutableRawBufferPointer) -> Int {
        let r = transfer(offset, buf.baseAddress!, buf.count, write: false)
        if r > 0 { offset &+= UInt64(r) }
        return r
    }

    override func pwrite(_ t: Task, _ buf: UnsafeRawBufferPointer, _ off: Int) -> Int {
        transfer(UInt64(bitPattern: Int64(off)), UnsafeMutableRawPointer(mutating: buf.baseAddress!), buf.count, write: true)
    }

    override func write(_ t: Task, _ buf: UnsafeRawBufferPointer) -> Int {
        let r = transfer(offset, UnsafeMutableRawPointer(mutating: buf.baseAddress!), buf.count, write: true)
        if r > 0 { offset &+= UInt64(r) }
        return r
    }

    /// Offsets are addresses (unsigned): SEEK_SET and SEEK_CUR only, as Linux's mem_lseek.
    override func seek(_ off: Int, _ whence: Int32) -> Int {
        switch whence {
        case SEEK_SET: offset = UInt64(bitPattern: Int64(off))
        case SEEK_CUR: offset = offset &+ UInt64(bitPattern: Int64(off))
        default: return -Int(EINVAL)
        }
        // A "negative" result is a valid high address; lseek's return cannot show it, so return 0.
        return Int(bitPattern: UInt(offset)) < 0 ? 0 : Int(offset)
    }

    override func stat(_ st: inout stat) -> Int {
        st = Glibc.stat()
        st.st_mode = S_IFREG | 0o600
        st.st_nlink = 1
        st.st_dev = 0x16
        st.st_ino = UInt(ProcfsMount.inode(display))
        return 0
    }

    override func poll(_ events: Int16) -> Int16 { events & (POLLIN_ | POLLOUT_) }
}
