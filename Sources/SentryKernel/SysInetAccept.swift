// accept(2)/accept4(2) on AF_INET/AF_INET6 listeners, reply-less (session 6). After listen() the
// Sentry grants the netstack spare arena slots for the listener (AcceptSlots, a call the first time,
// then one-way messages queued with the Closes and options); the netstack attaches each established
// connection to a spare slot and writes an AcceptRecord (slot, handle, peer) into the listener's
// receive ring. accept pops a record and builds the socket from the attached slot: no round trip,
// no waiting for the netstack. The Accept call remains for a netstack that does not offer spare
// slots (--network host), when the Sentry had no slot to spare, or BULWARK_NETSTACK_ACCEPT_SLOTS=0.
import Glibc
import HostOS
import Protocol

extension NetstackConnection {
    /// Spare slots a listener keeps granted; refilled when half are used. 32 ran dry in a connect
    /// storm (redis, 2000 connect+close): once the records are used up before the refill lands, every
    /// accept is an Accept call (a round trip that also flushes the queued one-way requests), which
    /// was 28% of the task thread's samples. BULWARK_NETSTACK_ACCEPT_SPARES overrides (4...512).
    static let acceptSpares: Int = {
        if let v = getenv("BULWARK_NETSTACK_ACCEPT_SPARES"), let n = Int(String(cString: v)) { return min(max(n, 4), 512) }
        return 128
    }()
    static let acceptSlotsEnabled = getenv("BULWARK_NETSTACK_ACCEPT_SLOTS").map { String(cString: $0) != "0" } ?? true

    /// Free slots, reset, up to `count` (fewer when the arena is short: sockets come first, so at
    /// least a quarter of the arena stays free for socket() and the Accept call).
    func takeSpareSlots(_ count: Int) -> [UInt32] {
        var out: [UInt32] = []
        while out.count < count && freeSlots.count + closingSlots.count > NetstackConnection.slotCount / 4,
              let i = allocateSlot() {
            out.append(UInt32(i))
        }
        return out
    }

    /// The first grant, right after listen() (kernel lock held; the call releases it): the listener
    /// uses records from now on, unless the netstack refuses (then its slots are free again).
    func startAcceptSlots(_ s: InetSocket) {
        guard NetstackConnection.acceptSlotsEnabled, s.acceptSpare == nil else { return }
        let slots = takeSpareSlots(NetstackConnection.acceptSpares)
        guard !slots.isEmpty else { return }
        switch call(Netstack.AcceptSlots(handle: s.handle, slots: slots)) {
        case .success:
            if s.acceptSpare == nil { s.acceptSpare = Set(slots.map { Int($0) }) } else { s.acceptSpare!.formUnion(slots.map { Int($0) }) }
        case .failure:
            // Refused (ENOSYS from --network host, or the socket stopped listening meanwhile): the
            // netstack marked them released if it looked at them; either way it does not hold them.
            for i in slots { returnSlot(Int(i)) }
        }
    }

    /// After accept popped a record (kernel lock held): tops the listener's spares up with a
    /// one-way message once half are used. The waker sends it at once (an urgent request).
    func refillAcceptSlots(_ s: InetSocket) {
        guard let have = s.acceptSpare, !dead, have.count <= NetstackConnection.acceptSpares / 2 else { return }
        let slots = takeSpareSlots(NetstackConnection.acceptSpares - have.count)
        guard !slots.isEmpty else { return }
        s.acceptSpare!.formUnion(slots.map { Int($0) })
        queue(.acceptSlots(Netstack.AcceptSlots(handle: s.handle, slots: slots)), urgent: true)
    }

    /// A listener went away (kernel lock held, from its deinit, before its Close is queued): the
    /// netstack releases its spare slots and those of connections nobody accepted when it handles
    /// the Close; they become free once it marks them released.
    func retireAcceptSlots(_ slots: Set<Int>) {
        for i in slots { retireSlot(i) }
    }
}

extension Task {
    func inetAccept(_ s: InetSocket, _ addr: UInt64, _ lenAddr: UInt64, _ flags: Int32) -> Int {
        guard flags & ~(SOCK_NONBLOCK_ | SOCK_CLOEXEC_) == 0 else { return errno(EINVAL) }
        guard s.isStream else { return errno(EOPNOTSUPP) }
        guard s.listening else { return errno(EINVAL) }
        let dl = s.deadline(s.rcvTimeoutNs)
        while true {
            if s.conn.dead { return errno(ENETDOWN) }
            guard s.listening else { return errno(EINVAL) }   // shut down meanwhile
            if s.acceptSpare != nil, let r = AcceptRecord.pop(from: s.slot.receive) {
                return acceptRecord(s, r, addr, lenAddr, flags)
            }
            // Connections the netstack could not park (no spare slot left, or no records): ask.
            if s.slot.state.contains(.acceptable) {
                guard let slot = s.conn.allocateSlot() else { return errno(ENFILE) }
                switch s.conn.call(Netstack.Accept(handle: s.handle, flags: UInt32(bitPattern: flags), slot: UInt32(slot))) {
                case .success(let r):
                    return installAccepted(s, handle: r.handle, slot: slot, peer: r.peer, addr, lenAddr, flags)
                case .failure(let e):
                    s.conn.returnSlot(slot)
                    if e != EAGAIN { return errno(e) }
                    // The call released the kernel lock: a record may have arrived meanwhile.
                    if s.acceptSpare != nil && s.slot.receive.used >= AcceptRecord.size { continue }
                }
            }
            if s.nonblocking { return errno(EAGAIN) }
            if let r = s.wait(self, dl, timeoutResult: errno(EAGAIN)) { return r }
        }
    }

    /// A record popped from the listener's ring: the connection is attached to one of its spare slots.
    private func acceptRecord(_ s: InetSocket, _ r: AcceptRecord, _ addr: UInt64, _ lenAddr: UInt64, _ flags: Int32) -> Int {
        let slot = Int(r.slot)
        guard s.acceptSpare!.remove(slot) != nil else {
            // A slot this listener never granted: the netstack is confused. Refuse the connection
            // rather than share a slot; the next record may be sound.
            kernel.log("bulwark-sentry: netstack accept record names slot \(slot), not granted to this listener\n")
            return errno(ECONNABORTED)
        }
        s.conn.refillAcceptSlots(s)
        let peer = Netstack.SocketAddress(family: r.family, port: r.port, address: r.address)
        return installAccepted(s, handle: UInt64(r.handle), slot: slot, peer: peer, addr, lenAddr, flags)
    }

    private func installAccepted(_ s: InetSocket, handle: UInt64, slot: Int, peer: Netstack.SocketAddress,
                                 _ addr: UInt64, _ lenAddr: UInt64, _ flags: Int32) -> Int {
        let c = InetSocket(conn: s.conn, handle: handle, slot: slot, family: s.family, type: s.type, proto: s.proto,
                           flags: flags & SOCK_NONBLOCK_ != 0 ? O_NONBLOCK : 0)
        c.everConnected = true
        c.acceptedPeer = peer
        let w = writeInetAddress(peer, addr, lenAddr)
        if w < 0 { return w }   // as Linux: the connection is dropped (c's Close is queued)
        return fds.install(c, cloexec: flags & SOCK_CLOEXEC_ != 0)
    }
}
