// Maps Bulwark's vDSO (SentryVDSO, written by the vDSO helper) into every new address space: one
// [vvar] page then the [vdso] image, both shared from one Backing in the memory file, so clock_gettime,
// gettimeofday, time and getcpu run without trapping. A timekeeper thread republishes the vvar page
// once a second. BULWARK_NO_VDSO=1 disables it (libc then makes real, intercepted calls).
import Glibc
import SentryLoader
import SentryMemory
import SentryVDSO

enum VDSOMapping {
    nonisolated(unsafe) static var backing: Backing? = nil
    nonisolated(unsafe) static var timekeeper: VDSOTimekeeper? = nil

    static func install(memory: MemoryFile) {
        if getenv("BULWARK_NO_VDSO") != nil { return }
        let pages = VDSOImage.mappingPages
        guard let b = Backing(file: memory, length: pages * pageSize) else { return }
        VDSOImage.bytes.withUnsafeBytes { src in
            memcpy(memory.pointer(b.offset + pageSize), src.baseAddress!, src.count)
        }
        let tk = VDSOTimekeeper()
        tk.publish(to: memory.pointer(b.offset))
        backing = b
        timekeeper = tk
        var th = pthread_t()
        pthread_create(&th, nil, { _ in
            // The vvar page's only writer.
            while true {
                var ts = timespec(tv_sec: 1, tv_nsec: 0)
                nanosleep(&ts, nil)
                guard var tk = VDSOMapping.timekeeper, let b = VDSOMapping.backing else { continue }
                tk.update()
                tk.publish(to: b.file.pointer(b.offset))
                VDSOMapping.timekeeper = tk
            }
        }, nil)
        pthread_detach(th)
        ELFLoader.vdsoHook = { space in
            guard let b = VDSOMapping.backing else { return nil }
            let length = UInt64(pages * pageSize)
            guard let base = space.findFree(length) else { return nil }
            let mapper = NullMapper()
            let vvar = VMA(start: base, end: base + UInt64(pageSize), prot: PROT_R, shared: true, backing: b,
                           backingOffset: 0, tag: VDSOImage.vvarMapName)
            let vdso = VMA(start: base + UInt64(pageSize), end: base + length, prot: PROT_R | PROT_X, shared: true,
                           backing: b, backingOffset: pageSize, tag: VDSOImage.vdsoMapName)
            _ = space.insert(vvar, mapper: mapper)
            _ = space.insert(vdso, mapper: mapper)
            return base + UInt64(pageSize)
        }
    }
}
