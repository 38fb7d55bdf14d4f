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
            // O_RDWR: both a reader and a writer, so it never waits and never sees EOF/EPIPE.
            opens[id] = (seen.readers + 1, seen.writers + 1)
            t?.kernel.broadcast()
            return .success(FifoReadWriteEnd(pipe, flags: flags & O_NONBLOCK))
        }
    }
}

/// A FIFO opened O_RDWR (Linux allows it): one reader end and one writer end behind one fd.
final class FifoReadWriteEnd: FileDescription {
    let r: PipeEnd
    let w: PipeEnd
    init(_ pipe: PipeBuffer, flags: Int32) {
        r = PipeEnd(pipe, reader: true, flags: O_RDONLY | flags)
        w = PipeEnd(pipe, reader: false, flags: O_WRONLY | flags)
        super.init(flags: O_RDWR | flags)
    }
    private func sync() {
        r.statusFlags = O_RDONLY | (statusFlags & O_NONBLOCK)
        w.statusFlags = O_WRONLY | (statusFlags & O_NONBLOCK)
    }
    override func read(_ t: Task, _ buf: UnsafeMutableRawBufferPointer) -> Int { sync(); return r.read(t, buf) }
    override func write(_ t: Task, _ buf: UnsafeRawBufferPointer) -> Int { sync(); return w.write(t, buf) }
    override func stat(_ st: inout stat) -> Int { r.stat(&st) }
    override func ioctl(_ t: Task, _ cmd: UInt64, _ arg: UInt64) -> Int { r.ioctl(t, cmd, arg) }
    override var inputSeq: UInt64 { r.inputSeq }
    override var outputSeq: UInt64 { w.outputSeq }
    override func poll(_ events: Int16) -> Int16 { r.poll(events & ~POLLOUT_) | w.poll(events & POLLOUT_) }
}
