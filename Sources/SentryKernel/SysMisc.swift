// Identity and environment calls: uname, arch_prctl, prctl, rlimits, getrandom,
// scheduling queries, sysinfo.
import CBulwark
import Glibc
import SentryMemory

extension Task {
    func sysUname(_ addr: UInt64) -> Int {
        var b = [UInt8](repeating: 0, count: 65 * 6)
        let machine = tg.personality & 0xff == 8 ? "i686" : "x86_64"   // PER_LINUX32
        let fields = ["Linux", kernel.hostname, "6.1.0-bulwark", "#1 SMP Bulwark", machine, kernel.domainname]
        for (i, f) in fields.enumerated() {
            let u = Array(f.utf8.prefix(64))
            for (j, c) in u.enumerated() { b[i * 65 + j] = c }
        }
        return b.withUnsafeBytes { mm.copyOut(addr, $0.baseAddress!, $0.count) } ? 0 : errno(EFAULT)
    }

    /// personality(2): 0xffffffff queries; any other value is stored (as Linux does) and returned by
    /// later queries. PER_LINUX32 changes uname's machine; the other flags have no effect here.
    func sysPersonality(_ persona: UInt64) -> Int {
        let old = tg.personality
        if persona != 0xffff_ffff { tg.personality = UInt32(truncatingIfNeeded: persona) }
        return Int(old)
    }

    func sysSethostname(_ addr: UInt64, _ len: Int, domain: Bool) -> Int {
        guard tg.cred.has(Cap.sysAdmin) else { return errno(EPERM) }
        guard len >= 0 && len <= 64 else { return errno(EINVAL) }
        guard let b = mm.readBytes(addr, len) else { return errno(EFAULT) }
        let s = String(decoding: b, as: UTF8.self)
        if domain { kernel.domainname = s } else { kernel.hostname = s }
        return 0
    }

    func sysArchPrctl(_ code: Int, _ addr: UInt64) -> Int {
        var r = regs
        switch code {
        case 0x1001: r.gs_base = addr; regs = r; return 0        // ARCH_SET_GS
        case 0x1002:                                             // ARCH_SET_FS
            guard addr < AddressSpace.userTop else { return errno(EPERM) }
            r.fs_base = addr; regs = r; return 0
        case 0x1003: return mm.write(addr, r.fs_base) ? 0 : errno(EFAULT)   // ARCH_GET_FS
        case 0x1004: return mm.write(addr, r.gs_base) ? 0 : errno(EFAULT)   // ARCH_GET_GS
        default: return errno(EINVAL)
        }
    }

    func sysPrctl(_ op: Int, _ a2: UInt64, _ a3: UInt64) -> Int {
        switch op {
        case 15: // PR_SET_NAME
            guard let n = mm.readCString(a2, max: 4096) else { return errno(EFAULT) }
            threadName = String(decoding: n.prefix(15), as: UTF8.self)
            return 0
        case 16: // PR_GET_NAME
            let b = Array(threadName.utf8.prefix(15)) + [0]
            return b.withUnsafeBytes { mm.copyOut(a2, $0.baseAddress!, b.count) } ? 0 : errno(EFAULT)
        case 1: pdeathSignal = Int32(truncatingIfNeeded: a2); return 0            // PR_SET_PDEATHSIG
        case 2: return mm.write(a2, pdeathSignal) ? 0 : errno(EFAULT)              // PR_GET_PDEATHSIG
        case 3: return 1                                                           // PR_GET_DUMPABLE
        case 4: return 0                                                           // PR_SET_DUMPABLE
        case 36: return 0                                                          // PR_SET_CHILD_SUBREAPER (noted: no effect)
        case 38: noNewPrivs = true; return 0                                       // PR_SET_NO_NEW_PRIVS
        case 39: return noNewPrivs ? 1 : 0                                         // PR_GET_NO_NEW_PRIVS
        default: return capabilityPrctl(op, a2, a3) ?? errno(EINVAL)   // SysCredentials.swift
        }
    }

    static let defaultLimits: [Int: (UInt64, UInt64)] = [
        3: (8 << 20, UInt64.max),   // STACK
        7: (1024, 1048576),         // NOFILE
        6: (4096, 4096),            // NPROC
        4: (0, UInt64.max),         // CORE
    ]

    func sysPrlimit(_ pid: Int, _ resource: Int, _ new: UInt64, _ old: UInt64) -> Int {
        guard resource >= 0 && resource < 16 else { return errno(EINVAL) }
        let target: ThreadGroup
        if pid == 0 || pid == Int(tg.pid) { target = tg }
        else if let t = kernel.threadGroups[Int32(pid)] { target = t } else { return errno(ESRCH) }
        let cur = target.rlimits[resource] ?? Task.defaultLimits[resource] ?? (UInt64.max, UInt64.max)
        if old != 0 && !mm.write(old, cur) { return errno(EFAULT) }
        if new != 0 {
            guard let v = mm.read(new, as: (UInt64, UInt64).self) else { return errno(EFAULT) }
            guard v.0 <= v.1 else { return errno(EINVAL) }
            if v.1 > cur.1 && target.uid != 0 { return errno(EPERM) }
            target.rlimits[resource] = v
            if resource == 7 { fds.limit = Int(min(v.0, 1 << 20)) }
        }
        return 0
    }

    func sysGetrandom(_ buf: UInt64, _ len: Int, _ flags: UInt32) -> Int {
        guard flags & ~7 == 0 else { return errno(EINVAL) }
        let n = min(max(len, 0), 1 << 25)
        let tmp = scratch(n)
        var done = 0
        while done < n {
            let k = bw_getrandom(tmp.baseAddress! + done, UInt(n - done), 0)
            if k <= 0 { break }
            done += k
        }
        return mm.copyOut(buf, tmp.baseAddress!, done) ? done : errno(EFAULT)
    }

    func sysSchedGetaffinity(_ pid: Int, _ size: Int, _ addr: UInt64) -> Int {
        guard size >= 8, size & 7 == 0 else { return errno(EINVAL) }
        var mask = [UInt8](repeating: 0, count: min(size, 128))
        for c in 0..<Int(kernel.cpuCount) where c < mask.count * 8 { mask[c / 8] |= UInt8(1 << (c % 8)) }
        return mask.withUnsafeBytes { mm.copyOut(addr, $0.baseAddress!, mask.count) } ? mask.count : errno(EFAULT)
    }

    func sysSysinfo(_ addr: UInt64) -> Int {
        var b = [UInt8](repeating: 0, count: 112)
        let now = monotonicNow()
        b.withUnsafeMutableBytes { p in
            p.storeBytes(of: Int(now.tv_sec - kernel.startTime.tv_sec), toByteOffset: 0, as: Int.self)
            p.storeBytes(of: UInt64(8) << 30, toByteOffset: 32, as: UInt64.self)   // totalram
            p.storeBytes(of: UInt64(4) << 30, toByteOffset: 40, as: UInt64.self)   // freeram
            p.storeBytes(of: UInt16(kernel.tasks.count), toByteOffset: 80, as: UInt16.self)
            p.storeBytes(of: UInt32(1), toByteOffset: 104, as: UInt32.self)        // mem_unit
        }
        return b.withUnsafeBytes { mm.copyOut(addr, $0.baseAddress!, 112) } ? 0 : errno(EFAULT)
    }

    func sysZero(_ addr: UInt64, _ size: Int) -> Int {
        let z = [UInt8](repeating: 0, count: size)
        return z.withUnsafeBytes { mm.copyOut(addr, $0.baseAddress!, size) } ? 0 : errno(EFAULT)
    }
}
