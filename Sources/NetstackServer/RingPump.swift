// The netstack's half of the data path: for every socket bound to an arena slot, move bytes from the
// Sentry's send ring into the stack and from the stack into the receive ring, and mirror the
// socket's state (connected, end of stream, error, hup, acceptable) into the slot's state word.
// Runs with the stack locked, after every request and in every driver round.
import Glibc
import HostOS
import NetstackCore

final class SlotBinding {
    let id: SocketID
    let index: Int
    let slot: ArenaSlot
    let stream: Bool
    var closing = false
    var shutWritePending = false
    var endOfStream = false
    var error: Int32 = 0     // an error a send or receive consumed, until SO_ERROR takes it
    /// Pumped every pass while true: something moved last time, or bytes wait on either side. An
    /// idle socket is pumped again only when the stack reports a change for it, its send ring has
    /// bytes, or a periodic full sweep comes round (so a pass costs O(active sockets), not O(all)).
    var active = true
    /// On the service's list of bindings to pump next pass (`pending`): at most once there.
    var listed = false
    /// A listener with reply-less accept (AcceptSlots.swift): the spare slots the Sentry granted.
    var acceptRecords = false
    var spare: [Int] = []
    init(id: SocketID, index: Int, slot: ArenaSlot, stream: Bool) {
        self.id = id; self.index = index; self.slot = slot; self.stream = stream
    }
}

extension NetstackService {
    /// The slot the Sentry chose, checked (nil without an arena: plain request/reply use in tests).
    func claimSlot(_ raw: UInt32) throws(NetErrno) -> Int? {
        guard let a = arena else { return nil }
        let i = Int(raw)
        guard i < a.slotCount, !slotsInUse.contains(i) else { throw .EINVAL }
        return i
    }

    func bind(_ id: SocketID, slot index: Int, stream: Bool) {
        guard let a = arena else { return }
        slotsInUse.insert(index)
        let b = SlotBinding(id: id, index: index, slot: a.slot(index), stream: stream)
        bindings[id] = b
        if index < SendMarks.capacity {
            if bySlot.count <= index { bySlot.append(contentsOf: repeatElement(nil, count: index + 1 - bySlot.count)) }
            bySlot[index] = b   // a stale entry of a released slot is harmless: pumpAll checks `bindings`
        }
        enlist(b)
    }

    /// Puts `b` on the list of bindings the next pass pumps (once).
    func enlist(_ b: SlotBinding) {
        guard !b.listed else { return }
        b.listed = true
        pending.append(b)
    }

    /// SO_ERROR: the error a pump step consumed, else the stack's pending one; both cleared.
    func takeError(_ id: SocketID) -> Int32 {
        var e = stack.socketError(id)?.rawValue ?? 0
        if let b = bindings[id] {
            if b.error != 0 { e = b.error }
            b.error = 0
            b.slot.error = 0
            b.slot.state.remove(.error)
        }
        return e
    }

    /// One pass over the bound sockets that may need it; true if anything moved or changed. Only
    /// these are looked at, so a pass costs O(sockets that changed), not O(bound sockets): the ones
    /// still active after the last pass or named by a request (`pending`), the ones the stack reports
    /// changed, and, when the Sentry's doorbell generation moved since the last look (it bumps it
    /// after every write into a send ring), the ones whose send mark it set (`SendMarks`; session 9:
    /// before, every bound slot's send ring was read). Every 256th pass still looks at every socket.
    func pumpAll() -> Bool {
        sweep &+= 1
        if sweep % 256 == 0 {
            stack.forEachChangedSocket { _ in }
            bindings.forEachValue { enlist($0) }
        } else {
            stack.forEachChangedSocket { id in if let b = bindings[id] { enlist(b) } }
            if let a = arena {
                let g = a.toNetstack.current   // before looking at the rings: a later write moves it again
                if g != sendScanGeneration {
                    sendScanGeneration = g
                    if a.slotCount <= SendMarks.capacity {
                        // Only the slots the Sentry marked after writing (SendMarks): no read of every
                        // bound slot's ring indices, cache lines the Sentry's CPU keeps writing.
                        a.sendMarks.take(words: (a.slotCount + 63) / 64) { i in
                            if i < bySlot.count, let b = bySlot[i], !b.listed { enlist(b) }
                        }
                    } else {
                        bindings.forEachValue { b in if !b.listed && b.slot.send.used > 0 { enlist(b) } }
                    }
                }
            }
        }
        var visit = visitScratch
        visitScratch = []
        swap(&visit, &pending)
        var changed = false
        for b in visit {
            b.listed = false
            guard bindings[b.id] === b else { continue }   // closed by an earlier pump this pass
            if pump(b) { changed = true }
            if b.active && bindings[b.id] === b { enlist(b) }
        }
        visit.removeAll(keepingCapacity: true)
        visitScratch = visit
        return changed
    }

