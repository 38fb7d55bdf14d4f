// Socket system calls. AF_UNIX is served entirely in the Sentry (UnixSocket.swift); every other
// family (AF_INET/AF_INET6 until the netstack is wired in) fails with EAFNOSUPPORT and is logged
// once per sandbox so it is never silently faked.
import Glibc

let AF_UNIX_: Int32 = 1
let SOCK_NONBLOCK_: Int32 = 0o4000, SOCK_CLOEXEC_: Int32 = 0o2000000
let SOL_SOCKET_: Int32 = 1
let SCM_RIGHTS_: Int32 = 1, SCM_CREDENTIALS_: Int32 = 2

nonisolated(unsafe) var reportedSocketFamilies: Set<Int32> = []

extension Task {
    private func socketCred() -> UnixCred { UnixCred(pid: tg.pid, uid: tg.uid, gid: tg.gid) }

    private func checkSocketArgs(_ domain: Int32, _ type: Int32, _ proto: Int32) -> KResult<Int32> {
        guard domain == AF_UNIX_ else {
            if reportedSocketFamilies.insert(domain).inserted {
                kernel.log("bulwark-sentry: socket family \(domain) not supported -> EAFNOSUPPORT\n")
            }
            return .failure(EAFNOSUPPORT)
        }
        guard type & ~(0xf | SOCK_NONBLOCK_ | SOCK_CLOEXEC_) == 0 else { return .failure(EINVAL) }
        let base = type & 0xf
        guard base == SOCK_STREAM_ || base == SOCK_DGRAM_ || base == SOCK_SEQPACKET_ else { return .failure(ESOCKTNOSUPPORT) }
        guard proto == 0 || proto == AF_UNIX_ else { return .failure(EPROTONOSUPPORT) }
        return .success(base)
    }

    func sysSocket(_ domain: Int32, _ type: Int32, _ proto: Int32) -> Int {
        if domain == AF_INET_ || domain == AF_INET6_ { return inetSocket(domain, type, proto) }   // SysInet.swift
        if domain == AF_NETLINK_ { return netlinkSocket(type, proto) }                            // NetlinkSocket.swift
        let base: Int32
        switch checkSocketArgs(domain, type, proto) { case .failure(let e): return errno(e); case .success(let b): base = b }
        let s = UnixSocket(type: base, flags: type & SOCK_NONBLOCK_ != 0 ? O_NONBLOCK : 0)
        return fds.install(s, cloexec: type & SOCK_CLOEXEC_ != 0)
    }

    func sysSocketpair(_ domain: Int32, _ type: Int32, _ proto: Int32, _ sv: UInt64) -> Int {
        let base: Int32
        switch checkSocketArgs(domain, type, proto) { case .failure(let e): return errno(e); case .success(let b): base = b }
        let fl: Int32 = type & SOCK_NONBLOCK_ != 0 ? O_NONBLOCK : 0
        let a = UnixSocket(type: base, flags: fl), b = UnixSocket(type: base, flags: fl)
        UnixSocket.connectPair(a, b)
        a.peerCred = socketCred(); b.peerCred = socketCred()
        let cloexec = type & SOCK_CLOEXEC_ != 0
        let fa = fds.install(a, cloexec: cloexec)
        if fa < 0 { return fa }
        let fb = fds.install(b, cloexec: cloexec)
        if fb < 0 { _ = fds.close(fa); return fb }
        if !mm.write(sv, (Int32(fa), Int32(fb))) { _ = fds.close(fa); _ = fds.close(fb); return errno(EFAULT) }
        return 0
    }

    private func unixSocket(_ fd: Int) -> KResult<UnixSocket> {
        guard let f = fds.get(fd) else { return .failure(EBADF) }
        guard let s = f as? UnixSocket else { return .failure(ENOTSOCK) }
        return .success(s)
    }

