// TCP header and options (RFC 9293, RFC 7323 window scale and timestamps, RFC 2018 SACK).

public struct TCPFlags: OptionSet, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let fin = TCPFlags(rawValue: 0x01)
    public static let syn = TCPFlags(rawValue: 0x02)
    public static let rst = TCPFlags(rawValue: 0x04)
    public static let psh = TCPFlags(rawValue: 0x08)
    public static let ack = TCPFlags(rawValue: 0x10)
    public static let urg = TCPFlags(rawValue: 0x20)
    public static let ece = TCPFlags(rawValue: 0x40)
    public static let cwr = TCPFlags(rawValue: 0x80)
}

public struct SACKBlock: Equatable, Sendable {
    public var left: UInt32
    public var right: UInt32
    public init(left: UInt32, right: UInt32) {
        self.left = left
        self.right = right
    }
}

/// Up to four SACK blocks stored inline, so parsing a segment allocates nothing.
public struct SACKBlocks: Equatable, Sendable {
    public private(set) var count = 0
    private var b0 = SACKBlock(left: 0, right: 0), b1 = SACKBlock(left: 0, right: 0)
    private var b2 = SACKBlock(left: 0, right: 0), b3 = SACKBlock(left: 0, right: 0)

    public init() {}

    public subscript(i: Int) -> SACKBlock {
        switch i {
        case 0: return b0
        case 1: return b1
        case 2: return b2
        default: return b3
        }
    }

    public mutating func append(_ blk: SACKBlock) {
        switch count {
        case 0: b0 = blk
        case 1: b1 = blk
        case 2: b2 = blk
        case 3: b3 = blk
        default: return
        }
        count += 1
    }

    public var all: [SACKBlock] { (0..<count).map { self[$0] } }
}

public struct TCPOptions: Equatable, Sendable {
    public var mss: UInt16?
    public var windowScale: UInt8?
    public var sackPermitted = false
    public var sack = SACKBlocks()
    /// (TSval, TSecr)
    public var timestampValue: UInt32?
    public var timestampEcho: UInt32 = 0

    public init() {}

    /// Bytes of the options other than SACK blocks.
    private var baseLength: Int {
        var n = 0
        if mss != nil { n += 4 }
        if windowScale != nil { n += 4 }       // NOP + 3
        if timestampValue != nil { n += 12 }   // NOP NOP + 10
        if sackPermitted { n += 4 }            // NOP NOP + 2
        return n
    }

    /// How many SACK blocks fit in the 40 bytes of option space; the rest are not sent.
    private var sackEncodable: Int {
        let room = 40 - baseLength - 4
        return sack.count == 0 || room < 8 ? 0 : min(sack.count, room / 8)
    }

    /// Bytes needed to encode these options, a multiple of 4 and at most 40.
    var encodedLength: Int {
        let n = sackEncodable
        return baseLength + (n > 0 ? 4 + 8 * n : 0)  // NOP NOP + 2 + 8n
    }

    func write(into b: inout [UInt8], at start: Int) {
        var o = start
        if let m = mss {
            b[o] = 2; b[o + 1] = 4; store16(&b, o + 2, m); o += 4
        }
        if let ws = windowScale {
            b[o] = 1; b[o + 1] = 3; b[o + 2] = 3; b[o + 3] = ws; o += 4
        }
        if let tsv = timestampValue {
            b[o] = 1; b[o + 1] = 1; b[o + 2] = 8; b[o + 3] = 10
            store32(&b, o + 4, tsv); store32(&b, o + 8, timestampEcho); o += 12
        }
        if sackPermitted {
            b[o] = 1; b[o + 1] = 1; b[o + 2] = 4; b[o + 3] = 2; o += 4
        }
        let ns = sackEncodable
        if ns > 0 {
            b[o] = 1; b[o + 1] = 1; b[o + 2] = 5; b[o + 3] = UInt8(2 + 8 * ns); o += 4
            for i in 0..<ns {
                store32(&b, o, sack[i].left); store32(&b, o + 4, sack[i].right); o += 8
            }
        }
    }

