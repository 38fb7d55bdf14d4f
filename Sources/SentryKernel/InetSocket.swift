// AF_INET and AF_INET6 sockets: file descriptions whose control operations are requests to
// bulwark-netstack and whose bytes move through the socket's slot in the shared arena (send ring:
// Sentry -> netstack, receive ring: netstack -> Sentry). Readiness comes from the slot's state word,
// which the netstack keeps current; blocked tasks sleep as readiness sleepers on the arena's
// generation word, which the netstack's driver wakes itself when it rings (WaitQueue.swift).
import Glibc
import HostOS
import Protocol

let AF_INET_: Int32 = 2, AF_INET6_: Int32 = 10

final class InetSocket: FileDescription {
    let conn: NetstackConnection
    let handle: UInt64
    let slotIndex: Int
    let slot: ArenaSlot
    let family: Int32
    let type: Int32          // SOCK_STREAM_ or SOCK_DGRAM_
    let proto: Int32
    var listening = false
    var connectStarted = false
    var everConnected = false
    var datagramConnected = false
    /// Has a local address (bind, connect, or the automatic bind before a first datagram).
    var bound = false
    var shutRead = false, shutWrite = false
    var rcvTimeoutNs = 0, sndTimeoutNs = 0
    /// Options the netstack does not implement, kept so getsockopt reads back what was set.
    var storedOptions: [Int64: [UInt8]] = [:]
    /// A listener with reply-less accept (SysInetAccept.swift): the spare slots granted to the
    /// netstack whose records accept has not popped yet. Nil: accept calls the netstack.
    var acceptSpare: Set<Int>? = nil
    /// The peer an accepted connection came from (getpeername answers from it while connected).
    var acceptedPeer: Netstack.SocketAddress? = nil

    init(conn: NetstackConnection, handle: UInt64, slot: Int, family: Int32, type: Int32, proto: Int32, flags: Int32) {
        self.conn = conn
        self.handle = handle
        self.slotIndex = slot
        self.slot = conn.arena.slot(slot)
        self.family = family
        self.type = type
        self.proto = proto
        super.init(flags: O_RDWR | flags)
    }

    deinit {
        // Under the kernel lock (the last fd went away), anywhere in the kernel: no call here (a call
        // releases the lock). The Close is queued; the netstack sends what is still in the send
        // ring, then frees the slot.
        if let spare = acceptSpare { conn.retireAcceptSlots(spare) }
        // No broadcast: no task can be blocked on a socket whose last reference is going away, and
        // what the Close changes for others (a peer's end of stream) arrives through the doorbell.
        conn.queueClose(handle: handle, slot: slotIndex)
    }

    var isStream: Bool { type == SOCK_STREAM_ }

    /// EPOLLET counters (EpollEdge.swift): bytes the netstack put in the receive ring, bytes it took
    /// from the send ring.
    override var inputSeq: UInt64 { slot.receive.produced }
    override var outputSeq: UInt64 { slot.send.consumed }

    override func stat(_ st: inout stat) -> Int {
        st = Glibc.stat()
        st.st_mode = S_IFSOCK | 0o777
        st.st_nlink = 1
        st.st_ino = UInt(10_000 + slotIndex)
        st.st_dev = 8
        st.st_blksize = 4096
        return 0
    }

    // MARK: state

    /// The error the netstack holds (SO_ERROR), taken and cleared.
    func takeError() -> Int32 {
        if conn.dead { return ECONNRESET }
        switch conn.call(Netstack.GetOption(handle: handle, level: 1, name: 4, size: 4)) {
        case .success(let r):
            guard r.value.count >= 4 else { return 0 }
            return r.value.withUnsafeBytes { $0.loadUnaligned(as: Int32.self) }
        case .failure(let e): return e
        }
    }

    /// Blocks until woken, the deadline, or a signal: nil to go on, else the errno-style result.
    func wait(_ t: Task, _ deadline: timespec?, timeoutResult: Int) -> Int? {
        if let d = deadline, !lessThan(monotonicNow(), d) { return timeoutResult }
        if !t.block(deadline: deadline, net: true) { return -ERESTARTSYS }
        return nil
    }

    func deadline(_ ns: Int) -> timespec? { ns > 0 ? addNanos(monotonicNow(), ns) : nil }

