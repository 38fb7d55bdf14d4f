// Maps the vDSO image and a vvar page into the test process the way the Sentry maps them into an
// application (vvar page, then the image right above it), and calls the vDSO's entry points through C
// function pointers resolved from its dynamic symbol table.
import Glibc
import SentryVDSO

/// One private mapping of [vvar page][vDSO image pages] in this process.
final class MappedVDSO {
    typealias ClockFunction = @convention(c) (Int, UnsafeMutablePointer<timespec>?) -> Int32
    typealias GettimeofdayFunction = @convention(c) (UnsafeMutablePointer<timeval>?, UnsafeMutableRawPointer?) -> Int32
    typealias TimeFunction = @convention(c) (UnsafeMutablePointer<Int>?) -> Int
    typealias GetcpuFunction = @convention(c) (UnsafeMutablePointer<UInt32>?, UnsafeMutablePointer<UInt32>?,
                                               UnsafeMutableRawPointer?) -> Int32

    let mapping: UnsafeMutableRawPointer
    let length: Int
    /// The vvar page; this process plays the Sentry and writes it.
    let vvar: UnsafeMutableRawPointer
    /// The image's load address (what AT_SYSINFO_EHDR would be).
    let base: UnsafeMutableRawPointer
    let clockGettime: ClockFunction
    let clockGetres: ClockFunction
    let gettimeofday: GettimeofdayFunction
    let time: TimeFunction
    let getcpu: GetcpuFunction

    init() throws {
        let elf = try ELFFile(VDSOImage.bytes)
        length = VDSOImage.mappingPages * VDSOImage.pageSize
        guard let raw = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              raw != UnsafeMutableRawPointer(bitPattern: -1) else { throw ELFError(description: "mmap failed") }
        let base = raw + VDSOImage.pageSize
        mapping = raw
        vvar = raw
        self.base = base
        // SAFETY: the image fits the mapping (mappingPages covers it), and the pages were just mapped
        // writable; they become read+execute before any code in them runs and stay mapped until deinit.
        VDSOImage.bytes.withUnsafeBytes { image in
            base.copyMemory(from: image.baseAddress!, byteCount: image.count)
        }
        guard mprotect(base, VDSOImage.imagePages * VDSOImage.pageSize, PROT_READ | PROT_EXEC) == 0 else {
            munmap(raw, length)
            throw ELFError(description: "mprotect failed")
        }
        // SAFETY: each offset comes from the image's own .dynsym and names a function inside the mapped
        // image with the C signature written in the type alias (the kernel vDSO ABI, as in vdso.c).
        clockGettime = try Self.entry(elf, base, "__vdso_clock_gettime", ClockFunction.self)
        clockGetres = try Self.entry(elf, base, "__vdso_clock_getres", ClockFunction.self)
        gettimeofday = try Self.entry(elf, base, "__vdso_gettimeofday", GettimeofdayFunction.self)
        time = try Self.entry(elf, base, "__vdso_time", TimeFunction.self)
        getcpu = try Self.entry(elf, base, "__vdso_getcpu", GetcpuFunction.self)
    }

    deinit { munmap(mapping, length) }

    private static func entry<F>(_ elf: ELFFile, _ base: UnsafeMutableRawPointer, _ name: String,
                                 _ type: F.Type) throws -> F {
        unsafeBitCast(base + (try elf.symbolOffset(name)), to: type)
    }

    /// clock_gettime through the vDSO: (return value, ns).
    func gettime(_ clock: Int32) -> (result: Int32, ns: Int64) {
        var ts = timespec()
        let r = clockGettime(Int(clock), &ts)
        return (r, Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec))
    }

    /// A field of the vvar page, for checks of what was published.
    func vvarField<T>(_ offset: Int, as type: T.Type) -> T { vvar.load(fromByteOffset: offset, as: type) }
}
