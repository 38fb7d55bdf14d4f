// Value-level tests of every guest struct: decode/encode agree with the declared field table, padding is
// zeroed, round trips are exact, and short buffers are a clean error.
import Testing
import LinuxABI

@Suite struct ABIValueTests {
    @Test(arguments: allCases.filter { $0.valueChecks != nil })
    func patternDecodeEncodeRoundTrip(_ c: ABICase) {
        let failures = c.valueChecks!()
        #expect(failures.isEmpty, "\(c.name): \(failures.joined(separator: "; "))")
    }

    @Test(arguments: allCases.filter { $0.decodeError != nil })
    func truncatedBufferIsAnError(_ c: ABICase) {
        for n in 0..<c.minimumSize {
            #expect(c.decodeError!(n) == .truncated(needed: c.minimumSize, available: n), "\(c.name) from \(n) bytes")
        }
        #expect(c.decodeError!(c.minimumSize) == nil, "\(c.name) from \(c.minimumSize) bytes")
        #expect(c.decodeError!(c.size) == nil, "\(c.name) from \(c.size) bytes")
    }

    @Test func fieldTablesDoNotOverlap() {
        // Every byte of a fixed struct belongs to at most one declared field (a property or named padding);
        // overlaps are only allowed inside siginfo's union.
        for c in allCases where c.valueChecks != nil && c.name != "SigInfo" {
            var owner = [String?](repeating: nil, count: c.size)
            for f in c.fields {
                #expect(f.offset + f.size <= c.size, "\(c.name).\(f.name) ends past the struct")
                for i in f.offset..<min(f.offset + f.size, c.size) {
                    #expect(owner[i] == nil, "\(c.name): \(f.name) overlaps \(owner[i] ?? "")")
                    owner[i] = f.name
                }
            }
        }
    }
}

@Suite struct SockAddrUnTests {
    @Test func pathAndAbstractNamesFollowAddrlen() throws {
        let path = SockAddrUn(path: "/tmp/s".utf8)
        #expect(path.name(addressLength: 110) == Array("/tmp/s".utf8))
        #expect(path.name(addressLength: 2 + 3) == Array("/tm".utf8))   // addrlen cuts the path
        #expect(path.name(addressLength: 2).isEmpty)                       // unnamed
        #expect(path.addressLength() == 2 + 6 + 1)
        // Abstract: a leading NUL, then bytes counted by addrlen (a NUL inside is part of the name).
        let abstractBytes: [UInt8] = [1, 0, 0, 0x61, 0, 0x62, 0x63]        // family AF_UNIX, "\0a\0bc"
        let a = try SockAddrUn(bytes: abstractBytes)
        #expect(a.isAbstract)
        #expect(a.name(addressLength: abstractBytes.count) == [0x61, 0, 0x62, 0x63])
        #expect(a.addressLength(abstractLength: 4) == abstractBytes.count)
        // A full 108-byte path has no NUL and reports addrlen 110.
        let full = SockAddrUn(path: [UInt8](repeating: 0x78, count: 200))
        #expect(full.name(addressLength: 110).count == 108)
        #expect(full.addressLength() == 110)
    }
}
