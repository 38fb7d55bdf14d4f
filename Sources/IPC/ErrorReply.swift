// The body of an error reply (FrameFlags.error): errno and a human-readable message.
// Interim encoding until the generated Protocol codec replaces it (same fields):
//   0 u32 errno (little-endian)   4 u32 message byte count   8 message (UTF-8)
import LinuxABI
import Wire

public enum ErrorReply {
    /// Encodes into `buffer` (cleared first, capacity kept).
    public static func encode(errno: Errno, message: String, into buffer: inout [UInt8]) {
        buffer.removeAll(keepingCapacity: true)
        let utf8 = message.utf8
        appendLE(UInt32(bitPattern: errno.rawValue), to: &buffer)
        appendLE(UInt32(utf8.count), to: &buffer)
        buffer.append(contentsOf: utf8)
    }

    /// Decodes untrusted bytes; every length is checked before use.
    public static func decode(_ body: UnsafeRawBufferPointer) throws(WireError) -> (errno: Errno, message: String) {
        guard body.count >= 8 else { throw .truncated(needed: 8, available: body.count) }
        let code = Int32(bitPattern: UInt32(littleEndian: body.loadUnaligned(fromByteOffset: 0, as: UInt32.self)))
        let length = Int(UInt32(littleEndian: body.loadUnaligned(fromByteOffset: 4, as: UInt32.self)))
        guard length == body.count - 8 else { throw .lengthMismatch(declared: length + 8, received: body.count) }
        let message = String(decoding: UnsafeRawBufferPointer(rebasing: body[8...]), as: UTF8.self)
        return (Errno(rawValue: code), message)
    }

    private static func appendLE(_ value: UInt32, to buffer: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { buffer.append(contentsOf: $0) }
    }
}
