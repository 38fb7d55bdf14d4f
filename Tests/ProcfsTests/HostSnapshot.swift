// Builds a procfs snapshot from the test process's own host /proc files, so that the server's
// rendering can be compared with what Linux itself printed from the same values.
import Foundation
import Protocol

enum HostProc {
    static func text(_ path: String) throws -> String {
        String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self)
    }
    static func bytes(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }

    /// "Name:\tvalue" lines of a status file, in order.
    static func statusFields(_ text: String) -> [(String, String)] {
        text.split(separator: "\n").compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            var value = line[line.index(after: colon)...]
            if value.first == "\t" { value.removeFirst() }
            return (String(line[..<colon]), String(value))
        }
    }

    static func kb(_ v: String) -> UInt64 { UInt64(v.split(separator: " ").first ?? "") ?? 0 }
    static func hex(_ v: String) -> UInt64 { UInt64(v, radix: 16) ?? 0 }
    static func ids(_ v: String) -> [UInt32] { v.split(whereSeparator: { $0 == "\t" || $0 == " " }).compactMap { UInt32($0) } }

    /// A TaskInfo from /proc/self/status text.
    static func task(fromStatus text: String) -> Procfs.TaskInfo {
        var t = Procfs.TaskInfo()
        for (k, v) in statusFields(text) {
            switch k {
            case "Name": t.comm = v
            case "Umask": t.umask = UInt32(v, radix: 8) ?? 0
            case "State": t.state = v.utf8.first ?? 0
            case "Tgid": t.tgid = Int32(v) ?? 0
            case "Pid": t.pid = Int32(v) ?? 0
            case "PPid": t.ppid = Int32(v) ?? 0
            case "Uid": t.uids = ids(v)
            case "Gid": t.gids = ids(v)
            case "FDSize": t.fdSize = UInt32(v) ?? 0
            case "Groups": t.groups = ids(v)
            case "NSpgid": t.pgid = Int32(v) ?? 0
            case "NSsid": t.sid = Int32(v) ?? 0
            case "VmPeak": t.vmPeakKB = kb(v)
            case "VmSize": t.vmSizeKB = kb(v)
            case "VmLck": t.vmLckKB = kb(v)
            case "VmHWM": t.vmHWMKB = kb(v)
            case "VmRSS": t.vmRSSKB = kb(v)
            case "RssAnon": t.rssAnonKB = kb(v)
            case "RssFile": t.rssFileKB = kb(v)
            case "RssShmem": t.rssShmemKB = kb(v)
            case "VmData": t.vmDataKB = kb(v)
            case "VmStk": t.vmStkKB = kb(v)
            case "VmExe": t.vmExeKB = kb(v)
            case "VmLib": t.vmLibKB = kb(v)
            case "VmPTE": t.vmPTEKB = kb(v)
            case "Threads": t.threads = UInt32(v) ?? 0
            case "SigQ":
                let p = v.split(separator: "/")
                t.sigQueued = UInt32(p[0]) ?? 0
                t.sigQueueLimit = UInt32(p[1]) ?? 0
            case "SigPnd": t.sigPending = hex(v)
            case "ShdPnd": t.shdPending = hex(v)
            case "SigBlk": t.sigBlocked = hex(v)
            case "SigIgn": t.sigIgnored = hex(v)
            case "SigCgt": t.sigCaught = hex(v)
            case "CapInh": t.capInheritable = hex(v)
            case "CapPrm": t.capPermitted = hex(v)
            case "CapEff": t.capEffective = hex(v)
            case "CapBnd": t.capBounding = hex(v)
            case "CapAmb": t.capAmbient = hex(v)
            case "NoNewPrivs": t.noNewPrivs = v == "1"
            case "Seccomp": t.seccompMode = UInt8(v) ?? 0
            case "voluntary_ctxt_switches": t.voluntarySwitches = UInt64(v) ?? 0
            case "nonvoluntary_ctxt_switches": t.involuntarySwitches = UInt64(v) ?? 0
            default: break
            }
        }
        return t
    }

    /// The fields of /proc/<pid>/stat (comm kept whole, even with spaces or parentheses).
    static func statFields(_ text: String) -> [String] {
        let open = text.firstIndex(of: "(")!
        let close = text.lastIndex(of: ")")!
        let pid = text[..<open].trimmingCharacters(in: .whitespaces)
        let comm = String(text[text.index(after: open)..<close])
        let rest = text[text.index(after: close)...].split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
        return [pid, comm] + rest
    }

    /// A TaskInfo carrying every /proc/<pid>/stat field the snapshot has.
    static func task(fromStat f: [String]) -> Procfs.TaskInfo {
        func u(_ i: Int) -> UInt64 { UInt64(f[i - 1]) ?? 0 }
        func s(_ i: Int) -> Int32 { Int32(f[i - 1]) ?? 0 }
        var t = Procfs.TaskInfo()
        t.pid = s(1); t.tgid = s(1); t.comm = f[1]; t.state = f[2].utf8.first!
        t.ppid = s(4); t.pgid = s(5); t.sid = s(6); t.ttyNr = s(7); t.tpgid = s(8); t.flags = UInt32(u(9))
        t.minorFaults = u(10); t.majorFaults = u(12); t.userTimeTicks = u(14); t.systemTimeTicks = u(15)
        t.nice = s(19); t.threads = UInt32(u(20)); t.startTimeTicks = u(22)
        t.vmSizeKB = u(23) / 1024; t.vmRSSKB = u(24) * 4
        t.startCode = u(26); t.endCode = u(27); t.startStack = u(28)
        t.sigPending = u(31); t.sigBlocked = u(32); t.sigIgnored = u(33); t.sigCaught = u(34)
        t.exitSignal = s(38); t.processor = s(39)
        t.startData = u(45); t.endData = u(46); t.startBrk = u(47); t.argStart = u(48); t.argEnd = u(49)
        t.envStart = u(50); t.envEnd = u(51)
        return t
    }

    /// /proc/<pid>/maps lines as MapEntry values.
    static func maps(_ text: String) -> [Procfs.MapEntry] {
        text.split(separator: "\n").map { line in
            let parts = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            let range = parts[0].split(separator: "-")
            let p = Array(parts[1].utf8)
            var perms: UInt8 = 0
            if p[0] == UInt8(ascii: "r") { perms |= 1 }
            if p[1] == UInt8(ascii: "w") { perms |= 2 }
            if p[2] == UInt8(ascii: "x") { perms |= 4 }
            if p[3] == UInt8(ascii: "s") { perms |= 8 }
            let dev = parts[3].split(separator: ":")
            let path = parts.count > 5 ? parts[5].trimmingCharacters(in: .whitespaces) : ""
            return Procfs.MapEntry(start: UInt64(range[0], radix: 16)!, end: UInt64(range[1], radix: 16)!,
                                   permissions: perms, offset: UInt64(parts[2], radix: 16)!,
                                   devMajor: UInt32(dev[0], radix: 16)!, devMinor: UInt32(dev[1], radix: 16)!,
                                   inode: UInt64(parts[4])!, path: path)
        }
    }

    /// /proc/<pid>/limits rows (in RLIMIT order) as LimitEntry values.
    static func limits(_ text: String) -> [Procfs.LimitEntry] {
        text.split(separator: "\n").dropFirst().enumerated().map { i, line in
            let l = Array(line.utf8)
            func value(_ from: Int) -> UInt64 {
                let field = String(decoding: l[from..<min(from + 20, l.count)], as: UTF8.self).trimmingCharacters(in: .whitespaces)
                return field == "unlimited" ? UInt64.max : UInt64(field)!
            }
            return Procfs.LimitEntry(resource: UInt32(i), soft: value(26), hard: value(47))
        }
    }

    /// /proc/<pid>/mountinfo lines as MountEntry values (optional fields such as shared:N are not carried).
    static func mounts(_ text: String) -> [Procfs.MountEntry] {
        text.split(separator: "\n").map { line in
            let f = line.split(separator: " ").map(String.init)
            let dash = f.firstIndex(of: "-")!
            let dev = f[2].split(separator: ":")
            return Procfs.MountEntry(mountID: UInt32(f[0])!, parentID: UInt32(f[1])!, devMajor: UInt32(dev[0])!,
                                     devMinor: UInt32(dev[1])!, root: unmangle(f[3]), mountPoint: unmangle(f[4]),
                                     options: f[5], fsType: f[dash + 1], source: unmangle(f[dash + 2]),
                                     superOptions: f[dash + 3])
        }
    }

    /// Drops the optional fields (between the options and " - ") of mountinfo lines.
    static func withoutOptionalFields(_ text: String) -> String {
        text.split(separator: "\n").map { line in
            let f = line.split(separator: " ").map(String.init)
            let dash = f.firstIndex(of: "-")!
            return (f[0...5] + f[dash...]).joined(separator: " ")
        }.joined(separator: "\n") + "\n"
    }

    static func unmangle(_ s: String) -> String {
        s.replacingOccurrences(of: "\\040", with: " ").replacingOccurrences(of: "\\011", with: "\t")
            .replacingOccurrences(of: "\\012", with: "\n").replacingOccurrences(of: "\\134", with: "\\")
    }
}