    private func pump(_ b: SlotBinding) -> Bool {
        // A stream socket: looked up once for the whole visit (StreamHandleUnsafe.swift).
        if b.stream, let h = stack.stream(b.id) { return pump(b, h) }
        var moved: Bool
        if b.stream {   // the stack no longer has the socket: only a pending SHUT_WR is left to settle
            moved = false
            if b.shutWritePending {
                try? stack.shutdown(b.id, .write)
                b.shutWritePending = false
                moved = true
                sentryVisible = true
            }
        } else {
            moved = pumpDatagrams(b)
        }
        defer {
            b.active = moved || b.slot.send.used > 0 || b.slot.receive.free == 0 || b.closing || b.shutWritePending
                || (b.stream && ((try? stack.bytesReadable(b.id)) ?? 0) > 0) || (!b.stream && stack.nextDatagramSize(b.id) != nil)
        }
        if b.closing && (b.slot.send.used == 0 || b.error != 0 || stack.phase(b.id) != .connected || stack.lingersZero(b.id)) {
            finishClose(b)
            return true
        }
        if b.acceptRecords && attachAccepted(b) { moved = true }   // AcceptSlots.swift
        if mirror(b, stack.readiness(b.id), stack.phase(b.id), b.error == 0 ? stack.peekError(b.id) : nil) { moved = true }
        return moved
    }

    /// `pump` for a stream socket, with its handle: the same steps and state mirroring as the
    /// SocketID form, one socket lookup per visit.
    private func pump(_ b: SlotBinding, _ h: StreamHandle) -> Bool {
        var moved = pumpStream(b, h)
        defer {
            b.active = moved || b.slot.send.used > 0 || b.slot.receive.free == 0 || b.closing || b.shutWritePending
                || stack.bytesReadable(h) > 0
        }
        if b.closing && (b.slot.send.used == 0 || b.error != 0 || stack.phase(h) != .connected || stack.lingersZero(h)) {
            finishClose(b)
            return true
        }
        if b.acceptRecords && attachAccepted(b) { moved = true }   // AcceptSlots.swift
        if mirror(b, stack.readiness(h), stack.phase(h), b.error == 0 ? stack.peekError(h) : nil) { moved = true }
        return moved
    }

    /// Ends a socket the Sentry closed, once its data is out (or can no longer go out).
    private func finishClose(_ b: SlotBinding) {
        if b.acceptRecords { releaseAcceptSlots(b) }   // AcceptSlots.swift
        try? stack.close(b.id)
        bindings[b.id] = nil
        slotsInUse.remove(b.index)
        b.slot.state = [.released]
        sentryVisible = true
    }

    /// Mirrors the stack's view of a socket (its readiness, phase and pending error) into its slot;
    /// true if the slot changed.
    private func mirror(_ b: SlotBinding, _ r: Readiness, _ phase: SocketPhase, _ pendingError: NetErrno?) -> Bool {
        var st: SlotState = []
        switch phase {
        case .connecting: st.insert(.connecting)
        case .connected: st.insert(.connected)
        case .listening: if r.contains(.readable) { st.insert(.acceptable) }
        default: break
        }
        if !b.stream && r.contains(.writable) { st.insert(.writable) }
        if b.endOfStream { st.insert(.endOfStream) }
        if r.contains(.hup) { st.insert(.hup) }
        var err = b.error
        if err == 0, let e = pendingError { err = e.rawValue }
        if err != 0 { st.insert(.error) }
        var changed = false
        if b.slot.error != err { b.slot.error = err; changed = true }
        if b.slot.state != st { b.slot.state = st; changed = true }
        if changed { sentryVisible = true }
        return changed
    }

    private func record(_ b: SlotBinding, _ e: NetErrno) {
        if e != .EAGAIN && b.error == 0 { b.error = e.rawValue }
    }

