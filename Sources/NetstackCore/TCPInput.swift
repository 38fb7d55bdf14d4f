// TCP input: demultiplexing and the SEGMENT ARRIVES processing of RFC 9293 3.10.7, with RFC 5961
// checks for RST and SYN, RFC 7323 options, NewReno loss recovery (RFC 6582) and out-of-order
// reassembly in the receive ring.

extension NetworkStack {
    func handleTCP(_ h: IPv4Header, _ b: [UInt8], _ payload: Range<Int>) {
        let seg: TCPHeader
        do { seg = try TCPHeader.parse(b, payload, pseudo: .v4(h.source, h.destination), verify: !receivedChecksumTrusted) } catch {
            if error == .badChecksum { stats.badChecksum += 1 } else { stats.malformed += 1 }
            return
        }
        guard !h.destination.isBroadcast, !h.destination.isMulticast else { return }
        tcpArrived(seg, b, (payload.lowerBound + seg.headerLength)..<payload.upperBound,
                   local: SocketAddress(h.destination, seg.destinationPort), remote: SocketAddress(h.source, seg.sourcePort))
    }

    func handleTCP6(_ h: IPv6Header, _ b: [UInt8], _ payload: Range<Int>) {
        let seg: TCPHeader
        do { seg = try TCPHeader.parse(b, payload, pseudo: .v6(h.source, h.destination), verify: !receivedChecksumTrusted) } catch {
            if error == .badChecksum { stats.badChecksum += 1 } else { stats.malformed += 1 }
            return
        }
        guard !h.destination.isMulticast else { return }
        tcpArrived(seg, b, (payload.lowerBound + seg.headerLength)..<payload.upperBound,
                   local: SocketAddress(h.destination, seg.destinationPort), remote: SocketAddress(h.source, seg.sourcePort))
    }

    /// Demultiplexes a checked segment: connection, then listener, else a reset.
    func tcpArrived(_ seg: TCPHeader, _ b: [UInt8], _ data: Range<Int>, local: SocketAddress, remote: SocketAddress) {
        guard seg.sourcePort != 0, seg.destinationPort != 0 else { return }
        stats.tcpSegmentsIn += 1
        if let c = tcpConnections[ConnectionKey(local: local, remote: remote)] {
            // A new SYN for a 4-tuple in TIME-WAIT starts a new connection (RFC 6191, as Linux does):
            // answering it with an ACK made the client reset and retry only after its 1 s SYN timeout.
            if c.state == .timeWait, c.orphaned, let iss = timeWaitReuse(c, seg), let l = tcpListener(for: local), l.state == .listen {
                tcpRemove(c, error: nil)
                stats.tcpTimeWaitReused += 1
                listenInput(l, seg, data, local: local, remote: remote, iss: iss)
                return
            }
            tcpInput(c, seg, b, data)
            touch(c)
            return
        }
        if let l = tcpListener(for: local), l.state == .listen {
            listenInput(l, seg, data, local: local, remote: remote)
            return
        }
        sendStatelessReset(local: local, remote: remote, seg, payloadLength: data.count)
    }

    /// The listener for a local address: exact, then the family's wildcard, then a dual-stack [::].
    func tcpListener(for local: SocketAddress) -> TCPSocket? {
        if let l = tcpListeners[local] { return l }
        if let l = tcpListeners[SocketAddress.any(v6: local.ip.isV6, port: local.port)] { return l }
        if !local.ip.isV6, let l = tcpListeners[SocketAddress.any(v6: true, port: local.port)], l.dual { return l }
        return nil
    }

    /// A reset answering `seg`, which arrived on connection `c`.
    func resetReply(_ c: TCPSocket, _ seg: TCPHeader, payloadLength: Int) {
        guard let l = c.local, let r = c.remote else { return }
        sendStatelessReset(local: l, remote: r, seg, payloadLength: payloadLength)
    }

