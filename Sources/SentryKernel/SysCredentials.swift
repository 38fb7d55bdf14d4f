// Identity calls: the uid/gid family (get/set, re, res, fs), supplementary groups, capget/capset and
// prctl's capability operations. Rules: setuid(2), setreuid(2), setresuid(2), setfsuid(2),
// setgroups(2), capget(2), capabilities(7).
import Glibc

extension Task {
    // MARK: user and group ids

    func sysGetresid(_ a: UInt64, _ b: UInt64, _ c: UInt64, gid: Bool) -> Int {
        let (r, e, s) = tg.cred.ids(gid: gid)
        return mm.write(a, r) && mm.write(b, e) && mm.write(c, s) ? 0 : errno(EFAULT)
    }

    /// setuid/setgid: with CAP_SETUID (CAP_SETGID) every id changes; otherwise only the effective one,
    /// and only to the real or saved id.
    func sysSetid(_ v: UInt32, gid: Bool) -> Int {
        guard v != UInt32.max else { return errno(EINVAL) }
        let old = tg.cred
        var c = old
        if c.has(gid ? Cap.setgid : Cap.setuid) {
            c.setIDs(gid: gid, real: v, effective: v, saved: v)
        } else {
            let (r, _, s) = c.ids(gid: gid)
            guard v == r || v == s else { return errno(EPERM) }
            c.setIDs(gid: gid, real: r, effective: v, saved: s)
        }
        commit(c, old: old, uidChange: !gid)
        return 0
    }

    /// setreuid/setregid (-1 keeps a value). Unprivileged: real may become the real or effective id,
    /// effective the real, effective or saved id. The saved id follows the new effective id when the
    /// real id is set or the effective id becomes other than the old real id.
    func sysSetreid(_ r: UInt32, _ e: UInt32, gid: Bool) -> Int {
        let old = tg.cred
        var c = old
        let (or, oe, os) = c.ids(gid: gid)
        if !c.has(gid ? Cap.setgid : Cap.setuid) {
            if r != UInt32.max && r != or && r != oe { return errno(EPERM) }
            if e != UInt32.max && e != or && e != oe && e != os { return errno(EPERM) }
        }
        let nr = r == UInt32.max ? or : r
        let ne = e == UInt32.max ? oe : e
        let ns = (r != UInt32.max || (e != UInt32.max && e != or)) ? ne : os
        c.setIDs(gid: gid, real: nr, effective: ne, saved: ns)
        commit(c, old: old, uidChange: !gid)
        return 0
    }

    /// setresuid/setresgid: unprivileged, each new id must be one of the current real, effective, saved.
    func sysSetresid(_ r: UInt32, _ e: UInt32, _ s: UInt32, gid: Bool) -> Int {
        let old = tg.cred
        var c = old
        let (or, oe, os) = c.ids(gid: gid)
        if !c.has(gid ? Cap.setgid : Cap.setuid) {
            for v in [r, e, s] where v != UInt32.max && v != or && v != oe && v != os { return errno(EPERM) }
        }
        c.setIDs(gid: gid, real: r == UInt32.max ? or : r, effective: e == UInt32.max ? oe : e, saved: s == UInt32.max ? os : s)
        commit(c, old: old, uidChange: !gid)
        return 0
    }

    /// setfsuid/setfsgid: always returns the previous value; changes it only when allowed.
    func sysSetfsid(_ v: UInt32, gid: Bool) -> Int {
        let old = tg.cred
        var c = old
        let prev = gid ? c.fsgid : c.fsuid
        let ids = gid ? [c.rgid, c.egid, c.sgid, c.fsgid] : [c.ruid, c.euid, c.suid, c.fsuid]
        if v != UInt32.max && (c.has(gid ? Cap.setgid : Cap.setuid) || ids.contains(v)) {
            if gid { c.fsgid = v } else { c.fsuid = v }
            commit(c, old: old, uidChange: !gid)
        }
        return Int(prev)
    }

    private func commit(_ c: Credentials, old: Credentials, uidChange: Bool) {
        var c = c
        if uidChange { c.fixUpCapabilities(after: old) }
        tg.cred = c
    }

    // MARK: supplementary groups

    func sysGetgroups(_ size: Int, _ addr: UInt64) -> Int {
        let g = tg.cred.groups
        guard size >= 0 else { return errno(EINVAL) }
        if size == 0 { return g.count }
        guard size >= g.count else { return errno(EINVAL) }
        for (i, v) in g.enumerated() where !mm.write(addr + UInt64(i * 4), v) { return errno(EFAULT) }
        return g.count
    }

    func sysSetgroups(_ size: Int, _ addr: UInt64) -> Int {
        guard tg.cred.has(Cap.setgid) else { return errno(EPERM) }
        guard size >= 0 && size <= 65536 else { return errno(EINVAL) }
        var g: [UInt32] = []
        g.reserveCapacity(size)
        for i in 0..<size {
            guard let v = mm.read(addr + UInt64(i * 4), as: UInt32.self) else { return errno(EFAULT) }
            g.append(v)
        }
        tg.cred.groups = g.sorted()
        return 0
    }

    // MARK: capabilities

    /// capget/capset's header versions: 1 has one 32-bit data word per set, 2 and 3 two.
    private func capVersionWords(_ header: UInt64) -> KResult<Int> {
        guard let version = mm.read(header, as: UInt32.self) else { return .failure(EFAULT) }
        switch version {
        case 0x1998_0330: return .success(1)
        case 0x2007_1026, 0x2008_0522: return .success(2)
        default:
            // The kernel answers an unknown version with the one it prefers.
            return mm.write(header, UInt32(0x2008_0522)) ? .failure(EINVAL) : .failure(EFAULT)
        }
    }

