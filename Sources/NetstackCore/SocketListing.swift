// A read-only listing of the stack's sockets, for /proc/net/{tcp,tcp6,udp,udp6} in the sandbox.
// Only sockets that have an id (the Sentry's handles) are listed.

/// One socket as /proc/net/tcp and udp show it.
public struct SocketSummary: Sendable {
    public var id: SocketID
    public var isTCP: Bool
    public var v6: Bool
    /// Linux's TCP_* state numbers (ESTABLISHED 1 ... LISTEN 10, CLOSING 11); UDP: 7 unconnected, 1 connected.
    public var state: UInt8
    public var local: SocketAddress?
    public var remote: SocketAddress?
    public var sendQueue: Int
    public var receiveQueue: Int
}

extension TCPState {
    /// The number include/net/tcp_states.h gives this state.
    var linuxNumber: UInt8 {
        switch self {
        case .established: return 1
        case .synSent: return 2
        case .synReceived: return 3
        case .finWait1: return 4
        case .finWait2: return 5
        case .timeWait: return 6
        case .closed: return 7
        case .closeWait: return 8
        case .lastAck: return 9
        case .listen: return 10
        case .closing: return 11
        }
    }
}

extension NetworkStack {
    /// Every TCP and UDP socket with an id, ordered by id.
    public func socketSummaries() -> [SocketSummary] {
        var out: [SocketSummary] = []
        for (id, t) in tcpSockets {
            // A listener's "queue" columns are its accept queue (rx) and backlog (tx), as on Linux.
            let listening = t.state == .listen
            out.append(SocketSummary(id: id, isTCP: true, v6: t.v6, state: t.state.linuxNumber, local: t.local,
                                     remote: t.remote, sendQueue: listening ? t.backlog : t.sendBuffer.count,
                                     receiveQueue: listening ? t.acceptQueue.count + (t.parked?() ?? 0) : t.receiveBuffer.count))
        }
        for (id, u) in udpSockets {
            out.append(SocketSummary(id: id, isTCP: false, v6: u.v6, state: u.remote == nil ? 7 : 1, local: u.local,
                                     remote: u.remote, sendQueue: 0, receiveQueue: u.queuedBytes))
        }
        return out.sorted { $0.id.raw < $1.id.raw }
    }
}
