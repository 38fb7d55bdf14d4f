// File status: struct stat (x86-64 <asm/stat.h>, same layout as glibc's on this architecture) and
// struct statx with statx_timestamp (<linux/stat.h>).

/// struct stat as stat(2)/fstat(2)/newfstatat(2) write it on x86-64 (144 bytes).
public struct Stat: ABIStruct {
    public var st_dev: UInt64 = 0
    public var st_ino: UInt64 = 0
    public var st_nlink: UInt64 = 0
    public var st_mode: UInt32 = 0
    public var st_uid: UInt32 = 0
    public var st_gid: UInt32 = 0
    public var st_rdev: UInt64 = 0
    public var st_size: Int64 = 0
    public var st_blksize: Int64 = 0
    public var st_blocks: Int64 = 0
    public var st_atime: UInt64 = 0
    public var st_atime_nsec: UInt64 = 0
    public var st_mtime: UInt64 = 0
    public var st_mtime_nsec: UInt64 = 0
    public var st_ctime: UInt64 = 0
    public var st_ctime_nsec: UInt64 = 0
    public init() {}

    public static let size = 144
    public static let layout = ABILayout<Stat>("struct stat", size: 144, [
        .init("st_dev", 0, 8, \.st_dev), .init("st_ino", 8, 8, \.st_ino), .init("st_nlink", 16, 8, \.st_nlink),
        .init("st_mode", 24, 4, \.st_mode), .init("st_uid", 28, 4, \.st_uid), .init("st_gid", 32, 4, \.st_gid),
        .padding("__pad0", 36, 4),
        .init("st_rdev", 40, 8, \.st_rdev), .init("st_size", 48, 8, \.st_size),
        .init("st_blksize", 56, 8, \.st_blksize), .init("st_blocks", 64, 8, \.st_blocks),
        .init("st_atime", 72, 8, \.st_atime), .init("st_atime_nsec", 80, 8, \.st_atime_nsec),
        .init("st_mtime", 88, 8, \.st_mtime), .init("st_mtime_nsec", 96, 8, \.st_mtime_nsec),
        .init("st_ctime", 104, 8, \.st_ctime), .init("st_ctime_nsec", 112, 8, \.st_ctime_nsec),
        .padding("__unused", 120, 24),
    ])
    @inlinable public init(decoding b: UnsafeRawBufferPointer) throws(ABIError) {
        try ABIError.check(b, 144)
        st_dev = b.abiLoad(0); st_ino = b.abiLoad(8); st_nlink = b.abiLoad(16)
        st_mode = b.abiLoad(24); st_uid = b.abiLoad(28); st_gid = b.abiLoad(32)
        st_rdev = b.abiLoad(40); st_size = b.abiLoad(48); st_blksize = b.abiLoad(56); st_blocks = b.abiLoad(64)
        st_atime = b.abiLoad(72); st_atime_nsec = b.abiLoad(80)
        st_mtime = b.abiLoad(88); st_mtime_nsec = b.abiLoad(96)
        st_ctime = b.abiLoad(104); st_ctime_nsec = b.abiLoad(112)
    }
    @inlinable public func encode(into b: UnsafeMutableRawBufferPointer) {
        b.abiPrepare(144)
        b.abiStore(st_dev, 0); b.abiStore(st_ino, 8); b.abiStore(st_nlink, 16)
        b.abiStore(st_mode, 24); b.abiStore(st_uid, 28); b.abiStore(st_gid, 32)
        b.abiStore(st_rdev, 40); b.abiStore(st_size, 48); b.abiStore(st_blksize, 56); b.abiStore(st_blocks, 64)
        b.abiStore(st_atime, 72); b.abiStore(st_atime_nsec, 80)
        b.abiStore(st_mtime, 88); b.abiStore(st_mtime_nsec, 96)
        b.abiStore(st_ctime, 104); b.abiStore(st_ctime_nsec, 112)
    }
}

/// struct statx_timestamp: seconds, nanoseconds and 4 reserved bytes (16 bytes).
public struct StatxTimestamp: ABIStruct {
    public var tv_sec: Int64
    public var tv_nsec: UInt32
    public init(tv_sec: Int64 = 0, tv_nsec: UInt32 = 0) { self.tv_sec = tv_sec; self.tv_nsec = tv_nsec }

    public static let size = 16
    public static let layout = ABILayout<StatxTimestamp>("struct statx_timestamp", size: 16, [
        .init("tv_sec", 0, 8, \.tv_sec), .init("tv_nsec", 8, 4, \.tv_nsec), .padding("__reserved", 12, 4),
    ])
    @inlinable public init(decoding b: UnsafeRawBufferPointer) throws(ABIError) {
        try ABIError.check(b, 16)
        self.init(embeddedIn: b, at: 0)
    }
    /// Reads at `o` in a buffer whose length the embedding struct has checked.
    @inlinable @inline(__always) init(embeddedIn b: UnsafeRawBufferPointer, at o: Int) {
        tv_sec = b.abiLoad(o); tv_nsec = b.abiLoad(o + 8)
    }
    /// Writes at `o` in a buffer the embedding struct has prepared (reserved bytes stay zero).
    @inlinable @inline(__always) func store(embeddedIn b: UnsafeMutableRawBufferPointer, at o: Int) {
        b.abiStore(tv_sec, o); b.abiStore(tv_nsec, o + 8)
    }
    @inlinable public func encode(into b: UnsafeMutableRawBufferPointer) {
        b.abiPrepare(16); b.abiStore(tv_sec, 0); b.abiStore(tv_nsec, 8)
    }
}

