// TCP output: building segments, deciding what to send (window, congestion window, Nagle), and the
// timers (retransmission with RFC 6298 backoff, delayed ACK, persist, keepalive, TIME-WAIT).

extension NetworkStack {
    func tcpTimestamp(_ c: TCPSocket) -> UInt32 {
        UInt32(truncatingIfNeeded: now / Time.millisecond) &+ c.tsOffset
    }

    /// The window field for a non-SYN segment; remembers the right edge it promises.
    func windowField(_ c: TCPSocket) -> UInt16 {
        let free = UInt32(c.receiveBuffer.free)
        let w = min(free >> UInt32(c.rcvScale), 65535)
        c.lastAdvertisedWindow = w << UInt32(c.rcvScale)
        c.lastAdvertisedEdge = c.rcvNxt &+ c.lastAdvertisedWindow
        return UInt16(w)
    }

    /// Sends one segment of connection `c`: `len` bytes from the send buffer at `offset`, with `flags`.
    func emit(_ c: TCPSocket, seq: UInt32, flags: TCPFlags, offset: Int = 0, length len: Int = 0) {
        guard let l = c.local, let r = c.remote, let rt = route(to: r.ip),
              let pseudo = PseudoHeader(source: l.ip, destination: r.ip) else { stats.droppedNoRoute += 1; return }
        var h = TCPHeader()
        h.sourcePort = l.port
        h.destinationPort = r.port
        h.sequence = seq
        h.flags = flags
        if flags.contains(.ack) { h.acknowledgment = c.rcvNxt }
        if flags.contains(.syn) {
            h.options.mss = UInt16(clamping: c.advertisedMSS)
            if c.wantScale { h.options.windowScale = c.rcvScale }
            if c.state == .synSent ? config.tcp.sack : c.sackOn { h.options.sackPermitted = true }
            if c.state == .synSent ? config.tcp.timestamps : c.timestampsOn {
                h.options.timestampValue = tcpTimestamp(c)
                h.options.timestampEcho = flags.contains(.ack) ? c.tsRecent : 0
            }
            h.window = UInt16(min(c.receiveBuffer.free, 65535))  // never scaled in a SYN (RFC 7323 2.2)
        } else {
            if c.timestampsOn {
                h.options.timestampValue = tcpTimestamp(c)
                h.options.timestampEcho = c.tsRecent
            }
            if c.sackOn && flags.contains(.ack) && len == 0 {  // data segments keep their full MSS
                // The most recent block first would be ideal; the lowest blocks are a fair approximation.
                for blk in c.outOfOrder.prefix(3) { h.options.sack.append(SACKBlock(left: blk.start, right: blk.end)) }
            }
            h.window = windowField(c)
        }
        let hl = h.encodedLength
        let v6 = r.ip.isV6
        var p = makePacket(transportLength: hl + len, v6: v6)
        let o = NetworkStack.transportOffset(v6: v6)
        if len > 0 { c.sendBuffer.copy(offset: offset, count: len, into: &p, at: o + hl) }
        // No checksum for a link that fills it in, nor over loopback (the packet never leaves the stack).
        h.write(into: &p, o..<p.count, pseudo: pseudo, checksum: !rt.transmitChecksumOffload && !rt.isLocal)
        stats.tcpSegmentsOut += 1
        output(p, proto: IPProtocol.tcp, source: l.ip, destination: r.ip, route: rt, segmentSize: len > c.mss ? c.mss : 0,
               tos: (c.tos, c.trafficClass))
        // Data of ours less than a delayed-ACK timeout after data came in: a reply (request/response),
        // as Linux enters pingpong mode in tcp_event_data_sent.
        if len > 0, let r = c.lastDataReceivedAt, now - r < config.tcp.delayedAckTimeout { c.interactive = true }
        if flags.contains(.ack) {
            c.ackPending = false
            c.segmentsUnacked = 0
            c.delayedAckDeadline = nil
            c.pushReceived = false
        }
    }