    /// A SYN that may take over connection `c` in TIME-WAIT: no ACK or RST, and either beyond what the
    /// old connection received or carrying a newer timestamp (Linux's tcp_timewait_state_process).
    /// Returns the ISN for the new connection: past anything the old one sent, so no old duplicate
    /// can be taken for new data.
    func timeWaitReuse(_ c: TCPSocket, _ seg: TCPHeader) -> UInt32? {
        guard seg.flags.contains(.syn), !seg.flags.contains(.ack), !seg.flags.contains(.rst) else { return nil }
        let newerTimestamp = c.timestampsOn && seg.options.timestampValue.map { seqGT($0, c.tsRecent) } == true
        guard seqGT(seg.sequence, c.rcvNxt) || newerTimestamp else { return nil }
        return c.sndNxt &+ 65535 &+ 2
    }

    /// RFC 6528's F(): a keyed hash of the 4-tuple (the secret comes from the stack's seed).
    func connectionHash(_ local: SocketAddress, _ remote: SocketAddress, ports: Bool) -> UInt32 {
        func bits(_ a: IPAddress) -> (UInt64, UInt64) {
            switch a {
            case .v4(let v): return (UInt64(v.raw), 0)
            case .v6(let v): return (v.high, v.low)
            }
        }
        var m = SplitMix64(seed: isnSecret)
        let (lh, ll) = bits(local.ip), (rh, rl) = bits(remote.ip)
        var h = m.next()
        for w in [lh, ll, rh, rl, ports ? UInt64(local.port) << 16 | UInt64(remote.port) : 0] {
            m = SplitMix64(seed: h ^ w)
            h = m.next()
        }
        return UInt32(truncatingIfNeeded: h >> 32)
    }

    /// Picks the ISN, our window scale and MSS for a new connection towards `remote`. The ISN is
    /// RFC 6528's clock (64 ns ticks, as Linux) plus a keyed hash of the 4-tuple, and the timestamp
    /// offset a keyed hash of the address pair (as Linux): a new connection on a 4-tuple the peer
    /// still holds in TIME-WAIT then carries a higher sequence number and timestamp, which lets the
    /// peer accept it at once instead of answering with an ACK (a reset and a 1 s SYN retry).
    func setUpConnection(_ c: TCPSocket, route rt: AnyRoute, iss: UInt32? = nil) {
        let cfg = config.tcp
        if let l = c.local, let r = c.remote {
            c.iss = iss ?? isnOverride ?? (UInt32(truncatingIfNeeded: now >> 6) &+ connectionHash(l, r, ports: true))
            c.tsOffset = connectionHash(l, r, ports: false)
        } else {
            c.iss = iss ?? isnOverride ?? rng.next32()
            c.tsOffset = rng.next32()
        }
        c.sndUna = c.iss
        c.sndNxt = c.iss &+ 1
        c.sndMax = c.iss &+ 1
        c.recover = c.iss
        c.advertisedMSS = min(rt.mtu - rt.ipHeaderLength - TCPHeader.minLength, 65495)
        var shift: UInt8 = 0
        while shift < 14 && (c.receiveBuffer.capacity >> Int(shift)) > 65535 { shift += 1 }
        c.rcvScale = cfg.windowScaling ? shift : 0
        c.wantScale = cfg.windowScaling
        c.rto = cfg.initialRTO
        c.retries = 0
        c.timedAt = now
    }

    /// Applies the options of the peer's SYN (RFC 7323 and 2018: both sides must offer).
    func applySynOptions(_ c: TCPSocket, _ seg: TCPHeader) {
        let cfg = config.tcp
        if cfg.windowScaling, let ws = seg.options.windowScale, c.wantScale {
            c.sndScale = ws
        } else {
            c.sndScale = 0
            c.rcvScale = 0
            c.wantScale = false
        }
        if cfg.timestamps, let tsv = seg.options.timestampValue {
            c.timestampsOn = true
            c.tsRecent = tsv
        }
        c.sackOn = cfg.sack && seg.options.sackPermitted
        let peerMSS = Int(seg.options.mss ?? 536)
        c.mss = max(64, min(peerMSS, c.advertisedMSS) - (c.timestampsOn ? 12 : 0))
        c.cwnd = c.mss * cfg.initialCongestionWindowSegments
    }

