// --strace: one line per system call with decoded arguments and result.
import Glibc
import LinuxABI

extension Task {
    /// Argument kinds per syscall: s = path string, d = signed int, x = hex, b = buffer (with count in
    /// the next argument), o = octal; missing entries print up to three hex arguments.
    static let straceFormats: [Int: String] = [
        0: "dxd", 1: "dbd", 2: "sxo", 3: "d", 4: "sx", 5: "dx", 6: "sx", 8: "ddd", 9: "xxdxdx", 10: "xxd",
        11: "xx", 12: "x", 13: "dxx", 14: "dxx", 16: "dxx", 17: "dxdd", 18: "dbdd", 21: "sd", 32: "d", 33: "dd",
        39: "", 56: "xxxxx", 59: "sxx", 60: "d", 61: "dxdx", 62: "dd", 72: "ddx", 79: "xd", 80: "s",
        89: "sxd", 102: "", 158: "xx", 186: "", 202: "xdd", 217: "dxd", 218: "x", 228: "dx", 231: "d",
        234: "ddd", 257: "dsxo", 262: "dsxx", 267: "dsxd", 269: "dsd", 292: "ddx", 293: "xx", 302: "ddxx",
        318: "xdx", 322: "dsxxx", 332: "dsxxx",
    ]

    func strace(_ nr: Int, _ args: [UInt64], _ ret: Int) {
        var s = "[pid \(tid)] \(SyscallTable.name(nr))("
        let fmt = Array(Task.straceFormats[nr] ?? "xxx")
        for (k, c) in fmt.enumerated() {
            if k > 0 { s += ", " }
            let v = args[k]
            switch c {
            case "d": s += String(Int32(truncatingIfNeeded: v))
            case "o": s += "0" + String(v, radix: 8)
            case "s":
                if let b = mm.readCString(v, max: 256) { s += "\"" + String(decoding: b, as: UTF8.self) + "\"" } else { s += "0x" + String(v, radix: 16) }
            case "b":
                let n = min(Int(args[k + 1]), 32)
                if n >= 0, let b = mm.readBytes(v, n) {
                    var t = ""
                    for ch in b {
                        if ch == 10 { t += "\\n" } else if ch >= 32 && ch < 127 { t += String(UnicodeScalar(ch)) } else { t += "\\x" + String(ch, radix: 16) }
                    }
                    s += "\"" + t + "\"" + (Int(args[k + 1]) > 32 ? "..." : "")
                } else { s += "0x" + String(v, radix: 16) }
            default: s += "0x" + String(v, radix: 16)
            }
        }
        s += ") = "
        if ret == noReturn { s += "?" }
        else if ret < 0 && ret > -4096 { s += "-1 " + Errno(rawValue: Int32(-ret)).name }
        else if nr == 9 || nr == 12 || nr == 25 { s += "0x" + String(UInt(bitPattern: ret), radix: 16) }
        else { s += String(ret) }
        if let note = kernel.faults?.takeStraceNote(tid: tid) { s += note }
        kernel.log(s + "\n")
    }
}
