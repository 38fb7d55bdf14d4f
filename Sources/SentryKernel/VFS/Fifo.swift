// FIFOs (named pipes) on any file system: the pipe lives in the Sentry, one per FIFO inode, and
// opening follows fifo(7): a reader waits for a writer and vice versa, unless O_NONBLOCK (then a
// writer without reader gets ENXIO); O_RDWR never waits.
import Glibc

enum FifoTable {
    /// Pipes of FIFOs on gofer file systems, by host (dev, ino).
    nonisolated(unsafe) static var byHostInode: [String: PipeBuffer] = [:]

    static func pipe(dev: UInt64, ino: UInt64) -> PipeBuffer {
        let key = "\(dev):\(ino)"
        if let p = byHostInode[key] { return p }
        let p = PipeBuffer()
        byHostInode[key] = p
        return p
    }

    /// How many readers and writers ever opened each FIFO's pipe: a waiting opener returns once the
    /// other side has come, even if it already left again (it may have written, closed and exited
    /// before the waiter ran).
    nonisolated(unsafe) static var opens: [ObjectIdentifier: (readers: Int, writers: Int)] = [:]

    static func open(_ t: Task?, _ pipe: PipeBuffer, flags: Int32) -> KResult<FileDescription> {
        let id = ObjectIdentifier(pipe)
        let seen = opens[id] ?? (0, 0)
        let acc = flags & O_ACCMODE_
        let nonblock = flags & O_NONBLOCK != 0
        let keep = flags & (O_NONBLOCK | O_ACCMODE_)
        switch acc {
        case O_RDONLY:
            let end = PipeEnd(pipe, reader: true, flags: keep)
            opens[id] = (seen.readers + 1, seen.writers)
            t?.kernel.broadcast()
            if !nonblock, let t {
                // (Re-checked every 50 ms as well: a waiter never depends on one wake-up.)
                while pipe.writers == 0 && (opens[id]?.writers ?? 0) == seen.writers {
                    if !t.block(deadline: addNanos(monotonicNow(), 50_000_000)) { return .failure(Int32(ERESTARTSYS)) }
                }
            }
            return .success(end)
        case O_WRONLY:
            if pipe.readers == 0 && nonblock { return .failure(ENXIO) }
            let end = PipeEnd(pipe, reader: false, flags: keep)
            opens[id] = (seen.readers, seen.writers + 1)
            t?.kernel.broadcast()
            if let t {
                while pipe.readers == 0 && (opens[id]?.readers ?? 0) == seen.readers {
                    if !t.block(deadline: addNanos(monotonicNow(), 50_000_000)) { return .failure(Int32(ERESTARTSYS)) }
                }
            }
            return .success(end)
        default:
            // O_RDWR: a reader end that also counts as a writer while open is not modelled; a
            // reader end keeps the FIFO open without waiting.
            return .success(PipeEnd(pipe, reader: true, flags: O_RDONLY | (flags & O_NONBLOCK)))
        }
    }
}