    /// Reads a sockaddr_un: returns (name bytes as given, table key). Path names are resolved
    /// against the cwd so relative and absolute spellings meet.
    private func readUnixAddress(_ addr: UInt64, _ len: Int) -> KResult<([UInt8], [UInt8])> {
        guard len >= 2 && len <= 110 else { return .failure(EINVAL) }
        guard let raw = mm.readBytes(addr, len) else { return .failure(EFAULT) }
        guard Int32(raw[0]) | Int32(raw[1]) << 8 == AF_UNIX_ else { return .failure(EINVAL) }
        var name = Array(raw[2...])
        if name.first == 0 { return .success((name, name)) }
        if let z = name.firstIndex(of: 0) { name = Array(name[..<z]) }
        if name.isEmpty { return .failure(EINVAL) }
        switch absolutePath(dirfd: AT_FDCWD_, String(decoding: name, as: UTF8.self)) {
        case .failure(let e): return .failure(e)
        case .success(let p): return .success((name, Array(p.utf8)))
        }
    }

    /// Writes a sockaddr_un for `name` (nil: unnamed) and stores the full length at lenAddr.
    private func writeUnixAddress(_ name: [UInt8]?, _ addr: UInt64, _ lenAddr: UInt64) -> Int {
        guard let avail = mm.read(lenAddr, as: Int32.self) else { return errno(EFAULT) }
        guard avail >= 0 else { return errno(EINVAL) }
        var bytes: [UInt8] = [UInt8(AF_UNIX_), 0]
        if let n = name { bytes += n; if n.first != 0 { bytes.append(0) } }
        let k = min(Int(avail), bytes.count)
        if k > 0 && !bytes.withUnsafeBytes({ mm.copyOut(addr, $0.baseAddress!, k) }) { return errno(EFAULT) }
        return mm.write(lenAddr, Int32(bytes.count)) ? 0 : errno(EFAULT)
    }

    private func lookupUnix(_ key: [UInt8], abstract: Bool) -> KResult<UnixSocket> {
        guard let s = UnixSocket.names[key]?.s else { return .failure(abstract ? ECONNREFUSED : ENOENT) }
        if !abstract {
            // The socket file was unlinked (or replaced by another file): the name is gone.
            var st = Glibc.stat()
            let r = kernel.fs.stat(String(decoding: key, as: UTF8.self), followLinks: true, &st)
            if r < 0 { return .failure(-r) }
            if st.st_mode & S_IFMT != S_IFSOCK { return .failure(ECONNREFUSED) }
        }
        return .success(s)
    }

    func sysBind(_ fd: Int, _ addr: UInt64, _ len: Int) -> Int {
        if let s = fds.get(fd) as? InetSocket { return inetBind(s, addr, len) }
        if let s = fds.get(fd) as? NetlinkSocket { return netlinkBind(s, addr, len) }
        let s: UnixSocket
        switch unixSocket(fd) { case .failure(let e): return errno(e); case .success(let x): s = x }
        if s.name != nil { return errno(EINVAL) }
        if len == 2 { return autobind(s) }
        let name: [UInt8], key: [UInt8]
        switch readUnixAddress(addr, len) { case .failure(let e): return errno(e); case .success(let r): (name, key) = r }
        if UnixSocket.names[key]?.s != nil { return errno(EADDRINUSE) }
        if name.first != 0 {
            // Path names are kept in the Sentry's table only; refuse names that exist as files.
            var st = Glibc.stat()
            let path = String(decoding: key, as: UTF8.self)
            if kernel.fs.stat(path, followLinks: false, &st) == 0 { return errno(EADDRINUSE) }
            var parent = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
            if parent.isEmpty { parent = "/" }
            let pr = kernel.fs.stat(parent, followLinks: true, &st)
            if pr != 0 { return errno(-pr) }
            // The socket file (stat, ls and `test -S` see it; the program unlinks it). The names
            // table still routes connects; a file system refusing the node keeps only the name.
            let rel = String(decoding: name, as: UTF8.self)
            if case .success(let start) = startLocation(AT_FDCWD_, rel) {
                let r = kernel.vfs.mknod(self, at: start, rel, mode: S_IFSOCK | (0o777 & ~fsctx.umask), rdev: 0)
                if r == -EEXIST { return errno(EADDRINUSE) }
                if r == -EROFS { return errno(EROFS) }
            }
        }
        s.name = name
        UnixSocket.names[key] = WeakSocket(s: s)
        return 0
    }

