// What both netstack services share at the request level (the user-space stack and --network host's
// host sockets): decoding a request, and Attach, whose descriptors carry the Sentry's socket arena and
// its two doorbells.
import HostOS
import IPC
import Protocol
import ServiceKit
import Wire

/// Decodes a request's body, or EINVAL naming the message.
func decode<M: WireMessage>(_ req: borrowing Message, _: M.Type) throws(ServiceFailure) -> M {
    do { return try M.decode(try req.view()) } catch { throw ServiceFailure(.EINVAL, "malformed \(M.self): \(error)") }
}

/// Attach's message and its three descriptors, taken from the request before the service's lock
/// (EBADF when one is missing). Descriptors not handed over are closed with it.
struct ArenaAttachment: ~Copyable {
    let message: Netstack.Attach
    let memory: OwnedFD, toNetstack: OwnedFD, toSentry: OwnedFD

    init(_ req: inout Message) throws(ServiceFailure) {
        let m = try decode(req, Netstack.Attach.self)
        guard let memory = req.fds.take(Int(m.memory.rawValue)), let toNet = req.fds.take(Int(m.toNetstack.rawValue)),
              let toSentry = req.fds.take(Int(m.toSentry.rawValue)) else {
            throw ServiceFailure(.EBADF, "Attach without its descriptors")
        }
        self.message = m
        self.memory = memory
        self.toNetstack = toNet
        self.toSentry = toSentry
    }

    /// Maps the arena (its memory descriptor is closed once mapped) and hands over the doorbells'
    /// descriptors. Called with the service's lock held, after it checked no arena is attached yet.
    consuming func install() throws(ServiceFailure) -> (arena: SocketArena, toNetstack: Int32, toSentry: Int32) {
        let m = message
        let arena: SocketArena
        do {
            arena = try SocketArena.map(memory.rawValue, size: Int(clamping: m.memorySize), slotCount: Int(m.slotCount), ringSize: Int(m.ringSize))
        } catch { throw ServiceFailure(.EINVAL, "arena: \(error)") }
        memory.close()
        return (arena, toNetstack.release(), toSentry.release())
    }
}
