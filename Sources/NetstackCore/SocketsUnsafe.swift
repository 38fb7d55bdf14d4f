// Pointer-based send and receive for the Sentry, which holds guest data in its own mapping of the
// memory file: no intermediate Array per call.

extension NetworkStack {
    /// send(2) from caller-owned memory. SAFETY: `bytes` must stay valid for the duration of the call;
    /// the stack copies what it takes and keeps no pointer.
    @discardableResult
    public func send(_ s: SocketID, bytes: UnsafeRawBufferPointer) throws(NetErrno) -> Int {
        if let t = tcpSockets[s] { return try tcpSend(t, bytes) }
        if let u = udpSockets[s] { return try udpSend(u, bytes, to: nil) }
        throw .EBADF
    }

    /// sendto(2) from caller-owned memory (same SAFETY contract as `send(_:bytes:)`).
    @discardableResult
    public func sendTo(_ s: SocketID, bytes: UnsafeRawBufferPointer, to addr: SocketAddress) throws(NetErrno) -> Int {
        if let u = udpSockets[s] {
            return try udpSend(u, bytes, to: internalAddress(addr, v6: u.v6, v6Only: u.v6Only, wrong: .EAFNOSUPPORT))
        }
        if let t = tcpSockets[s] { return try tcpSend(t, bytes) }
        throw .EBADF
    }

    /// recv(2) into caller-owned memory; returns the byte count (0 on TCP means end of stream) and, for
    /// UDP, the sender. A datagram longer than the buffer is truncated (the rest is dropped, as Linux
    /// does without MSG_TRUNC). SAFETY: `buffer` must be valid and writable for its whole count
    /// during the call; the stack writes only inside it and keeps no pointer.
    public func recv(_ s: SocketID, into buffer: UnsafeMutableRawBufferPointer, peek: Bool = false)
        throws(NetErrno) -> (Int, SocketAddress?) {
        if let t = tcpSockets[s] { return try tcpReceive(t, into: buffer, peek: peek) }
        if let u = udpSockets[s] {
            let (d, from) = try udpReceive(u, max: buffer.count, peek: peek)
            let n = min(d.count, buffer.count)
            if n > 0 { d.withUnsafeBytes { src in buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[0..<n])) } }
            return (n, userAddress(from, v6: u.v6))
        }
        throw .EBADF
    }

    func tcpReceive(_ t: TCPSocket, into buffer: UnsafeMutableRawBufferPointer, peek: Bool) throws(NetErrno) -> (Int, SocketAddress?) {
        let n = min(buffer.count, t.receiveBuffer.count)
        if n > 0 {
            t.receiveBuffer.copy(offset: 0, count: n, into: buffer)
            if !peek {
                t.receiveBuffer.drop(n)
                maybeWindowUpdate(t)
            }
            return (n, nil)
        }
        // Nothing buffered: the same EOF/error/EAGAIN answers as the Array form.
        let d = try tcpReceive(t, max: 0)
        return (d.count, nil)
    }
}

extension ByteRing {
    /// Copies bytes [offset, offset+n) of the ring to the start of `out`. SAFETY: the caller
    /// guarantees `n <= out.count` and `offset + n <= count`; both runs are bounds-checked slices of
    /// the storage, so only `out` is trusted.
    func copy(offset: Int, count n: Int, into out: UnsafeMutableRawBufferPointer) {
        precondition(n <= out.count && offset + n <= count)
        let (a, b) = runs(offset: offset, count: n)
        bytes.withUnsafeBytes { src in
            UnsafeMutableRawBufferPointer(rebasing: out[0..<a.count]).copyMemory(from: UnsafeRawBufferPointer(rebasing: src[a]))
            if !b.isEmpty {
                UnsafeMutableRawBufferPointer(rebasing: out[a.count..<(a.count + b.count)])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: src[b]))
            }
        }
    }
}
