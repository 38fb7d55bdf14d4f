// The terminal line discipline (Linux's N_TTY) of the Sentry's pseudo-terminals: input processing
// (ICRNL/INLCR/IGNCR/ISTRIP), canonical line editing (VERASE, VKILL, VWERASE, VEOF, VEOL), echo
// (ECHO, ECHOE, ECHOK, ECHOKE, ECHONL, ECHOCTL), signal characters (ISIG: VINTR, VQUIT, VSUSP) and
// output processing (OPOST: ONLCR, OCRNL, ONOCR, ONLRET). Pure state, no kernel: the terminal
// feeds it bytes and acts on what it returns (echo text, signals to send), so it is unit-testable.

/// The kernel's struct termios (36 bytes; TCGETS/TCSETS use this one, not glibc's 60-byte type).
struct Termios: Equatable {
    var iflag: UInt32
    var oflag: UInt32
    var cflag: UInt32
    var lflag: UInt32
    var line: UInt8 = 0
    var cc: [UInt8]

    static let size = 36
    // c_cc indices
    static let VINTR = 0, VQUIT = 1, VERASE = 2, VKILL = 3, VEOF = 4, VTIME = 5, VMIN = 6
    static let VSTART = 8, VSTOP = 9, VSUSP = 10, VEOL = 11, VREPRINT = 12, VWERASE = 14, VLNEXT = 15, VEOL2 = 16
    // c_iflag
    static let ISTRIP: UInt32 = 0x20, INLCR: UInt32 = 0x40, IGNCR: UInt32 = 0x80, ICRNL: UInt32 = 0x100
    static let IXON: UInt32 = 0x400, IUTF8: UInt32 = 0x4000
    // c_oflag
    static let OPOST: UInt32 = 1, ONLCR: UInt32 = 4, OCRNL: UInt32 = 8, ONOCR: UInt32 = 0x10, ONLRET: UInt32 = 0x20
    // c_lflag
    static let ISIG: UInt32 = 1, ICANON: UInt32 = 2, ECHO: UInt32 = 8, ECHOE: UInt32 = 0x10, ECHOK: UInt32 = 0x20
    static let ECHONL: UInt32 = 0x40, NOFLSH: UInt32 = 0x80, TOSTOP: UInt32 = 0x100, ECHOCTL: UInt32 = 0x200
    static let ECHOKE: UInt32 = 0x800, IEXTEN: UInt32 = 0x8000

    /// Linux's defaults for a new pty slave (tty_std_termios with cflag B38400|CS8|CREAD).
    static var slaveDefault: Termios {
        Termios(iflag: ICRNL | IXON, oflag: OPOST | ONLCR, cflag: 0xbf,
                lflag: ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN,
                cc: [3, 0x1c, 0x7f, 0x15, 4, 0, 1, 0, 0x11, 0x13, 0x1a, 0, 0x12, 0x0f, 0x17, 0x16, 0, 0, 0])
    }
    /// The master side's own termios (raw), as Linux reports it on the ptmx fd.
    static var masterDefault: Termios {
        Termios(iflag: 0, oflag: 0, cflag: 0xbf, lflag: 0,
                cc: [3, 0x1c, 0x7f, 0x15, 4, 0, 1, 0, 0x11, 0x13, 0x1a, 0, 0x12, 0x0f, 0x17, 0x16, 0, 0, 0])
    }

    func encode() -> [UInt8] {
        var b = [UInt8](repeating: 0, count: Termios.size)
        for (i, v) in [iflag, oflag, cflag, lflag].enumerated() {
            for k in 0..<4 { b[i * 4 + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(k))) }
        }
        b[16] = line
        for i in 0..<19 { b[17 + i] = cc[i] }
        return b
    }

    static func decode(_ b: [UInt8]) -> Termios? {
        guard b.count >= size else { return nil }
        func u32(_ o: Int) -> UInt32 { (0..<4).reduce(UInt32(0)) { $0 | UInt32(b[o + $1]) << (8 * UInt32($1)) } }
        return Termios(iflag: u32(0), oflag: u32(4), cflag: u32(8), lflag: u32(12), line: b[16], cc: Array(b[17..<36]))
    }
}

