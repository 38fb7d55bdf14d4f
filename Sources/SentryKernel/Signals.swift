// Signal generation and delivery: pending sets per task and per thread group, default actions, and
// real x86-64 rt_sigframes built on the application stack (restored by rt_sigreturn).
import CBulwark
import Glibc
import SentryMemory
import SentryPlatform

let SA_NOCLDSTOP: UInt64 = 1, SA_SIGINFO: UInt64 = 4, SA_ONSTACK: UInt64 = 0x0800_0000
let SA_RESTART: UInt64 = 0x1000_0000, SA_NODEFER: UInt64 = 0x4000_0000, SA_RESETHAND: UInt64 = 0x8000_0000
let SA_RESTORER: UInt64 = 0x0400_0000
let ERESTARTSYS = 512, ERESTARTNOINTR = 513, ERESTARTNOHAND = 514, ERESTART_RESTARTBLOCK = 516

@inline(__always) func sigbit(_ s: Int32) -> UInt64 { UInt64(1) << UInt64(s - 1) }
let unblockable = sigbit(SIGKILL) | sigbit(SIGSTOP)

enum DefaultAction { case terminate, core, ignore, stop }

func defaultAction(_ sig: Int32) -> DefaultAction {
    switch sig {
    case SIGCHLD, SIGURG, SIGWINCH, SIGCONT: return .ignore
    case SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU: return .stop
    case SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGSEGV, SIGSYS, SIGXCPU, SIGXFSZ: return .core
    default: return .terminate
    }
}

extension Kernel {
    /// Sends a signal to a thread group (kill). Kernel lock held.
    func sendSignal(to tg: ThreadGroup, _ info: SigInfo) {
        let sig = info.signo
        guard sig > 0 && sig <= 64, !tg.zombie, !tg.exiting else { return }
        if sig == SIGKILL {
            killGroup(tg, status: SIGKILL)
            return
        }
        // Job control and ignored-at-generation rules: JobControl.swift.
        if !prepareSignal(tg, sig, blocked: tg.threads.first?.sigmask ?? 0) { return }
        tg.pending |= sigbit(sig)
        if tg.pendingInfo[Int(sig)] == nil { tg.pendingInfo[Int(sig)] = info }
        // Wake a thread that does not block it.
        if let t = tg.threads.first(where: { $0.sigmask & sigbit(sig) == 0 }) { t.kick() }
        broadcast()
    }

    /// Sends a signal to one task (tgkill/tkill).
    func sendSignal(to task: Task, _ info: SigInfo) {
        let sig = info.signo
        guard sig > 0 && sig <= 64, !task.exited else { return }
        if sig == SIGKILL { killGroup(task.tg, status: SIGKILL); return }
        if !prepareSignal(task.tg, sig, blocked: task.sigmask) { return }
        task.pending |= sigbit(sig)
        if task.pendingInfo[Int(sig)] == nil { task.pendingInfo[Int(sig)] = info }
        task.kick()
    }

    /// Makes the whole group exit with `status` (a wait status).
    func killGroup(_ tg: ThreadGroup, status: Int32) {
        if tg.exiting { return }
        tg.exiting = true
        tg.waitStatus = status
        for t in tg.threads { t.kick() }
        broadcast()
    }
}

extension Task {
    /// Dequeues and acts on pending unblocked signals, stacking one handler frame per signal as
    /// Linux does before returning to user mode. Kernel lock held.
    func deliverSignals() {
        while true {
            if tg.exiting || exited { return }
            let ready = (pending | tg.pending) & ~sigmask
            if ready == 0 {
                if let m = savedMask { sigmask = m; savedMask = nil }
                if syscallRestartable { fixRestart(handlerFlags: nil) }
                syscallRestartable = false
                return
            }
            // Lowest-numbered first, with synchronous faults preferred.
            let sig = Int32(ready.trailingZeroBitCount + 1)
            let bit = sigbit(sig)
            var info: SigInfo
            if pending & bit != 0 {
                pending &= ~bit
                info = pendingInfo[Int(sig)] ?? SigInfo(signo: sig)
                pendingInfo[Int(sig)] = nil
            } else {
                tg.pending &= ~bit
                info = tg.pendingInfo[Int(sig)] ?? SigInfo(signo: sig)
                tg.pendingInfo[Int(sig)] = nil
            }
            let act = tg.handlers.actions[Int(sig)]
            if act.handler == 1 { continue }
            if act.handler == 0 {
                switch defaultAction(sig) {
                case .ignore: continue
                case .stop: kernel.stopGroup(tg, sig); return   // JobControl.swift
                case .terminate: kernel.killGroup(tg, status: sig); return
                case .core: kernel.killGroup(tg, status: sig | 0x80); return
                }
            }
            if setupFrame(sig: sig, info: info, act: act) {
                if act.flags & SA_RESETHAND != 0 { tg.handlers.actions[Int(sig)] = SigAction() }
                // Like Linux, keep going: every other deliverable signal gets a frame stacked on top
                // (its handler runs first), with the mask the first handler installed.
                continue
            }
            // Could not write the frame: the task dies with SIGSEGV.
            kernel.killGroup(tg, status: SIGSEGV | 0x80)
            return
        }
    }

