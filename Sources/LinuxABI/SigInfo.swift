// siginfo_t as the kernel delivers it (<asm-generic/siginfo.h>, 128 bytes): signo, errno, code, then the
// 32-byte union `_sifields` at offset 16 whose meaning depends on the signal and si_code; the struct is
// padded to 128 bytes (`_si_pad`), and those tail bytes are zero on encode and ignored on decode (no
// kernel layout uses them). The union is kept as raw bytes, like C; the accessors below are the kernel's
// si_* macros (kill, rt, timer, sigchld, sigfault, sigpoll, sigsys), each at the kernel's offset.

public struct SigInfo: ABIStruct {
    public var si_signo: Int32
    public var si_errno: Int32
    public var si_code: Int32
    /// The union `_sifields` (offset 16, 32 bytes). Use the accessors.
    public var _sifields: FixedBytes<32>

    public init(si_signo: Int32 = 0, si_errno: Int32 = 0, si_code: Int32 = 0) {
        self.si_signo = si_signo; self.si_errno = si_errno; self.si_code = si_code; _sifields = FixedBytes()
    }

    // Union members; offsets are relative to the union (struct offset - 16).
    /// _kill/_rt/_sigchld: sending process id.
    public var si_pid: Int32 { get { _sifields.load(0) } set { _sifields.store(newValue, 0) } }
    /// _kill/_rt/_sigchld: sending user id.
    public var si_uid: UInt32 { get { _sifields.load(4) } set { _sifields.store(newValue, 4) } }
    /// _timer: timer id.
    public var si_tid: Int32 { get { _sifields.load(0) } set { _sifields.store(newValue, 0) } }
    /// _timer: overrun count.
    public var si_overrun: Int32 { get { _sifields.load(4) } set { _sifields.store(newValue, 4) } }
    /// _rt/_timer: union sigval (int or pointer; 8 bytes).
    public var si_value: UInt64 { get { _sifields.load(8) } set { _sifields.store(newValue, 8) } }
    /// _rt: sigval.sival_int.
    public var si_int: Int32 { get { _sifields.load(8) } set { _sifields.store(newValue, 8) } }
    /// _sigchld: exit status or signal.
    public var si_status: Int32 { get { _sifields.load(8) } set { _sifields.store(newValue, 8) } }
    /// _sigchld: user time consumed (clock ticks).
    public var si_utime: Int64 { get { _sifields.load(16) } set { _sifields.store(newValue, 16) } }
    /// _sigchld: system time consumed (clock ticks).
    public var si_stime: Int64 { get { _sifields.load(24) } set { _sifields.store(newValue, 24) } }
    /// _sigfault: faulting address.
    public var si_addr: UInt64 { get { _sifields.load(0) } set { _sifields.store(newValue, 0) } }
    /// _sigfault: LSB of the reported address (BUS_MCEERR_*).
    public var si_addr_lsb: Int16 { get { _sifields.load(8) } set { _sifields.store(newValue, 8) } }
    /// _sigfault._addr_bnd: lower bound (SEGV_BNDERR).
    public var si_lower: UInt64 { get { _sifields.load(16) } set { _sifields.store(newValue, 16) } }
    /// _sigfault._addr_bnd: upper bound.
    public var si_upper: UInt64 { get { _sifields.load(24) } set { _sifields.store(newValue, 24) } }
    /// _sigfault._addr_pkey: protection key (SEGV_PKUERR).
    public var si_pkey: UInt32 { get { _sifields.load(16) } set { _sifields.store(newValue, 16) } }
    /// _sigfault._perf: perf event data (TRAP_PERF).
    public var si_perf_data: UInt64 { get { _sifields.load(8) } set { _sifields.store(newValue, 8) } }
    public var si_perf_type: UInt32 { get { _sifields.load(16) } set { _sifields.store(newValue, 16) } }
    public var si_perf_flags: UInt32 { get { _sifields.load(20) } set { _sifields.store(newValue, 20) } }
    /// _sigpoll: band event (POLL_*).
    public var si_band: Int64 { get { _sifields.load(0) } set { _sifields.store(newValue, 0) } }
    /// _sigpoll: file descriptor.
    public var si_fd: Int32 { get { _sifields.load(8) } set { _sifields.store(newValue, 8) } }
    /// _sigsys: address of the system call instruction.
    public var si_call_addr: UInt64 { get { _sifields.load(0) } set { _sifields.store(newValue, 0) } }
    /// _sigsys: system call number.
    public var si_syscall: Int32 { get { _sifields.load(8) } set { _sifields.store(newValue, 8) } }
    /// _sigsys: AUDIT_ARCH_* of the call.
    public var si_arch: UInt32 { get { _sifields.load(12) } set { _sifields.store(newValue, 12) } }

