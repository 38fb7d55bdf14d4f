// What the kernel pushes on the guest stack to deliver a signal on x86-64, as <asm/sigcontext.h> and
// <asm/ucontext.h> define it: struct sigcontext (the saved registers, 256 bytes), struct _fpstate_64 (the
// FXSAVE image, 512 bytes, whose last 48 bytes carry the XSAVE marker) and struct ucontext (304 bytes).
// The Sentry builds the rt_sigframe from these and reads them back in rt_sigreturn.

/// struct sigcontext (x86-64): general registers at signal time, 256 bytes.
public struct SigContext: ABIStruct {
    public var r8: UInt64 = 0, r9: UInt64 = 0, r10: UInt64 = 0, r11: UInt64 = 0
    public var r12: UInt64 = 0, r13: UInt64 = 0, r14: UInt64 = 0, r15: UInt64 = 0
    public var rdi: UInt64 = 0, rsi: UInt64 = 0, rbp: UInt64 = 0, rbx: UInt64 = 0
    public var rdx: UInt64 = 0, rax: UInt64 = 0, rcx: UInt64 = 0, rsp: UInt64 = 0
    public var rip: UInt64 = 0, eflags: UInt64 = 0
    public var cs: UInt16 = 0, gs: UInt16 = 0, fs: UInt16 = 0
    /// ss when uc_flags has UC_SIGCONTEXT_SS (the C union's other name is __pad0).
    public var ss: UInt16 = 0
    public var err: UInt64 = 0, trapno: UInt64 = 0, oldmask: UInt64 = 0, cr2: UInt64 = 0
    /// Guest address of the _fpstate_64 (zero when there is no FPU context).
    public var fpstate: UInt64 = 0
    public init() {}

    public static let size = 256
    public static let layout = ABILayout<SigContext>("struct sigcontext", size: 256, [
        .init("r8", 0, 8, \.r8), .init("r9", 8, 8, \.r9), .init("r10", 16, 8, \.r10), .init("r11", 24, 8, \.r11),
        .init("r12", 32, 8, \.r12), .init("r13", 40, 8, \.r13), .init("r14", 48, 8, \.r14), .init("r15", 56, 8, \.r15),
        .init("rdi", 64, 8, \.rdi), .init("rsi", 72, 8, \.rsi), .init("rbp", 80, 8, \.rbp), .init("rbx", 88, 8, \.rbx),
        .init("rdx", 96, 8, \.rdx), .init("rax", 104, 8, \.rax), .init("rcx", 112, 8, \.rcx), .init("rsp", 120, 8, \.rsp),
        .init("rip", 128, 8, \.rip), .init("eflags", 136, 8, \.eflags),
        .init("cs", 144, 2, \.cs), .init("gs", 146, 2, \.gs), .init("fs", 148, 2, \.fs), .init("ss", 150, 2, \.ss),
        .init("err", 152, 8, \.err), .init("trapno", 160, 8, \.trapno), .init("oldmask", 168, 8, \.oldmask),
        .init("cr2", 176, 8, \.cr2), .init("fpstate", 184, 8, \.fpstate), .padding("reserved1", 192, 64),
    ])
    @inlinable public init(decoding b: UnsafeRawBufferPointer) throws(ABIError) {
        try ABIError.check(b, 256)
        self.init(embeddedIn: b, at: 0)
    }
    @inlinable @inline(__always) init(embeddedIn b: UnsafeRawBufferPointer, at o: Int) {
        r8 = b.abiLoad(o); r9 = b.abiLoad(o + 8); r10 = b.abiLoad(o + 16); r11 = b.abiLoad(o + 24)
        r12 = b.abiLoad(o + 32); r13 = b.abiLoad(o + 40); r14 = b.abiLoad(o + 48); r15 = b.abiLoad(o + 56)
        rdi = b.abiLoad(o + 64); rsi = b.abiLoad(o + 72); rbp = b.abiLoad(o + 80); rbx = b.abiLoad(o + 88)
        rdx = b.abiLoad(o + 96); rax = b.abiLoad(o + 104); rcx = b.abiLoad(o + 112); rsp = b.abiLoad(o + 120)
        rip = b.abiLoad(o + 128); eflags = b.abiLoad(o + 136)
        cs = b.abiLoad(o + 144); gs = b.abiLoad(o + 146); fs = b.abiLoad(o + 148); ss = b.abiLoad(o + 150)
        err = b.abiLoad(o + 152); trapno = b.abiLoad(o + 160); oldmask = b.abiLoad(o + 168); cr2 = b.abiLoad(o + 176)
        fpstate = b.abiLoad(o + 184)
    }
    @inlinable public func encode(into b: UnsafeMutableRawBufferPointer) {
        b.abiPrepare(256)
        store(embeddedIn: b, at: 0)
    }
    @inlinable @inline(__always) func store(embeddedIn b: UnsafeMutableRawBufferPointer, at o: Int) {
        b.abiStore(r8, o); b.abiStore(r9, o + 8); b.abiStore(r10, o + 16); b.abiStore(r11, o + 24)
        b.abiStore(r12, o + 32); b.abiStore(r13, o + 40); b.abiStore(r14, o + 48); b.abiStore(r15, o + 56)
        b.abiStore(rdi, o + 64); b.abiStore(rsi, o + 72); b.abiStore(rbp, o + 80); b.abiStore(rbx, o + 88)
        b.abiStore(rdx, o + 96); b.abiStore(rax, o + 104); b.abiStore(rcx, o + 112); b.abiStore(rsp, o + 120)
        b.abiStore(rip, o + 128); b.abiStore(eflags, o + 136)
        b.abiStore(cs, o + 144); b.abiStore(gs, o + 146); b.abiStore(fs, o + 148); b.abiStore(ss, o + 150)
        b.abiStore(err, o + 152); b.abiStore(trapno, o + 160); b.abiStore(oldmask, o + 168); b.abiStore(cr2, o + 176)
        b.abiStore(fpstate, o + 184)
    }
}

