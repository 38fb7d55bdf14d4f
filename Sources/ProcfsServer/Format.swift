// Text building without Foundation: the fixed-width decimal, hex and octal forms the kernel's
// seq_printf format strings produce (%8lu, %016llx, %08lx, %-25s ...).

/// An append-only byte buffer for one rendered file.
struct Text {
    var bytes: [UInt8] = []

    init() { bytes.reserveCapacity(1024) }

    mutating func put(_ s: String) { bytes.append(contentsOf: s.utf8) }
    mutating func put(_ b: [UInt8]) { bytes.append(contentsOf: b) }
    mutating func line(_ s: String) { put(s); bytes.append(10) }
    mutating func pad(to width: Int) {
        while bytes.count - lineStart < width { bytes.append(32) }
    }
    /// Offset of the current line's first byte (for seq_pad-like padding).
    var lineStart: Int {
        var i = bytes.count
        while i > 0 && bytes[i - 1] != 10 { i -= 1 }
        return i
    }
}

enum Fmt {
    static func dec<T: BinaryInteger>(_ v: T) -> String { String(v) }

    /// Right-aligned in `width` columns (%8lu).
    static func right<T: BinaryInteger>(_ v: T, _ width: Int) -> String { right(String(v), width) }
    static func right(_ s: String, _ width: Int) -> String {
        let n = s.utf8.count
        return n >= width ? s : String(repeating: " ", count: width - n) + s
    }

    /// Left-aligned in `width` columns (%-20s).
    static func left(_ s: String, _ width: Int) -> String {
        let n = s.utf8.count
        return n >= width ? s : s + String(repeating: " ", count: width - n)
    }

    /// Lower-case hex, zero-padded to at least `width` digits (%016llx, %08lx).
    static func hex<T: BinaryInteger>(_ v: T, _ width: Int) -> String {
        let s = String(v, radix: 16)
        return s.utf8.count >= width ? s : String(repeating: "0", count: width - s.utf8.count) + s
    }

    /// Octal with a leading zero, as fdinfo's "flags:\t0%o".
    static func octal<T: BinaryInteger>(_ v: T) -> String { "0" + String(v, radix: 8) }

    /// "%lu.%02lu" of a fixed-point value with `scale` units per whole.
    static func fixed2(_ v: UInt64, scale: UInt64) -> String {
        let whole = v / scale
        let frac = (v % scale) * 100 / scale
        return "\(whole)." + (frac < 10 ? "0" : "") + String(frac)
    }

    /// A CPU list such as "0-3" (Cpus_allowed_list, /sys/devices/system/cpu/online).
    static func cpuList(_ count: UInt32) -> String {
        count <= 1 ? "0" : "0-\(count - 1)"
    }
}