    /// A reset for a segment that has no connection (RFC 9293 3.10.7.1).
    /// `local` is the segment's destination (us), `remote` its source.
    func sendStatelessReset(local: SocketAddress, remote: SocketAddress, _ seg: TCPHeader, payloadLength: Int) {
        guard !seg.flags.contains(.rst), !local.ip.isMulticastOrBroadcast, !remote.ip.isMulticastOrBroadcast,
              !remote.ip.isUnspecified else { return }
        guard let rt = route(to: remote.ip), let pseudo = PseudoHeader(source: local.ip, destination: remote.ip) else { return }
        var t = TCPHeader()
        t.sourcePort = seg.destinationPort
        t.destinationPort = seg.sourcePort
        if seg.flags.contains(.ack) {
            t.sequence = seg.acknowledgment
            t.flags = [.rst]
        } else {
            var len = UInt32(payloadLength)
            if seg.flags.contains(.syn) { len += 1 }
            if seg.flags.contains(.fin) { len += 1 }
            t.acknowledgment = seg.sequence &+ len
            t.flags = [.rst, .ack]
        }
        let v6 = remote.ip.isV6
        var p = makePacket(transportLength: TCPHeader.minLength, v6: v6)
        t.write(into: &p, NetworkStack.transportOffset(v6: v6)..<p.count, pseudo: pseudo)
        stats.tcpResetsSent += 1
        output(p, proto: IPProtocol.tcp, source: local.ip, destination: remote.ip, route: rt)
    }

    func sendSYN(_ c: TCPSocket) {
        emit(c, seq: c.iss, flags: c.state == .synSent ? [.syn] : [.syn, .ack])
        c.sndMax = c.iss &+ 1
        if c.rtoDeadline == nil { c.rtoDeadline = now + c.rto }
    }

    /// Sends whatever the windows, Nagle and the state allow, then a pending ACK if nothing carried it.
    func tcpOutput(_ c: TCPSocket) {
        switch c.state {
        case .established, .closeWait, .finWait1, .closing, .lastAck: break
        case .synSent, .synReceived, .finWait2, .timeWait:
            if c.ackPending && c.state != .synSent { emit(c, seq: c.sndNxt, flags: [.ack]) }
            return
        default: return
        }
        if seqLT(c.sndNxt, c.sndUna) { c.sndNxt = c.sndUna }
        // Limited transmit (RFC 3042): the first two duplicate ACKs each let one new segment out.
        let limited = c.inRecovery ? 0 : min(c.dupAcks, 2) * c.mss
        let window = Int(min(c.sndWnd, UInt32(clamping: c.cwnd + limited)))
        let segment = largestSegment(c)
        var sentSomething = false
        while true {
            let inFlight = Int(c.sndNxt &- c.sndUna)
            let buffered = c.sendBuffer.count
            let unsent = buffered - min(inFlight, buffered)
            let finSeq = c.sndUna &+ UInt32(buffered)
            let finNeeded = c.finQueued && seqLE(c.sndNxt, finSeq)
            let usable = window - inFlight
            if unsent > 0 && usable > 0 && !c.sacked.isEmpty {
                // Do not resend what the peer holds (after a timeout, sndNxt went back to sndUna).
                if let r = c.sacked.first(where: { seqLE($0.start, c.sndNxt) && seqLT(c.sndNxt, $0.end) }) {
                    let dataEnd = c.sndUna &+ UInt32(buffered)
                    c.sndNxt = seqLT(r.end, dataEnd) ? r.end : dataEnd
                    continue
                }
            }
            if unsent > 0 && usable > 0 {
                var len = min(unsent, usable, segment)
                if let n = c.sacked.first(where: { seqGT($0.start, c.sndNxt) }) { len = min(len, Int(n.start &- c.sndNxt)) }
                // Nagle (RFC 896) and sender SWS avoidance (RFC 1122 4.2.3.4).
                let full = len >= c.mss
                let last = len == unsent
                let idle = c.sndNxt == c.sndUna
                let halfWindow = c.maxSndWnd > 0 && len >= Int(c.maxSndWnd / 2)
                guard full || (last && (c.noDelay || idle || c.finQueued)) || halfWindow || (idle && len == usable) else { break }
                var flags: TCPFlags = [.ack]
                if last { flags.insert(.psh) }
                let withFin = last && c.finQueued
                if withFin { flags.insert(.fin) }
                let seq = c.sndNxt
                emit(c, seq: seq, flags: flags, offset: inFlight, length: len)
                if seqLT(seq, c.sndMax) { countRetransmit(c) }
                c.sndNxt = seq &+ UInt32(len) &+ (withFin ? 1 : 0)
                if seqGT(c.sndNxt, c.sndMax) {
                    // Time one segment per round trip unless timestamps do it for us (Karn: new data only).
                    if c.timedSeq == nil && !c.timestampsOn && seqGE(seq, c.sndMax) {
                        c.timedSeq = seq
                        c.timedAt = now
                    }
                    c.sndMax = c.sndNxt
                }
                sentSomething = true
                continue
            }
            if finNeeded && unsent == 0 {
                emit(c, seq: c.sndNxt, flags: [.ack, .fin])
                if seqLT(c.sndNxt, c.sndMax) { countRetransmit(c) }
                c.sndNxt = c.sndNxt &+ 1
                if seqGT(c.sndNxt, c.sndMax) { c.sndMax = c.sndNxt }
                sentSomething = true
            }
            break
        }
        if c.sndNxt != c.sndUna && c.rtoDeadline == nil { c.rtoDeadline = now + c.rto }
        if c.ackPending && !sentSomething && c.delayedAckDeadline == nil { emit(c, seq: c.sndNxt, flags: [.ack]) }
        // A zero window with data waiting and nothing in flight: probe it (RFC 9293 3.8.6.1).
        let unsentNow = c.sendBuffer.count - min(Int(c.sndNxt &- c.sndUna), c.sendBuffer.count)
        if c.sndWnd == 0 && unsentNow > 0 && c.sndNxt == c.sndUna && c.rtoDeadline == nil {
            if c.persistDeadline == nil { c.persistDeadline = now + persistInterval(c) }
        } else if c.sndWnd > 0 {
            c.persistDeadline = nil
            c.persistBackoff = 0
        }
    }

