// ListSockets: the stack's TCP and UDP sockets for the sandbox's /proc/net/{tcp,tcp6,udp,udp6}.
// Read-only; registered by NetstackService.handlers().
import NetstackCore
import Protocol
import ServiceKit

extension NetstackService {
    func registerSocketListing(_ t: inout HandlerTable) {
        t.register(Netstack.ListSockets.messageID) { [self] req, reply throws(ServiceFailure) in
            _ = try decode(req, Netstack.ListSockets.self)
            let list = try locked { () throws(NetErrno) in stack.socketSummaries() }
            reply.encode(Netstack.SocketList(sockets: list.map(summary)))
        }
        t.register(Netstack.Stats.messageID) { [self] req, reply throws(ServiceFailure) in
            _ = try decode(req, Netstack.Stats.self)
            let counters = try locked { () throws(NetErrno) in stack.snmpCounters() }
            reply.encode(Netstack.StatsReply(counters: counters.map { Netstack.StackCounter(name: $0.0, value: UInt64(max(0, $0.1))) }))
        }
    }

    func summary(_ s: SocketSummary) -> Netstack.SocketSummary {
        Netstack.SocketSummary(handle: UInt64(UInt32(bitPattern: s.id.raw)), protocol: s.isTCP ? 6 : 17,
                               family: s.v6 ? 10 : 2, state: s.state,
                               local: s.local.map(wire) ?? Netstack.SocketAddress(),
                               remote: s.remote.map(wire) ?? Netstack.SocketAddress(),
                               sendQueue: UInt32(clamping: s.sendQueue), receiveQueue: UInt32(clamping: s.receiveQueue))
    }
}