    func listenInput(_ l: TCPSocket, _ seg: TCPHeader, _ data: Range<Int>, local: SocketAddress, remote: SocketAddress,
                     iss: UInt32? = nil) {
        if seg.flags.contains(.rst) { return }
        if seg.flags.contains(.ack) {
            sendStatelessReset(local: local, remote: remote, seg, payloadLength: data.count)
            return
        }
        guard seg.flags.contains(.syn), !seg.flags.contains(.fin) else { return }
        // Listen backlog as Linux counts it (tcp_conn_request): a SYN is dropped when the accept queue
        // is full (sk_acceptq_is_full: more than `backlog` completed connections wait, so backlog + 1
        // fit; ListenOverflows and ListenDrops), and the client retransmits it. Embryonic (SYN-RECEIVED)
        // connections do not count there; they have their own bound, `synBacklog` (ListenDrops only).
        if l.acceptQueueFull {
            stats.tcpListenOverflows += 1
            stats.tcpListenDrops += 1
            return
        }
        guard l.embryonic < l.synBacklog else {
            stats.tcpReqQFullDrop += 1
            stats.tcpListenDrops += 1
            return
        }
        guard !remote.ip.isMulticastOrBroadcast, !remote.ip.isUnspecified, let rt = route(to: remote.ip) else {
            stats.tcpListenDrops += 1   // Linux's tcp_conn_request counts these drops too
            return
        }
        let c = TCPSocket(id: nil, stack: self, v6: l.v6)
        c.v6Only = l.v6Only
        c.sendBuffer = ByteRing(capacity: l.sendBuffer.capacity)        // SO_SNDBUF/SO_RCVBUF are inherited
        c.receiveBuffer = ByteRing(capacity: l.receiveBuffer.capacity)
        c.local = local
        c.remote = remote
        c.listener = l
        c.noDelay = l.noDelay
        c.keepalive = l.keepalive
        c.keepIdle = l.keepIdle; c.keepInterval = l.keepInterval; c.keepCount = l.keepCount   // inherited, as on Linux
        c.lingerZero = l.lingerZero
        c.tos = l.tos; c.trafficClass = l.trafficClass
        setUpConnection(c, route: rt, iss: iss)
        c.irs = seg.sequence
        c.rcvNxt = seg.sequence &+ 1
        applySynOptions(c, seg)
        c.sndWnd = UInt32(seg.window)
        c.maxSndWnd = c.sndWnd
        c.sndWl1 = seg.sequence
        c.state = .synReceived
        tcpConnections[ConnectionKey(local: local, remote: remote)] = c
        l.embryonic += 1
        stats.tcpPassiveOpens += 1
        sendSYN(c)
    }

    func synSentInput(_ c: TCPSocket, _ seg: TCPHeader) {
        var ackOK = false
        if seg.flags.contains(.ack) {
            let a = seg.acknowledgment
            guard seqGT(a, c.iss), seqLE(a, c.sndMax) else {
                resetReply(c, seg, payloadLength: 0)
                return
            }
            ackOK = true
        }
        if seg.flags.contains(.rst) {
            if ackOK { tcpRemove(c, error: .ECONNREFUSED) }
            return
        }
        guard seg.flags.contains(.syn) else { return }
        c.irs = seg.sequence
        c.rcvNxt = seg.sequence &+ 1
        applySynOptions(c, seg)
        c.sndWnd = UInt32(seg.window)  // the window of a SYN is never scaled
        c.maxSndWnd = c.sndWnd
        c.sndWl1 = seg.sequence
        c.sndWl2 = seg.acknowledgment
        if ackOK {
            c.sndUna = seg.acknowledgment
            established(c)
            sendACKNow(c)
        } else {
            // Simultaneous open (RFC 9293 figure 7).
            c.state = .synReceived
            emit(c, seq: c.iss, flags: [.syn, .ack])
        }
    }

