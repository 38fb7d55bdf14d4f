// Pipes: a bounded in-Sentry byte buffer with reader and writer ends. Blocking reads/writes wait on
// the pipe's wait queues (a write wakes its readers, a read its writers; closing an end broadcasts);
// writing with no reader raises SIGPIPE and fails with EPIPE.
import Glibc

final class PipeBuffer {
    var data: [UInt8] = []
    var head = 0
    let capacity = 65536
    var readers = 0
    var writers = 0
    /// Counts of writes and reads, for edge-triggered epoll (EpollEdge.swift).
    var writeSeq: UInt64 = 0, readSeq: UInt64 = 0
    /// Blocked readers (waiting for data or the last writer's close) and writers (waiting for room).
    let readWait = WaitQueue(), writeWait = WaitQueue()
    let inode: UInt
    nonisolated(unsafe) static var nextInode: UInt = 1000
    init() { inode = PipeBuffer.nextInode; PipeBuffer.nextInode += 1 }
    var count: Int { data.count - head }

    func take(_ buf: UnsafeMutableRawBufferPointer) -> Int {
        let n = min(buf.count, count)
        readSeq &+= 1
        data.withUnsafeBytes { src in memcpy(buf.baseAddress!, src.baseAddress! + head, n) }
        head += n
        if head == data.count { data.removeAll(keepingCapacity: true); head = 0 }
        else if head > 65536 { data.removeFirst(head); head = 0 }
        return n
    }
}

final class PipeEnd: FileDescription {
    let pipe: PipeBuffer
    let isReader: Bool
    init(_ pipe: PipeBuffer, reader: Bool, flags: Int32) {
        self.pipe = pipe
        self.isReader = reader
        super.init(flags: flags)
        if reader { pipe.readers += 1 } else { pipe.writers += 1 }
    }
    deinit {
        if isReader { pipe.readers -= 1 } else { pipe.writers -= 1 }
        Kernel.shared?.broadcast()
    }

    override func read(_ t: Task, _ buf: UnsafeMutableRawBufferPointer) -> Int {
        guard isReader else { return -Int(EBADF) }
        if buf.count == 0 { return 0 }
        while true {
            if pipe.count > 0 {
                let n = pipe.take(buf)
                pipe.writeWait.wake(t.kernel)
                return n
            }
            if pipe.writers == 0 { return 0 }
            if nonblocking { return -Int(EAGAIN) }
            if !t.block(deadline: nil, on: pipe.readWait) { return -ERESTARTSYS }
        }
    }

    override func write(_ t: Task, _ buf: UnsafeRawBufferPointer) -> Int {
        guard !isReader else { return -Int(EBADF) }
        var done = 0
        while done < buf.count {
            if pipe.readers == 0 {
                t.kernel.sendSignal(to: t, SigInfo(signo: SIGPIPE, pid: t.tg.pid))
                return done > 0 ? done : -Int(EPIPE)
            }
            let room = pipe.capacity - pipe.count
            let remaining = buf.count - done
            // Writes of at most PIPE_BUF bytes are atomic.
            if room > 0 && (remaining > 4096 || room >= remaining) {
                let n = min(room, remaining)
                pipe.data.append(contentsOf: UnsafeRawBufferPointer(rebasing: buf[done..<(done + n)]))
                pipe.writeSeq &+= 1
                done += n
                pipe.readWait.wake(t.kernel)
                continue
            }
            if nonblocking { return done > 0 ? done : -Int(EAGAIN) }
            if !t.block(deadline: nil, on: pipe.writeWait) { return done > 0 ? done : -ERESTARTSYS }
        }
        return done
    }

    override func stat(_ st: inout stat) -> Int {
        st = Glibc.stat()
        st.st_mode = S_IFIFO | 0o600
        st.st_nlink = 1
        st.st_ino = pipe.inode
        st.st_dev = 12
        st.st_blksize = 4096
        return 0
    }

    override func ioctl(_ t: Task, _ cmd: UInt64, _ arg: UInt64) -> Int {
        if cmd == 0x541B { return t.mm.write(arg, Int32(isReader ? pipe.count : 0)) ? 0 : -Int(EFAULT) }
        return -Int(ENOTTY)
    }

    override var inputSeq: UInt64 { isReader ? pipe.writeSeq : 0 }
    override var outputSeq: UInt64 { isReader ? 0 : pipe.readSeq }

    override func poll(_ events: Int16) -> Int16 {
        var r: Int16 = 0
        if isReader {
            if pipe.count > 0 { r |= POLLIN_ }
            if pipe.writers == 0 { r |= POLLHUP_ }
        } else {
            if pipe.readers == 0 { r |= POLLERR_ }
            else if pipe.capacity - pipe.count >= 4096 { r |= POLLOUT_ }
        }
        return r & (events | POLLHUP_ | POLLERR_)
    }
}
