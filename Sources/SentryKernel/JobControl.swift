// Job control: group stop and continue (SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU, SIGCONT), the stop and
// continue reports wait4/waitid give with WUNTRACED/WSTOPPED and WCONTINUED, SIGCHLD with
// CLD_STOPPED/CLD_CONTINUED to the parent, and orphaned process groups. A stopped group's tasks park
// on the kernel condition before returning to application code (their stubs stay ptrace-stopped).
import Glibc

/// Per-thread-group job-control state (ThreadGroup.job).
struct JobState {
    /// The group is stopped (all its tasks park before running application code).
    var stopped = false
    /// Stop signal not yet reported to a waiting parent (WUNTRACED), 0 if none.
    var stopReport: Int32 = 0
    /// A continue not yet reported to a waiting parent (WCONTINUED).
    var continueReport = false
}

let stopSignalsMask = sigbit(SIGSTOP) | sigbit(SIGTSTP) | sigbit(SIGTTIN) | sigbit(SIGTTOU)

extension Kernel {
    /// Signal generation rules for job control and ignored signals (Linux's prepare_signal).
    /// Returns false when the signal is discarded at generation. `blocked` is the target's mask.
    func prepareSignal(_ tg: ThreadGroup, _ sig: Int32, blocked: UInt64) -> Bool {
        if sig == SIGCONT {
            // SIGCONT discards pending stop signals and resumes a stopped group, whatever its handler.
            discardPending(tg, stopSignalsMask)
            if tg.job.stopped { continueGroup(tg) }
        } else if sigbit(sig) & stopSignalsMask != 0 {
            discardPending(tg, sigbit(SIGCONT))
        }
        let act = tg.handlers.actions[Int(sig)]
        if blocked & sigbit(sig) != 0 { return true }   // blocked signals stay pending even if ignored
        if act.handler == 1 { return false }
        if act.handler == 0 {
            switch defaultAction(sig) {
            case .ignore: return false
            case .stop:
                // Terminal stop signals to an orphaned process group are discarded (POSIX).
                if sig != SIGSTOP && isOrphanedPgrp(tg.pgid) { return false }
                return true
            default: return true
            }
        }
        return true
    }

    private func discardPending(_ tg: ThreadGroup, _ mask: UInt64) {
        tg.pending &= ~mask
        for t in tg.threads { t.pending &= ~mask }
    }

    /// Stops the whole group (default action of a stop signal): report to the parent, kick threads.
    func stopGroup(_ tg: ThreadGroup, _ sig: Int32) {
        if tg.job.stopped || tg.exiting { return }
        tg.job.stopped = true
        tg.job.stopReport = sig
        tg.job.continueReport = false
        notifyParent(tg, code: 5 /* CLD_STOPPED */, status: sig)
        for t in tg.threads { t.kick() }
        broadcast()
    }

    func continueGroup(_ tg: ThreadGroup) {
        tg.job.stopped = false
        tg.job.stopReport = 0
        tg.job.continueReport = true
        notifyParent(tg, code: 6 /* CLD_CONTINUED */, status: SIGCONT)
        broadcast()
    }

    /// SIGCHLD for a stop or continue, unless the parent asked for none (SA_NOCLDSTOP).
    private func notifyParent(_ tg: ThreadGroup, code: Int32, status: Int32) {
        guard let p = tg.parent, !p.zombie else { return }
        if p.handlers.actions[Int(SIGCHLD)].flags & SA_NOCLDSTOP != 0 { return }
        sendSignal(to: p, SigInfo(signo: SIGCHLD, code: code, pid: tg.pid, uid: tg.uid, status: status))
    }

    /// POSIX: a group is orphaned when no member has a parent in another group of the same session.
    func isOrphanedPgrp(_ pgrp: Int32) -> Bool {
        var any = false
        for g in threadGroups.values where g.pgid == pgrp && !g.zombie {
            any = true
            if let p = g.parent, !p.zombie, p.pgid != pgrp, p.sid == g.sid { return false }
        }
        return any
    }
}

extension Task {
    /// Parks this task while its group is stopped (kernel lock held). Returns true if it parked,
    /// so the caller re-checks signals (SIGCONT handler, SIGKILL) before running user code.
    func parkWhileStopped() -> Bool {
        guard tg.job.stopped else { return false }
        while tg.job.stopped && !tg.exiting && !exited && !execKill {
            kernel.waitCond(deadline: nil)
        }
        return true
    }

    /// A child's unreported stop or continue for wait4/waitid, consumed unless `keep` (WNOWAIT).
    /// Returns (child, CLD_STOPPED/CLD_CONTINUED, signal) or nil.
    func takeJobReport(_ cands: [ThreadGroup], stopped: Bool, continued: Bool, keep: Bool) -> (ThreadGroup, Int32, Int32)? {
        for c in cands where !c.zombie {
            if stopped && c.job.stopReport != 0 && c.job.stopped {
                let sig = c.job.stopReport
                if !keep { c.job.stopReport = 0 }
                return (c, 5, sig)
            }
            if continued && c.job.continueReport {
                if !keep { c.job.continueReport = false }
                return (c, 6, SIGCONT)
            }
        }
        return nil
    }
}

extension Kernel {
    /// Job-control consequences of `tg` exiting (kernel lock held, after its children were
    /// reparented): a session leader's controlling terminal is released with SIGHUP to its
    /// foreground group; a process group that this exit orphans and that has stopped members gets
    /// SIGHUP then SIGCONT, so stopped jobs do not linger forever (POSIX).
    func jobControlOnExit(_ tg: ThreadGroup, formerChildren: [ThreadGroup]) {
        if tg.pid == tg.sid, let term = Terminals.controlling(tg) {
            let fg = term.fgPgrp
            term.detach(self)
            signalProcessGroup(fg, SIGHUP)
        }
        var groups: [Int32] = []
        if let p = tg.parent, p.pgid != tg.pgid, p.sid == tg.sid { groups.append(tg.pgid) }
        for c in formerChildren where c.pgid != tg.pgid && c.sid == tg.sid && !groups.contains(c.pgid) {
            groups.append(c.pgid)
        }
        for pg in groups where isOrphanedPgrp(pg) {
            if threadGroups.values.contains(where: { $0.pgid == pg && $0.job.stopped && !$0.zombie }) {
                signalProcessGroup(pg, SIGHUP)
                signalProcessGroup(pg, SIGCONT)
            }
        }
    }
}
