// Reply-less accept (netstack.schema AcceptSlots, session 6): the Sentry grants a listener spare arena
// slots ahead of time; the pump takes each newly established connection off the accept queue, in
// order, attaches it to the next spare slot and writes an AcceptRecord into the listener's receive
// ring, so the application's accept(2) costs the Sentry no round trip to the netstack. Connections
// parked this way still count against the backlog (the stack asks the ring how many records wait),
// and closing the listener resets them and releases their slots, as Linux resets the connections
// nobody accepted.
import HostOS
import NetstackCore
import Protocol
import ServiceKit

extension NetstackService {
    func registerAcceptSlots(_ t: inout HandlerTable) {
        t.register(Netstack.AcceptSlots.messageID) { [self] req, reply throws(ServiceFailure) in
            let m = try decode(req, Netstack.AcceptSlots.self)
            try locked { () throws(NetErrno) in try grant(m) }
            reply.encode(Netstack.EmptyReply())
        }
    }

    /// Adds the slots to the listener's spares (stack locked). Slots that cannot be taken (the socket
    /// is not a listener any more) are marked released at once, so the Sentry can reuse them; a slot
    /// out of range or in use is refused without touching anything (a confused peer).
    private func grant(_ m: Netstack.AcceptSlots) throws(NetErrno) {
        guard let a = arena else { throw .EOPNOTSUPP }   // only with the socket arena
        let slots = m.slots.map { Int($0) }
        guard slots.count <= a.slotCount, Set(slots).count == slots.count,
              slots.allSatisfy({ $0 < a.slotCount && !slotsInUse.contains($0) }) else { throw .EINVAL }
        guard let id = try? socket(m.handle), let b = bindings[id], b.stream, !b.closing, stack.phase(id) == .listening else {
            for i in slots { a.slot(i).state = [.released] }
            throw .EINVAL
        }
        slotsInUse.formUnion(slots)
        b.spare.append(contentsOf: slots)
        if !b.acceptRecords {
            b.acceptRecords = true
            let ring = b.slot.receive
            stack.setParkedCounter(id) { ring.used / AcceptRecord.size }
        }
    }

    /// Moves established connections from the listener's accept queue into spare slots (stack
    /// locked, from the pump); true if any moved. The connection's slot says connected before its
    /// record is visible, so the Sentry never sees an accepted socket that is not yet connected.
    func attachAccepted(_ b: SlotBinding) -> Bool {
        guard let a = arena, !b.closing, stack.phase(b.id) == .listening else { return false }
        let ring = b.slot.receive
        var moved = false
        while !b.spare.isEmpty && ring.free >= AcceptRecord.size {
            guard let (id, peer) = try? stack.accept(b.id) else { break }
            let index = b.spare.removeFirst()
            bind(id, slot: index, stream: true)
            a.slot(index).state = [.connected]
            let w = wire(peer)
            let record = AcceptRecord(slot: UInt32(index), handle: UInt32(bitPattern: id.raw), family: w.family, port: w.port,
                                      address: w.address)
            _ = record.write(to: ring)
            moved = true
        }
        return moved
    }

    /// The listener is closing (stack locked): connections whose records the Sentry did not pop are
    /// reset and their slots released, and so are the spare slots never used.
    func releaseAcceptSlots(_ b: SlotBinding) {
        guard let a = arena else { return }
        let ring = b.slot.receive
        while let r = AcceptRecord.pop(from: ring) {
            let id = SocketID(raw: Int32(bitPattern: r.handle))
            guard let c = bindings[id], c.index == Int(r.slot) else { continue }
            try? stack.setOption(id, .linger(true, 0))   // abortive: the peer gets a reset, as on Linux
            try? stack.close(id)
            bindings[id] = nil
            slotsInUse.remove(c.index)
            c.slot.state = [.released]
        }
        for i in b.spare {
            slotsInUse.remove(i)
            a.slot(i).state = [.released]
        }
        b.spare.removeAll()
        b.acceptRecords = false
        stack.setParkedCounter(b.id, nil)
    }
}