    /// Payload bytes one emitted segment may carry: the MSS, or a whole number of MSS up to what
    /// the link segments itself (segmentation offload: one write of up to 64 KiB instead of ~45).
    func largestSegment(_ c: TCPSocket) -> Int {
        guard let r = c.remote, let rt = route(to: r.ip) else { return c.mss }
        let limit = rt.segmentationOffload
        guard limit > 0 else { return c.mss }
        let room = limit - rt.ipHeaderLength - TCPHeader.minLength - 40   // 40: the most options a data segment has
        return max(c.mss, room / c.mss * c.mss)
    }

    func persistInterval(_ c: TCPSocket) -> Int64 {
        let base = max(c.rto, config.tcp.minRTO)
        return min(base << Int64(min(c.persistBackoff, 20)), config.tcp.maxPersistInterval)
    }

    /// Sends an ACK at once (used for out-of-order data, challenge ACKs, window updates).
    func sendACKNow(_ c: TCPSocket) {
        c.ackPending = true
        c.delayedAckDeadline = nil
        emit(c, seq: c.sndNxt, flags: [.ack])
    }

    // MARK: Timers

    /// Fires the due timers, earliest first, taking them from the timer queue (TCPTimerQueue.swift).
    /// Stops early when a timer queued looped-back packets: poll() delivers those before the next,
    /// later timer, as a kernel would have handled them on arrival (an ACK a delayed-ACK timer sent
    /// over loopback reaches its sender before the sender's own later retransmission timer).
    func tcpTimers(now t: Int64) {
        let limit = timers.nextOrder
        while let c = nextDueConnection(at: t, pushedBefore: limit) {
            defer { rearmTimer(c) }
            touch(c)
            if let d = c.closeDeadline, d <= t {
                c.closeDeadline = nil
                tcpRemove(c, error: c.state == .timeWait ? nil : .ETIMEDOUT)
                continue
            }
            if let d = c.rtoDeadline, d <= t { retransmitTimeout(c) }
            if c.state != .closed {
                if let d = c.delayedAckDeadline, d <= t {
                    c.delayedAckDeadline = nil
                    // No reply came in time: not (or no longer) a request/response exchange (as Linux
                    // leaves pingpong mode when its delayed ACK timer fires).
                    if c.ackPending { c.interactive = false; emit(c, seq: c.sndNxt, flags: [.ack]) }
                }
                if let d = c.persistDeadline, d <= t { persistProbe(c) }
                if let d = c.keepaliveDeadline, d <= t { keepaliveProbe(c) }
            }
            if !loopbackQueue.isEmpty { return }
        }
    }