    func sysCapget(_ header: UInt64, _ data: UInt64) -> Int {
        let words: Int
        switch capVersionWords(header) {
        case .failure(let e): return data == 0 && e == EINVAL ? 0 : errno(e)
        case .success(let w): words = w
        }
        guard let pid = mm.read(header + 4, as: Int32.self) else { return errno(EFAULT) }
        guard pid >= 0 else { return errno(EINVAL) }
        if data == 0 { return 0 }
        let c: Credentials
        if pid == 0 || pid == tid { c = tg.cred } else {
            guard let other = kernel.tasks[pid] else { return errno(ESRCH) }
            c = other.tg.cred
        }
        for w in 0..<words {
            let shift = UInt64(w * 32)
            let base = data + UInt64(w * 12)
            guard mm.write(base, UInt32(truncatingIfNeeded: c.effective >> shift)),
                  mm.write(base + 4, UInt32(truncatingIfNeeded: c.permitted >> shift)),
                  mm.write(base + 8, UInt32(truncatingIfNeeded: c.inheritable >> shift)) else { return errno(EFAULT) }
        }
        return 0
    }

    func sysCapset(_ header: UInt64, _ data: UInt64) -> Int {
        let words: Int
        switch capVersionWords(header) {
        case .failure(let e): return errno(e)
        case .success(let w): words = w
        }
        guard let pid = mm.read(header + 4, as: Int32.self) else { return errno(EFAULT) }
        guard pid == 0 || pid == tid else { return errno(EPERM) }   // only one's own sets
        var e: UInt64 = 0, p: UInt64 = 0, i: UInt64 = 0
        for w in 0..<words {
            let base = data + UInt64(w * 12)
            guard let we = mm.read(base, as: UInt32.self), let wp = mm.read(base + 4, as: UInt32.self), let wi = mm.read(base + 8, as: UInt32.self) else {
                return errno(EFAULT)
            }
            let shift = UInt64(w * 32)
            e |= UInt64(we) << shift; p |= UInt64(wp) << shift; i |= UInt64(wi) << shift
        }
        e &= Cap.all; p &= Cap.all; i &= Cap.all
        var c = tg.cred
        // New inheritable ⊆ old inheritable ∪ permitted (∪ bounding with CAP_SETPCAP) and ⊆ inheritable ∪ bounding;
        // new permitted ⊆ old permitted; new effective ⊆ new permitted.
        let inhLimit = c.inheritable | (c.has(Cap.setpcap) ? c.bounding : c.permitted)
        guard i & ~inhLimit == 0, i & ~(c.inheritable | c.bounding) == 0 else { return errno(EPERM) }
        guard p & ~c.permitted == 0, e & ~p == 0 else { return errno(EPERM) }
        c.effective = e; c.permitted = p; c.inheritable = i
        c.ambient &= p & i
        tg.cred = c
        return 0
    }

    /// prctl's capability and securebits operations; nil when `op` is not one of them.
    func capabilityPrctl(_ op: Int, _ a2: UInt64, _ a3: UInt64) -> Int? {
        switch op {
        case 7: return tg.cred.securebits & SecureBit.keepCaps != 0 ? 1 : 0             // PR_GET_KEEPCAPS
        case 8:                                                                         // PR_SET_KEEPCAPS
            guard a2 <= 1 else { return errno(EINVAL) }
            if a2 == 1 { tg.cred.securebits |= SecureBit.keepCaps } else { tg.cred.securebits &= ~SecureBit.keepCaps }
            return 0
        case 23: return a2 <= UInt64(Cap.last) ? (tg.cred.bounding >> a2) & 1 == 1 ? 1 : 0 : errno(EINVAL)   // PR_CAPBSET_READ
        case 24:                                                                        // PR_CAPBSET_DROP
            guard a2 <= UInt64(Cap.last) else { return errno(EINVAL) }
            guard tg.cred.has(Cap.setpcap) else { return errno(EPERM) }
            tg.cred.bounding &= ~(1 << a2)
            return 0
        case 27: return Int(tg.cred.securebits)                                         // PR_GET_SECUREBITS
        case 28:                                                                        // PR_SET_SECUREBITS
            guard a2 & ~UInt64(SecureBit.valid) == 0 else { return errno(EINVAL) }
            guard tg.cred.has(Cap.setpcap) else { return errno(EPERM) }
            tg.cred.securebits = UInt32(a2)
            return 0
        case 47:                                                                        // PR_CAP_AMBIENT
            let c = tg.cred
            switch a2 {
            case 4: tg.cred.ambient = 0; return 0                                       // CLEAR_ALL
            case 1, 2, 3:
                guard a3 <= UInt64(Cap.last) else { return errno(EINVAL) }
                let bit: UInt64 = 1 << a3
                if a2 == 1 { return c.ambient & bit != 0 ? 1 : 0 }                       // IS_SET
                if a2 == 3 { tg.cred.ambient &= ~bit; return 0 }                         // LOWER
                guard c.permitted & bit != 0, c.inheritable & bit != 0,
                      c.securebits & SecureBit.noCapAmbientRaise == 0 else { return errno(EPERM) }
                tg.cred.ambient |= bit                                                   // RAISE
                return 0
            default: return errno(EINVAL)
            }
        default: return nil
        }
    }
}
