// A TCP socket looked up once for a pump step. The service's ring pump asks about a bound stream
// socket some ten times per visit (phase, send space, send, receive, bytes readable, readiness,
// pending error...), each by SocketID: a SocketIDMap probe plus a retain and a release of the socket
// every time (session 11, perf under redis: the pump's lookups and their reference counting were the
// largest share of the netstack's ARC). The handle holds the socket (one retain per visit); the
// answers are the SocketID forms' answers. Valid while the id is open: take a fresh one per visit,
// never keep one across a close.

public struct StreamHandle {
    let socket: TCPSocket
}

extension NetworkStack {
    /// The stream socket `s` names, nil for a UDP or unknown id.
    public func stream(_ s: SocketID) -> StreamHandle? {
        guard let t = tcpSockets[s] else { return nil }
        return StreamHandle(socket: t)
    }

    public func phase(_ h: StreamHandle) -> SocketPhase { tcpPhase(h.socket) }

    /// The pending error (SO_ERROR) without clearing it.
    public func peekError(_ h: StreamHandle) -> NetErrno? { h.socket.pendingError }

    /// Free space in the send buffer.
    public func sendSpace(_ h: StreamHandle) -> Int { h.socket.sendBuffer.free }

    /// Bytes readable now (0 for a listener, which `bytesReadable(_: SocketID)` refuses with EINVAL).
    public func bytesReadable(_ h: StreamHandle) -> Int {
        h.socket.state == .listen ? 0 : h.socket.receiveBuffer.count
    }

    public func readiness(_ h: StreamHandle) -> Readiness { h.socket.readiness }

    public func lingersZero(_ h: StreamHandle) -> Bool { h.socket.lingerZero }

    /// send(2) from caller-owned memory, as `send(_:bytes:)`. SAFETY: `bytes` must stay valid for the
    /// duration of the call; the stack copies what it takes and keeps no pointer.
    @discardableResult
    public func send(_ h: StreamHandle, bytes: UnsafeRawBufferPointer) throws(NetErrno) -> Int {
        try tcpSend(h.socket, bytes)
    }

    /// recv(2) into caller-owned memory, as `recv(_:into:peek:)` (0 means end of stream). SAFETY:
    /// `buffer` must be valid and writable for its whole count during the call; the stack writes
    /// only inside it and keeps no pointer.
    public func recv(_ h: StreamHandle, into buffer: UnsafeMutableRawBufferPointer) throws(NetErrno) -> Int {
        try tcpReceive(h.socket, into: buffer, peek: false).0
    }
}
