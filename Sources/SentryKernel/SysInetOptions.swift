// setsockopt/getsockopt for AF_INET/AF_INET6 sockets. Options the netstack implements are forwarded
// (SO_REUSEADDR, SO_KEEPALIVE, SO_SNDBUF, SO_RCVBUF, SO_BROADCAST, TCP_NODELAY, IPV6_V6ONLY); the
// timeouts live in the Sentry; a few the netstack has no behaviour for yet (SO_REUSEPORT, SO_LINGER,
// TCP_KEEPIDLE/INTVL/CNT, IP_TOS, IP_TTL...) are stored so they read back, and say so in the log once.
import Glibc
import Protocol

nonisolated(unsafe) var reportedStoredOptions = Set<Int64>()

extension Task {
    private static func key(_ level: Int32, _ name: Int32) -> Int64 { Int64(level) << 32 | Int64(UInt32(bitPattern: name)) }

    func inetSetsockopt(_ s: InetSocket, _ level: Int32, _ opt: Int32, _ val: UInt64, _ len: Int) -> Int {
        if level == SOL_SOCKET_ && (opt == 20 || opt == 21) {   // SO_RCVTIMEO / SO_SNDTIMEO
            let ns: Int
            switch readSocketTimeout(val, len) { case .success(let v): ns = v; case .failure(let e): return errno(e) }
            if opt == 20 { s.rcvTimeoutNs = ns } else { s.sndTimeoutNs = ns }
            return 0
        }
        guard len >= 0 && len <= 256 else { return errno(EINVAL) }
        guard let raw = mm.readBytes(val, len) else { return errno(EFAULT) }
        let forwarded: Bool
        switch (level, opt) {
        case (1, 2), (1, 6), (1, 7), (1, 8), (1, 9), (6, 1), (41, 26), (6, 4), (6, 5), (6, 6), (1, 13), (0, 1), (41, 67): forwarded = true
        case (1, 15), (1, 10), (1, 12), (6, 3), (6, 9), (6, 12), (0, 2),
             (41, 16), (0, 3): forwarded = false
        default: return errno(level == 1 || level == 6 || level == 0 || level == 41 ? ENOPROTOOPT : EOPNOTSUPP)
        }
        guard raw.count >= (opt == 13 && level == 1 ? 8 : 4) else { return errno(EINVAL) }
        var value = raw
        if (level, opt) == (0, 1) || (level, opt) == (41, 67) {   // IP_TOS / IPV6_TCLASS read back as Linux keeps them
            var v = value.withUnsafeBytes { $0.loadUnaligned(as: Int32.self) }
            if level == 41 { guard v >= -1 && v <= 255 else { return errno(EINVAL) }; if v < 0 { v = 0 } }
            if level == 0 { v &= 0xff }
            if s.isStream { v &= ~3 }   // TCP owns the ECN bits
            value = withUnsafeBytes(of: v) { Array($0) }
        }
        var applied = false
        if forwarded && s.isStream && Task.postable(level, opt, value) {
            // Cannot fail in the netstack for a TCP socket once checked here: sent without waiting.
            let e = s.conn.post(Netstack.SetOption(handle: s.handle, level: level, name: opt, value: value))
            if e != 0 { return errno(e) }
            applied = true
        } else if forwarded {
            switch s.conn.call(Netstack.SetOption(handle: s.handle, level: level, name: opt, value: value)) {
            case .success: applied = true
            case .failure(let e) where e == ENOPROTOOPT: break   // e.g. SO_REUSEADDR on UDP: stored below
            case .failure(let e): return errno(e)
            }
        }
        if applied {
        } else if reportedStoredOptions.insert(Task.key(level, opt)).inserted {
            kernel.log("bulwark-sentry: socket option \(level)/\(opt) is stored but has no effect in the netstack yet\n")
        }
        s.storedOptions[Task.key(level, opt)] = value
        return 0
    }