/// struct _fpstate_64: the legacy FXSAVE area (512 bytes). When the frame also carries XSAVE state, the
/// last 48 bytes (`sw_reserved`, struct _fpx_sw_bytes) start with FP_XSTATE_MAGIC1.
public struct FPState: ABIStruct {
    public var cwd: UInt16 = 0
    public var swd: UInt16 = 0
    public var twd: UInt16 = 0
    public var fop: UInt16 = 0
    public var rip: UInt64 = 0
    public var rdp: UInt64 = 0
    public var mxcsr: UInt32 = 0
    public var mxcsr_mask: UInt32 = 0
    /// 8 x87 registers, 16 bytes each.
    public var st_space = FixedBytes<128>()
    /// 16 XMM registers, 16 bytes each.
    public var xmm_space = FixedBytes<256>()
    /// struct _fpx_sw_bytes (magic1, extended_size, xfeatures, xstate_size, padding).
    public var sw_reserved = FixedBytes<48>()
    public init() {}

    /// FP_XSTATE_MAGIC1: sw_reserved.magic1 when an XSAVE area follows.
    public static let xstateMagic1: UInt32 = 0x4650_5853

    public static let size = 512
    public static let layout = ABILayout<FPState>("struct _fpstate_64", size: 512, [
        .init("cwd", 0, 2, \.cwd), .init("swd", 2, 2, \.swd), .init("twd", 4, 2, \.twd), .init("fop", 6, 2, \.fop),
        .init("rip", 8, 8, \.rip), .init("rdp", 16, 8, \.rdp),
        .init("mxcsr", 24, 4, \.mxcsr), .init("mxcsr_mask", 28, 4, \.mxcsr_mask),
        .init("st_space", 32, 128, \.st_space), .init("xmm_space", 160, 256, \.xmm_space),
        .padding("reserved2", 416, 48), .init("sw_reserved", 464, 48, \.sw_reserved),
    ])
    @inlinable public init(decoding b: UnsafeRawBufferPointer) throws(ABIError) {
        try ABIError.check(b, 512)
        cwd = b.abiLoad(0); swd = b.abiLoad(2); twd = b.abiLoad(4); fop = b.abiLoad(6)
        rip = b.abiLoad(8); rdp = b.abiLoad(16); mxcsr = b.abiLoad(24); mxcsr_mask = b.abiLoad(28)
        st_space = FixedBytes(loading: b, at: 32); xmm_space = FixedBytes(loading: b, at: 160)
        sw_reserved = FixedBytes(loading: b, at: 464)
    }
    @inlinable public func encode(into b: UnsafeMutableRawBufferPointer) {
        b.abiPrepare(512)
        b.abiStore(cwd, 0); b.abiStore(swd, 2); b.abiStore(twd, 4); b.abiStore(fop, 6)
        b.abiStore(rip, 8); b.abiStore(rdp, 16); b.abiStore(mxcsr, 24); b.abiStore(mxcsr_mask, 28)
        st_space.store(into: b, at: 32); xmm_space.store(into: b, at: 160); sw_reserved.store(into: b, at: 464)
    }
}