    private func autobind(_ s: UnixSocket) -> Int {
        while true {
            UnixSocket.autobindCounter += 1
            var name: [UInt8] = [0]
            var v = UnixSocket.autobindCounter & 0xfffff
            var hex: [UInt8] = []
            for _ in 0..<5 { hex.insert(Array("0123456789abcdef".utf8)[v & 15], at: 0); v >>= 4 }
            name += hex
            if UnixSocket.names[name]?.s == nil {
                s.name = name
                UnixSocket.names[name] = WeakSocket(s: s)
                return 0
            }
        }
    }

    func sysListen(_ fd: Int, _ backlog: Int32) -> Int {
        if let s = fds.get(fd) as? InetSocket { return inetListen(s, backlog) }
        let s: UnixSocket
        switch unixSocket(fd) { case .failure(let e): return errno(e); case .success(let x): s = x }
        guard s.connectionOriented else { return errno(EOPNOTSUPP) }
        guard s.name != nil, !s.everConnected else { return errno(EINVAL) }
        s.listening = true
        s.backlogLimit = Int(max(0, min(backlog, 4096)))
        s.listenCred = socketCred()
        kernel.broadcast()
        return 0
    }

    func sysConnect(_ fd: Int, _ addr: UInt64, _ len: Int) -> Int {
        if let s = fds.get(fd) as? InetSocket { return inetConnect(s, addr, len) }
        let s: UnixSocket
        switch unixSocket(fd) { case .failure(let e): return errno(e); case .success(let x): s = x }
        if !s.connectionOriented, len >= 2, let fam = mm.read(addr, as: UInt16.self), fam == 0 {
            s.peer = nil; s.everConnected = false  // AF_UNSPEC dissolves a datagram association
            return 0
        }
        let name: [UInt8], key: [UInt8]
        switch readUnixAddress(addr, len) { case .failure(let e): return errno(e); case .success(let r): (name, key) = r }
        let target: UnixSocket
        switch lookupUnix(key, abstract: name.first == 0) { case .failure(let e): return errno(e); case .success(let x): target = x }
        if target.type != s.type { return errno(EPROTOTYPE) }
        if !s.connectionOriented {
            s.peer = target
            s.everConnected = true
            return 0
        }
        if s.listening { return errno(EINVAL) }
        if s.everConnected { return errno(EISCONN) }
        while true {
            guard target.listening, UnixSocket.names[key]?.s === target else { return errno(ECONNREFUSED) }
            if target.backlog.count <= target.backlogLimit { break }
            if s.nonblocking { return errno(EAGAIN) }
            if !block(deadline: nil) { return -ERESTARTSYS }
        }
        let server = UnixSocket(type: s.type, flags: 0)
        server.name = target.name
        server.peerCred = socketCred()
        server.passcred = target.passcred
        s.peerCred = target.listenCred
        UnixSocket.connectPair(s, server)
        target.backlog.append(server)
        kernel.broadcast()
        return 0
    }