    func retransmitTimeout(_ c: TCPSocket) {
        c.rtoDeadline = nil
        c.retries += 1
        stats.tcpTimeouts += 1
        let cfg = config.tcp
        c.rto = min(c.rto * 2, cfg.maxRTO)
        c.timedSeq = nil
        switch c.state {
        case .synSent, .synReceived:
            if c.retries > cfg.synRetries {
                tcpAbort(c, error: .ETIMEDOUT, sendReset: false)
                return
            }
            countRetransmit(c)
            sendSYN(c)
        case .closed, .listen, .timeWait, .finWait2:
            return
        default:
            guard c.sndMax != c.sndUna else { return }
            if c.retries > cfg.dataRetries {
                tcpAbort(c, error: .ETIMEDOUT, sendReset: true)
                return
            }
            // RFC 5681 (4) and RFC 6582: collapse the window and go back to the first unacknowledged byte.
            c.ssthresh = max(c.flightSize / 2, 2 * c.mss)
            c.cwnd = c.mss
            c.inRecovery = false
            // Keep the scoreboard once; a second timeout in a row forgets it, in case the peer reneged.
            if c.retries >= 2 { c.sacked.removeAll() }
            c.dupAcks = 0
            c.recover = c.sndMax
            c.sndNxt = c.sndUna
            tcpOutput(c)
            if c.rtoDeadline == nil { c.rtoDeadline = now + c.rto }
        }
    }

    func persistProbe(_ c: TCPSocket) {
        c.persistDeadline = nil
        let inFlight = Int(c.sndNxt &- c.sndUna)
        guard c.sndWnd == 0, c.sendBuffer.count > inFlight else { c.persistBackoff = 0; return }
        // One byte of new data beyond the window; the receiver answers with its current window.
        emit(c, seq: c.sndNxt, flags: [.ack], offset: inFlight, length: 1)
        if seqGT(c.sndNxt &+ 1, c.sndMax) { c.sndMax = c.sndNxt &+ 1 }
        c.persistBackoff += 1
        c.persistDeadline = now + persistInterval(c)
    }

    func keepaliveProbe(_ c: TCPSocket) {
        c.keepaliveDeadline = nil
        guard c.keepalive, c.state == .established || c.state == .closeWait else { return }
        if c.keepaliveSent >= keepaliveProbes(c) {
            tcpAbort(c, error: .ETIMEDOUT, sendReset: true)
            return
        }
        // An old sequence number makes the peer answer with an ACK (RFC 1122 4.2.3.6).
        emit(c, seq: c.sndUna &- 1, flags: [.ack])
        c.keepaliveSent += 1
        c.keepaliveDeadline = now + keepaliveInterval(c)
    }

    /// Ends a connection at once: optional RST, error to the user, connection forgotten.
    func tcpAbort(_ c: TCPSocket, error: NetErrno?, sendReset: Bool) {
        if sendReset && c.isSynchronized {
            emit(c, seq: c.sndNxt, flags: [.rst, .ack])
            stats.tcpResetsSent += 1
        }
        tcpRemove(c, error: error)
    }

    /// Moves `c` to CLOSED and drops it from the demultiplexing tables.
    func tcpRemove(_ c: TCPSocket, error: NetErrno?) {
        touch(c)
        if let k = c.key, tcpConnections[k] === c { tcpConnections[k] = nil }
        if let l = c.listener {
            if c.id == nil {
                if let i = l.acceptQueue.firstIndex(where: { $0 === c }) { l.acceptQueue.remove(at: i) } else if c.state == .synReceived {
                    l.embryonic -= 1
                }
            }
            c.listener = nil
        }
        if let error, !c.orphaned { c.pendingError = error }
        c.state = .closed
        c.rtoDeadline = nil
        c.delayedAckDeadline = nil
        c.persistDeadline = nil
        c.keepaliveDeadline = nil
        c.closeDeadline = nil
    }
}
