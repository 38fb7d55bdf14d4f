// The Sentry's own host capabilities (session 5, sentrycaps). The launcher starts the Sentry as root in
// the host's user namespace with every capability; after set-up it needs none of them:
// - ptrace of its stubs: they are its own children with the same uid, dumpable (the stub image is a
//   memfd the Sentry can read), and, once the bounding set is empty (or under no_new_privs), exec gives
//   them no capability the Sentry lacks, so ptrace(2)'s and process_vm_readv's access checks pass
//   without CAP_SYS_PTRACE;
// - memfds, the memory file, eventfds, sockets it was given, host stdio and terminals: no privilege;
// - files: the gofer (spawned before this point, or handed over by the launcher) does every host file
//   access; the Sentry only reads /proc/self and /proc/cpuinfo.
// The emulated credentials of the application (root in the sandbox, chown, mknod...) are the Sentry's
// own bookkeeping (Credentials.swift) and do not use host capabilities.
// No exception since session 6 (netsec): a netstack the Sentry spawns itself later (lazily, on the
// first socket) with an explicit `--network sandbox` gets its AF_PACKET link opened by the Sentry before
// this drop (NetstackLinkOpen.swift), so the Sentry no longer keeps CAP_NET_RAW/CAP_NET_ADMIN for it.
//
// Dropped in EVERY thread (capabilities are per thread): bulwark_capdrop.c. `--keep-caps` (or
// BULWARK_SENTRY_KEEP_CAPS=1) keeps them, for debugging (e.g. strace/gdb attaching to stubs).
import CBulwark
@preconcurrency import Glibc

enum SentryCapabilities {
    nonisolated(unsafe) static var keep: Bool = {
        guard let raw = getenv("BULWARK_SENTRY_KEEP_CAPS") else { return false }
        return ["1", "yes", "true"].contains(String(cString: raw))
    }()

    static let netRaw: Int32 = 13, netAdmin: Int32 = 12

    /// What the Sentry keeps: nothing (a sandbox-mode netstack it spawns gets its link from it).
    static var kept: [Int32] { [] }

    /// Drops everything but `kept` in every thread and checks /proc/self/task/*/status; false (fatal for
    /// the caller) if a thread still holds more. Called before the seccomp filter (capget/capset and
    /// PR_CAPBSET_DROP are not in its allowlist).
    static func drop(log: (String) -> Void) -> Bool {
        if keep { return true }
        let mask = kept.reduce(UInt64(0)) { $0 | (UInt64(1) << UInt64($1)) }
        var threads: Int32 = 0, verified: Int32 = 0
        let rc = bw_capdrop_all_threads(mask, 5000, &threads, &verified)
        if rc != 0 && rc != ETIMEDOUT {
            log("bulwark-sentry: dropping capabilities: errno \(rc)\n")
            return false
        }
        // Every thread read its own sets back, and no other thread exists: /proc would say the same.
        if rc == 0 && verified != 0 { return true }
        // ETIMEDOUT (a thread that exited before answering) is judged by what /proc shows.
        for (tid, sets) in threadSets() {
            guard sets.effective & ~mask == 0, sets.permitted & ~mask == 0, sets.ambient == 0 else {
                log("bulwark-sentry: thread \(tid) kept capabilities after the drop (CapEff \(hex(sets.effective)), CapPrm \(hex(sets.permitted)))\n")
                return false
            }
        }
        return true
    }

    struct Sets { var effective: UInt64 = 0, permitted: UInt64 = 0, ambient: UInt64 = 0 }

    /// CapEff/CapPrm/CapAmb of every thread of this process, from /proc/self/task/TID/status.
    static func threadSets() -> [(Int32, Sets)] {
        var out: [(Int32, Sets)] = []
        guard let d = opendir("/proc/self/task") else { return out }
        defer { closedir(d) }
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            guard let tid = Int32(name) else { continue }
            guard let status = HostSelf.readSmallFile("/proc/self/task/\(name)/status") else { continue }   // exited meanwhile
            var s = Sets()
            for line in status.split(separator: "\n") {
                let f = line.split(separator: "\t")
                guard f.count == 2, let v = UInt64(f[1].capTrimmed(), radix: 16) else { continue }
                switch f[0] {
                case "CapEff:": s.effective = v
                case "CapPrm:": s.permitted = v
                case "CapAmb:": s.ambient = v
                default: break
                }
            }
            out.append((tid, s))
        }
        return out
    }

    static func hex(_ v: UInt64) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: max(0, 16 - s.count)) + s
    }
}

private extension Substring {
    func capTrimmed() -> Substring {
        var s = self
        while let c = s.first, c == " " || c == "\t" { s = s.dropFirst() }
        while let c = s.last, c == " " || c == "\t" { s = s.dropLast() }
        return s
    }
}