/// struct statx as statx(2) writes it (256 bytes; fields up to stx_dio_offset_align, the rest spare).
public struct Statx: ABIStruct {
    public var stx_mask: UInt32 = 0
    public var stx_blksize: UInt32 = 0
    public var stx_attributes: UInt64 = 0
    public var stx_nlink: UInt32 = 0
    public var stx_uid: UInt32 = 0
    public var stx_gid: UInt32 = 0
    public var stx_mode: UInt16 = 0
    public var stx_ino: UInt64 = 0
    public var stx_size: UInt64 = 0
    public var stx_blocks: UInt64 = 0
    public var stx_attributes_mask: UInt64 = 0
    public var stx_atime = StatxTimestamp()
    public var stx_btime = StatxTimestamp()
    public var stx_ctime = StatxTimestamp()
    public var stx_mtime = StatxTimestamp()
    public var stx_rdev_major: UInt32 = 0
    public var stx_rdev_minor: UInt32 = 0
    public var stx_dev_major: UInt32 = 0
    public var stx_dev_minor: UInt32 = 0
    public var stx_mnt_id: UInt64 = 0
    public var stx_dio_mem_align: UInt32 = 0
    public var stx_dio_offset_align: UInt32 = 0
    public init() {}

    public static let size = 256
    public static let layout = ABILayout<Statx>("struct statx", size: 256, [
        .init("stx_mask", 0, 4, \.stx_mask), .init("stx_blksize", 4, 4, \.stx_blksize),
        .init("stx_attributes", 8, 8, \.stx_attributes), .init("stx_nlink", 16, 4, \.stx_nlink),
        .init("stx_uid", 20, 4, \.stx_uid), .init("stx_gid", 24, 4, \.stx_gid), .init("stx_mode", 28, 2, \.stx_mode),
        .padding("__spare0", 30, 2),
        .init("stx_ino", 32, 8, \.stx_ino), .init("stx_size", 40, 8, \.stx_size), .init("stx_blocks", 48, 8, \.stx_blocks),
        .init("stx_attributes_mask", 56, 8, \.stx_attributes_mask),
        .init("stx_atime", 64, 16, \.stx_atime), .init("stx_btime", 80, 16, \.stx_btime),
        .init("stx_ctime", 96, 16, \.stx_ctime), .init("stx_mtime", 112, 16, \.stx_mtime),
        .init("stx_rdev_major", 128, 4, \.stx_rdev_major), .init("stx_rdev_minor", 132, 4, \.stx_rdev_minor),
        .init("stx_dev_major", 136, 4, \.stx_dev_major), .init("stx_dev_minor", 140, 4, \.stx_dev_minor),
        .init("stx_mnt_id", 144, 8, \.stx_mnt_id),
        .init("stx_dio_mem_align", 152, 4, \.stx_dio_mem_align),
        .init("stx_dio_offset_align", 156, 4, \.stx_dio_offset_align),
        .padding("__spare3", 160, 96),
    ])
    @inlinable public init(decoding b: UnsafeRawBufferPointer) throws(ABIError) {
        try ABIError.check(b, 256)
        stx_mask = b.abiLoad(0); stx_blksize = b.abiLoad(4); stx_attributes = b.abiLoad(8)
        stx_nlink = b.abiLoad(16); stx_uid = b.abiLoad(20); stx_gid = b.abiLoad(24); stx_mode = b.abiLoad(28)
        stx_ino = b.abiLoad(32); stx_size = b.abiLoad(40); stx_blocks = b.abiLoad(48)
        stx_attributes_mask = b.abiLoad(56)
        stx_atime = StatxTimestamp(embeddedIn: b, at: 64); stx_btime = StatxTimestamp(embeddedIn: b, at: 80)
        stx_ctime = StatxTimestamp(embeddedIn: b, at: 96); stx_mtime = StatxTimestamp(embeddedIn: b, at: 112)
        stx_rdev_major = b.abiLoad(128); stx_rdev_minor = b.abiLoad(132)
        stx_dev_major = b.abiLoad(136); stx_dev_minor = b.abiLoad(140)
        stx_mnt_id = b.abiLoad(144); stx_dio_mem_align = b.abiLoad(152); stx_dio_offset_align = b.abiLoad(156)
    }
    @inlinable public func encode(into b: UnsafeMutableRawBufferPointer) {
        b.abiPrepare(256)
        b.abiStore(stx_mask, 0); b.abiStore(stx_blksize, 4); b.abiStore(stx_attributes, 8)
        b.abiStore(stx_nlink, 16); b.abiStore(stx_uid, 20); b.abiStore(stx_gid, 24); b.abiStore(stx_mode, 28)
        b.abiStore(stx_ino, 32); b.abiStore(stx_size, 40); b.abiStore(stx_blocks, 48)
        b.abiStore(stx_attributes_mask, 56)
        stx_atime.store(embeddedIn: b, at: 64); stx_btime.store(embeddedIn: b, at: 80)
        stx_ctime.store(embeddedIn: b, at: 96); stx_mtime.store(embeddedIn: b, at: 112)
        b.abiStore(stx_rdev_major, 128); b.abiStore(stx_rdev_minor, 132)
        b.abiStore(stx_dev_major, 136); b.abiStore(stx_dev_minor, 140)
        b.abiStore(stx_mnt_id, 144); b.abiStore(stx_dio_mem_align, 152); b.abiStore(stx_dio_offset_align, 156)
    }
}
