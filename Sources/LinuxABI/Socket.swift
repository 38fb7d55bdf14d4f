// Socket structs: sockaddr_in (<linux/in.h>), sockaddr_in6 (<linux/in6.h>), sockaddr_un (<linux/un.h>),
// sockaddr_nl (<linux/netlink.h>), and the user-space msghdr, cmsghdr and ucred (the kernel's
// user_msghdr has the same layout as <sys/socket.h>'s msghdr on x86-64).
//
// Ports, IPv4 addresses and the IPv6 flow label are big-endian in memory; their Swift values are host
// numbers (port 80 is 80, 127.0.0.1 is 0x7f00_0001).

/// Address families used in sa_family.
public enum AddressFamily {
    public static let unix: UInt16 = 1
    public static let inet: UInt16 = 2
    public static let netlink: UInt16 = 16
    public static let inet6: UInt16 = 10
}

/// struct sockaddr_in (16 bytes).
public struct SockAddrIn: ABIStruct {
    public var sin_family: UInt16
    public var sin_port: UInt16
    public var sin_addr: UInt32
    public init(sin_family: UInt16 = AddressFamily.inet, sin_port: UInt16 = 0, sin_addr: UInt32 = 0) {
        self.sin_family = sin_family; self.sin_port = sin_port; self.sin_addr = sin_addr
    }

    public static let size = 16
    public static let layout = ABILayout<SockAddrIn>("struct sockaddr_in", size: 16, [
        .init("sin_family", 0, 2, \.sin_family), .init("sin_port", 2, 2, \.sin_port, byteOrder: .big),
        .init("sin_addr", 4, 4, \.sin_addr, byteOrder: .big), .padding("__pad", 8, 8),
    ])
    @inlinable public init(decoding b: UnsafeRawBufferPointer) throws(ABIError) {
        try ABIError.check(b, 16)
        sin_family = b.abiLoad(0); sin_port = b.abiLoadBigEndian(2); sin_addr = b.abiLoadBigEndian(4)
    }
    @inlinable public func encode(into b: UnsafeMutableRawBufferPointer) {
        b.abiPrepare(16); b.abiStore(sin_family, 0); b.abiStoreBigEndian(sin_port, 2); b.abiStoreBigEndian(sin_addr, 4)
    }
}

/// struct sockaddr_in6 (28 bytes).
public struct SockAddrIn6: ABIStruct {
    public var sin6_family: UInt16
    public var sin6_port: UInt16
    public var sin6_flowinfo: UInt32
    /// The 16 address bytes in network order.
    public var sin6_addr: FixedBytes<16>
    public var sin6_scope_id: UInt32
    public init(sin6_family: UInt16 = AddressFamily.inet6, sin6_port: UInt16 = 0, sin6_flowinfo: UInt32 = 0,
                sin6_addr: FixedBytes<16> = FixedBytes(), sin6_scope_id: UInt32 = 0) {
        self.sin6_family = sin6_family; self.sin6_port = sin6_port; self.sin6_flowinfo = sin6_flowinfo
        self.sin6_addr = sin6_addr; self.sin6_scope_id = sin6_scope_id
    }

    public static let size = 28
    public static let layout = ABILayout<SockAddrIn6>("struct sockaddr_in6", size: 28, [
        .init("sin6_family", 0, 2, \.sin6_family), .init("sin6_port", 2, 2, \.sin6_port, byteOrder: .big),
        .init("sin6_flowinfo", 4, 4, \.sin6_flowinfo, byteOrder: .big), .init("sin6_addr", 8, 16, \.sin6_addr),
        .init("sin6_scope_id", 24, 4, \.sin6_scope_id),
    ])
    @inlinable public init(decoding b: UnsafeRawBufferPointer) throws(ABIError) {
        try ABIError.check(b, 28)
        sin6_family = b.abiLoad(0); sin6_port = b.abiLoadBigEndian(2); sin6_flowinfo = b.abiLoadBigEndian(4)
        sin6_addr = FixedBytes(loading: b, at: 8); sin6_scope_id = b.abiLoad(24)
    }
    @inlinable public func encode(into b: UnsafeMutableRawBufferPointer) {
        b.abiPrepare(28)
        b.abiStore(sin6_family, 0); b.abiStoreBigEndian(sin6_port, 2); b.abiStoreBigEndian(sin6_flowinfo, 4)
        sin6_addr.store(into: b, at: 8); b.abiStore(sin6_scope_id, 24)
    }
}

