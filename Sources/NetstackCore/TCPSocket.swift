// The TCP control block and its configuration (RFC 9293 3.3.1).

public struct TCPConfig: Sendable {
    public var initialRTO: Int64 = 1 * Time.second       // RFC 6298 2.1
    public var minRTO: Int64 = 200 * Time.millisecond    // Linux's floor (RFC 6298 says 1 s; it allows lower)
    public var maxRTO: Int64 = 60 * Time.second
    public var synRetries = 6
    public var dataRetries = 15
    /// TIME-WAIT lasts this long (2 MSL; Linux uses 60 s).
    public var timeWait: Int64 = 60 * Time.second
    public var finWait2Timeout: Int64 = 60 * Time.second
    public var delayedAckTimeout: Int64 = 40 * Time.millisecond
    public var sendBufferSize = 256 * 1024
    public var receiveBufferSize = 256 * 1024
    public var initialCongestionWindowSegments = 10     // RFC 6928
    public var windowScaling = true
    public var timestamps = true
    public var sack = true
    public var keepaliveIdle: Int64 = 7200 * Time.second
    public var keepaliveInterval: Int64 = 75 * Time.second
    public var keepaliveProbes = 9
    public var maxPersistInterval: Int64 = 60 * Time.second

    public init() {}
}

public enum TCPState: Sendable {
    case closed, listen, synSent, synReceived, established, finWait1, finWait2, closeWait, closing, lastAck, timeWait
}

struct ConnectionKey: Hashable {
    var local: SocketAddress
    var remote: SocketAddress

    /// Two words into the hasher instead of the synthesized per-field walk (two enums, two
    /// addresses, two ports): the lookup runs for every segment received. Equal keys give equal
    /// words; the seeded hasher still guards against chosen collisions.
    func hash(into h: inout Hasher) {
        func fold(_ a: IPAddress) -> UInt64 {
            switch a {
            case .v4(let v): return UInt64(v.raw)
            case .v6(let v): return v.high ^ (v.low &* 0x9E37_79B9_7F4A_7C15) ^ 1 << 63
            }
        }
        h.combine(fold(local.ip) ^ UInt64(local.port) << 32 ^ UInt64(remote.port) << 48)
        h.combine(fold(remote.ip))
    }
}

/// The demultiplexing table: connections by 4-tuple. Keeps each connection's `demultiplexed` flag
/// (whether it is the one its 4-tuple finds), which the timers read instead of a lookup.
struct ConnectionTable {
    private var map: [ConnectionKey: TCPSocket] = [:]

    subscript(key: ConnectionKey) -> TCPSocket? {
        get { map[key] }
        set {
            if let old = map[key] { old.demultiplexed = false }
            map[key] = newValue
            newValue?.demultiplexed = true
        }
    }

    var values: Dictionary<ConnectionKey, TCPSocket>.Values { map.values }
    var count: Int { map.count }
}

/// One TCP endpoint: a listener, or a connection (embryonic, established or closing).
final class TCPSocket {
    var id: SocketID?
    /// Its stack, without reference counting (TCPSocketStackUnsafe.swift).
    let stackReference: StackReference
    var state: TCPState = .closed
    var local: SocketAddress?
    var remote: SocketAddress?
    var pendingError: NetErrno?
    /// The user closed the socket: the connection lives on only to finish.
    var orphaned = false
    var noDelay = false
    var keepalive = false
    /// TCP_KEEPIDLE / TCP_KEEPINTVL / TCP_KEEPCNT of this socket (nil: the stack's defaults).
    var keepIdle: Int64?
    var keepInterval: Int64?
    var keepCount: Int?
    /// SO_LINGER on with a zero timeout: close resets the connection.
    var lingerZero = false
    /// IP_TOS and IPV6_TCLASS (ECN bits cleared, as Linux does for TCP).
    var tos: UInt8 = 0
    var trafficClass: UInt8 = 0
    var reuseAddress = false
    /// The connection was established once (decides ENOTCONN versus EOF/EPIPE after it ends).
    var wasConnected = false
    /// On the stack's list of changed sockets (NetworkStack.touch).
    var changeListed = false
    /// In the stack's demultiplexing table (`tcpConnections`, which keeps it): tells the timers a
    /// connection is live without hashing its 4-tuple.
    var demultiplexed = false