    /// The handshake completed: timers, RTT sample from the SYN, and the listener's accept queue.
    func established(_ c: TCPSocket) {
        c.state = .established
        c.wasConnected = true
        if c.retries == 0 { updateRTT(c, now - c.timedAt) }  // Karn: no sample from a retransmitted SYN
        c.retries = 0
        c.rto = baseRTO(c)
        c.rtoDeadline = nil
        c.timedSeq = nil
        if c.keepalive { c.keepaliveDeadline = now + keepaliveIdle(c) }
        if let l = c.listener, c.id == nil {
            l.embryonic -= 1
            l.acceptQueue.append(c)
            if l.acceptWaiting > min(l.backlog / 2, NetworkStack.acceptPressureQueue) { acceptPressureUntil = now + NetworkStack.acceptPressureHold }
        }
        if c.finQueued { c.state = .finWait1 }
    }

    func updateRTT(_ c: TCPSocket, _ sample: Int64) {
        let r = max(sample, 1000)
        if !c.hasRTT {
            c.srtt = r
            c.rttvar = r / 2
            c.hasRTT = true
        } else {
            c.rttvar = (3 * c.rttvar + abs(c.srtt - r)) / 4
            c.srtt = (7 * c.srtt + r) / 8
        }
        c.rto = baseRTO(c)
    }

    func baseRTO(_ c: TCPSocket) -> Int64 {
        let cfg = config.tcp
        guard c.hasRTT else { return cfg.initialRTO }
        return min(max(c.srtt + max(Time.millisecond, 4 * c.rttvar), cfg.minRTO), cfg.maxRTO)
    }

    func enterTimeWait(_ c: TCPSocket) {
        c.state = .timeWait
        c.rtoDeadline = nil
        c.persistDeadline = nil
        c.keepaliveDeadline = nil
        c.closeDeadline = now + config.tcp.timeWait
    }

