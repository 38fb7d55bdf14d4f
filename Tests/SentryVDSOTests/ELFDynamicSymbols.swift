// A small, bounds-checked ELF64 reader for the tests: program headers, and dynamic symbols with their
// version names, read from the section headers of the vDSO image.

struct ELFError: Error, CustomStringConvertible {
    var description: String
}

struct ELFFile {
    struct ProgramHeader: Equatable {
        var type: UInt32, flags: UInt32, offset: UInt64, vaddr: UInt64, fileSize: UInt64, memorySize: UInt64
    }
    struct Symbol: Equatable {
        var name: String, value: UInt64, size: UInt64, type: UInt8, binding: UInt8, version: String?
    }

    let bytes: [UInt8]
    var type: UInt16 { (try? u16(16)) ?? 0 }
    var machine: UInt16 { (try? u16(18)) ?? 0 }

    init(_ bytes: [UInt8]) throws {
        self.bytes = bytes
        guard bytes.count >= 64, bytes[0..<4] == [0x7f, 0x45, 0x4c, 0x46] else { throw ELFError(description: "no ELF magic") }
        guard bytes[4] == 2, bytes[5] == 1 else { throw ELFError(description: "not ELF64 little-endian") }
    }

    func u8(_ at: UInt64) throws -> UInt8 { try check(at, 1); return bytes[Int(at)] }
    func u16(_ at: UInt64) throws -> UInt16 { try le(at, 2) }
    func u32(_ at: UInt64) throws -> UInt32 { try le(at, 4) }
    func u64(_ at: UInt64) throws -> UInt64 { try le(at, 8) }

    private func check(_ at: UInt64, _ n: UInt64) throws {
        guard at <= UInt64(bytes.count), n <= UInt64(bytes.count) - at else {
            throw ELFError(description: "read of \(n) bytes at \(at) is past the end (\(bytes.count))")
        }
    }
    private func le<T: FixedWidthInteger>(_ at: UInt64, _ n: UInt64) throws -> T {
        try check(at, n)
        var v: T = 0
        for i in 0..<Int(n) { v |= T(bytes[Int(at) + i]) << (8 * i) }
        return v
    }
    func cString(_ at: UInt64) throws -> String {
        var end = at
        while try u8(end) != 0 { end += 1 }
        return String(decoding: bytes[Int(at)..<Int(end)], as: UTF8.self)
    }

    func programHeaders() throws -> [ProgramHeader] {
        let off = try u64(0x20), size = UInt64(try u16(0x36)), count = UInt64(try u16(0x38))
        return try (0..<count).map { i in
            let p = off + i * size
            return ProgramHeader(type: try u32(p), flags: try u32(p + 4), offset: try u64(p + 8),
                                 vaddr: try u64(p + 16), fileSize: try u64(p + 32), memorySize: try u64(p + 40))
        }
    }

    /// (type, offset, size, link) of every section.
    func sections() throws -> [(type: UInt32, offset: UInt64, size: UInt64, link: UInt32)] {
        let off = try u64(0x28), size = UInt64(try u16(0x3a)), count = UInt64(try u16(0x3c))
        return try (0..<count).map { i in
            let s = off + i * size
            return (try u32(s + 4), try u64(s + 24), try u64(s + 32), try u32(s + 40))
        }
    }

    /// The dynamic symbols, each with the name of its version definition (SHT_GNU_verdef) if any.
    func dynamicSymbols() throws -> [Symbol] {
        let secs = try sections()
        guard let dynsym = secs.first(where: { $0.type == 11 }) else { throw ELFError(description: "no .dynsym") }
        guard Int(dynsym.link) < secs.count else { throw ELFError(description: "bad .dynsym link") }
        let strtab = secs[Int(dynsym.link)]
        // Version definitions: index -> name.
        var versionNames: [UInt16: String] = [:]
        if let verdef = secs.first(where: { $0.type == 0x6fff_fffd }) {
            var at = verdef.offset
            while true {
                let index = try u16(at + 4), aux = try u32(at + 12), next = try u32(at + 16)
                versionNames[index] = try cString(strtab.offset + UInt64(try u32(at + UInt64(aux))))
                if next == 0 { break }
                at += UInt64(next)
            }
        }
        let versym = secs.first(where: { $0.type == 0x6fff_ffff })
        return try stride(from: UInt64(0), to: dynsym.size / 24, by: 1).map { i in
            let s = dynsym.offset + i * 24
            let info = try u8(s + 4)
            let version = try versym.map { try u16($0.offset + i * 2) & 0x7fff }.flatMap { versionNames[$0] }
            return Symbol(name: try cString(strtab.offset + UInt64(try u32(s))), value: try u64(s + 8),
                          size: try u64(s + 16), type: info & 0xf, binding: info >> 4, version: version)
        }
    }

    /// The offset of the defined dynamic symbol `name`.
    func symbolOffset(_ name: String) throws -> Int {
        guard let s = try dynamicSymbols().first(where: { $0.name == name && $0.value != 0 }) else {
            throw ELFError(description: "no symbol \(name)")
        }
        return Int(s.value)
    }
}
