// Queries the netstack service's ring pump needs to mirror a socket's state into shared memory
// without consuming anything (the socket API's recv/send/socketError consume errors).

/// Where a socket stands, as the Sentry's file description needs it.
public enum SocketPhase: Sendable, Equatable {
    case idle          // not connected, not listening (or a UDP socket)
    case listening
    case connecting    // SYN sent or received, not yet established
    case connected     // established or close-wait: data may be sent
    case finished      // was connected; our sending side is over
}

extension NetworkStack {
    public func phase(_ s: SocketID) -> SocketPhase {
        guard let t = tcpSockets[s] else { return .idle }
        return tcpPhase(t)
    }

    func tcpPhase(_ t: TCPSocket) -> SocketPhase {
        switch t.state {
        case .listen: return .listening
        case .synSent, .synReceived: return .connecting
        case .established, .closeWait: return t.finQueued ? .finished : .connected
        case .closed: return t.wasConnected ? .finished : .idle
        default: return .finished
        }
    }

    /// The pending error (SO_ERROR) without clearing it.
    public func peekError(_ s: SocketID) -> NetErrno? {
        if let t = tcpSockets[s] { return t.pendingError }
        if let u = udpSockets[s] { return u.pendingError }
        return nil
    }

    /// The size of the next queued datagram of a UDP socket, nil when none waits.
    public func nextDatagramSize(_ s: SocketID) -> Int? {
        guard let u = udpSockets[s], u.hasData else { return nil }
        return u.queue[u.queueHead].1.count
    }

    /// Free space in a TCP socket's send buffer (0 for others).
    public func sendSpace(_ s: SocketID) -> Int {
        tcpSockets[s]?.sendBuffer.free ?? 0
    }

    public func isStream(_ s: SocketID) -> Bool { tcpSockets[s] != nil }

}