    /// Options a TCP socket accepts for any value in these ranges (the netstack's own checks, which
    /// match Linux's): SO_REUSEADDR, SO_KEEPALIVE, TCP_NODELAY (any int), TCP_KEEPIDLE and
    /// TCP_KEEPINTVL (1...32767 s), TCP_KEEPCNT (1...127). They go one-way (`NetstackConnection.post`);
    /// a value out of range fails here with EINVAL, as on Linux.
    static func postable(_ level: Int32, _ opt: Int32, _ value: [UInt8]) -> Bool {
        switch (level, opt) {
        case (1, 2), (1, 9), (6, 1): return true
        case (6, 4), (6, 5), (6, 6):
            let v = value.withUnsafeBytes { $0.loadUnaligned(as: Int32.self) }
            return v >= 1 && v <= (opt == 6 ? 127 : 32767)
        default: return false
        }
    }

    func inetGetsockopt(_ s: InetSocket, _ level: Int32, _ opt: Int32, _ val: UInt64, _ lenAddr: UInt64) -> Int {
        guard let avail = mm.read(lenAddr, as: Int32.self) else { return errno(EFAULT) }
        guard avail >= 0 else { return errno(EINVAL) }
        var out: [UInt8] = []
        func put<T>(_ v: T) { withUnsafeBytes(of: v) { out += $0 } }
        func stored(_ dflt: Int32) {
            if let v = s.storedOptions[Task.key(level, opt)] { out = v } else { put(dflt) }
        }
        switch (level, opt) {
        case (1, 3): put(s.type)                                              // SO_TYPE
        case (1, 39): put(s.family)                                           // SO_DOMAIN
        case (1, 38): put(s.proto)                                            // SO_PROTOCOL
        case (1, 30): put(Int32(s.listening ? 1 : 0))                         // SO_ACCEPTCONN
        case (1, 4): put(s.takeError())                                       // SO_ERROR
        case (1, 20), (1, 21):
            let ns = opt == 20 ? s.rcvTimeoutNs : s.sndTimeoutNs
            put(ns / 1_000_000_000); put((ns % 1_000_000_000) / 1000)
        case (1, 7): if let v = s.storedOptions[Task.key(1, 7)], v.count >= 4 { put(v.withUnsafeBytes { $0.loadUnaligned(as: Int32.self) } &* 2) } else { put(Int32(NetstackConnection.ringSize)) }
        case (1, 8): if let v = s.storedOptions[Task.key(1, 8)], v.count >= 4 { put(v.withUnsafeBytes { $0.loadUnaligned(as: Int32.self) } &* 2) } else { put(Int32(NetstackConnection.ringSize)) }
        case (1, 13): if let v = s.storedOptions[Task.key(1, 13)] { out = Array(v.prefix(8)) } else { put(Int64(0)) }   // SO_LINGER
        case (1, 2), (1, 6), (1, 9), (1, 10), (1, 15), (6, 1), (6, 3), (41, 26), (0, 1), (0, 3), (41, 16), (41, 67): stored(0)
        case (1, 12): stored(0)                                               // SO_PRIORITY
        case (6, 2): put(Int32(65483))                                        // TCP_MAXSEG (loopback MSS)
        case (6, 4): stored(7200)                                             // TCP_KEEPIDLE (Linux default)
        case (6, 5): stored(75)                                               // TCP_KEEPINTVL
        case (6, 6): stored(9)                                                // TCP_KEEPCNT
        case (0, 2), (41, 16): stored(64)                                     // IP_TTL / IPV6_UNICAST_HOPS
        case (6, 11) where s.isStream && !s.conn.dead:                        // TCP_INFO from the netstack
            switch s.conn.call(Netstack.GetOption(handle: s.handle, level: 6, name: 11, size: 232)) {
            case .success(let r): out = r.value + [UInt8](repeating: 0, count: max(0, 232 - r.value.count))
            case .failure(let e): return errno(e)
            }
        case (6, 11):                                                         // TCP_INFO: the state only
            var info = [UInt8](repeating: 0, count: 232)
            let st = s.slot.state
            info[0] = s.listening ? 10 : st.contains(.connected) ? 1 : st.contains(.connecting) ? 2 : s.everConnected ? 8 : 7
            out = info
        default: return errno(ENOPROTOOPT)
        }
        let k = min(Int(avail), out.count)
        if k > 0 && !out.withUnsafeBytes({ mm.copyOut(val, $0.baseAddress!, k) }) { return errno(EFAULT) }
        return mm.write(lenAddr, Int32(k)) ? 0 : errno(EFAULT)
    }
}