    // Listener state.
    var backlog = 0
    var acceptQueue: [TCPSocket] = []
    /// Connections taken off the accept queue on the application's behalf but not yet accepted by it
    /// (the service's reply-less accept parks them in arena slots): they still count against the
    /// backlog, as on Linux. Asked at each SYN, so it is exact when the application takes one.
    var parked: (() -> Int)? = nil
    /// Connections in SYN-RECEIVED (they are in `tcpConnections`, not on the accept queue).
    var embryonic = 0

    /// Completed connections waiting to be accepted: queued here or parked by the service.
    var acceptWaiting: Int { acceptQueue.count + (parked?() ?? 0) }
    /// Linux's sk_acceptq_is_full: more than `backlog` completed connections wait, so backlog + 1 fit.
    var acceptQueueFull: Bool { acceptWaiting > backlog }

    /// The bound on embryonic connections: Linux answers SYNs beyond its request-queue bound with
    /// syncookies (tcp_syncookies 1, the default), so in effect only the accept queue limits a
    /// listener there. Without cookies, a separate, larger bound keeps a SYN flood's state finite:
    /// max(backlog, 256) (an embryo holds no buffers until it has data).
    var synBacklog: Int { max(backlog, TCPSocket.minSynBacklog) }
    static let minSynBacklog = 256
    weak var listener: TCPSocket?

    // Send sequence space.
    var iss: UInt32 = 0
    var sndUna: UInt32 = 0
    var sndNxt: UInt32 = 0
    /// Highest sequence number sent so far (sndNxt goes back to sndUna on a timeout).
    var sndMax: UInt32 = 0
    var sndWnd: UInt32 = 0
    var maxSndWnd: UInt32 = 0
    var sndWl1: UInt32 = 0
    var sndWl2: UInt32 = 0
    var sendBuffer: ByteRing
    var finQueued = false

    // Receive sequence space.
    var irs: UInt32 = 0
    var rcvNxt: UInt32 = 0
    var receiveBuffer: ByteRing
    /// Out-of-order data held in `receiveBuffer` past its count: sorted, disjoint [start, end) ranges.
    var outOfOrder: [(start: UInt32, end: UInt32)] = []
    static let maxOutOfOrderRanges = 64
    var finReceived = false
    var readShut = false
    var lastAdvertisedWindow: UInt32 = 0
    /// rcvNxt + the window in the last segment we sent: the right edge the peer knows.
    var lastAdvertisedEdge: UInt32 = 0

    // Negotiated options.
    var mss = 536            // what we send per segment
    var advertisedMSS = 1460
    var sndScale: UInt8 = 0  // shift applied to the peer's window field
    var rcvScale: UInt8 = 0  // shift applied to our window field
    var wantScale = false
    var timestampsOn = false
    var tsRecent: UInt32 = 0
    var tsOffset: UInt32 = 0
    var sackOn = false

    // RTT and retransmission (RFC 6298).
    var srtt: Int64 = 0
    var rttvar: Int64 = 0
    var hasRTT = false
    var rto: Int64
    var retries = 0
    var rtoDeadline: Int64? { didSet { deadlineSet(rtoDeadline) } }
    var timedSeq: UInt32?
    var timedAt: Int64 = 0

    // Congestion control (RFC 5681, NewReno RFC 6582).
    var cwnd = 0
    var ssthresh = Int.max / 2
    var dupAcks = 0
    var inRecovery = false
    var recover: UInt32 = 0
    /// SACK scoreboard: sorted, disjoint ranges above sndUna the peer reported holding (RFC 2018).
    var sacked: [(start: UInt32, end: UInt32)] = []
    /// Highest sequence retransmitted in this recovery (RFC 6675 HighRxt).
    var highRxt: UInt32 = 0
    static let maxSackedRanges = 32

