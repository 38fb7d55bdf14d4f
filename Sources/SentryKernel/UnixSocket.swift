// AF_UNIX sockets implemented entirely inside the Sentry: stream, datagram and seqpacket sockets,
// their message queues (with passed file descriptions and credentials), the listen backlog and the
// name table. All state is guarded by the kernel lock; blocked senders and receivers wait on the
// receiving socket's wait queue (WaitQueue.swift) like pipes, so signals interrupt them the same way.
import Glibc

let SOCK_STREAM_: Int32 = 1, SOCK_DGRAM_: Int32 = 2, SOCK_SEQPACKET_: Int32 = 5
let MSG_PEEK_: Int32 = 2, MSG_TRUNC_: Int32 = 0x20, MSG_DONTWAIT_: Int32 = 0x40, MSG_CTRUNC_: Int32 = 8
let MSG_WAITALL_: Int32 = 0x100, MSG_NOSIGNAL_: Int32 = 0x4000, MSG_CMSG_CLOEXEC_: Int32 = 0x40000000
let POLLRDHUP_: Int16 = 0x2000
/// Shutdown bits as Linux keeps them per socket (the peer's shutdown is mirrored in).
let RCV_SHUTDOWN_ = 1, SEND_SHUTDOWN_ = 2

struct UnixCred { var pid: Int32; var uid: UInt32; var gid: UInt32 }

/// One queued message (a stream keeps writes as messages too, so fds stay attached to their bytes).
final class UnixMessage {
    var data: [UInt8]
    var offset = 0
    var files: [FileDescription]
    let cred: UnixCred
    /// The sender's bound name (datagrams), raw sun_path bytes.
    let from: [UInt8]?
    init(data: [UInt8], files: [FileDescription], cred: UnixCred, from: [UInt8]?) {
        self.data = data; self.files = files; self.cred = cred; self.from = from
    }
    var remaining: Int { data.count - offset }
}

/// Weak entry of the name table: a name is free again once its socket is closed.
struct WeakSocket { weak var s: UnixSocket? }

final class UnixSocket: FileDescription {
    /// Name table for abstract and path names. Path names are NOT created in the file system (it is
    /// read-only outside /tmp); they live only here, and disappear when the socket is closed.
    nonisolated(unsafe) static var names: [[UInt8]: WeakSocket] = [:]
    nonisolated(unsafe) static var nextInode: UInt = 500_000
    nonisolated(unsafe) static var autobindCounter = 0
    static let bufferLimit = 212_992

    let type: Int32
    let inode: UInt
    weak var peer: UnixSocket?
    var everConnected = false
    var queue: [UnixMessage] = []
    var queuedBytes = 0
    var name: [UInt8]?           // bound sun_path bytes (abstract names start with NUL)
    var listening = false
    var backlog: [UnixSocket] = []
    var backlogLimit = 0
    var shutdownMask = 0
    var passcred = false
    var peerCred: UnixCred?
    var listenCred: UnixCred?
    var sndbuf = 212_992, rcvbuf = 212_992
    var rcvTimeoutNs = 0, sndTimeoutNs = 0
    var pendingError: Int32 = 0
    /// Messages queued to this socket so far, for edge-triggered epoll.
    var recvSeq: UInt64 = 0
    override var inputSeq: UInt64 { recvSeq }
    /// Tasks waiting on this socket's receive queue: receivers for data, senders for room in it.
    let waiters = WaitQueue()

    init(type: Int32, flags: Int32) {
        self.type = type
        inode = UnixSocket.nextInode
        UnixSocket.nextInode += 1
        super.init(flags: O_RDWR | flags)
    }

    deinit {
        if let p = peer, type != SOCK_DGRAM_ { p.shutdownMask = RCV_SHUTDOWN_ | SEND_SHUTDOWN_ }
        if name != nil { UnixSocket.names = UnixSocket.names.filter { $0.value.s != nil } }
        Kernel.shared?.broadcast()
    }

    var connectionOriented: Bool { type != SOCK_DGRAM_ }

    static func connectPair(_ a: UnixSocket, _ b: UnixSocket) {
        a.peer = b; b.peer = a
        a.everConnected = true; b.everConnected = true
    }

    // MARK: data path

