// The file under a file mapping, kept with its VMAs so mremap can grow a mapping (private or shared)
// with the file's next bytes and make the pages wholly past the file's end fault with SIGBUS, as
// Linux does. The closures hold the Sentry's open file (its description or tmpfs node), so the file
// stays open while mapped, like Linux's vma->vm_file.
public final class MappedFileSource {
    /// Reads up to `count` bytes at a file offset into the pointer; returns the bytes read (0 at the end).
    public typealias Reader = (UnsafeMutableRawPointer, Int, Int) -> Int
    public let read: Reader
    /// The file's current size.
    public let size: () -> Int

    public init(read: @escaping Reader, size: @escaping () -> Int) {
        self.read = read
        self.size = size
    }

    /// Fills `count` bytes at `into` from file offset `offset` (short at the file's end: the rest is
    /// left as it is, zeros in a fresh backing).
    public func fill(_ into: UnsafeMutableRawPointer, _ count: Int, at offset: Int) {
        var done = 0
        while done < count {
            let n = read(into + done, count - done, offset + done)
            if n <= 0 { return }
            done += n
        }
    }
}