final class LineDiscipline {
    var termios = Termios.slaveDefault
    /// Bytes the reader (slave side) may read; in canonical mode split into complete lines.
    private(set) var readable: [UInt8] = []
    /// Lengths of the complete lines queued in `readable` (canonical mode); 0 = an end-of-file mark.
    private var lines: [Int] = []
    /// The line being edited (canonical mode).
    private(set) var editing: [UInt8] = []
    /// Column bookkeeping is not kept; ECHOE erases one cell per byte (fine for ASCII, like most uses).
    static let capacity = 4095

    var canonical: Bool { termios.lflag & Termios.ICANON != 0 }

    /// True when a read would return something now (data, or a canonical end-of-file mark).
    var hasReadable: Bool { canonical ? !lines.isEmpty : !readable.isEmpty }

    /// Bytes FIONREAD reports: complete lines in canonical mode, everything otherwise.
    var availableCount: Int { canonical ? lines.reduce(0, +) : readable.count }

    /// Room for more input (the master's writes block when this is false).
    var hasRoom: Bool { readable.count + editing.count < 65536 }

    /// What processing one chunk of input produced.
    struct InputEffects {
        var echo: [UInt8] = []
        var signals: [Int32] = []
    }

    /// Feeds bytes typed at the terminal (written to the master). Returns the bytes consumed (all of
    /// them unless the queue fills up) and the echo and signals they caused.
    func receive(_ input: UnsafeRawBufferPointer, _ fx: inout InputEffects) -> Int {
        var consumed = 0
        for raw in input {
            if !hasRoom { break }
            consumed += 1
            var c = raw
            let t = termios
            if t.iflag & Termios.ISTRIP != 0 { c &= 0x7f }
            if c == 13 {
                if t.iflag & Termios.IGNCR != 0 { continue }
                if t.iflag & Termios.ICRNL != 0 { c = 10 }
            } else if c == 10 && t.iflag & Termios.INLCR != 0 {
                c = 13
            }
            if t.iflag & Termios.IXON != 0 && (c == t.cc[Termios.VSTART] || c == t.cc[Termios.VSTOP]) && c != 0 {
                continue   // flow control characters are consumed (output is never actually stopped)
            }
            if t.lflag & Termios.ISIG != 0 && c != 0 {
                var sig: Int32 = 0
                if c == t.cc[Termios.VINTR] { sig = 2 } else if c == t.cc[Termios.VQUIT] { sig = 3 } else if c == t.cc[Termios.VSUSP] { sig = 20 }
                if sig != 0 {
                    if t.lflag & Termios.NOFLSH == 0 { flushInput() }
                    if t.lflag & Termios.ECHO != 0 { echoChar(c, &fx.echo) }
                    fx.signals.append(sig)
                    continue
                }
            }
            if t.lflag & Termios.ICANON != 0 {
                canonicalInput(c, t, &fx.echo)
            } else {
                readable.append(c)
                if t.lflag & Termios.ECHO != 0 { echoChar(c, &fx.echo) }
                else if c == 10 && t.lflag & Termios.ECHONL != 0 { fx.echo.append(10) }
            }
        }
        return consumed
    }

