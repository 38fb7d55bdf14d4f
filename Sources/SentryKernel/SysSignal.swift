// Signal system calls: rt_sigaction, rt_sigprocmask, rt_sigpending, rt_sigsuspend, pause,
// sigaltstack, rt_sigtimedwait.
import Glibc
import SentryMemory

extension Task {
    func sysRtSigaction(_ sig: Int, _ act: UInt64, _ oact: UInt64, _ size: Int) -> Int {
        guard size == 8, sig >= 1, sig <= 64 else { return errno(EINVAL) }
        if act != 0 && (sig == Int(SIGKILL) || sig == Int(SIGSTOP)) { return errno(EINVAL) }
        let old = tg.handlers.actions[sig]
        if act != 0 {
            guard let raw = mm.readBytes(act, 32) else { return errno(EFAULT) }
            var a = SigAction()
            raw.withUnsafeBytes { b in
                a.handler = b.loadUnaligned(fromByteOffset: 0, as: UInt64.self)
                a.flags = b.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
                a.restorer = b.loadUnaligned(fromByteOffset: 16, as: UInt64.self)
                a.mask = b.loadUnaligned(fromByteOffset: 24, as: UInt64.self) & ~unblockable
            }
            tg.handlers.actions[sig] = a
            let ignored = a.handler == 1 || (a.handler == 0 && defaultAction(Int32(sig)) == .ignore)
            if ignored {
                let bit = sigbit(Int32(sig))
                tg.pending &= ~bit
                for t in tg.threads { t.pending &= ~bit }
            }
            if sig == Int(SIGCHLD) && (a.handler == 1 || a.flags & 2 != 0) {
                for c in tg.children where c.zombie { kernel.reapIfAutoReap(c) }
            }
        }
        if oact != 0 {
            let words: [UInt64] = [old.handler, old.flags, old.restorer, old.mask]
            guard words.withUnsafeBytes({ mm.copyOut(oact, $0.baseAddress!, 32) }) else { return errno(EFAULT) }
        }
        return 0
    }

    func sysRtSigprocmask(_ how: Int, _ set: UInt64, _ oset: UInt64, _ size: Int) -> Int {
        guard size == 8 else { return errno(EINVAL) }
        let old = sigmask
        if set != 0 {
            guard let m = mm.read(set, as: UInt64.self) else { return errno(EFAULT) }
            switch how {
            case 0: sigmask |= m
            case 1: sigmask &= ~m
            case 2: sigmask = m
            default: return errno(EINVAL)
            }
            sigmask &= ~unblockable
        }
        if oset != 0 && !mm.write(oset, old) { return errno(EFAULT) }
        return 0
    }

    func sysRtSigsuspend(_ maskAddr: UInt64, _ size: Int) -> Int {
        guard size == 8 else { return errno(EINVAL) }
        guard let m = mm.read(maskAddr, as: UInt64.self) else { return errno(EFAULT) }
        savedMask = sigmask
        sigmask = m & ~unblockable
        while blockUntilBroadcast(deadline: nil) {}
        return -ERESTARTNOHAND
    }

    func sysPause() -> Int {
        while blockUntilBroadcast(deadline: nil) {}
        return -ERESTARTNOHAND
    }

    func sysSigaltstack(_ ss: UInt64, _ oss: UInt64) -> Int {
        let onStack = altStack.flags & 2 == 0 && altStack.size > 0 && regs.rsp > altStack.sp && regs.rsp <= altStack.sp + altStack.size
        if oss != 0 {
            var b = [UInt8](repeating: 0, count: 24)
            b.withUnsafeMutableBytes { p in
                p.storeBytes(of: altStack.sp, toByteOffset: 0, as: UInt64.self)
                p.storeBytes(of: altStack.flags | (onStack ? 1 : 0), toByteOffset: 8, as: Int32.self)
                p.storeBytes(of: altStack.size, toByteOffset: 16, as: UInt64.self)
            }
            guard b.withUnsafeBytes({ mm.copyOut(oss, $0.baseAddress!, 24) }) else { return errno(EFAULT) }
        }
        if ss != 0 {
            guard let b = mm.readBytes(ss, 24) else { return errno(EFAULT) }
            if onStack { return errno(EPERM) }
            let sp = b.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 0, as: UInt64.self) }
            let flags = b.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 8, as: Int32.self) }
            let size = b.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 16, as: UInt64.self) }
            if flags & 2 != 0 { altStack = (0, 2, 0); return 0 }
            guard flags & ~Int32(bitPattern: 0x8000_0000) == 0 else { return errno(EINVAL) }
            guard size >= 2048 else { return errno(ENOMEM) }
            altStack = (sp, 0, size)
        }
        return 0
    }

    func sysRtSigpending(_ addr: UInt64, _ size: Int) -> Int {
        guard size <= 8 else { return errno(EINVAL) }
        return mm.write(addr, (pending | tg.pending) & sigmask) ? 0 : errno(EFAULT)
    }

    func sysRtSigtimedwait(_ setAddr: UInt64, _ infoAddr: UInt64, _ tsAddr: UInt64, _ size: Int) -> Int {
        guard size == 8 else { return errno(EINVAL) }
        guard let set = mm.read(setAddr, as: UInt64.self) else { return errno(EFAULT) }
        var deadline: timespec? = nil
        if tsAddr != 0 {
            guard let ts = mm.read(tsAddr, as: timespec.self) else { return errno(EFAULT) }
            deadline = addNanos(monotonicNow(), ts.tv_sec * 1_000_000_000 + ts.tv_nsec)
        }
        while true {
            let ready = (pending | tg.pending) & set
            if ready != 0 {
                let sig = Int32(ready.trailingZeroBitCount + 1)
                let bit = sigbit(sig)
                var info: SigInfo
                if pending & bit != 0 { pending &= ~bit; info = pendingInfo[Int(sig)] ?? SigInfo(signo: sig); pendingInfo[Int(sig)] = nil }
                else { tg.pending &= ~bit; info = tg.pendingInfo[Int(sig)] ?? SigInfo(signo: sig); tg.pendingInfo[Int(sig)] = nil }
                if infoAddr != 0 {
                    var b = [UInt8](repeating: 0, count: 128)
                    b.withUnsafeMutableBytes { p in
                        p.storeBytes(of: sig, toByteOffset: 0, as: Int32.self)
                        p.storeBytes(of: info.code, toByteOffset: 8, as: Int32.self)
                        p.storeBytes(of: info.pid, toByteOffset: 16, as: Int32.self)
                        p.storeBytes(of: info.uid, toByteOffset: 20, as: UInt32.self)
                    }
                    _ = b.withUnsafeBytes { mm.copyOut(infoAddr, $0.baseAddress!, 128) }
                }
                return Int(sig)
            }
            if let d = deadline, !lessThan(monotonicNow(), d) { return errno(EAGAIN) }
            // Waiting signals in `set` must wake us even though they are blocked.
            if tg.exiting || exited || (pending | tg.pending) & ~sigmask != 0 { return errno(EINTR) }
            kernel.waitCond(deadline: deadline ?? addNanos(monotonicNow(), 50_000_000))
        }
    }
}
