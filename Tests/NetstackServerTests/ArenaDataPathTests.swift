// The netstack's half of the data path, without the Sentry: Attach a socket arena, bind sockets to
// slots, and move bytes through the rings alone (no request per write), watching the state words.
import Foundation
import Glibc
import HostOS
import IPC
import LinuxABI
import Protocol
import Testing
import TestSupport
import Wire

@Suite struct ArenaDataPathTests {
    typealias Service = ServiceRequestTests.Service

    /// Attach with the given geometry; the arena is created as the Sentry creates it.
    func attach(_ svc: Service, slots: Int = 8, ring: Int = 65536, lie: Bool = false) throws -> (SocketArena, Int32, Int32) {
        var memory: Int32 = -1
        let arena = try SocketArena.create(slotCount: slots, ringSize: ring, memory: &memory)
        let toNet = try EventFD.create(nonBlocking: true).release()
        let toSentry = try EventFD.create(nonBlocking: true).release()
        defer { close(memory) }
        let size = UInt64(arena.size) + (lie ? 1 << 20 : 0)
        let m = Netstack.Attach(memory: FDIndex(0), memorySize: size, slotCount: UInt32(slots), ringSize: UInt32(ring),
                                toNetstack: FDIndex(1), toSentry: FDIndex(2))
        var fds = ReceivedFDs()
        _ = try [memory, toNet, toSentry].withUnsafeBufferPointer { p in
            try svc.channel.call(m, writer: &svc.writer, fds: p, receivedFDs: &fds, timeout: .seconds(5))
        }
        return (arena, toSentry, toNet)
    }

    /// Waits (bounded) until `done` holds, sleeping on the arena's doorbell as a Sentry task does
    /// (ArenaDoorbell's protocol; each sleep at most 20 ms, so a missed ring only slows the test).
    func waitFor(_ arena: SocketArena, _ done: () -> Bool) -> Bool {
        let bell = arena.toSentry
        let deadline = Date().addingTimeInterval(5)
        while true {
            let seen = bell.current32   // before the check: a ring after it ends the sleep at once
            if done() { return true }
            if Date() > deadline { return false }
            if bell.prepareToSleep(seen32: seen) {
                var t = timespec()
                clock_gettime(CLOCK_MONOTONIC, &t)
                t.tv_nsec += 20_000_000
                if t.tv_nsec >= 1_000_000_000 { t.tv_sec += 1; t.tv_nsec -= 1_000_000_000 }
                _ = bell.sleep(seen: seen, deadline: t)
            }
        }
    }

    /// Writes as much of `payload[from...]` as `ring` has room for, as the Sentry's write does;
    /// returns the number of bytes written.
    func write(_ payload: [UInt8], from: Int, into ring: SharedRing) -> Int {
        let (a, b) = ring.writeSpans(max: payload.count - from)
        payload.withUnsafeBytes { p in
            a.copyMemory(from: UnsafeRawBufferPointer(rebasing: p[from..<(from + a.count)]))
            b.copyMemory(from: UnsafeRawBufferPointer(rebasing: p[(from + a.count)..<(from + a.count + b.count)]))
        }
        ring.commitWrite(a.count + b.count)
        return a.count + b.count
    }

    /// A listener on 127.0.0.1:`port` in slot 0, a client connected to it in slot 1 and the accepted
    /// connection in slot 2, once the state words say so. Returns the client's and server's handles.
    func connectedPair(_ svc: Service, _ arena: SocketArena, port: UInt16) throws -> (client: UInt64, server: UInt64) {
        let v4 = ServiceRequestTests.v4
        let listener = try svc.call(Netstack.Socket(family: 2, type: 1, slot: 0)).handle
        _ = try svc.call(Netstack.Bind(handle: listener, address: v4(127, 0, 0, 1, port)))
        _ = try svc.call(Netstack.Listen(handle: listener, backlog: 4))
        let client = try svc.call(Netstack.Socket(family: 2, type: 1, slot: 1)).handle
        do { _ = try svc.call(Netstack.Connect(handle: client, address: v4(127, 0, 0, 1, port))) } catch IPCError.remote(let e, _) {
            #expect(e == .EINPROGRESS)
        }
        #expect(waitFor(arena) { arena.slot(0).state.contains(.acceptable) && arena.slot(1).state.contains(.connected) })
        let server = try svc.call(Netstack.Accept(handle: listener, flags: 0, slot: 2)).handle
        return (client, server)
    }

