// A process's credentials (credentials(7), capabilities(7)): real, effective, saved and filesystem
// ids, supplementary groups, and the five capability sets. Kept per thread group: glibc makes every
// thread of a process agree on its ids (setxid broadcast), and capset on another thread is refused.

/// Capability numbers used by the Sentry's checks (linux/capability.h).
enum Cap {
    static let chown = 0, dacOverride = 1, dacReadSearch = 2, fowner = 3, fsetid = 4, kill = 5
    static let setgid = 6, setuid = 7, setpcap = 8, netBindService = 10, netAdmin = 12, netRaw = 13
    static let sysChroot = 18, sysPtrace = 19, sysAdmin = 21, sysNice = 23, sysResource = 24
    static let mknod = 27
    /// CAP_LAST_CAP of the kernel the Sentry presents (6.1: CAP_CHECKPOINT_RESTORE).
    static let last = 40
    static let all: UInt64 = (1 << UInt64(last + 1)) - 1
    /// The capabilities that follow the filesystem uid (capabilities(7), "Effect of user ID changes").
    static let fsMask: UInt64 = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 3) | (1 << 4) | (1 << 9) | (1 << 27) | (1 << 32)
}

/// securebits (prctl PR_SET_SECUREBITS): the bits the Sentry honours.
enum SecureBit {
    static let noRoot: UInt32 = 1 << 0
    static let noSetuidFixup: UInt32 = 1 << 2
    static let keepCaps: UInt32 = 1 << 4
    static let noCapAmbientRaise: UInt32 = 1 << 6
    /// Every base bit and its lock bit (Linux accepts bits 0-7).
    static let valid: UInt32 = 0xff
}

struct Credentials {
    var ruid: UInt32, euid: UInt32, suid: UInt32, fsuid: UInt32
    var rgid: UInt32, egid: UInt32, sgid: UInt32, fsgid: UInt32
    var groups: [UInt32] = []
    var effective: UInt64, permitted: UInt64, inheritable: UInt64 = 0, bounding: UInt64 = Cap.all, ambient: UInt64 = 0
    var securebits: UInt32 = 0

    /// A process started as `uid`/`gid`: root holds every capability, anyone else none (what a
    /// runtime gives when config.json names no capabilities).
    init(uid: UInt32, gid: UInt32) {
        ruid = uid; euid = uid; suid = uid; fsuid = uid
        rgid = gid; egid = gid; sgid = gid; fsgid = gid
        effective = uid == 0 ? Cap.all : 0
        permitted = effective
    }

    func has(_ cap: Int) -> Bool { effective & (1 << UInt64(cap)) != 0 }

    /// The real, effective and saved user ids (group ids when `gid`).
    func ids(gid: Bool) -> (real: UInt32, effective: UInt32, saved: UInt32) {
        gid ? (rgid, egid, sgid) : (ruid, euid, suid)
    }

    /// Sets the real, effective and saved user (group) ids; the filesystem id follows the effective one,
    /// as it does for every set*id call but setfsuid/setfsgid.
    mutating func setIDs(gid: Bool, real: UInt32, effective: UInt32, saved: UInt32) {
        if gid { rgid = real; egid = effective; sgid = saved; fsgid = effective }
        else { ruid = real; euid = effective; suid = saved; fsuid = effective }
    }

    /// The five sets from config.json's masks (bounding, effective, inheritable, permitted, ambient);
    /// ambient keeps only what is both permitted and inheritable, as Linux requires of it.
    mutating func setCapabilities(_ m: [UInt64]) {
        bounding = m[0] & Cap.all; effective = m[1] & Cap.all; inheritable = m[2] & Cap.all
        permitted = m[3] & Cap.all; ambient = m[4] & permitted & inheritable
    }

    /// Whether `gid` is the caller's filesystem group or one of its supplementary groups.
    func inGroup(_ gid: UInt32) -> Bool { fsgid == gid || groups.contains(gid) }

    /// Applies the capability rules for a change of user ids (capabilities(7)); `old` is before it.
    mutating func fixUpCapabilities(after old: Credentials) {
        guard securebits & SecureBit.noSetuidFixup == 0 else { return }
        let wasRoot = old.ruid == 0 || old.euid == 0 || old.suid == 0
        let isRoot = ruid == 0 || euid == 0 || suid == 0
        if wasRoot && !isRoot {
            if securebits & SecureBit.keepCaps == 0 { permitted = 0 }
            effective = 0
            ambient = 0
        }
        if old.euid == 0 && euid != 0 { effective = 0 }
        if old.euid != 0 && euid == 0 { effective = permitted }
        if old.fsuid == 0 && fsuid != 0 { effective &= ~Cap.fsMask }
        if old.fsuid != 0 && fsuid == 0 { effective |= permitted & Cap.fsMask }
    }

    /// The new credentials after execve of a file without file capabilities: a set-user-id (set-group-id)
    /// file makes its owner (group) the effective id; root (unless SECBIT_NOROOT) gets its bounding and
    /// inheritable sets; everyone else keeps the ambient set, which a set-id exec clears.
    mutating func applyExec(setuid: UInt32? = nil, setgid: UInt32? = nil) {
        if let u = setuid, u != euid { euid = u; ambient = 0 }
        if let g = setgid, g != egid { egid = g; ambient = 0 }
        if securebits & SecureBit.noRoot == 0 && (ruid == 0 || euid == 0) {
            permitted = (inheritable | bounding) | ambient
            effective = euid == 0 ? permitted : ambient
        } else {
            permitted = ambient
            effective = ambient
        }
        securebits &= ~SecureBit.keepCaps   // PR_SET_KEEPCAPS does not survive execve
        suid = euid; fsuid = euid
        sgid = egid; fsgid = egid
    }
}