    func sysAccept(_ fd: Int, _ addr: UInt64, _ lenAddr: UInt64, _ flags: Int32) -> Int {
        if let s = fds.get(fd) as? InetSocket { return inetAccept(s, addr, lenAddr, flags) }
        let s: UnixSocket
        switch unixSocket(fd) { case .failure(let e): return errno(e); case .success(let x): s = x }
        guard flags & ~(SOCK_NONBLOCK_ | SOCK_CLOEXEC_) == 0 else { return errno(EINVAL) }
        guard s.connectionOriented else { return errno(EOPNOTSUPP) }
        guard s.listening else { return errno(EINVAL) }
        while s.backlog.isEmpty {
            if s.nonblocking { return errno(EAGAIN) }
            if !block(deadline: nil) { return -ERESTARTSYS }
        }
        let c = s.backlog.removeFirst()
        if flags & SOCK_NONBLOCK_ != 0 { c.statusFlags |= O_NONBLOCK }
        kernel.broadcast()
        if addr != 0 {
            let r = writeUnixAddress(c.peer?.name, addr, lenAddr)
            if r < 0 { return r }
        }
        return fds.install(c, cloexec: flags & SOCK_CLOEXEC_ != 0)
    }

    func sysGetsockname(_ fd: Int, _ addr: UInt64, _ lenAddr: UInt64, peer: Bool) -> Int {
        if let s = fds.get(fd) as? InetSocket { return inetGetName(s, addr, lenAddr, peer: peer) }
        if let s = fds.get(fd) as? NetlinkSocket { return netlinkName(s, addr, lenAddr, peer: peer) }
        let s: UnixSocket
        switch unixSocket(fd) { case .failure(let e): return errno(e); case .success(let x): s = x }
        if peer {
            guard let p = s.peer else { return errno(ENOTCONN) }
            return writeUnixAddress(p.name, addr, lenAddr)
        }
        return writeUnixAddress(s.name, addr, lenAddr)
    }

    func sysShutdown(_ fd: Int, _ how: Int32) -> Int {
        if let s = fds.get(fd) as? InetSocket { return inetShutdown(s, how) }
        let s: UnixSocket
        switch unixSocket(fd) { case .failure(let e): return errno(e); case .success(let x): s = x }
        guard how >= 0 && how <= 2 else { return errno(EINVAL) }
        let mask = how == 0 ? RCV_SHUTDOWN_ : how == 1 ? SEND_SHUTDOWN_ : RCV_SHUTDOWN_ | SEND_SHUTDOWN_
        s.shutdownMask |= mask
        if s.connectionOriented, let p = s.peer {
            // The peer sees our write side closed as its read side closed, and vice versa.
            if mask & RCV_SHUTDOWN_ != 0 { p.shutdownMask |= SEND_SHUTDOWN_ }
            if mask & SEND_SHUTDOWN_ != 0 { p.shutdownMask |= RCV_SHUTDOWN_ }
        }
        kernel.broadcast()
        return 0
    }

    // MARK: data transfer

    /// The struct timeval of SO_RCVTIMEO/SO_SNDTIMEO as nanoseconds (0 = no timeout, like a negative one).
    func readSocketTimeout(_ val: UInt64, _ len: Int) -> KResult<Int> {
        guard len >= 16 else { return .failure(EINVAL) }
        guard let sec = mm.read(val, as: Int.self), let usec = mm.read(val + 8, as: Int.self) else { return .failure(EFAULT) }
        guard usec >= 0 && usec < 1_000_000 else { return .failure(EDOM) }
        return .success(sec < 0 ? 0 : sec * 1_000_000_000 + usec * 1000)
    }

    /// Copies the application's iovecs into one buffer, at most `limit` bytes; nil on a bad pointer.
    func gather(_ vecs: [(UInt64, Int)], limit: Int = maxIO) -> [UInt8]? {
        let total = min(vecs.reduce(0) { $0 + $1.1 }, limit)
        var out = [UInt8](repeating: 0, count: total)
        var done = 0
        let ok = out.withUnsafeMutableBytes { b -> Bool in
            for v in vecs where done < total {
                let n = min(v.1, total - done)
                if n > 0 && !mm.copyIn(v.0, b.baseAddress! + done, n) { return false }
                done += n
            }
            return true
        }
        return ok ? out : nil
    }