    @Test func bytesMoveThroughTheRingsAndStateIsMirrored() throws {
        try TestPaths.withScratchDirectory("bulwark-netstack-arena") { dir in
            let svc = try Service(dir.appendingPathComponent("s").path)
            let (arena, _, kick) = try attach(svc)
            let (client, _) = try connectedPair(svc, arena, port: 9000)
            // 300 KiB through a 64 KiB ring: the producer refills as the netstack drains.
            let payload = (0..<(300 * 1024)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 11) }
            var sent = 0, received: [UInt8] = []
            let send = arena.slot(1).send, recv = arena.slot(2).receive
            let deadline = Date().addingTimeInterval(10)
            while received.count < payload.count && Date() < deadline {
                if sent < payload.count {
                    sent += write(payload, from: sent, into: send)
                    arena.sendMarks.mark(1)   // as the Sentry does after a send-ring write
                    if arena.toNetstack.changed() { try EventFD.signal(kick) }
                }
                let (x, y) = recv.readSpans(max: recv.used)
                received += x; received += y
                recv.commitRead(x.count + y.count)
                if x.count + y.count == 0 { usleep(1000) }
                if arena.toNetstack.changed() { try EventFD.signal(kick) }   // room in the receive ring
            }
            #expect(received == payload)
            // End of stream reaches the reader's state word after the bytes.
            _ = try svc.call(Netstack.Shutdown(handle: client, how: 1))
            #expect(waitFor(arena) { arena.slot(2).state.contains(.endOfStream) })
            #expect(recv.used == 0)
            // Close releases the slot once the send ring is empty.
            _ = try svc.call(Netstack.Close(handle: client))
            #expect(waitFor(arena) { arena.slot(1).state.contains(.released) })
            // A slot in use cannot be claimed twice.
            #expect(throws: IPCError.self) { _ = try svc.call(Netstack.Socket(family: 2, type: 2, slot: 2)) }
        }
    }

    /// A receive ring the reader leaves full: the pump says so in the slot (roomWanted) and waits; the
    /// reader's one kick after freeing room brings the next bytes at once (not on a timer: the driver
    /// without an interface sleeps up to 1 s), and reads that find the flag clear need no kick.
    @Test func fullReceiveRingWantsRoomAndOneKickResumesIt() throws {
        try TestPaths.withScratchDirectory("bulwark-netstack-room") { dir in
            let svc = try Service(dir.appendingPathComponent("s").path)
            let (arena, _, kick) = try attach(svc)
            _ = try connectedPair(svc, arena, port: 9001)
            let total = 1 << 20
            let payload = (0..<total).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 13) }
            var sent = 0, received: [UInt8] = []
            let send = arena.slot(1).send, recv = arena.slot(2).receive, slot = arena.slot(2)
            func write() throws {
                guard sent < total, send.free > 0 else { return }
                sent += self.write(payload, from: sent, into: send)
                arena.sendMarks.mark(1)
                if arena.toNetstack.changed() { try EventFD.signal(kick) }
            }
            /// Reads everything there is as the Sentry does: kicks only when the slot asks for room.
            func read() throws -> Bool {
                let (x, y) = recv.readSpans(max: recv.used)
                received += x; received += y
                recv.commitRead(x.count + y.count)
                ArenaSlot.fence()
                let wanted = slot.roomWanted
                if wanted && arena.toNetstack.changed() { try EventFD.signal(kick) }
                return wanted
            }
            // Fill the pipe without reading until the pump leaves the receive ring full and says so.
            let fillDeadline = Date().addingTimeInterval(5)
            while !(recv.free == 0 && slot.roomWanted) && Date() < fillDeadline {
                try write()
                usleep(1000)
            }
            try #require(recv.free == 0 && slot.roomWanted, "ring \(recv.used) bytes, sent \(sent)")
            // Each time the ring is found full: one read with its kick, and bytes follow well inside the
            // driver's 1 s idle sleep.
            var refills = 0
            let deadline = Date().addingTimeInterval(15)
            while received.count < total && Date() < deadline {
                try write()
                let full = recv.free == 0 && slot.roomWanted
                let kicked = try read()
                if full && kicked {
                    let t0 = Date()
                    while recv.used == 0 && received.count < total && Date().timeIntervalSince(t0) < 0.9 { usleep(200) }
                    #expect(recv.used > 0, "no bytes within 0.9 s of the kick")
                    refills += 1
                } else {
                    usleep(500)
                }
            }
            #expect(received.count == total)
            #expect(received == payload)
            #expect(refills >= 1)
            // Everything delivered: the flag is down again.
            #expect(waitFor(arena) { !slot.roomWanted })
        }
    }

    @Test func attachChecksTheGeometryAndHappensOnce() throws {
        try TestPaths.withScratchDirectory("bulwark-netstack-arena") { dir in
            let svc = try Service(dir.appendingPathComponent("s").path)
            // A size larger than the memfd would make the netstack fault on touching it: refused.
            #expect(throws: IPCError.self) { _ = try attach(svc, lie: true) }
            _ = try attach(svc)
            #expect(throws: IPCError.self) { _ = try attach(svc) }
        }
    }
}
