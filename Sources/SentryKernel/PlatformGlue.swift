// Connects the platform seam (SentryPlatform) to the memory file: systrap stubs keep their mailbox
// and signal stack in it, so the Sentry reaches them through its own mapping.
import SentryMemory
import SentryPlatform

extension MemoryFile: StubMemory {
    public var stubFD: Int32 { fd }
    public func allocateStubRegion(_ length: Int) -> (offset: Int, pointer: UnsafeMutableRawPointer)? {
        guard let off = allocate(length) else { return nil }
        return (off, pointer(off))
    }
    public func releaseStubRegion(_ offset: Int, _ length: Int) { release(offset, length) }
}