    private func scatter(_ data: [UInt8], _ vecs: [(UInt64, Int)]) -> Bool {
        var done = 0
        return data.withUnsafeBytes { b -> Bool in
            for v in vecs where done < data.count {
                let n = min(v.1, data.count - done)
                if n > 0 && !mm.copyOut(v.0, b.baseAddress! + done, n) { return false }
                done += n
            }
            return true
        }
    }

    private func sendCommon(_ s: UnixSocket, _ data: [UInt8], files: [FileDescription], cred: UnixCred?,
                            addr: UInt64, addrLen: Int, flags: Int32) -> Int {
        var target: UnixSocket? = nil
        if addr != 0 && addrLen != 0 {
            if s.connectionOriented { return errno(s.everConnected ? EISCONN : EOPNOTSUPP) }
            let name: [UInt8], key: [UInt8]
            switch readUnixAddress(addr, addrLen) { case .failure(let e): return errno(e); case .success(let r): (name, key) = r }
            switch lookupUnix(key, abstract: name.first == 0) {
            case .failure(let e): return errno(e == ENOENT ? ENOENT : ECONNREFUSED)
            case .success(let x): target = x
            }
            if target!.type != s.type { return errno(EPROTOTYPE) }
        }
        return s.send(self, data, files: files, cred: cred ?? socketCred(), to: target, flags: flags)
    }

    func sysSendto(_ fd: Int, _ buf: UInt64, _ len: Int, _ flags: Int32, _ addr: UInt64, _ addrLen: Int) -> Int {
        if let s = fds.get(fd) as? InetSocket { return inetSendto(s, buf, len, flags, addr, addrLen) }
        if let s = fds.get(fd) as? NetlinkSocket { return netlinkSendto(s, buf, len) }
        let s: UnixSocket
        switch unixSocket(fd) { case .failure(let e): return errno(e); case .success(let x): s = x }
        guard len >= 0 else { return errno(EINVAL) }
        guard let data = gather([(buf, len)]) else { return errno(EFAULT) }
        return sendCommon(s, data, files: [], cred: nil, addr: addr, addrLen: addrLen, flags: flags)
    }

