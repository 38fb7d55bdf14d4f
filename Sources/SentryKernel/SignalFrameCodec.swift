// The x86-64 rt_sigframe the Sentry pushes for a handler and reads back in rt_sigreturn, built from
// LinuxABI's tested layouts (RTSigFrame, UContext, SigContext, SigInfo) instead of hand-placed
// offsets. uc_flags carries UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS like Linux for 64-bit tasks (no
// UC_FP_XSTATE: the frame holds the 512-byte FXSAVE image only, without an XSAVE extension).
import Glibc
import LinuxABI
import SentryPlatform

let UC_SIGCONTEXT_SS: UInt64 = 2, UC_STRICT_RESTORE_SS: UInt64 = 4

extension Task {
    /// The frame's bytes for a handler of `info.signo` interrupting registers `r`; `fpAddr` is where
    /// the FXSAVE image was stored, `mask` the signal mask to restore, `onAlt` whether `r.rsp` was on
    /// the alternate stack.
    func encodeSigFrame(_ r: Registers, _ info: SigInfo, restorer: UInt64, fpAddr: UInt64, mask: UInt64, onAlt: Bool) -> [UInt8] {
        var f = RTSigFrame()
        f.pretcode = restorer
        f.uc.uc_flags = UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS
        f.uc.uc_stack = SignalStack(ss_sp: altStack.sp, ss_flags: altStack.flags | (onAlt ? 1 : 0), ss_size: altStack.size)
        var sc = SigContext()
        sc.r8 = r.r8; sc.r9 = r.r9; sc.r10 = r.r10; sc.r11 = r.r11
        sc.r12 = r.r12; sc.r13 = r.r13; sc.r14 = r.r14; sc.r15 = r.r15
        sc.rdi = r.rdi; sc.rsi = r.rsi; sc.rbp = r.rbp; sc.rbx = r.rbx
        sc.rdx = r.rdx; sc.rax = r.rax; sc.rcx = r.rcx; sc.rsp = r.rsp
        sc.rip = r.rip; sc.eflags = r.eflags
        sc.cs = UInt16(truncatingIfNeeded: r.cs)
        sc.ss = UInt16(truncatingIfNeeded: r.ss)
        sc.trapno = info.signo == SIGSEGV ? 14 : 0
        sc.oldmask = mask
        sc.cr2 = info.addr
        sc.fpstate = fpAddr
        f.uc.uc_mcontext = sc
        f.uc.uc_sigmask = SigSet(bits: mask)
        var si = LinuxABI.SigInfo(si_signo: info.signo, si_code: info.code)
        if info.signo == SIGSEGV || info.signo == SIGBUS || info.signo == SIGFPE || info.signo == SIGILL {
            si.si_addr = info.addr
        } else {
            si.si_pid = info.pid
            si.si_uid = info.uid
            if info.signo == SIGCHLD { si.si_status = info.status }
        }
        f.info = si
        var bytes = [UInt8](repeating: 0, count: RTSigFrame.size)
        bytes.withUnsafeMutableBytes { f.encode(into: $0) }
        return bytes
    }

    /// Decodes a frame read back from the guest stack (guest-controlled bytes: checked by LinuxABI).
    func decodeSigFrame(_ bytes: [UInt8]) -> RTSigFrame? {
        bytes.withUnsafeBytes { b -> RTSigFrame? in try? RTSigFrame(decoding: b) }
    }
}