/// struct sockaddr_un (110 bytes). Guests pass shorter addresses (addrlen): decoding reads what is
/// there (at least the family) and leaves the rest of sun_path zero.
public struct SockAddrUn: ABIStruct {
    public static let pathCapacity = 108
    public var sun_family: UInt16
    public var sun_path: FixedBytes<108>
    public init(sun_family: UInt16 = AddressFamily.unix, sun_path: FixedBytes<108> = FixedBytes()) {
        self.sun_family = sun_family; self.sun_path = sun_path
    }

    /// A path address (cut to 108 bytes; like Linux, a full 108-byte path has no NUL).
    public init(path: some Collection<UInt8>) {
        self.init(sun_family: AddressFamily.unix, sun_path: FixedBytes(path))
    }

    /// An abstract-namespace address starts with a NUL byte in sun_path.
    public var isAbstract: Bool { sun_path[0] == 0 }

    /// The name the guest meant, given the addrlen it passed (as Linux reads it): for an abstract address
    /// every byte after the leading NUL up to addrlen (NULs included); for a path, the bytes up to the
    /// first NUL or addrlen. Empty for addrlen <= 2 (an unnamed socket).
    public func name(addressLength: Int) -> [UInt8] {
        let n = max(0, min(addressLength - 2, SockAddrUn.pathCapacity))
        if n == 0 { return [] }
        if isAbstract { return (1..<n).map { sun_path[$0] } }
        var end = 0
        while end < n, sun_path[end] != 0 { end += 1 }
        return (0..<end).map { sun_path[$0] }
    }

    /// The addrlen Linux reports for this address (getsockname/accept): family + path + NUL for a path,
    /// family + the abstract name's given length otherwise (pass it as `abstractLength`).
    public func addressLength(abstractLength: Int? = nil) -> Int {
        if isAbstract { return 2 + 1 + (abstractLength ?? 0) }
        var end = 0
        while end < SockAddrUn.pathCapacity, sun_path[end] != 0 { end += 1 }
        return 2 + end + (end < SockAddrUn.pathCapacity ? 1 : 0)
    }

    public static let size = 110
    public static let minimumSize = 2
    public static let layout = ABILayout<SockAddrUn>("struct sockaddr_un", size: 110, [
        .init("sun_family", 0, 2, \.sun_family), .init("sun_path", 2, 108, \.sun_path),
    ])
    @inlinable public init(decoding b: UnsafeRawBufferPointer) throws(ABIError) {
        try ABIError.check(b, 2)
        sun_family = b.abiLoad(0)
        sun_path = FixedBytes()
        for i in 0..<min(b.count - 2, 108) { sun_path[i] = b[2 + i] }
    }
    @inlinable public func encode(into b: UnsafeMutableRawBufferPointer) {
        b.abiPrepare(110); b.abiStore(sun_family, 0); sun_path.store(into: b, at: 2)
    }
}

/// struct sockaddr_nl (12 bytes).
public struct SockAddrNl: ABIStruct {
    public var nl_family: UInt16
    public var nl_pid: UInt32
    public var nl_groups: UInt32
    public init(nl_family: UInt16 = AddressFamily.netlink, nl_pid: UInt32 = 0, nl_groups: UInt32 = 0) {
        self.nl_family = nl_family; self.nl_pid = nl_pid; self.nl_groups = nl_groups
    }

    public static let size = 12
    public static let layout = ABILayout<SockAddrNl>("struct sockaddr_nl", size: 12, [
        .init("nl_family", 0, 2, \.nl_family), .padding("nl_pad", 2, 2),
        .init("nl_pid", 4, 4, \.nl_pid), .init("nl_groups", 8, 4, \.nl_groups),
    ])
    @inlinable public init(decoding b: UnsafeRawBufferPointer) throws(ABIError) {
        try ABIError.check(b, 12)
        nl_family = b.abiLoad(0); nl_pid = b.abiLoad(4); nl_groups = b.abiLoad(8)
    }
    @inlinable public func encode(into b: UnsafeMutableRawBufferPointer) {
        b.abiPrepare(12); b.abiStore(nl_family, 0); b.abiStore(nl_pid, 4); b.abiStore(nl_groups, 8)
    }
}

/// struct msghdr (user_msghdr): sendmsg/recvmsg (56 bytes). Pointers are guest addresses.
public struct MsgHdr: ABIStruct {
    public var msg_name: UInt64 = 0
    public var msg_namelen: Int32 = 0
    public var msg_iov: UInt64 = 0
    public var msg_iovlen: UInt64 = 0
    public var msg_control: UInt64 = 0
    public var msg_controllen: UInt64 = 0
    public var msg_flags: UInt32 = 0
    public init() {}