    func tcpInput(_ c: TCPSocket, _ segIn: TCPHeader, _ b: [UInt8], _ dataIn: Range<Int>) {
        switch c.state {
        case .synSent:
            synSentInput(c, segIn)
            tcpOutput(c)
            return
        case .closed, .listen:
            return
        default:
            break
        }
        var seg = segIn
        let data = dataIn
        if c.keepalive {
            c.keepaliveSent = 0
            c.keepaliveDeadline = now + keepaliveIdle(c)
        }
        // A retransmitted SYN,ACK in a simultaneous open carries the SYN we already counted.
        if seg.flags.contains(.syn) && seg.sequence == c.irs && c.state == .synReceived {
            seg.flags.remove(.syn)
            seg.sequence &+= 1
        }
        let segLen = UInt32(data.count) + (seg.flags.contains(.syn) ? 1 : 0) + (seg.flags.contains(.fin) ? 1 : 0)
        let wnd = UInt32(c.receiveBuffer.free)
        let seq = seg.sequence

        // RFC 5961 3.2: only an RST at exactly rcvNxt resets; one elsewhere in the window gets a challenge ACK.
        if seg.flags.contains(.rst) {
            if seq == c.rcvNxt {
                resetReceived(c)
            } else if seqGE(seq, c.rcvNxt) && seqLT(seq, c.rcvNxt &+ max(wnd, 1)) {
                stats.tcpChallengeACKs += 1
                sendACKNow(c)
            }
            return
        }

        // PAWS (RFC 7323 5.3 R1): a timestamp older than the last one recorded marks an old duplicate.
        if c.timestampsOn, let tsv = seg.options.timestampValue, seqLT(tsv, c.tsRecent) {
            stats.tcpPAWSDropped += 1
            sendACKNow(c)
            return
        }

        // Sequence number acceptability (RFC 9293 3.10.7.4, first check).
        let acceptable: Bool
        if segLen == 0 {
            acceptable = wnd == 0 ? seq == c.rcvNxt : (seqGE(seq, c.rcvNxt) && seqLT(seq, c.rcvNxt &+ wnd))
        } else if wnd == 0 {
            acceptable = false
        } else {
            let last = seq &+ segLen &- 1
            acceptable = (seqGE(seq, c.rcvNxt) && seqLT(seq, c.rcvNxt &+ wnd))
                || (seqGE(last, c.rcvNxt) && seqLT(last, c.rcvNxt &+ wnd))
        }
        if !acceptable {
            // Zero-window probes, old duplicates and keepalives land here: answer with our state.
            if c.state == .timeWait && seg.flags.contains(.fin) { c.closeDeadline = now + config.tcp.timeWait }
            sendACKNow(c)
            return
        }
        // RFC 5961 4.2: a SYN in a synchronized state gets a challenge ACK.
        if seg.flags.contains(.syn) {
            stats.tcpChallengeACKs += 1
            sendACKNow(c)
            return
        }
        guard seg.flags.contains(.ack) else { return }
        if c.timestampsOn, let tsv = seg.options.timestampValue, seqLE(seq, c.rcvNxt) { c.tsRecent = tsv }

        let ack = seg.acknowledgment
        if c.state == .synReceived {
            guard seqGT(ack, c.sndUna), seqLE(ack, c.sndMax) else {
                resetReply(c, seg, payloadLength: data.count)
                return
            }
            // The handshake's last ACK while the listener's accept queue is full: dropped, as Linux's
            // tcp_check_req -> syn_recv_sock does (ListenOverflows, ListenDrops; tcp_abort_on_overflow
            // 0). The connection stays embryonic; its SYN,ACK retransmission draws another ACK (or the
            // client's data retransmission brings one), which completes it once there is room.
            if let l = c.listener, c.id == nil, l.acceptQueueFull {
                stats.tcpListenOverflows += 1
                stats.tcpListenDrops += 1
                return
            }
            c.sndUna = c.iss &+ 1
            c.sndWnd = UInt32(seg.window) << UInt32(c.sndScale)
            c.maxSndWnd = max(c.maxSndWnd, c.sndWnd)
            c.sndWl1 = seq
            c.sndWl2 = ack
            established(c)
        }

        // ACK processing.
        // RFC 5961 5.2: acceptable ACKs lie in [sndUna - maxSndWnd, sndMax]; others (never sent, or
        // far too old: a blind injection) get an ACK and are dropped.
        if seqGT(ack, c.sndMax) || seqLT(ack, c.sndUna &- max(c.maxSndWnd, UInt32(c.mss))) {
            stats.tcpChallengeACKs += 1
            sendACKNow(c)
            return
        }
        let newWindow = UInt32(seg.window) << UInt32(c.sndScale)
        if c.sackOn && seg.options.sack.count > 0 { recordSACK(c, seg.options.sack) }
        var finAcked = false
        if seqGT(ack, c.sndUna) {
            finAcked = newAck(c, seg, ack)
        } else if ack == c.sndUna && data.isEmpty && !seg.flags.contains(.fin) && newWindow == c.sndWnd
                    && c.sndMax != c.sndUna && c.sndWnd > 0 {
            duplicateAck(c)
        }
        if seqLT(c.sndWl1, seq) || (c.sndWl1 == seq && seqLE(c.sndWl2, ack)) {
            c.sndWnd = newWindow
            c.maxSndWnd = max(c.maxSndWnd, newWindow)
            c.sndWl1 = seq
            c.sndWl2 = ack
        }
        switch c.state {
        case .finWait1 where finAcked:
            c.state = .finWait2
            if c.orphaned { c.closeDeadline = now + config.tcp.finWait2Timeout }
        case .closing where finAcked:
            enterTimeWait(c)
        case .lastAck where finAcked:
            tcpRemove(c, error: nil)
            return
        case .timeWait:
            if seg.flags.contains(.fin) {
                sendACKNow(c)
                c.closeDeadline = now + config.tcp.timeWait
            }
            return
        default:
            break
        }

        // Segment text and FIN.
        switch c.state {
        case .established, .finWait1, .finWait2:
            receiveData(c, seg, b, data)
        default:
            break  // CLOSE-WAIT, CLOSING, LAST-ACK: the peer's FIN came already
        }
        tcpOutput(c)
    }

