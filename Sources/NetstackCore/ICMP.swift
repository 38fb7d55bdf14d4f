// ICMPv4: echo replies (ping), the errors the stack sends, and errors it receives for its sockets.

extension NetworkStack {
    func handleICMP(_ h: IPv4Header, _ b: [UInt8], _ payload: Range<Int>) {
        let m: ICMPv4Header
        do { m = try ICMPv4Header.parse(b, payload) } catch {
            if error == .badChecksum { stats.badChecksum += 1 } else { stats.malformed += 1 }
            return
        }
        stats.icmpInMsgs += 1
        let body = (payload.lowerBound + ICMPv4Header.length)..<payload.upperBound
        switch m.type {
        case ICMPType.echoRequest:
            // No replies to broadcast pings (RFC 1122 3.2.2.6 allows either; Linux ignores them by default).
            guard isLocalAddress(h.destination), m.code == 0 else { return }
            sendICMP(type: ICMPType.echoReply, code: 0, rest: m.restOfHeader, body: b[body], to: h.source, from: h.destination)
            stats.icmpEchoRepliesSent += 1
        case ICMPType.echoReply:
            if echoReplies.count < 1024 {
                echoReplies.append(EchoReply(from: h.source, identifier: m.identifier, sequence: m.sequence, payload: Array(b[body])))
            }
        case ICMPType.destinationUnreachable:
            // The body quotes the offending IPv4 header and at least 8 bytes of its payload.
            guard let inner = try? IPv4Header.parse(quotedPacket(b, body), at: 0) else { return }
            let q = quotedPacket(b, body)
            let t = inner.headerLength
            guard q.count >= t + 8, inner.fragmentOffset == 0, isLocalAddress(inner.source) else { return }
            let srcPort = load16(q, t), dstPort = load16(q, t + 2)
            let local = SocketAddress(inner.source, srcPort), remote = SocketAddress(inner.destination, dstPort)
            if inner.proto == IPProtocol.udp {
                udpUnreachable(local: local, remote: remote, code: m.code)
            } else if inner.proto == IPProtocol.tcp {
                tcpUnreachable(local: local, remote: remote, code: m.code, sequence: load32(q, t + 4))
            }
        default:
            break
        }
    }

    /// The quoted datagram of an ICMP error, with its total length fixed up to what was quoted so the
    /// checked IPv4 parser accepts a truncated quote.
    private func quotedPacket(_ b: [UInt8], _ body: Range<Int>) -> [UInt8] {
        var q = Array(b[body])
        guard q.count >= 20 else { return q }
        let claimed = Int(load16(q, 2))
        if claimed > q.count {
            store16(&q, 2, UInt16(q.count))
            store16(&q, 10, 0)
            let ihl = min(Int(q[0] & 0x0f) * 4, q.count)
            store16(&q, 10, InternetChecksum.of(q, 0..<ihl))
        }
        return q
    }

    func sendICMP(type: UInt8, code: UInt8, rest: UInt32, body: ArraySlice<UInt8>, to dst: IPv4Address, from src: IPv4Address?) {
        guard let r = route(to: dst) else { stats.droppedNoRoute += 1; return }
        var p = makePacket(transportLength: ICMPv4Header.length + body.count)
        let o = NetworkStack.transportOffset
        p.replaceSubrange((o + 8)..<(o + 8 + body.count), with: body)
        ICMPv4Header(type: type, code: code, restOfHeader: rest).write(into: &p, o..<p.count)
        ipOutput(p, proto: IPProtocol.icmp, source: src ?? r.source, destination: dst, route: r)
    }

    /// Sends an ICMP error about the datagram `h`/`b[payload]` (RFC 1122 3.2.2: never about ICMP errors,
    /// broadcasts or fragments other than the first).
    func sendICMPError(type: UInt8, code: UInt8, about h: IPv4Header, _ b: [UInt8], _ payload: Range<Int>) {
        guard !h.destination.isBroadcast, !h.source.isBroadcast, !h.source.isAny, !h.source.isMulticast,
              h.fragmentOffset == 0 else { return }
        if h.proto == IPProtocol.icmp, payload.count >= 1 {
            let t = b[payload.lowerBound]
            if t == ICMPType.destinationUnreachable || t == ICMPType.timeExceeded || t == ICMPType.parameterProblem { return }
        }
        // Quote the header (without options) and up to 64 bytes of the payload.
        var quote = [UInt8](repeating: 0, count: IPv4Header.minLength)
        var qh = h
        qh.headerLength = IPv4Header.minLength
        qh.totalLength = IPv4Header.minLength + payload.count
        qh.write(into: &quote, at: 0)
        quote.append(contentsOf: b[payload.lowerBound..<min(payload.upperBound, payload.lowerBound + 64)])
        if type == ICMPType.destinationUnreachable { stats.icmpUnreachableSent += 1 }
        sendICMP(type: type, code: code, rest: 0, body: quote[...], to: h.source, from: isLocalAddress(h.destination) ? h.destination : nil)
    }

    /// Sends an ICMP echo request; replies are collected in `echoReplies`.
    public func ping(_ dst: IPv4Address, identifier: UInt16, sequence: UInt16, payload: [UInt8] = []) throws(NetErrno) {
        guard route(to: dst) != nil else { throw .ENETUNREACH }
        sendICMP(type: ICMPType.echoRequest, code: 0, rest: UInt32(identifier) << 16 | UInt32(sequence), body: payload[...],
                 to: dst, from: nil)
    }
}
