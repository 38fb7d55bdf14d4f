// struct iovec (<linux/uio.h>): one guest buffer of readv/writev/sendmsg. Pointers are guest addresses.

public struct IOVec: ABIStruct {
    public var iov_base: UInt64
    public var iov_len: UInt64
    public init(iov_base: UInt64 = 0, iov_len: UInt64 = 0) { self.iov_base = iov_base; self.iov_len = iov_len }

    public static let size = 16
    /// UIO_MAXIOV: the most iovecs one call accepts (more is EINVAL).
    public static let maxCount = 1024
    public static let layout = ABILayout<IOVec>("struct iovec", size: 16, [
        .init("iov_base", 0, 8, \.iov_base), .init("iov_len", 8, 8, \.iov_len),
    ])
    @inlinable public init(decoding b: UnsafeRawBufferPointer) throws(ABIError) {
        try ABIError.check(b, 16)
        iov_base = b.abiLoad(0); iov_len = b.abiLoad(8)
    }
    @inlinable public func encode(into b: UnsafeMutableRawBufferPointer) {
        b.abiPrepare(16); b.abiStore(iov_base, 0); b.abiStore(iov_len, 8)
    }
}