    /// Space left in this socket's receive queue.
    var room: Int { UnixSocket.bufferLimit - queuedBytes }

    /// Sends one message to the peer (or `target` for unconnected datagrams). Returns bytes or -errno.
    func send(_ t: Task, _ data: [UInt8], files: [FileDescription], cred: UnixCred, to target: UnixSocket?, flags: Int32) -> Int {
        let nonblock = nonblocking || flags & MSG_DONTWAIT_ != 0
        let deadline: timespec? = sndTimeoutNs > 0 ? addNanos(monotonicNow(), sndTimeoutNs) : nil
        if !connectionOriented && data.count > sndbuf { return -Int(EMSGSIZE) }
        var done = 0
        while true {
            let dst: UnixSocket
            if connectionOriented {
                if shutdownMask & SEND_SHUTDOWN_ != 0 || (everConnected && peer == nil) {
                    if flags & MSG_NOSIGNAL_ == 0 { t.kernel.sendSignal(to: t, SigInfo(signo: SIGPIPE, pid: t.tg.pid)) }
                    return done > 0 ? done : -Int(EPIPE)
                }
                guard let p = peer else { return -Int(ENOTCONN) }
                dst = p
            } else {
                if let x = target { dst = x }
                else if let p = peer { dst = p }
                else { return -Int(everConnected ? ECONNREFUSED : ENOTCONN) }
                if let dp = dst.peer, dp !== self { return -Int(EPERM) }
                if dst.shutdownMask & RCV_SHUTDOWN_ != 0 { return -Int(EPIPE) }
            }
            // Streams split large writes; datagrams and seqpackets go whole or wait. A zero-length
            // stream write queues nothing (an empty message would read as EOF).
            let left = data.count - done
            if type == SOCK_STREAM_ && data.isEmpty { return 0 }
            let chunk = type == SOCK_STREAM_ ? min(left, dst.room) : (dst.room >= left || dst.queue.isEmpty ? left : 0)
            if chunk > 0 || (left == 0 && done == 0) {
                let bytes = (done == 0 && chunk == data.count) ? data : Array(data[done..<(done + chunk)])
                dst.queue.append(UnixMessage(data: bytes, files: done == 0 ? files : [], cred: cred, from: name))
                dst.recvSeq &+= 1   // a new edge for EPOLLET (EpollEdge.swift)
                dst.queuedBytes += chunk
                done += chunk
                dst.waiters.wake(t.kernel)
                if done == data.count { return done }
                continue
            }
            if nonblock { return done > 0 ? done : -Int(EAGAIN) }
            if !t.block(deadline: deadline, on: dst.waiters) { return done > 0 ? done : -ERESTARTSYS }
            if let d = deadline, lessThan(d, monotonicNow()) { return done > 0 ? done : -Int(EAGAIN) }
        }
    }

    struct Received {
        var data: [UInt8] = []
        var fullLength = 0
        var files: [FileDescription] = []
        var cred: UnixCred?
        var from: [UInt8]?
        var truncated = false
    }