    private func pumpStream(_ b: SlotBinding, _ h: StreamHandle) -> Bool {
        var moved = false
        let send = b.slot.send
        let phase = stack.phase(h)
        var drained = false
        defer {
            // Draining the send ring matters to the Sentry only if a writer or poller waits for room
            // (ArenaSlot.sendRoomWanted): otherwise no doorbell for it, as a reply went out.
            if drained {
                ArenaSlot.fence()
                if b.slot.sendRoomWanted { b.slot.sendRoomWanted = false; sentryVisible = true }
            }
        }
        if phase == .connected || (phase == .finished && send.used > 0) {
            while send.used > 0 {
                let space = stack.sendSpace(h)
                if space == 0 { break }
                let (x, _) = send.readSpans(max: space)   // the run up to the ring's end; the rest next round
                do {
                    let n = try stack.send(h, bytes: x)
                    if n <= 0 { break }
                    send.commitRead(n)
                    moved = true
                    drained = true
                    if n < x.count { break }
                } catch {
                    record(b, error)
                    if error != .EAGAIN { send.commitRead(send.used); moved = true; drained = true; sentryVisible = true }
                    break
                }
            }
        }
        if b.shutWritePending && (send.used == 0 || b.error != 0) {
            try? stack.shutdown(b.id, .write)
            b.shutWritePending = false
            moved = true
            sentryVisible = true
        }
        if b.closing { return moved }
        // Stack -> receive ring.
        let receive = b.slot.receive
        if (phase == .connected || phase == .finished) && !b.endOfStream {
            while receive.free > 0 {
                do {
                    let (x, _) = receive.writeSpans(max: receive.free)   // up to the ring's end; the rest next round
                    let n = try stack.recv(h, into: x)
                    if n == 0 { b.endOfStream = true; moved = true; sentryVisible = true; break }
                    receive.commitWrite(n)
                    moved = true
                    sentryVisible = true
                } catch {
                    record(b, error)
                    if error != .EAGAIN { b.endOfStream = true; moved = true; sentryVisible = true }
                    break
                }
            }
            // The Sentry kicks on reads only when the slot says bytes wait for room. Set the flag,
            // then look at the ring again (ArenaSlot.roomWanted's protocol): a read that freed room
            // before the flag was visible is caught here by another pass.
            if receive.free == 0 && stack.bytesReadable(h) > 0 {
                b.slot.roomWanted = true
                ArenaSlot.fence()
                if receive.free > 0 { moved = true }
            } else if b.slot.roomWanted {
                b.slot.roomWanted = false
            }
        }
        return moved
    }

    private func pumpDatagrams(_ b: SlotBinding) -> Bool {
        var moved = false
        defer { if moved { sentryVisible = true } }
        let send = b.slot.send
        var header = [UInt8](repeating: 0, count: DatagramHeader.size)
        while send.used >= DatagramHeader.size {
            guard header.withUnsafeMutableBytes({ send.peek(offset: 0, into: $0) }) else { break }
            let h = header.withUnsafeBytes { DatagramHeader.parse($0) }
            let total = DatagramHeader.size + Int(h.length)
            guard total <= send.capacity else { send.commitRead(send.used); break }   // garbage: drop it all
            guard send.used >= total else { break }
            var payload = [UInt8](repeating: 0, count: Int(h.length))
            _ = payload.withUnsafeMutableBytes { send.peek(offset: DatagramHeader.size, into: $0) }
            send.commitRead(total)
            moved = true
            do {
                if h.family == 0 {
                    try stack.send(b.id, payload)
                } else {
                    let a = h.addressBytes
                    let addr: SocketAddress = h.family == 2
                        ? SocketAddress(IPv4Address(a[0], a[1], a[2], a[3]), h.port)
                        : SocketAddress(HostInterface.ipv6(a), h.port)
                    try stack.sendTo(b.id, payload, to: addr)
                }
            } catch {
                record(b, error)
            }
        }
        let receive = b.slot.receive
        while let size = stack.nextDatagramSize(b.id), receive.free >= DatagramHeader.size + size {
            guard let (d, from) = try? stack.recvFrom(b.id, max: size) else { break }
            let w = wire(from)
            var rec = DatagramHeader(length: UInt32(d.count), family: w.family, port: w.port, address: w.address).bytes()
            rec.append(contentsOf: d)
            rec.withUnsafeBytes { _ = receive.writeAll($0) }
            moved = true
        }
        return moved
    }
}
