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

    /// Waits (bounded) until `done` holds, reading the doorbell as the Sentry's waker would.
    func waitFor(_ bell: Int32, _ done: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(5)
        while !done() {
            if Date() > deadline { return false }
            var p = pollfd(fd: bell, events: Int16(POLLIN), revents: 0)
            _ = poll(&p, 1, 20)
            var v: UInt64 = 0
            _ = read(bell, &v, 8)
        }
        return true
    }

    @Test func bytesMoveThroughTheRingsAndStateIsMirrored() throws {
        try TestPaths.withScratchDirectory("bulwark-netstack-arena") { dir in
            let svc = try Service(dir.appendingPathComponent("s").path)
            let (arena, bell, kick) = try attach(svc)
            let v4 = ServiceRequestTests.v4
            let listener = try svc.call(Netstack.Socket(family: 2, type: 1, slot: 0)).handle
            _ = try svc.call(Netstack.Bind(handle: listener, address: v4(127, 0, 0, 1, 9000)))
            _ = try svc.call(Netstack.Listen(handle: listener, backlog: 4))
            let client = try svc.call(Netstack.Socket(family: 2, type: 1, slot: 1)).handle
            do { _ = try svc.call(Netstack.Connect(handle: client, address: v4(127, 0, 0, 1, 9000))) } catch IPCError.remote(let e, _) {
                #expect(e == .EINPROGRESS)
            }
            #expect(waitFor(bell) { arena.slot(0).state.contains(.acceptable) && arena.slot(1).state.contains(.connected) })
            let server = try svc.call(Netstack.Accept(handle: listener, flags: 0, slot: 2)).handle
            _ = server
            // 300 KiB through a 64 KiB ring: the producer refills as the netstack drains.
            let payload = (0..<(300 * 1024)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 11) }
            var sent = 0, received: [UInt8] = []
            let send = arena.slot(1).send, recv = arena.slot(2).receive
            let deadline = Date().addingTimeInterval(10)
            while received.count < payload.count && Date() < deadline {
                if sent < payload.count {
                    let (a, b) = send.writeSpans(max: payload.count - sent)
                    payload.withUnsafeBytes { p in
                        a.copyMemory(from: UnsafeRawBufferPointer(rebasing: p[sent..<(sent + a.count)]))
                        b.copyMemory(from: UnsafeRawBufferPointer(rebasing: p[(sent + a.count)..<(sent + a.count + b.count)]))
                    }
                    send.commitWrite(a.count + b.count)
                    sent += a.count + b.count
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
            #expect(waitFor(bell) { arena.slot(2).state.contains(.endOfStream) })
            #expect(recv.used == 0)
            // Close releases the slot once the send ring is empty.
            _ = try svc.call(Netstack.Close(handle: client))
            #expect(waitFor(bell) { arena.slot(1).state.contains(.released) })
            // A slot in use cannot be claimed twice.
            #expect(throws: IPCError.self) { _ = try svc.call(Netstack.Socket(family: 2, type: 2, slot: 2)) }
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