    /// Returns true when this ACK covers our FIN.
    private func newAck(_ c: TCPSocket, _ seg: TCPHeader, _ ack: UInt32) -> Bool {
        let acked = Int(ack &- c.sndUna)
        if c.timestampsOn, seg.options.timestampValue != nil, seg.options.timestampEcho != 0 {
            let ms = Int64(Int32(bitPattern: tcpTimestamp(c) &- seg.options.timestampEcho))
            if ms >= 0 && ms < 60_000 { updateRTT(c, ms * Time.millisecond) }
        } else if let t = c.timedSeq, seqGT(ack, t) {
            updateRTT(c, now - c.timedAt)
            c.timedSeq = nil
        }
        let dataAcked = min(acked, c.sendBuffer.count)
        c.sendBuffer.drop(dataAcked)
        let finAcked = c.finQueued && acked > dataAcked
        c.sndUna = ack
        if seqLT(c.sndNxt, c.sndUna) { c.sndNxt = c.sndUna }
        if !c.sacked.isEmpty {
            c.sacked.removeAll { seqLE($0.end, ack) }
            if let f = c.sacked.first, seqLT(f.start, ack) { c.sacked[0].start = ack }
        }
        c.retries = 0
        c.rto = baseRTO(c)
        var partial = false
        if c.inRecovery {
            if seqGE(ack, c.recover) {
                c.cwnd = min(c.ssthresh, max(c.flightSize, c.mss) + c.mss)
                c.inRecovery = false
                c.dupAcks = 0
            } else {
                // Partial ACK: the next hole is lost too; resend it now (RFC 6582 3.2 step 5).
                partial = true
                if c.sackOn && seqGT(c.highRxt, c.sndUna) {
                    retransmitNextHole(c)  // the next hole was already resent from the SACK information
                } else {
                    retransmitFirst(c)
                    let sent = c.sndUna &+ UInt32(min(c.mss, c.sendBuffer.count))
                    if seqGT(sent, c.highRxt) { c.highRxt = sent }
                }
                c.cwnd = max(c.cwnd - acked + (acked >= c.mss ? c.mss : 0), c.mss)
                c.rtoDeadline = now + c.rto
            }
        } else {
            c.dupAcks = 0
            if c.cwnd < c.ssthresh {
                c.cwnd += min(acked, c.mss)
            } else {
                c.cwnd += max(1, c.mss * c.mss / max(c.cwnd, 1))
            }
        }
        if c.sndUna == c.sndMax {
            c.rtoDeadline = nil
        } else if !partial {
            c.rtoDeadline = now + c.rto
        }
        return finAcked
    }

    private func duplicateAck(_ c: TCPSocket) {
        c.dupAcks += 1
        if c.inRecovery {
            c.cwnd += c.mss  // each dup ACK means a segment left the network
            if c.sackOn { retransmitNextHole(c) }
        } else if c.dupAcks == 3 && seqGT(c.sndUna, c.recover) {  // RFC 6582 3.2 step 2
            c.ssthresh = max(c.flightSize / 2, 2 * c.mss)
            c.recover = c.sndMax
            c.inRecovery = true
            c.timedSeq = nil
            stats.tcpFastRetransmits += 1
            retransmitFirst(c)
            c.highRxt = c.sndUna &+ UInt32(min(c.mss, c.sendBuffer.count))
            c.cwnd = c.ssthresh + 3 * c.mss
        }
    }

