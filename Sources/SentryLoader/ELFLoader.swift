// Loads an ELF64 x86-64 program (static, static-PIE, or dynamic via PT_INTERP) or a #! script into a
// fresh AddressSpace and builds the initial stack (argv, envp, auxv) as Linux does.
import CBulwark
import Glibc
import SentryMemory

/// A mapper that records nothing: the loader builds VMAs first; the kernel maps them into the stub after.
public final class NullMapper: HostMapper {
    public init() {}
    public func hostMmap(_ addr: UInt64, _ length: UInt64, _ prot: Int32, _ fileOffset: Int) -> Int { 0 }
    public func hostMunmap(_ addr: UInt64, _ length: UInt64) -> Int { 0 }
    public func hostMprotect(_ addr: UInt64, _ length: UInt64, _ prot: Int32) -> Int { 0 }
    public func hostUnmapAll() {}
}

public struct LoadRequest {
    public var path: String
    public var argv: [String]
    public var envp: [String]
    /// Real ids; the effective ids when they differ (a set-id exec), and AT_SECURE for glibc.
    public var uid: UInt32 = 0, gid: UInt32 = 0
    public var euid: UInt32? = nil, egid: UInt32? = nil
    public var secure = false
    public init(path: String, argv: [String], envp: [String]) {
        self.path = path; self.argv = argv; self.envp = envp
    }
}

public struct LoadedImage {
    public var space: AddressSpace
    public var entry: UInt64
    public var stackPointer: UInt64
    /// The path actually executed (after #! resolution), for /proc/self/exe-like needs.
    public var executable: String
}

/// Opens a program file: returns a host fd (caller closes) or -errno.
public typealias FileOpener = (String) -> Int32

public enum ELFLoader {
    /// Hook for the vDSO: given the new address space, maps the vDSO and returns its address.
    nonisolated(unsafe) public static var vdsoHook: ((AddressSpace) -> UInt64?)? = nil

