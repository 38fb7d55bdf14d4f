// Signal-driven I/O (O_ASYNC): FIOASYNC, F_SETOWN/F_GETOWN, F_SETOWN_EX/F_GETOWN_EX, F_SETSIG/F_GETSIG,
// and the signal itself. An owner is kept per open file description, as in Linux (dup'd fds share it).
//
// Linux raises SIGIO from the wake-up path of the file. The Sentry's files have no wake-up hook, only
// readiness that is checked on demand, so a registered file's readiness is checked after every system
// call while at least one O_ASYNC file has an owner: input or output room caused by a task is signalled
// when that task's call returns; input caused outside any call (the netstack, host stdio) is noticed at
// the next call of any task. With no registration the cost is one emptiness test per call.
import Glibc

let F_SETOWN_: Int32 = 8, F_GETOWN_: Int32 = 9, F_SETSIG_: Int32 = 10, F_GETSIG_: Int32 = 11
let F_SETOWN_EX_: Int32 = 15, F_GETOWN_EX_: Int32 = 16
private let FIOASYNC_: UInt64 = 0x5452

/// The files that have an owner for signal-driven I/O (guarded by the kernel lock).
final class AsyncIOTable {
    struct Registration {
        weak var file: FileDescription?
        /// > 0: a process (or a thread when `thread`); < 0: a process group; 0: nobody.
        var owner: Int32
        var thread: Bool
        /// 0 = SIGIO with si_code SI_KERNEL; otherwise this signal with POLL_IN/POLL_OUT codes.
        var signal: Int32
        var edge = EdgeState()
    }

    private(set) var registrations: [ObjectIdentifier: Registration] = [:]
    /// Files with O_ASYNC set and an owner: the only ones worth checking after a call.
    private(set) var armedCount = 0

    @inline(__always) var active: Bool { armedCount != 0 }

    func registration(_ f: FileDescription) -> Registration? { registrations[ObjectIdentifier(f)] }

    func update(_ f: FileDescription, _ change: (inout Registration) -> Void) {
        let key = ObjectIdentifier(f)
        var r = registrations[key] ?? Registration(file: f, owner: 0, thread: false, signal: 0)
        change(&r)
        // Linux does not signal readiness that existed before O_ASYNC was set: start from it.
        _ = r.edge.fires(f, f.poll(POLLIN_ | POLLOUT_))
        registrations[key] = r
        recount()
    }

    /// After F_SETFL or FIOASYNC changed O_ASYNC.
    func flagsChanged(_ f: FileDescription) {
        if registrations[ObjectIdentifier(f)] != nil { update(f) { _ in } }
    }

    private func recount() {
        armedCount = registrations.values.reduce(0) { n, r in
            guard let f = r.file else { return n }
            return n + (r.owner != 0 && f.statusFlags & O_ASYNC != 0 ? 1 : 0)
        }
    }

    /// Signals the owners of armed files that gained input or output room. Kernel lock held.
    func check(_ kernel: Kernel) {
        var dropped = false
        for (key, var r) in registrations {
            guard let f = r.file else { registrations[key] = nil; dropped = true; continue }
            guard r.owner != 0, f.statusFlags & O_ASYNC != 0 else { continue }
            let ready = f.poll(POLLIN_ | POLLOUT_)
            let fired = r.edge.fires(f, ready)
            registrations[key] = r
            guard fired else { continue }
            let sig = r.signal == 0 ? SIGIO : r.signal
            let code: Int32 = r.signal == 0 ? 0x80 /* SI_KERNEL */ : (ready & POLLIN_ != 0 ? 1 /* POLL_IN */ : 2 /* POLL_OUT */)
            let info = SigInfo(signo: sig, code: code)
            if r.owner > 0 {
                if r.thread, let t = kernel.tasks[r.owner] { kernel.sendSignal(to: t, info) }
                else if let tg = kernel.threadGroups[r.owner] { kernel.sendSignal(to: tg, info) }
            } else {
                for tg in kernel.threadGroups.values where tg.pgid == -r.owner && !tg.zombie {
                    kernel.sendSignal(to: tg, info)
                }
            }
        }
        if dropped { recount() }
    }
}

extension Task {
    /// The fcntl commands of signal-driven I/O; nil when `cmd` is not one of them.
    func asyncIOFcntl(_ f: FileDescription, _ cmd: Int32, _ arg: UInt64) -> Int? {
        let table = kernel.asyncIO
        switch cmd {
        case F_GETOWN_:
            guard let r = table.registration(f) else { return 0 }
            return Int(r.owner)
        case F_SETOWN_:
            let who = Int32(truncatingIfNeeded: Int64(bitPattern: arg))
            if who > 0 && kernel.threadGroups[who] == nil { return errno(ESRCH) }
            if who < 0 && !kernel.threadGroups.values.contains(where: { $0.pgid == -who }) { return errno(ESRCH) }
            table.update(f) { $0.owner = who; $0.thread = false }
            return 0
        case F_GETOWN_EX_:
            let r = table.registration(f)
            var type: Int32 = 1 /* F_OWNER_PID */, pid: Int32 = 0
            if let r, r.owner != 0 {
                type = r.thread ? 0 /* F_OWNER_TID */ : (r.owner < 0 ? 2 /* F_OWNER_PGRP */ : 1)
                pid = abs(r.owner)
            }
            let pair: (Int32, Int32) = (type, pid)
            return mm.write(arg, pair) ? 0 : errno(EFAULT)
        case F_SETOWN_EX_:
            guard let pair = mm.read(arg, as: (Int32, Int32).self) else { return errno(EFAULT) }
            let (type, pid) = pair
            guard pid >= 0 else { return errno(EINVAL) }
            switch type {
            case 0:
                if pid != 0 && kernel.tasks[pid] == nil { return errno(ESRCH) }
                table.update(f) { $0.owner = pid; $0.thread = true }
            case 1:
                if pid != 0 && kernel.threadGroups[pid] == nil { return errno(ESRCH) }
                table.update(f) { $0.owner = pid; $0.thread = false }
            case 2:
                if pid != 0 && !kernel.threadGroups.values.contains(where: { $0.pgid == pid }) { return errno(ESRCH) }
                table.update(f) { $0.owner = -pid; $0.thread = false }
            default:
                return errno(EINVAL)
            }
            return 0
        case F_GETSIG_:
            return Int(table.registration(f)?.signal ?? 0)
        case F_SETSIG_:
            guard arg <= 64 else { return errno(EINVAL) }
            table.update(f) { $0.signal = Int32(arg) }
            return 0
        default:
            return nil
        }
    }

    /// FIOASYNC: sets or clears O_ASYNC like F_SETFL does. nil when `cmd` is not FIOASYNC.
    func asyncIOIoctl(_ f: FileDescription, _ cmd: UInt64, _ arg: UInt64) -> Int? {
        guard cmd == FIOASYNC_ else { return nil }
        guard let v = mm.read(arg, as: Int32.self) else { return errno(EFAULT) }
        if v != 0 { f.statusFlags |= O_ASYNC } else { f.statusFlags &= ~O_ASYNC }
        kernel.asyncIO.flagsChanged(f)
        return 0
    }
}
