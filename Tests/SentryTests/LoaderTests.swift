// ELF loading into an address space, without running anything: segments, entry, stack layout.
import Glibc
import SentryLoader
import SentryMemory
import Testing

@Suite("ELF loader")
struct LoaderTests {
    let file = MemoryFile(capacity: 1 << 32)!

    func open(_ p: String) -> Int32 {
        let fd = Glibc.open(p, O_RDONLY | O_CLOEXEC)
        return fd >= 0 ? fd : -errno
    }

    @Test(.enabled(if: access("/bin/busybox", X_OK) == 0))
    func staticBinaryLoadsWithArgvEnvAndAuxv() throws {
        let req = LoadRequest(path: "/bin/busybox", argv: ["busybox", "echo", "hi"], envp: ["A=1"])
        guard case .success(let image) = ELFLoader.load(req, file: file, open: open) else {
            Issue.record("load failed"); return
        }
        #expect(image.stackPointer % 16 == 0)
        let space = image.space
        #expect(space.read(image.stackPointer, as: UInt64.self) == 3)   // argc
        let argv0 = space.read(image.stackPointer + 8, as: UInt64.self)!
        #expect(space.readCString(argv0) == Array("busybox".utf8))
        let envp0 = space.read(image.stackPointer + 8 * 5, as: UInt64.self)!
        #expect(space.readCString(envp0) == Array("A=1".utf8))
        // auxv follows envp's NULL: find AT_ENTRY (9) and AT_PAGESZ (6).
        var p = image.stackPointer + 8 * 7
        var aux: [UInt64: UInt64] = [:]
        while let k = space.read(p, as: UInt64.self), k != 0 {
            aux[k] = space.read(p + 8, as: UInt64.self)
            p += 16
        }
        #expect(aux[6] == 4096)
        #expect(aux[9] == image.entry)          // static: entry is the program's own
        #expect(space.find(image.entry) != nil)
        #expect(space.vmas.contains { $0.tag == "[stack]" })
    }

    @Test(.enabled(if: access("/bin/ls", X_OK) == 0))
    func dynamicBinaryLoadsItsInterpreter() throws {
        let req = LoadRequest(path: "/bin/ls", argv: ["ls"], envp: [])
        guard case .success(let image) = ELFLoader.load(req, file: file, open: open) else {
            Issue.record("load failed"); return
        }
        // The entry point is ld.so's, mapped below the mmap top; the program sits at the PIE base.
        #expect(image.entry > 0x6000_0000_0000)
        #expect(image.space.find(0x5555_5555_4000) != nil)
    }

    @Test func garbageIsENOEXECAndMissingIsENOENT() throws {
        let req = LoadRequest(path: "/etc/hostname", argv: ["x"], envp: [])
        if case .failure(.errno(let e)) = ELFLoader.load(req, file: file, open: open) { #expect(e == ENOEXEC) }
        else { Issue.record("expected ENOEXEC") }
        let missing = LoadRequest(path: "/no/such", argv: ["x"], envp: [])
        if case .failure(.errno(let e)) = ELFLoader.load(missing, file: file, open: open) { #expect(e == ENOENT) }
        else { Issue.record("expected ENOENT") }
    }

    /// Read-only segments come from one shared image of the file (FileImageCache): a second load of the
    /// same program maps the same memory-file pages, marked `cow`, holding exactly the file's bytes.
    @Test(.enabled(if: access("/bin/busybox", X_OK) == 0))
    func readOnlySegmentsShareOneImageOfTheFile() throws {
        let req = LoadRequest(path: "/bin/busybox", argv: ["busybox"], envp: [])
        guard case .success(let first) = ELFLoader.load(req, file: file, open: open),
              case .success(let second) = ELFLoader.load(req, file: file, open: open) else {
            Issue.record("load failed"); return
        }
        let text = first.space.find(first.entry).map { first.space.vmas[$0] }
        let again = second.space.find(second.entry).map { second.space.vmas[$0] }
        guard let text, let again else { Issue.record("no text VMA"); return }
        #expect(text.cow && again.cow)
        #expect(text.prot & PROT_W == 0)
        #expect(text.fileOffset == again.fileOffset, "both loads map one image")
        #expect(file.images.hits >= 1)
        // The image holds the file's bytes at the page of the entry point (static, non-PIE: vaddr =
        // file offset + the segment's base, so compare through the program headers' mapping).
        let fd = Glibc.open("/bin/busybox", O_RDONLY)
        defer { Glibc.close(fd) }
        var st = stat()
        fstat(fd, &st)
        var onDisk = [UInt8](repeating: 0, count: 64)
        let page = Int(text.start)
        // The segment's first page maps file offset `fileStart`; find it from the bytes themselves.
        let mapped = first.space.readBytes(UInt64(page), 64)!
        var found = false
        var off = 0
        while off + 64 <= Int(st.st_size) && !found {
            _ = onDisk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 64, off_t(off)) }
            found = onDisk == mapped
            off += 4096
        }
        #expect(found, "the text's first page is a page of the file")
    }
}
