// struct clone_args for clone3(2) (<linux/sched.h>): 88 bytes in Linux 5.7+. Older callers pass 64
// (CLONE_ARGS_SIZE_VER0) or 80 (VER1) bytes: decoding accepts 64...88 and leaves the missing fields zero.
// (Linux also accepts larger structs whose extra bytes are zero; that check is the handler's.)

public struct CloneArgs: ABIStruct {
    public var flags: UInt64 = 0
    public var pidfd: UInt64 = 0
    public var child_tid: UInt64 = 0
    public var parent_tid: UInt64 = 0
    public var exit_signal: UInt64 = 0
    public var stack: UInt64 = 0
    public var stack_size: UInt64 = 0
    public var tls: UInt64 = 0
    public var set_tid: UInt64 = 0
    public var set_tid_size: UInt64 = 0
    public var cgroup: UInt64 = 0
    public init() {}

    public static let size = 88
    /// CLONE_ARGS_SIZE_VER0.
    public static let minimumSize = 64
    public static let layout = ABILayout<CloneArgs>("struct clone_args", size: 88, [
        .init("flags", 0, 8, \.flags), .init("pidfd", 8, 8, \.pidfd), .init("child_tid", 16, 8, \.child_tid),
        .init("parent_tid", 24, 8, \.parent_tid), .init("exit_signal", 32, 8, \.exit_signal),
        .init("stack", 40, 8, \.stack), .init("stack_size", 48, 8, \.stack_size), .init("tls", 56, 8, \.tls),
        .init("set_tid", 64, 8, \.set_tid), .init("set_tid_size", 72, 8, \.set_tid_size),
        .init("cgroup", 80, 8, \.cgroup),
    ])
    @inlinable public init(decoding b: UnsafeRawBufferPointer) throws(ABIError) {
        try ABIError.check(b, 64)
        flags = b.abiLoad(0); pidfd = b.abiLoad(8); child_tid = b.abiLoad(16); parent_tid = b.abiLoad(24)
        exit_signal = b.abiLoad(32); stack = b.abiLoad(40); stack_size = b.abiLoad(48); tls = b.abiLoad(56)
        if b.count >= 80 { set_tid = b.abiLoad(64); set_tid_size = b.abiLoad(72) }
        if b.count >= 88 { cgroup = b.abiLoad(80) }
    }
    @inlinable public func encode(into b: UnsafeMutableRawBufferPointer) {
        b.abiPrepare(88)
        b.abiStore(flags, 0); b.abiStore(pidfd, 8); b.abiStore(child_tid, 16); b.abiStore(parent_tid, 24)
        b.abiStore(exit_signal, 32); b.abiStore(stack, 40); b.abiStore(stack_size, 48); b.abiStore(tls, 56)
        b.abiStore(set_tid, 64); b.abiStore(set_tid_size, 72); b.abiStore(cgroup, 80)
    }
}
