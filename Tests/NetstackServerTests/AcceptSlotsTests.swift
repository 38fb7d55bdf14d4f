// Reply-less accept at the netstack's side (AcceptSlots.swift), without the Sentry: spare slots granted
// to a listener receive established connections in order, with a record in the listener's receive
// ring; parked connections count against the backlog; closing the listener resets the connections
// nobody popped and releases their slots and the unused spares; bad grants are refused.
import Foundation
import Glibc
import HostOS
import IPC
import Protocol
import Testing
import TestSupport
import Wire

@Suite struct AcceptSlotsTests {
    @Test func connectionsAreParkedInSpareSlotsAndReleasedWithTheListener() throws {
        try TestPaths.withScratchDirectory("bulwark-netstack-accept") { dir in
            let svc = try ArenaDataPathTests.Service(dir.appendingPathComponent("s").path)
            let (arena, _, _) = try ArenaDataPathTests().attach(svc, slots: 16)
            let v4 = ServiceRequestTests.v4
            let listener = try svc.call(Netstack.Socket(family: 2, type: 1, slot: 0)).handle
            _ = try svc.call(Netstack.Bind(handle: listener, address: v4(127, 0, 0, 1, 9100)))
            _ = try svc.call(Netstack.Listen(handle: listener, backlog: 2))
            // Refused: a slot in use, a duplicate, a slot out of range.
            #expect(throws: IPCError.self) { _ = try svc.call(Netstack.AcceptSlots(handle: listener, slots: [0])) }
            #expect(throws: IPCError.self) { _ = try svc.call(Netstack.AcceptSlots(handle: listener, slots: [5, 5])) }
            #expect(throws: IPCError.self) { _ = try svc.call(Netstack.AcceptSlots(handle: listener, slots: [99])) }
            _ = try svc.call(Netstack.AcceptSlots(handle: listener, slots: [5, 6]))
            // Four clients, one at a time: backlog 2 holds three (two parked, one queued); the fourth
            // SYN is dropped.
            var clients: [UInt64] = []
            for i in 1...4 {
                let c = try svc.call(Netstack.Socket(family: 2, type: 1, slot: UInt32(i))).handle
                do { _ = try svc.call(Netstack.Connect(handle: c, address: v4(127, 0, 0, 1, 9100))) } catch IPCError.remote(let e, _) {
                    #expect(e == .EINPROGRESS)
                }
                clients.append(c)
                if i < 4 { #expect(ArenaDataPathTests().waitFor(arena) { arena.slot(i).state.contains(.connected) }) }
            }
            let ring = arena.slot(0).receive
            #expect(ArenaDataPathTests().waitFor(arena) { ring.used == 2 * AcceptRecord.size && arena.slot(0).state.contains(.acceptable) })
            usleep(300_000)
            #expect(!arena.slot(4).state.contains(.connected))   // the fourth waits for its SYN retransmission
            // The first record: slot 5, connected before the record was visible, peer = client 1.
            let first = try #require(AcceptRecord.pop(from: ring))
            #expect(first.slot == 5)
            #expect(arena.slot(5).state.contains(.connected))
            let local1 = try svc.call(Netstack.GetName(handle: clients[0], peer: false)).address
            #expect(first.family == 2 && first.port == local1.port && first.address == [127, 0, 0, 1])
            let peer = try svc.call(Netstack.GetName(handle: UInt64(first.handle), peer: true)).address
            #expect(peer.port == local1.port)
            // The third connection was not parked (no spare left): the Accept call takes it.
            let third = try svc.call(Netstack.Accept(handle: listener, flags: 0, slot: 7))
            let local3 = try svc.call(Netstack.GetName(handle: clients[2], peer: false)).address
            #expect(third.peer.port == local3.port)
            // A spare never used, then the listener closes with the second connection unpopped.
            _ = try svc.call(Netstack.AcceptSlots(handle: listener, slots: [8]))
            _ = try svc.call(Netstack.Close(handle: listener))
            #expect(ArenaDataPathTests().waitFor(arena) {
                arena.slot(6).state.contains(.released) && arena.slot(8).state.contains(.released)
            })
            #expect(!arena.slot(5).state.contains(.released))   // popped: the Sentry's socket now
            // Client 2's connection was reset by the close.
            #expect(ArenaDataPathTests().waitFor(arena) { arena.slot(2).state.contains(.error) || arena.slot(2).state.contains(.hup) })
            // A grant to a socket that is not listening is refused and its slots marked released.
            #expect(throws: IPCError.self) { _ = try svc.call(Netstack.AcceptSlots(handle: clients[0], slots: [9])) }
            #expect(arena.slot(9).state.contains(.released))
        }
    }
}