    /// Receives up to `max` bytes. Returns the message or -errno.
    func receive(_ t: Task, max: Int, flags: Int32) -> KResult<Received> {
        let nonblock = nonblocking || flags & MSG_DONTWAIT_ != 0
        let peek = flags & MSG_PEEK_ != 0
        let deadline: timespec? = rcvTimeoutNs > 0 ? addNanos(monotonicNow(), rcvTimeoutNs) : nil
        var out = Received()
        while true {
            if !queue.isEmpty {
                if type != SOCK_STREAM_ {
                    let m = queue[0]
                    let n = min(max, m.data.count)
                    out.data = Array(m.data[0..<n])
                    out.fullLength = m.data.count
                    out.truncated = n < m.data.count
                    out.cred = m.cred
                    out.from = m.from
                    if !peek {
                        out.files = m.files
                        queue.removeFirst()
                        queuedBytes -= m.data.count
                        waiters.wake(t.kernel)
                    }
                    return .success(out)
                }
                // Stream: gather bytes across messages, but never across a message carrying fds
                // (or differing credentials) once something has been read.
                var idx = 0
                var skip = 0
                while idx < queue.count && out.data.count < max {
                    let m = queue[idx]
                    if !out.data.isEmpty && (!m.files.isEmpty || m.cred.pid != out.cred?.pid) { break }
                    let start = m.offset
                    let n = Swift.min(max - out.data.count, m.data.count - start)
                    out.data += m.data[start..<(start + n)]
                    if out.cred == nil { out.cred = m.cred }
                    if !peek {
                        out.files += m.files
                        m.files = []
                        m.offset += n
                        queuedBytes -= n
                        if m.remaining == 0 { skip += 1 }
                    }
                    idx += 1
                    if !m.files.isEmpty && peek { break }
                }
                if !peek && skip > 0 { queue.removeFirst(skip) }
                out.fullLength = out.data.count
                if !peek { waiters.wake(t.kernel) }
                if flags & MSG_WAITALL_ != 0 && !peek && out.data.count < max && shutdownMask & RCV_SHUTDOWN_ == 0 && !nonblock {
                    // Keep waiting for the rest; a signal or EOF ends with what we have.
                    if !t.block(deadline: deadline, on: waiters) { return .success(out) }
                    let more = receive(t, max: max - out.data.count, flags: flags)
                    if case .success(let r) = more { out.data += r.data; out.files += r.files; out.fullLength = out.data.count }
                    return .success(out)
                }
                return .success(out)
            }
            if shutdownMask & RCV_SHUTDOWN_ != 0 { return .success(out) }
            if connectionOriented && !everConnected { return .failure(type == SOCK_STREAM_ ? EINVAL : ENOTCONN) }
            if nonblock { return .failure(EAGAIN) }
            if !t.block(deadline: deadline, on: waiters) { return .failure(Int32(ERESTARTSYS)) }
            if let d = deadline, lessThan(d, monotonicNow()) { return .failure(EAGAIN) }
        }
    }

    // MARK: FileDescription

    override func read(_ t: Task, _ buf: UnsafeMutableRawBufferPointer) -> Int {
        switch receive(t, max: buf.count, flags: 0) {
        case .failure(let e): return -Int(e)
        case .success(let r):
            r.data.withUnsafeBytes { if !r.data.isEmpty { memcpy(buf.baseAddress!, $0.baseAddress!, r.data.count) } }
            return r.data.count
        }
    }

    override func write(_ t: Task, _ buf: UnsafeRawBufferPointer) -> Int {
        let cred = UnixCred(pid: t.tg.pid, uid: t.tg.uid, gid: t.tg.gid)
        return send(t, Array(buf), files: [], cred: cred, to: nil, flags: 0)
    }

    override func stat(_ st: inout stat) -> Int {
        st = Glibc.stat()
        st.st_mode = S_IFSOCK | 0o777
        st.st_nlink = 1
        st.st_ino = inode
        st.st_dev = 8
        st.st_blksize = 4096
        return 0
    }

    override func ioctl(_ t: Task, _ cmd: UInt64, _ arg: UInt64) -> Int {
        if cmd == 0x541B {  // FIONREAD: bytes queued (datagrams: the next message)
            let n = type == SOCK_STREAM_ ? queuedBytes : (queue.first?.data.count ?? 0)
            return t.mm.write(arg, Int32(n)) ? 0 : -Int(EFAULT)
        }
        return t.interfaceIoctl(cmd, arg)   // SIOCGIF* work on any socket (glibc asks an AF_UNIX one)
    }

    override func poll(_ events: Int16) -> Int16 {
        var r: Int16 = 0
        if listening {
            if !backlog.isEmpty { r |= POLLIN_ }
            return r & events
        }
        if !queue.isEmpty { r |= POLLIN_ }
        if shutdownMask & RCV_SHUTDOWN_ != 0 { r |= POLLIN_ | POLLRDHUP_ }
        if shutdownMask == RCV_SHUTDOWN_ | SEND_SHUTDOWN_ { r |= POLLHUP_ }
        if connectionOriented && !everConnected { r |= POLLHUP_ }
        if pendingError != 0 { r |= POLLERR_ }
        if let p = peer {
            if p.room > 0 || shutdownMask & SEND_SHUTDOWN_ != 0 { r |= POLLOUT_ }
        } else {
            r |= POLLOUT_
        }
        return r & (events | POLLHUP_ | POLLERR_)
    }
}
