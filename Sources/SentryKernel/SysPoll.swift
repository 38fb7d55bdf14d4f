// Readiness waits: poll, ppoll, select, pselect6. Level-triggered checks of each file's poll(); a
// waiter sleeps as a readiness sleeper (woken by targeted wakes, broadcasts and the netstack's
// doorbell, WaitQueue.swift), and re-polls host stdio every 10 ms because host readiness does not
// broadcast.
import Glibc
import SentryMemory

extension Task {
    func waitReady(deadline: timespec?, hostInvolved: Bool, _ check: () -> Int) -> Int {
        noteNet()   // before the first check; sleeps keep it current (WaitQueue.swift)
        while true {
            let n = check()
            if n != 0 { return n }
            if let d = deadline, !lessThan(monotonicNow(), d) { return 0 }
            if interrupted { return -ERESTARTNOHAND }
            var d = deadline
            if hostInvolved {
                let soon = addNanos(monotonicNow(), 10_000_000)
                if d == nil || lessThan(soon, d!) { d = soon }
            }
            sleepOnce(deadline: d, kind: .readiness)   // any readiness wait may involve inet sockets
        }
    }

    func doPoll(_ addr: UInt64, _ nfds: Int, deadline: timespec?) -> Int {
        guard nfds >= 0 && nfds <= fds.limit else { return errno(EINVAL) }
        guard var pfds = mm.readBytes(addr, nfds * 8) else { return errno(EFAULT) }
        var host = false
        var files: [FileDescription?] = []
        for i in 0..<nfds {
            let fd = pfds.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: i * 8, as: Int32.self) }
            let f = fd >= 0 ? fds.get(Int(fd)) : nil
            if f?.hostPollFD != nil { host = true }
            files.append(f)
        }
        let r = waitReady(deadline: deadline, hostInvolved: host) {
            var count = 0
            pfds.withUnsafeMutableBytes { b in
                for i in 0..<nfds {
                    let fd = b.loadUnaligned(fromByteOffset: i * 8, as: Int32.self)
                    let ev = b.loadUnaligned(fromByteOffset: i * 8 + 4, as: Int16.self)
                    var rev: Int16 = 0
                    if fd >= 0 {
                        if let f = files[i] { rev = f.poll(ev | POLLHUP_ | POLLERR_) & (ev | POLLHUP_ | POLLERR_) }
                        else { rev = POLLNVAL_ }
                    }
                    b.storeBytes(of: rev, toByteOffset: i * 8 + 6, as: Int16.self)
                    if rev != 0 { count += 1 }
                }
            }
            return count
        }
        if r < 0 { return r }
        return pfds.withUnsafeBytes({ mm.copyOut(addr, $0.baseAddress!, nfds * 8) }) ? r : errno(EFAULT)
    }

    func sysPoll(_ addr: UInt64, _ nfds: Int, _ timeout: Int32) -> Int {
        let deadline = timeout < 0 ? nil : addNanos(monotonicNow(), Int(timeout) * 1_000_000)
        let r = doPoll(addr, nfds, deadline: deadline)
        return r == -ERESTARTNOHAND ? -ERESTART_RESTARTBLOCK : r
    }

    func readTimeout(_ tsAddr: UInt64) -> KResult<timespec?> {
        if tsAddr == 0 { return .success(nil) }
        guard let ts = mm.read(tsAddr, as: timespec.self) else { return .failure(EFAULT) }
        guard ts.tv_sec >= 0, ts.tv_nsec >= 0, ts.tv_nsec < 1_000_000_000 else { return .failure(EINVAL) }
        return .success(addNanos(monotonicNow(), ts.tv_sec * 1_000_000_000 + ts.tv_nsec))
    }

    /// Installs a temporary signal mask (ppoll/pselect); restored after the call or by the handler frame.
    func withTempMask(_ maskAddr: UInt64, _ body: () -> Int) -> Int {
        if maskAddr == 0 { return body() }
        guard let m = mm.read(maskAddr, as: UInt64.self) else { return errno(EFAULT) }
        let old = sigmask
        sigmask = m & ~unblockable
        let r = body()
        if r == -ERESTARTNOHAND && (pending | tg.pending) & ~sigmask != 0 {
            savedMask = old      // deliverSignals restores it after the handler frame is built
        } else {
            sigmask = old
        }
        return r
    }

    func sysPpoll(_ addr: UInt64, _ nfds: Int, _ tsAddr: UInt64, _ maskAddr: UInt64, _ size: Int) -> Int {
        let deadline: timespec?
        switch readTimeout(tsAddr) { case .success(let d): deadline = d; case .failure(let e): return errno(e) }
        return withTempMask(maskAddr) { doPoll(addr, nfds, deadline: deadline) }
    }

    func doSelect(_ nfds: Int, _ r: UInt64, _ w: UInt64, _ e: UInt64, deadline: timespec?) -> Int {
        guard nfds >= 0 && nfds <= fds.limit else { return errno(EINVAL) }
        let words = (nfds + 63) / 64
        func load(_ a: UInt64) -> [UInt64]? {
            if a == 0 { return [UInt64](repeating: 0, count: words) }
            guard let b = mm.readBytes(a, words * 8) else { return nil }
            return (0..<words).map { i in b.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self) } }
        }
        guard let rin = load(r), let win = load(w), let ein = load(e) else { return errno(EFAULT) }
        var host = false
        for fd in 0..<nfds {
            let bit = UInt64(1) << UInt64(fd % 64)
            if (rin[fd / 64] | win[fd / 64] | ein[fd / 64]) & bit != 0 {
                guard let f = fds.get(fd) else { return errno(EBADF) }
                if f.hostPollFD != nil { host = true }
            }
        }
        var rout = rin, wout = win, eout = ein
        let n = waitReady(deadline: deadline, hostInvolved: host) {
            var count = 0
            for i in 0..<words { rout[i] = 0; wout[i] = 0; eout[i] = 0 }
            for fd in 0..<nfds {
                let bit = UInt64(1) << UInt64(fd % 64)
                let want = (rin[fd / 64] & bit != 0, win[fd / 64] & bit != 0, ein[fd / 64] & bit != 0)
                if !(want.0 || want.1 || want.2) { continue }
                guard let f = fds.get(fd) else { continue }
                let rev = f.poll(POLLIN_ | POLLOUT_ | POLLPRI_ | POLLHUP_ | POLLERR_)
                if want.0 && rev & (POLLIN_ | POLLHUP_ | POLLERR_) != 0 { rout[fd / 64] |= bit; count += 1 }
                if want.1 && rev & (POLLOUT_ | POLLERR_) != 0 { wout[fd / 64] |= bit; count += 1 }
                if want.2 && rev & POLLPRI_ != 0 { eout[fd / 64] |= bit; count += 1 }
            }
            return count
        }
        if n < 0 { return n }
        func store(_ a: UInt64, _ v: [UInt64]) -> Bool { a == 0 || v.withUnsafeBytes { mm.copyOut(a, $0.baseAddress!, words * 8) } }
        guard store(r, rout), store(w, wout), store(e, eout) else { return errno(EFAULT) }
        return n
    }

    func sysSelect(_ nfds: Int, _ r: UInt64, _ w: UInt64, _ e: UInt64, _ tvAddr: UInt64) -> Int {
        var deadline: timespec? = nil
        if tvAddr != 0 {
            guard let tv = mm.read(tvAddr, as: timeval.self) else { return errno(EFAULT) }
            guard tv.tv_sec >= 0, tv.tv_usec >= 0 else { return errno(EINVAL) }
            deadline = addNanos(monotonicNow(), tv.tv_sec * 1_000_000_000 + tv.tv_usec * 1000)
        }
        return doSelect(nfds, r, w, e, deadline: deadline)
    }

    func sysPselect6(_ nfds: Int, _ r: UInt64, _ w: UInt64, _ e: UInt64, _ tsAddr: UInt64, _ sigAddr: UInt64) -> Int {
        let deadline: timespec?
        switch readTimeout(tsAddr) { case .success(let d): deadline = d; case .failure(let e): return errno(e) }
        var maskPtr: UInt64 = 0
        if sigAddr != 0 {
            guard let p = mm.read(sigAddr, as: UInt64.self) else { return errno(EFAULT) }
            maskPtr = p
        }
        return withTempMask(maskPtr) { doSelect(nfds, r, w, e, deadline: deadline) }
    }
}
