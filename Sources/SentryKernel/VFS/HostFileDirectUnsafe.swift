// Reads and writes of a host-backed file straight between the host descriptor and the application's
// pages, with no bounce buffer: the application's memory lives in the memory file, which the Sentry maps,
// so pread(2)/pwrite(2) on the donated fd copy once (page cache <-> application page), as under runc.
// SAFETY: the pointers come from AddressSpace.withPieces, which checks the whole range against the
// application's VMAs (with the needed protection) before handing out any piece, and each piece lies
// inside the memory file's mapping; the host call writes or reads at most the piece's length. Callers
// hold the kernel lock, so the VMAs cannot change under the call.
import Glibc
import SentryMemory

extension HostFile {
    /// read(2) (at == nil, at and past this description's offset) or pread(2) into [addr, addr+count).
    /// Pieces are filled in order; a short host read ends the call. Errors after some bytes were read
    /// return the count so far, like Linux.
    func readDirect(_ t: Task, _ addr: UInt64, _ count: Int, at: Int?) -> Int {
        var pos = at ?? offset
        var total = 0
        var err: Int32 = 0
        var done = false
        let fd = self.fd
        let ok = t.mm.withPieces(addr, count, needProt: PROT_W) { p, n, _ in
            if done { return }
            let r = Glibc.pread(fd, p, n, off_t(pos))
            if r < 0 { err = errno; done = true; return }
            total += r
            pos += r
            if r < n { done = true }
        }
        if !ok { return -Int(EFAULT) }
        if total == 0 && err != 0 { return -Int(err) }
        if at == nil { offset += total }
        if total > 0 { inotify(IN_ACCESS_) }
        return total
    }

    /// write(2) (at == nil: at this description's offset, or the end with O_APPEND) or pwrite(2)
    /// from [addr, addr+count).
    func writeDirect(_ t: Task, _ addr: UInt64, _ count: Int, at: Int?) -> Int {
        // Linux: pwrite on an O_APPEND file appends whatever the offset says.
        var pos = statusFlags & O_APPEND != 0 ? size() : (at ?? offset)
        var total = 0
        var err: Int32 = 0
        var done = false
        let fd = self.fd
        let ok = t.mm.withPieces(addr, count, needProt: PROT_R) { p, n, _ in
            if done { return }
            let r = Glibc.pwrite(fd, p, n, off_t(pos))
            if r < 0 { err = errno; done = true; return }
            total += r
            pos += r
            if r < n { done = true }
        }
        if !ok { return -Int(EFAULT) }
        changed()
        if total == 0 && err != 0 {
            if err == EFBIG { t.kernel.sendSignal(to: t, SigInfo(signo: SIGXFSZ)) }
            return -Int(err)
        }
        if at == nil { offset = pos }
        if total > 0 { inotify(IN_MODIFY_) }
        return total
    }
}