    /// Adjusts a syscall result for restart before a handler frame is built.
    func fixRestart(handlerFlags: UInt64?) {
        var r = regs
        let ret = Int(Int64(bitPattern: r.rax))
        guard ret == -ERESTARTSYS || ret == -ERESTARTNOINTR || ret == -ERESTARTNOHAND || ret == -ERESTART_RESTARTBLOCK else { return }
        var restart: Bool
        if let flags = handlerFlags {
            restart = ret == -ERESTARTNOINTR || (ret == -ERESTARTSYS && flags & SA_RESTART != 0)
        } else {
            restart = true
        }
        if restart {
            r.rax = r.orig_rax
            r.rip -= 2
        } else {
            r.rax = UInt64(bitPattern: Int64(-Int(EINTR)))
        }
        regs = r
    }

    private func setupFrame(sig: Int32, info: SigInfo, act: SigAction) -> Bool {
        if syscallRestartable { fixRestart(handlerFlags: act.flags) }
        syscallRestartable = false
        let r = regs
        var sp = r.rsp
        let onAlt = altStack.flags & 2 == 0 && altStack.size > 0 && r.rsp > altStack.sp && r.rsp <= altStack.sp + altStack.size
        if act.flags & SA_ONSTACK != 0 && altStack.flags & 2 == 0 && altStack.size > 0 && !onAlt {
            sp = altStack.sp + altStack.size
        } else {
            sp -= 128   // red zone
        }
        var fp = [UInt8](repeating: 0, count: 512)
        _ = fp.withUnsafeMutableBytes { bw_getfpregs(Int(stub.pid), $0.baseAddress) }
        sp -= 512
        sp &= ~UInt64(63)
        let fpAddr = sp
        let frameSize: UInt64 = 440
        sp -= frameSize
        sp = ((sp + 8) & ~UInt64(15)) - 8
        // Layout from LinuxABI (SignalFrameCodec.swift).
        let f = encodeSigFrame(r, info, restorer: act.restorer, fpAddr: fpAddr, mask: sigmask, onAlt: onAlt)
        let ok1 = fp.withUnsafeBytes { mm.copyOut(fpAddr, $0.baseAddress!, 512) }
        let ok2 = f.withUnsafeBytes { mm.copyOut(sp, $0.baseAddress!, $0.count) }
        guard ok1 && ok2 else { return false }
        var n = r
        n.rsp = sp
        n.rip = act.handler
        n.rdi = UInt64(info.signo)
        n.rsi = sp + 312
        n.rdx = sp + 8
        n.rax = 0
        n.eflags &= ~UInt64(0x400)   // clear DF
        regs = n
        var newMask = sigmask | act.mask
        if act.flags & SA_NODEFER == 0 { newMask |= sigbit(sig) }
        sigmask = newMask
        if let m = savedMask {
            // rt_sigsuspend & co.: the frame must restore the pre-suspend mask.
            _ = mm.write(sp + 304, m)
            savedMask = nil
        }
        sigmask &= ~unblockable
        return true
    }

    /// rt_sigreturn: restores registers, mask and FP state from the frame at rsp-8.
    func sigreturn() -> Int {
        let frame = regs.rsp - 8
        guard let bytes = mm.readBytes(frame, 440), let f = decodeSigFrame(bytes) else {
            kernel.killGroup(tg, status: SIGSEGV | 0x80)
            return 0
        }
        let sc = f.uc.uc_mcontext
        var r = regs
        r.r8 = sc.r8; r.r9 = sc.r9; r.r10 = sc.r10; r.r11 = sc.r11
        r.r12 = sc.r12; r.r13 = sc.r13; r.r14 = sc.r14; r.r15 = sc.r15
        r.rdi = sc.rdi; r.rsi = sc.rsi; r.rbp = sc.rbp; r.rbx = sc.rbx
        r.rdx = sc.rdx; r.rax = sc.rax; r.rcx = sc.rcx; r.rsp = sc.rsp
        r.rip = sc.rip
        r.eflags = (r.eflags & ~UInt64(0x40dd5)) | (sc.eflags & 0x40dd5)
        r.orig_rax = UInt64.max
        regs = r
        sigmask = f.uc.uc_sigmask.bits & ~unblockable
        if sc.fpstate != 0, let fp = mm.readBytes(sc.fpstate, 512) {
            _ = fp.withUnsafeBytes { bw_setfpregs(Int(stub.pid), $0.baseAddress) }
        }
        // uc_stack: restore the alternate stack settings.
        let st = f.uc.uc_stack
        if st.ss_flags & 2 == 0 { altStack = (st.ss_sp, st.ss_flags & ~1, st.ss_size) }
        return Int(Int64(bitPattern: r.rax))
    }
}