    public static let size = 56
    public static let layout = ABILayout<MsgHdr>("struct msghdr", size: 56, [
        .init("msg_name", 0, 8, \.msg_name), .init("msg_namelen", 8, 4, \.msg_namelen),
        .init("msg_iov", 16, 8, \.msg_iov), .init("msg_iovlen", 24, 8, \.msg_iovlen),
        .init("msg_control", 32, 8, \.msg_control), .init("msg_controllen", 40, 8, \.msg_controllen),
        .init("msg_flags", 48, 4, \.msg_flags),
    ])
    @inlinable public init(decoding b: UnsafeRawBufferPointer) throws(ABIError) {
        try ABIError.check(b, 56)
        msg_name = b.abiLoad(0); msg_namelen = b.abiLoad(8); msg_iov = b.abiLoad(16); msg_iovlen = b.abiLoad(24)
        msg_control = b.abiLoad(32); msg_controllen = b.abiLoad(40); msg_flags = b.abiLoad(48)
    }
    @inlinable public func encode(into b: UnsafeMutableRawBufferPointer) {
        b.abiPrepare(56)
        b.abiStore(msg_name, 0); b.abiStore(msg_namelen, 8); b.abiStore(msg_iov, 16); b.abiStore(msg_iovlen, 24)
        b.abiStore(msg_control, 32); b.abiStore(msg_controllen, 40); b.abiStore(msg_flags, 48)
    }
}

/// struct cmsghdr: a control message header (16 bytes), followed by data aligned to 8 bytes.
public struct CMsgHdr: ABIStruct {
    public var cmsg_len: UInt64
    public var cmsg_level: Int32
    public var cmsg_type: Int32
    public init(cmsg_len: UInt64 = 0, cmsg_level: Int32 = 0, cmsg_type: Int32 = 0) {
        self.cmsg_len = cmsg_len; self.cmsg_level = cmsg_level; self.cmsg_type = cmsg_type
    }

    /// CMSG_ALIGN: control messages are aligned to sizeof(long).
    @inlinable public static func align(_ length: Int) -> Int { (length + 7) & ~7 }
    /// CMSG_LEN: cmsg_len for `dataLength` bytes of data.
    @inlinable public static func length(dataLength: Int) -> Int { size + dataLength }
    /// CMSG_SPACE: bytes one message with `dataLength` bytes of data takes in the control buffer.
    @inlinable public static func space(dataLength: Int) -> Int { size + align(dataLength) }

    public static let size = 16
    public static let layout = ABILayout<CMsgHdr>("struct cmsghdr", size: 16, [
        .init("cmsg_len", 0, 8, \.cmsg_len), .init("cmsg_level", 8, 4, \.cmsg_level),
        .init("cmsg_type", 12, 4, \.cmsg_type),
    ])
    @inlinable public init(decoding b: UnsafeRawBufferPointer) throws(ABIError) {
        try ABIError.check(b, 16)
        cmsg_len = b.abiLoad(0); cmsg_level = b.abiLoad(8); cmsg_type = b.abiLoad(12)
    }
    @inlinable public func encode(into b: UnsafeMutableRawBufferPointer) {
        b.abiPrepare(16); b.abiStore(cmsg_len, 0); b.abiStore(cmsg_level, 8); b.abiStore(cmsg_type, 12)
    }
}

/// struct ucred: SCM_CREDENTIALS and SO_PEERCRED (12 bytes).
public struct UCred: ABIStruct {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32
    public init(pid: Int32 = 0, uid: UInt32 = 0, gid: UInt32 = 0) { self.pid = pid; self.uid = uid; self.gid = gid }

    public static let size = 12
    public static let layout = ABILayout<UCred>("struct ucred", size: 12, [
        .init("pid", 0, 4, \.pid), .init("uid", 4, 4, \.uid), .init("gid", 8, 4, \.gid),
    ])
    @inlinable public init(decoding b: UnsafeRawBufferPointer) throws(ABIError) {
        try ABIError.check(b, 12)
        pid = b.abiLoad(0); uid = b.abiLoad(4); gid = b.abiLoad(8)
    }
    @inlinable public func encode(into b: UnsafeMutableRawBufferPointer) {
        b.abiPrepare(12); b.abiStore(pid, 0); b.abiStore(uid, 4); b.abiStore(gid, 8)
    }
}