    func sysSendmsg(_ fd: Int, _ msg: UInt64, _ flags: Int32) -> Int {
        if let s = fds.get(fd) as? InetSocket { return inetSendmsg(s, msg, flags) }
        if let s = fds.get(fd) as? NetlinkSocket { return netlinkSendmsg(s, msg) }
        let s: UnixSocket
        switch unixSocket(fd) { case .failure(let e): return errno(e); case .success(let x): s = x }
        guard let hdr = mm.readBytes(msg, 56) else { return errno(EFAULT) }
        func u64(_ o: Int) -> UInt64 { var v: UInt64 = 0; for i in 0..<8 { v |= UInt64(hdr[o + i]) << (8 * UInt64(i)) }; return v }
        let name = u64(0), nameLen = Int(UInt32(truncatingIfNeeded: u64(8)))
        let iov = u64(16), iovLen = Int(u64(24)), control = u64(32), controlLen = Int(u64(40))
        guard iovLen >= 0 && iovLen <= 1024 else { return errno(EMSGSIZE) }
        guard let vecs = readIovecs(iov, iovLen), let data = gather(vecs) else { return errno(EFAULT) }
        var files: [FileDescription] = []
        var cred: UnixCred? = nil
        if control != 0 && controlLen > 0 {
            guard controlLen <= 65536, let c = mm.readBytes(control, controlLen) else { return errno(controlLen > 65536 ? ENOBUFS : EFAULT) }
            var off = 0
            while off + 16 <= c.count {
                let clen = c.withUnsafeBytes { Int($0.loadUnaligned(fromByteOffset: off, as: UInt64.self)) }
                let level = c.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: off + 8, as: Int32.self) }
                let type = c.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: off + 12, as: Int32.self) }
                guard clen >= 16 && off + clen <= c.count else { return errno(EINVAL) }
                guard level == SOL_SOCKET_ else { return errno(EINVAL) }
                if type == SCM_RIGHTS_ {
                    let n = (clen - 16) / 4
                    guard files.count + n <= 253 else { return errno(EINVAL) }
                    for i in 0..<n {
                        let pfd = c.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: off + 16 + 4 * i, as: Int32.self) }
                        guard let f = fds.get(Int(pfd)) else { return errno(EBADF) }
                        files.append(f)
                    }
                } else if type == SCM_CREDENTIALS_ {
                    guard clen == 28 else { return errno(EINVAL) }
                    let pid = c.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: off + 16, as: Int32.self) }
                    let uid = c.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: off + 20, as: UInt32.self) }
                    let gid = c.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: off + 24, as: UInt32.self) }
                    // Other credentials need CAP_SYS_ADMIN (pid), CAP_SETUID (uid), CAP_SETGID (gid), unix(7).
                    let c = tg.cred
                    if pid != tg.pid && !c.has(Cap.sysAdmin) { return errno(EPERM) }
                    if uid != c.ruid && uid != c.euid && uid != c.suid && !c.has(Cap.setuid) { return errno(EPERM) }
                    if gid != c.rgid && gid != c.egid && gid != c.sgid && !c.has(Cap.setgid) { return errno(EPERM) }
                    cred = UnixCred(pid: pid, uid: uid, gid: gid)
                } else {
                    return errno(EINVAL)
                }
                off += (clen + 7) & ~7
            }
        }
        return sendCommon(s, data, files: files, cred: cred, addr: name, addrLen: nameLen, flags: flags)
    }

    func sysRecvfrom(_ fd: Int, _ buf: UInt64, _ len: Int, _ flags: Int32, _ addr: UInt64, _ lenAddr: UInt64) -> Int {
        if let s = fds.get(fd) as? InetSocket { return inetRecvfrom(s, buf, len, flags, addr, lenAddr) }
        if let s = fds.get(fd) as? NetlinkSocket { return netlinkRecvfrom(s, buf, len, flags, addr, lenAddr) }
        let s: UnixSocket
        switch unixSocket(fd) { case .failure(let e): return errno(e); case .success(let x): s = x }
        guard len >= 0 else { return errno(EINVAL) }
        let r: UnixSocket.Received
        switch s.receive(self, max: min(len, maxIO), flags: flags) { case .failure(let e): return -Int(e); case .success(let x): r = x }
        if !scatter(r.data, [(buf, len)]) { return errno(EFAULT) }
        if addr != 0 && lenAddr != 0 {
            if let from = r.from { _ = writeUnixAddress(from, addr, lenAddr) } else { _ = mm.write(lenAddr, Int32(0)) }
        }
        return flags & MSG_TRUNC_ != 0 && s.type != SOCK_STREAM_ ? r.fullLength : r.data.count
    }

    func sysRecvmsg(_ fd: Int, _ msg: UInt64, _ flags: Int32) -> Int {
        if let s = fds.get(fd) as? InetSocket { return inetRecvmsg(s, msg, flags) }
        if let s = fds.get(fd) as? NetlinkSocket { return netlinkRecvmsg(s, msg, flags) }
        let s: UnixSocket
        switch unixSocket(fd) { case .failure(let e): return errno(e); case .success(let x): s = x }
        guard let hdr = mm.readBytes(msg, 56) else { return errno(EFAULT) }
        func u64(_ o: Int) -> UInt64 { var v: UInt64 = 0; for i in 0..<8 { v |= UInt64(hdr[o + i]) << (8 * UInt64(i)) }; return v }
        let name = u64(0)
        let iov = u64(16), iovLen = Int(u64(24)), control = u64(32), controlLen = Int(u64(40))
        guard iovLen >= 0 && iovLen <= 1024 else { return errno(EMSGSIZE) }
        guard let vecs = readIovecs(iov, iovLen) else { return errno(EFAULT) }
        let total = min(vecs.reduce(0) { $0 + $1.1 }, maxIO)
        let r: UnixSocket.Received
        switch s.receive(self, max: total, flags: flags) { case .failure(let e): return -Int(e); case .success(let x): r = x }
        if !scatter(r.data, vecs) { return errno(EFAULT) }
        var msgFlags: Int32 = (r.truncated ? MSG_TRUNC_ : 0) | (flags & MSG_CMSG_CLOEXEC_)
        // Name: only datagram senders with a bound name report one.
        if name != 0 {
            if let from = r.from, s.type != SOCK_STREAM_ || true {
                var bytes: [UInt8] = [UInt8(AF_UNIX_), 0] + from
                if from.first != 0 { bytes.append(0) }
                let avail = Int(UInt32(truncatingIfNeeded: u64(8)))
                let k = min(avail, bytes.count)
                if k > 0 { _ = bytes.withUnsafeBytes { mm.copyOut(name, $0.baseAddress!, k) } }
                _ = mm.write(msg + 8, UInt32(bytes.count))
            } else {
                _ = mm.write(msg + 8, UInt32(0))
            }
        }
        // Control messages: credentials (SO_PASSCRED) then passed descriptors.
        var cbuf: [UInt8] = []
        func appendCmsg(_ type: Int32, _ payload: [UInt8]) {
            let len = 16 + payload.count
            withUnsafeBytes(of: UInt64(len)) { cbuf += $0 }
            withUnsafeBytes(of: SOL_SOCKET_) { cbuf += $0 }
            withUnsafeBytes(of: type) { cbuf += $0 }
            cbuf += payload
            while cbuf.count % 8 != 0 { cbuf.append(0) }
        }
        let room = control != 0 ? controlLen : 0
        if s.passcred, let c = r.cred {
            if room - cbuf.count >= 28 {
                var p: [UInt8] = []
                withUnsafeBytes(of: c.pid) { p += $0 }; withUnsafeBytes(of: c.uid) { p += $0 }; withUnsafeBytes(of: c.gid) { p += $0 }
                appendCmsg(SCM_CREDENTIALS_, p)
            } else {
                msgFlags |= MSG_CTRUNC_
            }
        }
        if !r.files.isEmpty {
            let fit = max(0, (room - cbuf.count - 16) / 4)
            let n = min(fit, r.files.count)
            if n < r.files.count { msgFlags |= MSG_CTRUNC_ }
            if n > 0 {
                var p: [UInt8] = []
                for f in r.files[0..<n] {
                    let nfd = fds.install(f, cloexec: flags & MSG_CMSG_CLOEXEC_ != 0)
                    if nfd < 0 { msgFlags |= MSG_CTRUNC_; break }
                    withUnsafeBytes(of: Int32(nfd)) { p += $0 }
                }
                if !p.isEmpty { appendCmsg(SCM_RIGHTS_, p) }
            }
        }
        // The last cmsg's length excludes trailing padding, but controllen counts it like Linux.
        if !cbuf.isEmpty { _ = cbuf.withUnsafeBytes { mm.copyOut(control, $0.baseAddress!, min(cbuf.count, room)) } }
        _ = mm.write(msg + 40, UInt64(min(cbuf.count, room)))
        _ = mm.write(msg + 48, msgFlags)
        return flags & MSG_TRUNC_ != 0 && s.type != SOCK_STREAM_ ? r.fullLength : r.data.count
    }

    // MARK: options

    func sysSetsockopt(_ fd: Int, _ level: Int32, _ opt: Int32, _ val: UInt64, _ len: Int) -> Int {
        if let s = fds.get(fd) as? InetSocket { return inetSetsockopt(s, level, opt, val, len) }
        if let s = fds.get(fd) as? NetlinkSocket { return netlinkSetsockopt(s, level, opt, val, len) }
        let s: UnixSocket
        switch unixSocket(fd) { case .failure(let e): return errno(e); case .success(let x): s = x }
        guard level == SOL_SOCKET_ else { return errno(EOPNOTSUPP) }
        if opt == 20 || opt == 21 {  // SO_RCVTIMEO / SO_SNDTIMEO (struct timeval)
            let ns: Int
            switch readSocketTimeout(val, len) { case .success(let v): ns = v; case .failure(let e): return errno(e) }
            if opt == 20 { s.rcvTimeoutNs = ns } else { s.sndTimeoutNs = ns }
            return 0
        }
        guard len >= 4 else { return errno(EINVAL) }
        guard let v = mm.read(val, as: Int32.self) else { return errno(EFAULT) }
        switch opt {
        case 16: s.passcred = v != 0                                   // SO_PASSCRED
        case 7: s.sndbuf = max(Int(min(v, 212_992)) * 2, 4608)          // SO_SNDBUF (doubled like Linux)
        case 8: s.rcvbuf = max(Int(min(v, 212_992)) * 2, 2304)          // SO_RCVBUF
        case 2, 9, 15: break                                           // SO_REUSEADDR, SO_KEEPALIVE, SO_REUSEPORT: no effect
        default: return errno(ENOPROTOOPT)
        }
        return 0
    }

    func sysGetsockopt(_ fd: Int, _ level: Int32, _ opt: Int32, _ val: UInt64, _ lenAddr: UInt64) -> Int {
        if let s = fds.get(fd) as? InetSocket { return inetGetsockopt(s, level, opt, val, lenAddr) }
        if let s = fds.get(fd) as? NetlinkSocket { return netlinkGetsockopt(s, level, opt, val, lenAddr) }
        let s: UnixSocket
        switch unixSocket(fd) { case .failure(let e): return errno(e); case .success(let x): s = x }
        guard level == SOL_SOCKET_ else { return errno(EOPNOTSUPP) }
        guard let avail = mm.read(lenAddr, as: Int32.self) else { return errno(EFAULT) }
        guard avail >= 0 else { return errno(EINVAL) }
        var out: [UInt8] = []
        func put<T>(_ v: T) { withUnsafeBytes(of: v) { out += $0 } }
        switch opt {
        case 3: put(s.type)                                            // SO_TYPE
        case 39: put(AF_UNIX_)                                         // SO_DOMAIN
        case 38: put(Int32(0))                                         // SO_PROTOCOL
        case 4: put(s.pendingError); s.pendingError = 0                // SO_ERROR
        case 30: put(Int32(s.listening ? 1 : 0))                       // SO_ACCEPTCONN
        case 16: put(Int32(s.passcred ? 1 : 0))                        // SO_PASSCRED
        case 7: put(Int32(s.sndbuf))                                   // SO_SNDBUF
        case 8: put(Int32(s.rcvbuf))                                   // SO_RCVBUF
        case 2, 9, 15: put(Int32(0))
        case 17:                                                       // SO_PEERCRED
            let c = s.peerCred ?? UnixCred(pid: 0, uid: UInt32.max, gid: UInt32.max)
            put(c.pid); put(c.uid); put(c.gid)
        case 20, 21:
            let ns = opt == 20 ? s.rcvTimeoutNs : s.sndTimeoutNs
            put(ns / 1_000_000_000); put((ns % 1_000_000_000) / 1000)
        default: return errno(ENOPROTOOPT)
        }
        let k = min(Int(avail), out.count)
        if k > 0 && !out.withUnsafeBytes({ mm.copyOut(val, $0.baseAddress!, k) }) { return errno(EFAULT) }
        return mm.write(lenAddr, Int32(k)) ? 0 : errno(EFAULT)
    }
}