    override func poll(_ events: Int16) -> Int16 {
        if conn.dead { return (POLLERR_ | POLLHUP_ | POLLIN_ | POLLOUT_) & (events | POLLHUP_ | POLLERR_) }
        let st = slot.state
        var r: Int16 = 0
        if listening {
            if st.contains(.acceptable) || (acceptSpare != nil && slot.receive.used >= AcceptRecord.size) { r |= POLLIN_ }
        } else if isStream {
            let recv = slot.receive
            if recv.used > 0 || st.contains(.endOfStream) || shutRead { r |= POLLIN_ }
            if st.contains(.endOfStream) { r |= POLLRDHUP_ }
            if st.contains(.connected) && !shutWrite {
                if slot.send.free > 0 {
                    r |= POLLOUT_
                } else if events & POLLOUT_ != 0 && wantSendRoom() {
                    r |= POLLOUT_
                }
            }
            if st.contains(.error) { r |= POLLERR_ }
            if st.contains(.hup) && !st.contains(.connecting) { r |= POLLHUP_ | POLLOUT_ }
        } else {
            if slot.receive.used >= DatagramHeader.size { r |= POLLIN_ }
            if st.contains(.writable) && slot.send.free >= 2048 { r |= POLLOUT_ }
            if st.contains(.error) { r |= POLLERR_ }
        }
        return r & (events | POLLHUP_ | POLLERR_)
    }

    // MARK: bytes

    override func read(_ t: Task, _ buf: UnsafeMutableRawBufferPointer) -> Int {
        receive(t, buf, flags: 0, from: nil).0
    }

    override func write(_ t: Task, _ buf: UnsafeRawBufferPointer) -> Int {
        send(t, buf, flags: 0, to: nil)
    }

    /// Receives into `buf`. Returns (result, full datagram length); `from` gets the sender's header.
    func receive(_ t: Task, _ buf: UnsafeMutableRawBufferPointer, flags: Int32, from: UnsafeMutablePointer<DatagramHeader>?) -> (Int, Int) {
        if conn.dead { return (-Int(isStream && everConnected ? ECONNRESET : ENETDOWN), 0) }
        let nonblock = nonblocking || flags & MSG_DONTWAIT_ != 0
        let peek = flags & MSG_PEEK_ != 0
        let dl = deadline(rcvTimeoutNs)
        let recv = slot.receive
        var done = 0
        t.noteNet()   // before the first check, so a blocking wait misses no ring
        while true {
            if conn.dead { return (done > 0 ? done : -Int(ECONNRESET), 0) }
            let st = slot.state   // before the ring: end of stream is set only after the last bytes
            if st.contains(.connected) { everConnected = true }
            if isStream {
                let avail = recv.used
                if avail > 0 && buf.count > done {
                    let (a, b) = recv.readSpans(offset: peek ? done : 0, max: buf.count - done)
                    if a.count > 0 { memcpy(buf.baseAddress! + done, a.baseAddress!, a.count) }
                    if b.count > 0 { memcpy(buf.baseAddress! + done + a.count, b.baseAddress!, b.count) }
                    let n = a.count + b.count
                    done += n
                    if !peek {
                        // Wake the pump only if it left the ring full with bytes still to come (the
                        // slot's roomWanted flag): a kick per small read woke the netstack for nothing
                        // on every request, and a half-full heuristic left a full ring waiting.
                        recv.commitRead(n)
                        ArenaSlot.fence()
                        if slot.roomWanted { conn.kick() }
                    }
                    if flags & MSG_WAITALL_ == 0 || done == buf.count || peek { return (done, done) }
                    continue
                }
                if buf.count == 0 { return (0, 0) }
                if done > 0 && (st.contains(.endOfStream) || st.contains(.error)) { return (done, done) }
                if st.contains(.error) {
                    let e = takeError()
                    if e != 0 { return (-Int(e), 0) }
                }
                if st.contains(.endOfStream) || shutRead { return (done, done) }
                if listening { return (-Int(ENOTCONN), 0) }
                if !everConnected && !st.contains(.connecting) && !connectStarted { return (-Int(ENOTCONN), 0) }
                if everConnected && st.contains(.hup) { return (done, done) }
            } else {
                if recv.used >= DatagramHeader.size {
                    var hb = [UInt8](repeating: 0, count: DatagramHeader.size)
                    _ = hb.withUnsafeMutableBytes { recv.peek(offset: 0, into: $0) }
                    let h = hb.withUnsafeBytes { DatagramHeader.parse($0) }
                    let len = Int(h.length)
                    let n = min(len, buf.count)
                    if n > 0 { _ = recv.peek(offset: DatagramHeader.size, into: UnsafeMutableRawBufferPointer(rebasing: buf[0..<n])) }
                    if !peek { recv.commitRead(DatagramHeader.size + len); conn.kick() }
                    from?.pointee = h
                    return (n, len)
                }
                if st.contains(.error) {
                    let e = takeError()
                    if e != 0 { return (-Int(e), 0) }
                }
                if shutRead { return (0, 0) }
            }
            if nonblock { return (done > 0 ? done : -Int(EAGAIN), 0) }
            if let r = wait(t, dl, timeoutResult: -Int(EAGAIN)) { return (done > 0 ? done : r, 0) }
        }
    }

