// signalfd/signalfd4: a file that dequeues pending signals in its mask as signalfd_siginfo records
// (the signals are normally blocked, so they stay pending until read). Readiness is computed from
// the pending sets of the task that created it and its thread group.
import Glibc

final class SignalFD: FileDescription {
    var mask: UInt64
    weak var owner: Task?
    init(mask: UInt64, owner: Task, flags: Int32) {
        self.mask = mask
        self.owner = owner
        super.init(flags: O_RDWR | flags)
        LiveObjects.signalFDs += 1
    }
    deinit { LiveObjects.signalFDs -= 1 }

    private func ready(_ t: Task) -> UInt64 { (t.pending | t.tg.pending) & mask }

    override func read(_ t: Task, _ buf: UnsafeMutableRawBufferPointer) -> Int {
        guard buf.count >= 128 else { return -Int(EINVAL) }
        while ready(t) == 0 {
            if nonblocking { return -Int(EAGAIN) }
            if !t.block(deadline: nil) { return -ERESTARTSYS }
        }
        var off = 0
        while off + 128 <= buf.count {
            let r = ready(t)
            if r == 0 { break }
            let sig = Int32(r.trailingZeroBitCount + 1)
            let bit = sigbit(sig)
            var info: SigInfo
            if t.pending & bit != 0 {
                t.pending &= ~bit
                info = t.pendingInfo[Int(sig)] ?? SigInfo(signo: sig)
                t.pendingInfo[Int(sig)] = nil
            } else {
                t.tg.pending &= ~bit
                info = t.tg.pendingInfo[Int(sig)] ?? SigInfo(signo: sig)
                t.tg.pendingInfo[Int(sig)] = nil
            }
            let p = buf.baseAddress! + off
            memset(p, 0, 128)
            p.storeBytes(of: UInt32(bitPattern: sig), as: UInt32.self)                     // ssi_signo
            p.storeBytes(of: info.code, toByteOffset: 8, as: Int32.self)                   // ssi_code
            p.storeBytes(of: UInt32(bitPattern: info.pid), toByteOffset: 12, as: UInt32.self)
            p.storeBytes(of: info.uid, toByteOffset: 16, as: UInt32.self)
            p.storeBytes(of: info.status, toByteOffset: 40, as: Int32.self)                // ssi_status
            p.storeBytes(of: info.addr, toByteOffset: 72, as: UInt64.self)                 // ssi_addr
            off += 128
        }
        return off
    }

    override func poll(_ events: Int16) -> Int16 {
        guard let t = owner else { return 0 }
        return ready(t) != 0 ? events & POLLIN_ : 0
    }

    override func stat(_ st: inout stat) -> Int { st = Glibc.stat(); st.st_mode = 0o600; st.st_nlink = 1; return 0 }
}

extension Task {
    func sysSignalfd4(_ fd: Int, _ maskAddr: UInt64, _ size: Int, _ flags: Int32) -> Int {
        guard size == 8 else { return errno(EINVAL) }
        guard flags & ~(O_CLOEXEC | O_NONBLOCK) == 0 else { return errno(EINVAL) }
        guard let m = mm.read(maskAddr, as: UInt64.self) else { return errno(EFAULT) }
        let mask = m & ~unblockable
        if fd != -1 {
            guard let f = fds.get(fd) else { return errno(EBADF) }
            guard let s = f as? SignalFD else { return errno(EINVAL) }
            s.mask = mask
            kernel.broadcast()
            return fd
        }
        return fds.install(SignalFD(mask: mask, owner: self, flags: flags & O_NONBLOCK), cloexec: flags & O_CLOEXEC != 0)
    }
}