    private func canonicalInput(_ c: UInt8, _ t: Termios, _ echo: inout [UInt8]) {
        let echoOn = t.lflag & Termios.ECHO != 0
        if c == t.cc[Termios.VERASE] && c != 0 {
            if let last = editing.popLast(), echoOn {
                if t.lflag & Termios.ECHOE != 0 { eraseEcho(last, t, &echo) } else { echoChar(c, &echo) }
            }
            return
        }
        if c == t.cc[Termios.VWERASE] && c != 0 && t.lflag & Termios.IEXTEN != 0 {
            while let l = editing.last, l == 32 || l == 9 { editing.removeLast(); if echoOn { eraseEcho(l, t, &echo) } }
            while let l = editing.last, l != 32 && l != 9 { editing.removeLast(); if echoOn { eraseEcho(l, t, &echo) } }
            return
        }
        if c == t.cc[Termios.VKILL] && c != 0 {
            if echoOn {
                if t.lflag & Termios.ECHOKE != 0 {
                    for l in editing.reversed() { eraseEcho(l, t, &echo) }
                } else {
                    echoChar(c, &echo)
                    if t.lflag & Termios.ECHOK != 0 { echo.append(10) }
                }
            }
            editing.removeAll()
            return
        }
        if c == t.cc[Termios.VEOF] && c != 0 {
            // The line so far is delivered without a terminator; alone it reads as end of file.
            pushLine()
            return
        }
        let isEOL = c == 10 || (c != 0 && (c == t.cc[Termios.VEOL] || c == t.cc[Termios.VEOL2]))
        if editing.count >= LineDiscipline.capacity && !isEOL { return }   // line full: dropped, as Linux does
        editing.append(c)
        if echoOn { echoChar(c, &echo) } else if c == 10 && t.lflag & Termios.ECHONL != 0 { echo.append(10) }
        if isEOL { pushLine() }
    }

    private func pushLine() {
        readable.append(contentsOf: editing)
        lines.append(editing.count)
        editing.removeAll()
    }

    private func eraseEcho(_ erased: UInt8, _ t: Termios, _ echo: inout [UInt8]) {
        // A control character echoed as ^X takes two cells.
        let cells = (erased < 32 && erased != 9 && erased != 10 || erased == 127) && t.lflag & Termios.ECHOCTL != 0 ? 2 : 1
        // UTF-8 continuation bytes occupy no cell of their own.
        if t.iflag & Termios.IUTF8 != 0 && erased & 0xc0 == 0x80 { return }
        for _ in 0..<cells { echo.append(contentsOf: [8, 32, 8]) }
    }

    private func echoChar(_ c: UInt8, _ echo: inout [UInt8]) {
        if termios.lflag & Termios.ECHOCTL != 0 && (c < 32 && c != 9 && c != 10 || c == 127) {
            echo.append(94)   // '^'
            echo.append(c == 127 ? 63 : c ^ 0x40)
        } else {
            echo.append(c)
        }
    }

    /// Reads for the slave side: at most one line in canonical mode (0 bytes for an EOF mark).
    /// Returns nil when nothing is readable.
    func read(max: Int) -> [UInt8]? {
        if canonical {
            guard let len = lines.first else { return nil }
            let n = min(max, len)
            let out = Array(readable[0..<n])
            readable.removeFirst(n)
            if n == len { lines.removeFirst() } else { lines[0] = len - n }
            return out
        }
        if readable.isEmpty { return nil }
        let n = min(max, readable.count)
        let out = Array(readable[0..<n])
        readable.removeFirst(n)
        return out
    }

    /// TCSETS: switching modes keeps the queued input (raw mode sees lines in progress too).
    func setTermios(_ t: Termios) {
        let wasCanonical = canonical
        termios = t
        if wasCanonical && !canonical {
            readable.append(contentsOf: editing)
            editing.removeAll()
            lines.removeAll()
        } else if !wasCanonical && canonical && !readable.isEmpty {
            lines = [readable.count]
        }
    }

    func flushInput() {
        readable.removeAll()
        lines.removeAll()
        editing.removeAll()
    }

    /// Output processing of bytes the slave writes (and of echo).
    func processOutput(_ bytes: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        let o = termios.oflag
        if o & Termios.OPOST == 0 { out.append(contentsOf: bytes); return }
        for c in bytes {
            if c == 10 && o & Termios.ONLCR != 0 { out.append(13); out.append(10); continue }
            if c == 13 {
                if o & Termios.OCRNL != 0 { out.append(10); continue }
                if o & Termios.ONOCR != 0 { /* column is not tracked: keep it */ }
            }
            out.append(c)
        }
    }
}
