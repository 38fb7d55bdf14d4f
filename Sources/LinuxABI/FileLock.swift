// struct flock for fcntl(F_GETLK/F_SETLK/F_OFD_*) (<asm-generic/fcntl.h>): 32 bytes on x86-64.

public struct Flock: ABIStruct {
    /// F_RDLCK, F_WRLCK, F_UNLCK.
    public var l_type: Int16
    /// SEEK_SET, SEEK_CUR, SEEK_END.
    public var l_whence: Int16
    public var l_start: Int64
    public var l_len: Int64
    public var l_pid: Int32
    public init(l_type: Int16 = 0, l_whence: Int16 = 0, l_start: Int64 = 0, l_len: Int64 = 0, l_pid: Int32 = 0) {
        self.l_type = l_type; self.l_whence = l_whence; self.l_start = l_start; self.l_len = l_len; self.l_pid = l_pid
    }

    public static let size = 32
    public static let layout = ABILayout<Flock>("struct flock", size: 32, [
        .init("l_type", 0, 2, \.l_type), .init("l_whence", 2, 2, \.l_whence), .init("l_start", 8, 8, \.l_start),
        .init("l_len", 16, 8, \.l_len), .init("l_pid", 24, 4, \.l_pid),
    ])
    @inlinable public init(decoding b: UnsafeRawBufferPointer) throws(ABIError) {
        try ABIError.check(b, 32)
        l_type = b.abiLoad(0); l_whence = b.abiLoad(2); l_start = b.abiLoad(8); l_len = b.abiLoad(16); l_pid = b.abiLoad(24)
    }
    @inlinable public func encode(into b: UnsafeMutableRawBufferPointer) {
        b.abiPrepare(32)
        b.abiStore(l_type, 0); b.abiStore(l_whence, 2); b.abiStore(l_start, 8); b.abiStore(l_len, 16); b.abiStore(l_pid, 24)
    }
}