    /// Parses `b[range]`. Options with a wrong length are ignored; a length byte that runs past the end
    /// stops parsing (what is already parsed is kept), as the kernel does.
    static func parse(_ b: [UInt8], _ range: Range<Int>) -> TCPOptions {
        var opts = TCPOptions()
        var i = range.lowerBound
        let end = range.upperBound
        while i < end {
            let kind = b[i]
            if kind == 0 { break }
            if kind == 1 { i += 1; continue }
            guard i + 1 < end else { break }
            let len = Int(b[i + 1])
            guard len >= 2, i + len <= end else { break }
            switch (kind, len) {
            case (2, 4): opts.mss = load16(b, i + 2)
            case (3, 3): opts.windowScale = min(b[i + 2], 14)  // RFC 7323: larger shifts are clamped
            case (4, 2): opts.sackPermitted = true
            case (5, _) where (len - 2) % 8 == 0:
                var k = i + 2
                while k + 8 <= i + len {
                    opts.sack.append(SACKBlock(left: load32(b, k), right: load32(b, k + 4)))
                    k += 8
                }
            case (8, 10):
                opts.timestampValue = load32(b, i + 2)
                opts.timestampEcho = load32(b, i + 6)
            default: break
            }
            i += len
        }
        return opts
    }
}

public struct TCPHeader: Equatable, Sendable {
    public static let minLength = 20

    public var sourcePort: UInt16 = 0
    public var destinationPort: UInt16 = 0
    public var sequence: UInt32 = 0
    public var acknowledgment: UInt32 = 0
    public var headerLength: Int = 20
    public var flags: TCPFlags = []
    public var window: UInt16 = 0
    public var urgentPointer: UInt16 = 0
    public var options = TCPOptions()

    public init() {}

    /// Parses and checksums the segment `b[range]` (the IP payload). The payload is
    /// `b[range.lowerBound + headerLength ..< range.upperBound]`.
    public static func parse(_ b: [UInt8], _ range: Range<Int>, source: IPv4Address,
                             destination: IPv4Address) throws(ParseError) -> TCPHeader {
        try parse(b, range, pseudo: .v4(source, destination))
    }

    static func parse(_ b: [UInt8], _ range: Range<Int>, pseudo: PseudoHeader, verify: Bool = true) throws(ParseError) -> TCPHeader {
        guard range.lowerBound >= 0, range.upperBound <= b.count else { throw .truncated }
        guard range.count >= minLength else { throw .truncated }
        let o = range.lowerBound
        let hl = Int(b[o + 12] >> 4) * 4
        guard hl >= minLength else { throw .badHeaderLength }
        guard hl <= range.count else { throw .truncated }
        guard !verify || pseudo.checksum(b, range, proto: IPProtocol.tcp) == 0 else { throw .badChecksum }
        var h = TCPHeader()
        h.sourcePort = load16(b, o)
        h.destinationPort = load16(b, o + 2)
        h.sequence = load32(b, o + 4)
        h.acknowledgment = load32(b, o + 8)
        h.headerLength = hl
        h.flags = TCPFlags(rawValue: b[o + 13])
        h.window = load16(b, o + 14)
        h.urgentPointer = load16(b, o + 18)
        if hl > minLength { h.options = TCPOptions.parse(b, (o + minLength)..<(o + hl)) }
        return h
    }

    /// The header length these options need.
    public var encodedLength: Int { TCPHeader.minLength + options.encodedLength }

    /// Writes the header at `b[range.lowerBound...]` and the checksum over all of `b[range]`
    /// (header plus payload, already in place).
    public func write(into b: inout [UInt8], _ range: Range<Int>, source: IPv4Address, destination: IPv4Address) {
        write(into: &b, range, pseudo: .v4(source, destination))
    }

    /// `checksum` false: the field stays zero for a link that fills it in (transmitChecksumOffload).
    func write(into b: inout [UInt8], _ range: Range<Int>, pseudo: PseudoHeader, checksum: Bool = true) {
        let o = range.lowerBound
        let hl = encodedLength
        store16(&b, o, sourcePort)
        store16(&b, o + 2, destinationPort)
        store32(&b, o + 4, sequence)
        store32(&b, o + 8, acknowledgment)
        b[o + 12] = UInt8(hl / 4) << 4
        b[o + 13] = flags.rawValue
        store16(&b, o + 14, window)
        store16(&b, o + 16, 0)
        store16(&b, o + 18, urgentPointer)
        options.write(into: &b, at: o + TCPHeader.minLength)
        if checksum { store16(&b, o + 16, pseudo.checksum(b, range, proto: IPProtocol.tcp)) }
    }
}
