// Frames from a local sender with checksum offload (the kernel's side of a veth, e.g. Docker's
// bridge) arrive with the TCP/UDP checksum unfinished: the field holds only the pseudo-header sum,
// and the packet socket says so (TP_STATUS_CSUMNOTREADY). Such a frame never crossed a wire, so the
// link completes the checksum before the stack verifies it; the stack itself stays strict.

public enum ChecksumOffload {
    /// An Ethernet frame carrying TCP over IPv4 (not a fragment) or IPv6 (no extension headers).
    public static func isTCP(_ f: [UInt8]) -> Bool {
        guard f.count >= 34 else { return false }
        switch load16(f, 12) {
        case 0x0800: return f[14] >> 4 == 4 && f[23] == IPProtocol.tcp && load16(f, 20) & 0x3fff == 0
        case 0x86DD: return f.count >= 54 && f[14] >> 4 == 6 && f[20] == IPProtocol.tcp
        default: return false
        }
    }

    /// Computes and stores the TCP or UDP checksum of an Ethernet frame carrying IPv4 or IPv6 (no
    /// IPv6 extension headers). Anything else, or a malformed frame, is left unchanged for the
    /// parsers to judge.
    public static func complete(_ f: inout [UInt8]) {
        guard f.count >= 14 else { return }
        let type = load16(f, 12)
        var c = InternetChecksum()
        let proto: UInt8, start: Int, end: Int
        switch type {
        case 0x0800:
            guard f.count >= 34, f[14] >> 4 == 4 else { return }
            let ihl = Int(f[14] & 0x0f) * 4
            let total = Int(load16(f, 16))
            guard ihl >= 20, total >= ihl, 14 + total <= f.count else { return }
            guard load16(f, 20) & 0x3fff == 0 else { return }   // fragments: not offloaded
            proto = f[23]
            start = 14 + ihl; end = 14 + total
            c.add(f, 26..<34)                                  // source, destination
        case 0x86DD:
            guard f.count >= 54, f[14] >> 4 == 6 else { return }
            let payload = Int(load16(f, 18))
            guard 54 + payload <= f.count else { return }
            proto = f[20]
            start = 54; end = 54 + payload
            c.add(f, 22..<54)                                  // source, destination
        default: return
        }
        let field: Int
        switch proto {
        case IPProtocol.tcp: guard end - start >= 20 else { return }; field = start + 16
        case IPProtocol.udp: guard end - start >= 8 else { return }; field = start + 6
        default: return
        }
        c.add16(UInt16(proto))
        c.add32(UInt32(end - start))
        f[field] = 0; f[field + 1] = 0
        c.add(f, start..<end)
        var v = c.value
        if proto == IPProtocol.udp && v == 0 { v = 0xffff }
        store16(&f, field, v)
    }
}