    /// Merges the peer's SACK blocks (those that make sense: above sndUna, not beyond sndMax).
    private func recordSACK(_ c: TCPSocket, _ blocks: SACKBlocks) {
        for i in 0..<blocks.count {
            var s = blocks[i].left
            let e = blocks[i].right
            guard seqLT(s, e), seqGT(e, c.sndUna), seqLE(e, c.sndMax) else { continue }
            if seqLT(s, c.sndUna) { s = c.sndUna }
            var out: [(start: UInt32, end: UInt32)] = []
            var ns = s, ne = e
            var placed = false
            for r in c.sacked {
                if seqLT(r.end, ns) {
                    out.append(r)
                } else if seqGT(r.start, ne) {
                    if !placed { out.append((ns, ne)); placed = true }
                    out.append(r)
                } else {
                    if seqLT(r.start, ns) { ns = r.start }
                    if seqGT(r.end, ne) { ne = r.end }
                }
            }
            if !placed { out.append((ns, ne)) }
            if out.count > TCPSocket.maxSackedRanges { out.removeLast(out.count - TCPSocket.maxSackedRanges) }
            c.sacked = out
        }
    }

    /// In SACK recovery, resends the first hole above what was already resent (RFC 6675 NextSeg, rule 1).
    private func retransmitNextHole(_ c: TCPSocket) {
        guard let highest = c.sacked.last?.end else { return }
        var seq = seqGT(c.highRxt, c.sndUna) ? c.highRxt : c.sndUna
        for r in c.sacked where seqLE(r.start, seq) && seqLT(seq, r.end) { seq = r.end }
        guard seqLT(seq, highest) else { return }
        var len = min(c.mss, Int(highest &- seq))
        if let n = c.sacked.first(where: { seqGT($0.start, seq) }) { len = min(len, Int(n.start &- seq)) }
        let offset = Int(seq &- c.sndUna)
        guard len > 0, offset + len <= c.sendBuffer.count else { return }
        countRetransmit(c)
        emit(c, seq: seq, flags: [.ack], offset: offset, length: len)
        c.highRxt = seq &+ UInt32(len)
    }

    /// Resends the first unacknowledged segment (or the FIN, if only it is outstanding).
    func retransmitFirst(_ c: TCPSocket) {
        countRetransmit(c)
        let n = min(c.mss, c.sendBuffer.count)
        if n > 0 {
            let fin = c.finQueued && n == c.sendBuffer.count && c.sndMax == c.sndUna &+ UInt32(n) &+ 1
            emit(c, seq: c.sndUna, flags: fin ? [.ack, .psh, .fin] : [.ack], offset: 0, length: n)
        } else if c.finQueued {
            emit(c, seq: c.sndUna, flags: [.ack, .fin])
        }
    }

    private func resetReceived(_ c: TCPSocket) {
        switch c.state {
        case .synReceived:
            // A passive open goes back to the listener (the embryo is dropped); an active one is refused.
            tcpRemove(c, error: c.listener != nil ? nil : .ECONNREFUSED)
        case .established, .finWait1, .finWait2, .closeWait:
            tcpRemove(c, error: .ECONNRESET)
        default:
            tcpRemove(c, error: nil)
        }
    }