    /// Sends from `buf`; `to` is a datagram destination (family 0: none).
    func send(_ t: Task, _ buf: UnsafeRawBufferPointer, flags: Int32, to: DatagramHeader?) -> Int {
        let nonblock = nonblocking || flags & MSG_DONTWAIT_ != 0
        let dl = deadline(sndTimeoutNs)
        let ring = slot.send
        func pipe() -> Int {
            if flags & MSG_NOSIGNAL_ == 0 { t.kernel.sendSignal(to: t, SigInfo(signo: SIGPIPE, pid: t.tg.pid)) }
            return -Int(EPIPE)
        }
        if !isStream {
            if conn.dead { return -Int(ENETDOWN) }
            if shutWrite { return pipe() }
            guard buf.count <= 65507 else { return -Int(EMSGSIZE) }
            if to == nil && !datagramConnected { return -Int(EDESTADDRREQ) }
            if !bound {
                // Bind now, as Linux does on the first send, so getsockname shows the port at once
                // (the datagram itself reaches the netstack through the ring, later).
                let any = Netstack.SocketAddress(family: UInt16(family), port: 0, address: [UInt8](repeating: 0, count: family == AF_INET6_ ? 16 : 4))
                if case .failure(let e) = conn.call(Netstack.Bind(handle: handle, address: any)), e != EINVAL { return -Int(e) }
                bound = true
            }
            let need = DatagramHeader.size + buf.count
            t.noteNet()
            while true {
                if conn.dead { return -Int(ENETDOWN) }
                if slot.state.contains(.error) {
                    let e = takeError()
                    if e != 0 { return -Int(e) }
                }
                if ring.free >= need {
                    var h = to ?? DatagramHeader(length: 0, family: 0, port: 0, address: [])
                    h.length = UInt32(buf.count)
                    let hb = h.bytes()
                    hb.withUnsafeBytes { _ = ring.writeAll($0) }   // header and payload: one record, so
                    _ = ring.writeAll(buf)                          // publish both before the kick
                    conn.kickSent(slotIndex, queued: ring.used)
                    return buf.count
                }
                if nonblock { return -Int(EAGAIN) }
                if let r = wait(t, dl, timeoutResult: -Int(EAGAIN)) { return r }
            }
        }
        var done = 0
        t.noteNet()
        while true {
            if conn.dead { return done > 0 ? done : (everConnected ? -Int(ECONNRESET) : -Int(ENETDOWN)) }
            let st = slot.state
            if st.contains(.connected) { everConnected = true }
            if st.contains(.error) {
                if done > 0 { return done }
                let e = takeError()
                if e != 0 { return e == EPIPE ? pipe() : -Int(e) }
            }
            if shutWrite { return done > 0 ? done : pipe() }
            if !st.contains(.connected) {
                if everConnected { return done > 0 ? done : pipe() }
                if !(st.contains(.connecting) || (connectStarted && !st.contains(.hup))) { return -Int(ENOTCONN) }
            } else {
                let free = ring.free
                if free > 0 && done < buf.count {
                    let (a, b) = ring.writeSpans(max: buf.count - done)
                    if a.count > 0 { memcpy(a.baseAddress!, buf.baseAddress! + done, a.count) }
                    if b.count > 0 { memcpy(b.baseAddress!, buf.baseAddress! + done + a.count, b.count) }
                    ring.commitWrite(a.count + b.count)
                    done += a.count + b.count
                    conn.kickSent(slotIndex, queued: ring.used)
                }
                if done == buf.count { return done }
                if !nonblock && wantSendRoom() { continue }   // about to wait for room
            }
            if nonblock { return done > 0 ? done : -Int(EAGAIN) }
            if let r = wait(t, dl, timeoutResult: -Int(EAGAIN)) { return done > 0 ? done : r }
        }
    }

    /// The send ring is full and someone will wait for room: ask the netstack to ring when it drains
    /// the ring (it rings for a drained ring only then). True if room appeared meanwhile.
    func wantSendRoom() -> Bool {
        slot.sendRoomWanted = true
        ArenaSlot.fence()
        return slot.send.free > 0
    }

    override func ioctl(_ t: Task, _ cmd: UInt64, _ arg: UInt64) -> Int {
        switch cmd {
        case 0x541B:  // FIONREAD / SIOCINQ
            var n = 0
            if isStream { n = slot.receive.used } else if slot.receive.used >= DatagramHeader.size {
                var hb = [UInt8](repeating: 0, count: 4)
                _ = hb.withUnsafeMutableBytes { slot.receive.peek(offset: 0, into: $0) }
                n = Int(hb.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) })
            }
            return t.mm.write(arg, Int32(n)) ? 0 : -Int(EFAULT)
        case 0x5411:  // SIOCOUTQ: bytes the netstack has not taken yet
            return t.mm.write(arg, Int32(slot.send.used)) ? 0 : -Int(EFAULT)
        default:
            return t.interfaceIoctl(cmd, arg)
        }
    }
}
