// struct statfs for statfs(2)/fstatfs(2) (<asm-generic/statfs.h>; x86-64 words are 64-bit): 120 bytes.

public struct StatFS: ABIStruct {
    /// The file system's magic number (e.g. TMPFS_MAGIC 0x01021994).
    public var f_type: Int64 = 0
    public var f_bsize: Int64 = 0
    public var f_blocks: Int64 = 0
    public var f_bfree: Int64 = 0
    public var f_bavail: Int64 = 0
    public var f_files: Int64 = 0
    public var f_ffree: Int64 = 0
    /// f_fsid.val[0] and val[1].
    public var f_fsid0: Int32 = 0
    public var f_fsid1: Int32 = 0
    public var f_namelen: Int64 = 0
    public var f_frsize: Int64 = 0
    /// ST_* mount flags (ST_RDONLY, ST_NOSUID, ...).
    public var f_flags: Int64 = 0
    public init() {}

    public static let size = 120
    public static let layout = ABILayout<StatFS>("struct statfs", size: 120, [
        .init("f_type", 0, 8, \.f_type), .init("f_bsize", 8, 8, \.f_bsize), .init("f_blocks", 16, 8, \.f_blocks),
        .init("f_bfree", 24, 8, \.f_bfree), .init("f_bavail", 32, 8, \.f_bavail), .init("f_files", 40, 8, \.f_files),
        .init("f_ffree", 48, 8, \.f_ffree), .init("f_fsid.val[0]", 56, 4, \.f_fsid0), .init("f_fsid.val[1]", 60, 4, \.f_fsid1),
        .init("f_namelen", 64, 8, \.f_namelen), .init("f_frsize", 72, 8, \.f_frsize), .init("f_flags", 80, 8, \.f_flags),
        .padding("f_spare", 88, 32),
    ])
    @inlinable public init(decoding b: UnsafeRawBufferPointer) throws(ABIError) {
        try ABIError.check(b, 120)
        f_type = b.abiLoad(0); f_bsize = b.abiLoad(8); f_blocks = b.abiLoad(16); f_bfree = b.abiLoad(24)
        f_bavail = b.abiLoad(32); f_files = b.abiLoad(40); f_ffree = b.abiLoad(48)
        f_fsid0 = b.abiLoad(56); f_fsid1 = b.abiLoad(60)
        f_namelen = b.abiLoad(64); f_frsize = b.abiLoad(72); f_flags = b.abiLoad(80)
    }
    @inlinable public func encode(into b: UnsafeMutableRawBufferPointer) {
        b.abiPrepare(120)
        b.abiStore(f_type, 0); b.abiStore(f_bsize, 8); b.abiStore(f_blocks, 16); b.abiStore(f_bfree, 24)
        b.abiStore(f_bavail, 32); b.abiStore(f_files, 40); b.abiStore(f_ffree, 48)
        b.abiStore(f_fsid0, 56); b.abiStore(f_fsid1, 60)
        b.abiStore(f_namelen, 64); b.abiStore(f_frsize, 72); b.abiStore(f_flags, 80)
    }
}