    public static func load(_ req: LoadRequest, file: MemoryFile, open: FileOpener) -> Result<LoadedImage, LoadError> {
        var req = req
        var depth = 0
        while true {
            let fd = open(req.path)
            if fd < 0 { return .failure(.errno(-fd)) }
            defer { Glibc.close(fd) }
            var head = [UInt8](repeating: 0, count: 256)
            let n = head.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 256, 0) }
            if n < 0 { return .failure(.errno(EIO)) }
            head.removeLast(256 - n)
            if n >= 2 && head[0] == 0x23 && head[1] == 0x21 {   // "#!"
                depth += 1
                if depth > 4 { return .failure(.errno(ELOOP)) }
                guard let (interp, arg) = parseShebang(head) else { return .failure(.errno(ENOEXEC)) }
                var argv = [interp]
                if let arg { argv.append(arg) }
                argv.append(req.path)
                argv.append(contentsOf: req.argv.dropFirst())
                req.argv = argv
                req.path = interp
                continue
            }
            return loadELF(fd: fd, head: head, req: req, file: file, open: open)
        }
    }

    public enum LoadError: Error {
        case errno(Int32)
    }

    static func parseShebang(_ head: [UInt8]) -> (String, String?)? {
        var line = head.dropFirst(2)
        if let nl = line.firstIndex(of: 0x0a) { line = line[..<nl] } else if head.count >= 256 { /* truncated */ }
        let text = String(decoding: line, as: UTF8.self).trimmingSpaces()
        guard !text.isEmpty else { return nil }
        if let sp = text.firstIndex(where: { $0 == " " || $0 == "\t" }) {
            let interp = String(text[..<sp])
            let rest = String(text[sp...]).trimmingSpaces()
            return (interp, rest.isEmpty ? nil : rest)
        }
        return (text, nil)
    }

    struct Segment { var vaddr: UInt64; var memsz: UInt64; var filesz: UInt64; var offset: UInt64; var flags: UInt32 }
    struct ELFInfo {
        var type: UInt16; var entry: UInt64; var phoff: UInt64; var phnum: Int; var phentsize: Int
        var loads: [Segment]; var interp: String?; var phdrVaddr: UInt64?
    }

    static func u16(_ b: [UInt8], _ o: Int) -> UInt16 { UInt16(b[o]) | UInt16(b[o + 1]) << 8 }
    static func u32(_ b: [UInt8], _ o: Int) -> UInt32 { UInt32(u16(b, o)) | UInt32(u16(b, o + 2)) << 16 }
    static func u64(_ b: [UInt8], _ o: Int) -> UInt64 { UInt64(u32(b, o)) | UInt64(u32(b, o + 4)) << 32 }

    static func parse(fd: Int32, head: [UInt8]) -> Result<ELFInfo, LoadError> {
        guard head.count >= 64, head[0] == 0x7f, head[1] == 0x45, head[2] == 0x4c, head[3] == 0x46,
              head[4] == 2, head[5] == 1 else { return .failure(.errno(ENOEXEC)) }
        let type = u16(head, 16), machine = u16(head, 18)
        guard machine == 62, type == 2 || type == 3 else { return .failure(.errno(ENOEXEC)) }
        var info = ELFInfo(type: type, entry: u64(head, 24), phoff: u64(head, 32), phnum: Int(u16(head, 56)),
                           phentsize: Int(u16(head, 54)), loads: [], interp: nil, phdrVaddr: nil)
        guard info.phentsize == 56, info.phnum > 0, info.phnum < 128 else { return .failure(.errno(ENOEXEC)) }
        var ph = [UInt8](repeating: 0, count: 56 * info.phnum)
        let r = ph.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(info.phoff)) }
        guard r == ph.count else { return .failure(.errno(ENOEXEC)) }
        for i in 0..<info.phnum {
            let o = i * 56
            let ptype = u32(ph, o)
            let seg = Segment(vaddr: u64(ph, o + 16), memsz: u64(ph, o + 40), filesz: u64(ph, o + 32),
                              offset: u64(ph, o + 8), flags: u32(ph, o + 4))
            switch ptype {
            case 1:
                guard seg.filesz <= seg.memsz else { return .failure(.errno(ENOEXEC)) }
                info.loads.append(seg)
            case 3:
                guard seg.filesz > 1, seg.filesz < 4096 else { return .failure(.errno(ENOEXEC)) }
                var s = [UInt8](repeating: 0, count: Int(seg.filesz))
                _ = s.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(seg.offset)) }
                if let z = s.firstIndex(of: 0) { s.removeSubrange(z...) }
                info.interp = String(decoding: s, as: UTF8.self)
            case 6: info.phdrVaddr = seg.vaddr
            default: break
            }
        }
        guard !info.loads.isEmpty else { return .failure(.errno(ENOEXEC)) }
        return .success(info)
    }

    /// Maps the PT_LOAD segments at `bias`; returns the end of the highest segment.
    static func mapSegments(fd: Int32, info: ELFInfo, bias: UInt64, space: AddressSpace) -> Result<UInt64, LoadError> {
        let mapper = NullMapper()
        let lo = pageRoundDown(info.loads.map { $0.vaddr }.min()! &+ bias)
        let hi = pageRoundUp(info.loads.map { $0.vaddr + $0.memsz }.max()! &+ bias)
        guard hi > lo, hi - lo < (1 << 34) else { return .failure(.errno(ENOEXEC)) }
        if space.mapAnonymous(lo, hi - lo, prot: 0, shared: false, tag: "elf", mapper: mapper) < 0 {
            return .failure(.errno(ENOMEM))
        }
        var cached = Set<Int>()
        for i in info.loads.indices where sharedImage(fd: fd, info: info, index: i, bias: bias, space: space) {
            cached.insert(i)
        }
        for (i, seg) in info.loads.enumerated() where seg.filesz > 0 && !cached.contains(i) {
            var buf = [UInt8](repeating: 0, count: Int(seg.filesz))
            let r = buf.withUnsafeMutableBytes { b -> Int in
                var done = 0
                while done < b.count {
                    let k = pread(fd, b.baseAddress! + done, b.count - done, off_t(Int(seg.offset) + done))
                    if k <= 0 { return -1 }
                    done += k
                }
                return done
            }
            guard r == buf.count else { return .failure(.errno(EIO)) }
            guard buf.withUnsafeBytes({ space.poke(seg.vaddr &+ bias, $0.baseAddress!, $0.count) }) else {
                return .failure(.errno(EFAULT))
            }
        }
        for seg in info.loads {
            let s = pageRoundDown(seg.vaddr &+ bias), e = pageRoundUp(seg.vaddr &+ bias &+ seg.memsz)
            var prot: Int32 = 0
            if seg.flags & 4 != 0 { prot |= PROT_R }
            if seg.flags & 2 != 0 { prot |= PROT_W }
            if seg.flags & 1 != 0 { prot |= PROT_X }
            _ = space.protect(s, e - s, prot: prot, mapper: mapper)
        }
        return .success(hi)
    }

    /// Maps read-only segment `index` straight from the memory file's image of the file (shared by
    /// every process that runs the program, see FileImageCache) when it owns its pages alone; false if
    /// it must be copied. The pages hold the file's bytes as Linux maps them: from the page boundary
    /// before the segment to the one after it.
    static func sharedImage(fd: Int32, info: ELFInfo, index: Int, bias: UInt64, space: AddressSpace) -> Bool {
        let seg = info.loads[index]
        guard seg.flags & 2 == 0, seg.filesz > 0, seg.vaddr % UInt64(pageSize) == seg.offset % UInt64(pageSize) else { return false }
        let start = pageRoundDown(seg.vaddr &+ bias), end = pageRoundUp(seg.vaddr &+ bias &+ seg.filesz)
        // A tail of zeros (memsz > filesz) past the file's pages would need its own copy.
        guard pageRoundUp(seg.vaddr &+ bias &+ seg.memsz) == end, end > start else { return false }
        for (j, other) in info.loads.enumerated() where j != index {
            let os = pageRoundDown(other.vaddr &+ bias), oe = pageRoundUp(other.vaddr &+ bias &+ other.memsz)
            if os < end && oe > start { return false }
        }
        guard let image = space.file.images.image(fd: fd, offset: Int(pageRoundDown(seg.offset)), length: Int(end - start)) else {
            return false
        }
        var vma = VMA(start: start, end: end, prot: 0, shared: false, backing: image, backingOffset: 0, tag: "elf")
        vma.cow = true
        return space.insert(vma, mapper: NullMapper()) >= 0
    }

    static func loadELF(fd: Int32, head: [UInt8], req: LoadRequest, file: MemoryFile, open: FileOpener) -> Result<LoadedImage, LoadError> {
        let info: ELFInfo
        switch parse(fd: fd, head: head) { case .success(let i): info = i; case .failure(let e): return .failure(e) }
        let space = AddressSpace(file: file)
        let mainBias: UInt64 = info.type == 3 ? 0x5555_5555_4000 - pageRoundDown(info.loads[0].vaddr) : 0
        let end: UInt64
        switch mapSegments(fd: fd, info: info, bias: mainBias, space: space) {
        case .success(let e): end = e
        case .failure(let e): return .failure(e)
        }
        space.brkStart = pageRoundUp(end)
        space.brkCurrent = space.brkStart
        var entry = info.entry &+ mainBias
        var interpBase: UInt64 = 0
        if let interp = info.interp {
            let ifd = open(interp)
            if ifd < 0 { return .failure(.errno(-ifd)) }
            defer { Glibc.close(ifd) }
            var ihead = [UInt8](repeating: 0, count: 64)
            _ = ihead.withUnsafeMutableBytes { pread(ifd, $0.baseAddress, 64, 0) }
            let iinfo: ELFInfo
            switch parse(fd: ifd, head: ihead) { case .success(let i): iinfo = i; case .failure(let e): return .failure(e) }
            let span = pageRoundUp(iinfo.loads.map { $0.vaddr + $0.memsz }.max()!) - pageRoundDown(iinfo.loads[0].vaddr)
            guard let base = space.findFree(span) else { return .failure(.errno(ENOMEM)) }
            let ibias = iinfo.type == 3 ? base - pageRoundDown(iinfo.loads[0].vaddr) : 0
            if case .failure(let e) = mapSegments(fd: ifd, info: iinfo, bias: ibias, space: space) { return .failure(e) }
            interpBase = ibias
            entry = iinfo.entry &+ ibias
        }
        let phdr = info.phdrVaddr.map { $0 &+ mainBias } ?? (pageRoundDown(info.loads[0].vaddr) &+ mainBias &+ info.phoff)
        guard let sp = buildStack(space: space, req: req, phdr: phdr, phnum: info.phnum,
                                  entry: info.entry &+ mainBias, base: interpBase) else {
            return .failure(.errno(E2BIG))
        }
        return .success(LoadedImage(space: space, entry: entry, stackPointer: sp, executable: req.path))
    }

    static let stackSize: UInt64 = 8 << 20

    static func buildStack(space: AddressSpace, req: LoadRequest, phdr: UInt64, phnum: Int, entry: UInt64,
                           base: UInt64) -> UInt64? {
        let top = AddressSpace.userTop
        let mapper = NullMapper()
        guard space.mapAnonymous(top - stackSize, stackSize, prot: PROT_R | PROT_W, shared: false,
                                 tag: "[stack]", mapper: mapper) >= 0 else { return nil }
        var sp = top - 16
        func pushBytes(_ bytes: [UInt8]) -> UInt64? {
            sp -= UInt64(bytes.count)
            return bytes.withUnsafeBytes { space.poke(sp, $0.baseAddress!, $0.count) } ? sp : nil
        }
        func pushString(_ s: String) -> UInt64? { pushBytes(Array(s.utf8) + [0]) }
        guard let execfn = pushString(req.path), let platform = pushString("x86_64") else { return nil }
        var rnd = [UInt8](repeating: 0, count: 16)
        _ = rnd.withUnsafeMutableBytes { bw_getrandom($0.baseAddress, 16, 0) }
        guard let random = pushBytes(rnd) else { return nil }
        var envPtrs: [UInt64] = [], argPtrs: [UInt64] = []
        var total = 0
        for e in req.envp.reversed() {
            total += e.utf8.count + 1
            guard total < 1 << 21, let p = pushString(e) else { return nil }
            envPtrs.insert(p, at: 0)
        }
        for a in req.argv.reversed() {
            total += a.utf8.count + 1
            guard total < 1 << 21, let p = pushString(a) else { return nil }
            argPtrs.insert(p, at: 0)
        }
        sp &= ~UInt64(15)
        var aux: [(UInt64, UInt64)] = [
            (3, phdr), (4, 56), (5, UInt64(phnum)), (6, 4096), (7, base), (8, 0), (9, entry),
            (11, UInt64(req.uid)), (12, UInt64(req.euid ?? req.uid)), (13, UInt64(req.gid)), (14, UInt64(req.egid ?? req.gid)),
            (16, 0x178bfbff), (17, 100), (23, req.secure ? 1 : 0), (25, random), (31, execfn), (15, platform), (51, 2048),
        ]
        if let hook = vdsoHook, let v = hook(space) { aux.append((33, v)) }
        aux.append((0, 0))
        var words: [UInt64] = [UInt64(argPtrs.count)]
        words += argPtrs; words.append(0)
        words += envPtrs; words.append(0)
        for (k, v) in aux { words.append(k); words.append(v) }
        if words.count % 2 == 1 { sp -= 8 }  // keep sp 16-aligned at argc
        sp -= UInt64(words.count * 8)
        guard words.withUnsafeBytes({ space.poke(sp, $0.baseAddress!, $0.count) }) else { return nil }
        return sp
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\r" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s.removeLast() }
        return String(s)
    }
}
