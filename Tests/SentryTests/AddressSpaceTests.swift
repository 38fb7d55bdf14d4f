// Address-space bookkeeping and bounds-checked copy-in/copy-out through the memory file.
import SentryLoader
import SentryMemory
import Testing

@Suite("Address space")
struct AddressSpaceTests {
    let file = MemoryFile(capacity: 1 << 30)!

    @Test func copyRoundTripAndFaults() {
        let space = AddressSpace(file: file)
        let m = NullMapper()
        #expect(space.mapAnonymous(0x10000, 0x2000, prot: PROT_R | PROT_W, shared: false, tag: "t", mapper: m) >= 0)
        let data: [UInt8] = [1, 2, 3, 4]
        #expect(data.withUnsafeBytes { space.copyOut(0x11ffe, $0.baseAddress!, 4) } == false)  // crosses the end
        #expect(data.withUnsafeBytes { space.copyOut(0x10ffe, $0.baseAddress!, 4) })           // crosses a page
        #expect(space.readBytes(0x10ffe, 4) == data)
        #expect(space.readBytes(0x9000, 1) == nil)
        #expect(space.copyIn(UInt64.max - 1, UnsafeMutableRawPointer.allocate(byteCount: 8, alignment: 8), 8) == false)
    }

    @Test func protectSplitsAndWriteNeedsPermission() {
        let space = AddressSpace(file: file)
        let m = NullMapper()
        _ = space.mapAnonymous(0x20000, 0x3000, prot: PROT_R | PROT_W, shared: false, tag: "t", mapper: m)
        #expect(space.protect(0x21000, 0x1000, prot: PROT_R, mapper: m) == 0)
        #expect(space.vmas.count == 3)
        #expect(space.write(0x21000, UInt32(7)) == false)
        #expect(space.write(0x22000, UInt32(7)))
        #expect(space.protect(0x30000, 0x1000, prot: PROT_R, mapper: m) == -12)
    }

    @Test func unmapMiddleAndForkCopyIsPrivate() {
        let space = AddressSpace(file: file)
        let m = NullMapper()
        _ = space.mapAnonymous(0x40000, 0x3000, prot: PROT_R | PROT_W, shared: false, tag: "t", mapper: m)
        _ = space.write(0x40000, UInt64(42))
        _ = space.unmap(0x41000, 0x1000, mapper: m)
        #expect(space.vmas.count == 2)
        #expect(space.isFree(0x41000, 0x42000))
        let child = space.forkCopy()!
        _ = child.write(0x40000, UInt64(7))
        #expect(space.read(0x40000, as: UInt64.self) == 42)
        #expect(child.read(0x40000, as: UInt64.self) == 7)
        #expect(child.findFree(0x1000) != nil)
    }
}