    /// kill(2)/tgkill(2)/SI_USER-style info: sender's pid and uid.
    public static func kill(signo: Int32, code: Int32, pid: Int32, uid: UInt32) -> SigInfo {
        var i = SigInfo(si_signo: signo, si_code: code); i.si_pid = pid; i.si_uid = uid; return i
    }
    /// SIGCHLD info for a child's state change.
    public static func child(code: Int32, pid: Int32, uid: UInt32, status: Int32, utime: Int64, stime: Int64) -> SigInfo {
        var i = SigInfo(si_signo: Signal.SIGCHLD.rawValue, si_code: code)
        i.si_pid = pid; i.si_uid = uid; i.si_status = status; i.si_utime = utime; i.si_stime = stime
        return i
    }
    /// A fault (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP) at `addr`.
    public static func fault(signo: Int32, code: Int32, addr: UInt64) -> SigInfo {
        var i = SigInfo(si_signo: signo, si_code: code); i.si_addr = addr; return i
    }
    /// A POSIX timer expiry (SI_TIMER).
    public static func timer(signo: Int32, timerID: Int32, overrun: Int32, value: UInt64) -> SigInfo {
        var i = SigInfo(si_signo: signo, si_code: SigInfoCode.SI_TIMER); i.si_tid = timerID; i.si_overrun = overrun; i.si_value = value
        return i
    }
    /// SIGPOLL/SIGIO for `fd` with poll band `band`.
    public static func poll(signo: Int32, code: Int32, band: Int64, fd: Int32) -> SigInfo {
        var i = SigInfo(si_signo: signo, si_code: code); i.si_band = band; i.si_fd = fd; return i
    }
    /// SIGSYS from a seccomp filter (SYS_SECCOMP = 1).
    public static func sys(callAddr: UInt64, syscall: Int32, arch: UInt32, errno: Int32 = 0) -> SigInfo {
        var i = SigInfo(si_signo: Signal.SIGSYS.rawValue, si_errno: errno, si_code: SigInfoCode.SYS_SECCOMP)
        i.si_call_addr = callAddr; i.si_syscall = syscall; i.si_arch = arch
        return i
    }

    public static let size = 128
    public static let layout = ABILayout<SigInfo>("siginfo_t", size: 128, [
        .init("si_signo", 0, 4, \.si_signo), .init("si_errno", 4, 4, \.si_errno), .init("si_code", 8, 4, \.si_code),
        .init("_sifields", 16, 32, \._sifields),
        .init("si_pid", 16, 4, \.si_pid), .init("si_uid", 20, 4, \.si_uid),
        .init("si_tid", 16, 4, \.si_tid), .init("si_overrun", 20, 4, \.si_overrun),
        .init("si_value", 24, 8, \.si_value), .init("si_int", 24, 4, \.si_int),
        .init("si_status", 24, 4, \.si_status), .init("si_utime", 32, 8, \.si_utime), .init("si_stime", 40, 8, \.si_stime),
        .init("si_addr", 16, 8, \.si_addr), .init("si_addr_lsb", 24, 2, \.si_addr_lsb),
        .init("si_lower", 32, 8, \.si_lower), .init("si_upper", 40, 8, \.si_upper), .init("si_pkey", 32, 4, \.si_pkey),
        .init("si_perf_data", 24, 8, \.si_perf_data), .init("si_perf_type", 32, 4, \.si_perf_type),
        .init("si_perf_flags", 36, 4, \.si_perf_flags),
        .init("si_band", 16, 8, \.si_band), .init("si_fd", 24, 4, \.si_fd),
        .init("si_call_addr", 16, 8, \.si_call_addr), .init("si_syscall", 24, 4, \.si_syscall),
        .init("si_arch", 28, 4, \.si_arch),
    ])
    @inlinable public init(decoding b: UnsafeRawBufferPointer) throws(ABIError) {
        try ABIError.check(b, 128)
        si_signo = b.abiLoad(0); si_errno = b.abiLoad(4); si_code = b.abiLoad(8)
        _sifields = FixedBytes(loading: b, at: 16)
    }
    @inlinable public func encode(into b: UnsafeMutableRawBufferPointer) {
        b.abiPrepare(128)
        b.abiStore(si_signo, 0); b.abiStore(si_errno, 4); b.abiStore(si_code, 8)
        _sifields.store(into: b, at: 16)
    }
}