    private func receiveData(_ c: TCPSocket, _ seg: TCPHeader, _ b: [UInt8], _ dataIn: Range<Int>) {
        var seq = seg.sequence
        var r = dataIn
        var fin = seg.flags.contains(.fin)
        if seqLT(seq, c.rcvNxt) {
            let skip = Int(c.rcvNxt &- seq)
            if skip > r.count {
                r = r.upperBound..<r.upperBound
                if skip > dataIn.count { fin = false }  // the FIN is old too
            } else {
                r = (r.lowerBound + skip)..<r.upperBound
            }
            seq = c.rcvNxt
        }
        let offset = Int(seq &- c.rcvNxt)
        let room = c.receiveBuffer.free
        if offset + r.count > room {
            r = r.lowerBound..<(r.lowerBound + max(0, room - offset))
            fin = false
        }
        if !r.isEmpty {
            if offset == 0 {
                c.receiveBuffer.write(b, r, atOffset: c.receiveBuffer.count)
                c.receiveBuffer.commit(r.count)
                c.rcvNxt &+= UInt32(r.count)
                var filled = false
                while let first = c.outOfOrder.first, seqLE(first.start, c.rcvNxt) {
                    if seqGT(first.end, c.rcvNxt) {
                        c.receiveBuffer.commit(Int(first.end &- c.rcvNxt))
                        c.rcvNxt = first.end
                    }
                    c.outOfOrder.removeFirst()
                    filled = true
                }
                c.ackPending = true
                c.segmentsUnacked += 1
                c.lastDataReceivedAt = now
                if seg.flags.contains(.psh) { c.pushReceived = true }
                if filled || !c.outOfOrder.isEmpty || c.segmentsUnacked >= 2 {
                    c.delayedAckDeadline = nil  // ACK at once (RFC 5681 4.2)
                } else if c.delayedAckDeadline == nil {
                    c.delayedAckDeadline = now + config.tcp.delayedAckTimeout
                }
            } else if c.outOfOrder.count >= TCPSocket.maxOutOfOrderRanges {
                // A peer spraying tiny disjoint segments gets them dropped, not an unbounded list.
                c.ackPending = true
                c.delayedAckDeadline = nil
            } else {
                c.receiveBuffer.write(b, r, atOffset: c.receiveBuffer.count + offset)
                insertOutOfOrder(c, seq, seq &+ UInt32(r.count))
                c.ackPending = true
                c.delayedAckDeadline = nil  // a duplicate ACK at once, for fast retransmit
            }
        }
        if fin && seq &+ UInt32(r.count) == c.rcvNxt && c.outOfOrder.isEmpty {
            c.rcvNxt &+= 1
            c.finReceived = true
            c.ackPending = true
            c.delayedAckDeadline = nil
            switch c.state {
            case .established: c.state = .closeWait
            case .finWait1:
                // Our FIN is not yet acknowledged (else we would be in FIN-WAIT-2): simultaneous close.
                c.state = .closing
            case .finWait2: enterTimeWait(c)
            default: break
            }
        }
    }

    private func insertOutOfOrder(_ c: TCPSocket, _ start: UInt32, _ end: UInt32) {
        var s = start, e = end
        var out: [(start: UInt32, end: UInt32)] = []
        out.reserveCapacity(c.outOfOrder.count + 1)
        var placed = false
        for blk in c.outOfOrder {
            if seqLT(blk.end, s) {
                out.append(blk)
            } else if seqGT(blk.start, e) {
                if !placed { out.append((s, e)); placed = true }
                out.append(blk)
            } else {
                if seqLT(blk.start, s) { s = blk.start }
                if seqGT(blk.end, e) { e = blk.end }
            }
        }
        if !placed { out.append((s, e)) }
        c.outOfOrder = out
    }

    /// ICMP errors for TCP: a port/protocol unreachable during SYN-SENT refuses the connection;
    /// elsewhere they are soft errors (RFC 1122 4.2.3.9), ignored here.
    func tcpUnreachable(local: SocketAddress, remote: SocketAddress, code: UInt8, sequence: UInt32) {
        guard let c = tcpConnections[ConnectionKey(local: local, remote: remote)], c.state == .synSent else { return }
        guard seqGE(sequence, c.sndUna), seqLT(sequence, c.sndMax) else { return }
        if code == ICMPUnreachableCode.port || code == ICMPUnreachableCode.proto {
            tcpRemove(c, error: .ECONNREFUSED)
        }
    }
}