    // Other timers.
    var ackPending = false
    var segmentsUnacked = 0
    var delayedAckDeadline: Int64? { didSet { deadlineSet(delayedAckDeadline) } }
    /// The in-order data not yet acknowledged ended with PSH (Linux's ICSK_ACK_PUSHED): a reader that
    /// empties the buffer then gets the ACK at once unless the connection is `interactive`.
    var pushReceived = false
    /// Data of ours carried the ACK of data received less than a delayed-ACK timeout earlier (a reply:
    /// Linux's pingpong mode), so ACKs wait for the next reply; a delayed ACK that fires ends it.
    var interactive = false
    var lastDataReceivedAt: Int64?
    var persistDeadline: Int64? { didSet { deadlineSet(persistDeadline) } }
    var persistBackoff = 0
    var keepaliveDeadline: Int64? { didSet { deadlineSet(keepaliveDeadline) } }
    var keepaliveSent = 0
    /// Segments this connection retransmitted (TCP_INFO tcpi_total_retrans).
    var totalRetrans = 0
    var closeDeadline: Int64? { didSet { deadlineSet(closeDeadline) } }   // TIME-WAIT and orphaned FIN-WAIT-2
    /// A deadline property was set: keep a timer-queue entry at or before it. The check the stack's
    /// `armTimer` starts with is made here first, so the usual case (an entry at or before it is
    /// live already: a delayed ACK or RTO re-armed later per segment) does not touch the unowned
    /// `stack` reference (a swift_unownedRetainStrong per set in the profile; session 9).
    @inline(__always) func deadlineSet(_ t: Int64?) {
        guard let t else { return }
        if let a = timerArmedAt, a <= t { return }
        stackReference.with { $0.armTimer(self, at: t) }
    }
    /// The time of this connection's live entry in the stack's timer queue (TCPTimerQueue.swift), and
    /// that entry's generation; nil when it has none.
    var timerArmedAt: Int64?
    var timerGeneration: UInt32 = 0

    /// AF_INET6 socket.
    let v6: Bool
    /// IPV6_V6ONLY; off (the Linux default) lets an AF_INET6 socket bound to :: take IPv4 too.
    var v6Only = false
    /// Bound to the IPv6 wildcard and taking IPv4 as well.
    var dual: Bool { v6 && !v6Only && (local?.ip.isUnspecified ?? true) }

    init(id: SocketID?, stack: NetworkStack, v6: Bool) {
        self.id = id
        stackReference = StackReference(stack)
        self.v6 = v6
        let c = stack.config.tcp
        sendBuffer = ByteRing(capacity: c.sendBufferSize)
        receiveBuffer = ByteRing(capacity: c.receiveBufferSize)
        rto = c.initialRTO
    }

    var key: ConnectionKey? {
        guard let l = local, let r = remote else { return nil }
        return ConnectionKey(local: l, remote: r)
    }

    var isSynchronized: Bool {
        switch state {
        case .closed, .listen, .synSent: return false
        default: return true
        }
    }

    /// Bytes sent and not yet acknowledged (a sent FIN counts one).
    var flightSize: Int { Int(sndMax &- sndUna) }

    var nextDeadline: Int64? {
        var d = Int64.max
        if let t = rtoDeadline, t < d { d = t }
        if let t = delayedAckDeadline, t < d { d = t }
        if let t = persistDeadline, t < d { d = t }
        if let t = keepaliveDeadline, t < d { d = t }
        if let t = closeDeadline, t < d { d = t }
        return d == Int64.max ? nil : d
    }

    var readiness: Readiness {
        var r: Readiness = []
        if state == .listen {
            if !acceptQueue.isEmpty { r.insert(.readable) }
            return r
        }
        if receiveBuffer.count > 0 || finReceived || readShut { r.insert(.readable) }
        if finReceived { r.insert(.readHup) }
        if pendingError != nil { r.insert([.error, .readable]) }
        if (state == .established || state == .closeWait) && !finQueued && sendBuffer.free >= min(2048, sendBuffer.capacity) {
            r.insert(.writable)
        }
        // As Linux's tcp_poll: a closed socket is HUP and writable (so a failed connect wakes the
        // writer); one whose connection ended (or failed) has both directions shut, so it is
        // readable (EOF or the error) too.
        if state == .closed {
            r.insert([.hup, .writable])
            if wasConnected || pendingError != nil { r.insert([.readable, .readHup]) }
        }
        if finReceived && finQueued { r.insert(.hup) }
        return r
    }
}