/// struct ucontext (x86-64, <asm-generic/ucontext.h>): 304 bytes. uc_flags holds UC_FP_XSTATE (1),
/// UC_SIGCONTEXT_SS (2), UC_STRICT_RESTORE_SS (4).
public struct UContext: ABIStruct {
    public var uc_flags: UInt64 = 0
    public var uc_link: UInt64 = 0
    public var uc_stack = SignalStack()
    public var uc_mcontext = SigContext()
    public var uc_sigmask = SigSet()
    public init() {}

    public static let size = 304
    public static let layout = ABILayout<UContext>("struct ucontext", size: 304, [
        .init("uc_flags", 0, 8, \.uc_flags), .init("uc_link", 8, 8, \.uc_link), .init("uc_stack", 16, 24, \.uc_stack),
        .init("uc_mcontext", 40, 256, \.uc_mcontext), .init("uc_sigmask", 296, 8, \.uc_sigmask),
    ])
    @inlinable public init(decoding b: UnsafeRawBufferPointer) throws(ABIError) {
        try ABIError.check(b, 304)
        uc_flags = b.abiLoad(0); uc_link = b.abiLoad(8)
        uc_stack = SignalStack(ss_sp: b.abiLoad(16), ss_flags: b.abiLoad(24), ss_size: b.abiLoad(32))
        uc_mcontext = SigContext(embeddedIn: b, at: 40)
        uc_sigmask = SigSet(bits: b.abiLoad(296))
    }
    @inlinable public func encode(into b: UnsafeMutableRawBufferPointer) {
        b.abiPrepare(304)
        b.abiStore(uc_flags, 0); b.abiStore(uc_link, 8)
        b.abiStore(uc_stack.ss_sp, 16); b.abiStore(uc_stack.ss_flags, 24); b.abiStore(uc_stack.ss_size, 32)
        uc_mcontext.store(embeddedIn: b, at: 40)
        b.abiStore(uc_sigmask.bits, 296)
    }
}

/// struct rt_sigframe (x86-64, the kernel's arch/x86/include/asm/sigframe.h; not in the uapi headers):
/// what rsp points at when a handler starts: the return address (sa_restorer), the ucontext, the siginfo;
/// 440 bytes, with the FPU state stored separately (uc_mcontext.fpstate points at it). The handler gets
/// rdi = signo, rsi = &info (frame + 312), rdx = &uc (frame + 8).
public struct RTSigFrame: ABIStruct {
    public var pretcode: UInt64 = 0
    public var uc = UContext()
    public var info = SigInfo()
    public init() {}

    /// Offsets of uc and info inside the frame (for the handler's rdx and rsi).
    public static let ucOffset = 8
    public static let infoOffset = 312

    public static let size = 440
    public static let layout = ABILayout<RTSigFrame>("struct rt_sigframe", size: 440, [
        .init("pretcode", 0, 8, \.pretcode), .init("uc", 8, 304, \.uc), .init("info", 312, 128, \.info),
    ])
    @inlinable public init(decoding b: UnsafeRawBufferPointer) throws(ABIError) {
        try ABIError.check(b, 440)
        pretcode = b.abiLoad(0)
        uc = try UContext(decoding: b, at: 8)
        info = try SigInfo(decoding: b, at: 312)
    }
    @inlinable public func encode(into b: UnsafeMutableRawBufferPointer) {
        b.abiPrepare(440)
        b.abiStore(pretcode, 0)
        uc.encode(into: b, at: 8)
        info.encode(into: b, at: 312)
    }
}
