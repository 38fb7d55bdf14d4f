// futex(2): wait queues keyed by the memory-file offset of the futex word, so private and shared
// futexes (and all stubs of one address space) agree on identity.
import Glibc
import SentryMemory

final class FutexWaiter {
    let task: Task
    let bitset: UInt32
    var key: Int
    var woken = false
    init(task: Task, key: Int, bitset: UInt32) { self.task = task; self.key = key; self.bitset = bitset }
}

extension Kernel {
    nonisolated(unsafe) static var futexQueues: [Int: [FutexWaiter]] = [:]
}

func futexWake(task: Task, addr: UInt64, count: Int, bitset: UInt32) -> Int {
    guard let key = task.mm.translate(addr, needProt: 0) else { return -Int(EFAULT) }
    guard var q = Kernel.futexQueues[key] else { return 0 }
    var woken = 0
    var i = 0
    while i < q.count && woken < count {
        if q[i].bitset & bitset != 0 {
            q[i].woken = true
            task.kernel.wakeTask(q[i].task)   // that waiter only (WaitQueue.swift)
            q.remove(at: i)
            woken += 1
        } else { i += 1 }
    }
    Kernel.futexQueues[key] = q.isEmpty ? nil : q
    return woken
}

extension Task {
    func sysFutex(_ addr: UInt64, _ op: Int32, _ val: UInt32, _ timeoutAddr: UInt64, _ addr2: UInt64, _ val3: UInt32) -> Int {
        let cmd = op & 0x7f
        let realtime = op & 256 != 0
        guard addr & 3 == 0 else { return errno(EINVAL) }
        switch cmd {
        case 0, 9: // FUTEX_WAIT, FUTEX_WAIT_BITSET
            let bitset = cmd == 0 ? UInt32.max : val3
            if bitset == 0 { return errno(EINVAL) }
            var deadline: timespec? = nil
            if timeoutAddr != 0 {
                guard let ts = mm.read(timeoutAddr, as: timespec.self) else { return errno(EFAULT) }
                guard ts.tv_sec >= 0, ts.tv_nsec >= 0, ts.tv_nsec < 1_000_000_000 else { return errno(EINVAL) }
                if cmd == 0 {
                    deadline = addNanos(monotonicNow(), ts.tv_sec * 1_000_000_000 + ts.tv_nsec)
                } else if realtime {
                    var now = timespec(); clock_gettime(CLOCK_REALTIME, &now)
                    let rel = (ts.tv_sec - now.tv_sec) * 1_000_000_000 + (ts.tv_nsec - now.tv_nsec)
                    deadline = addNanos(monotonicNow(), max(0, rel))
                } else {
                    deadline = ts
                }
            }
            guard let key = mm.translate(addr, needProt: PROT_R), let cur = mm.read(addr, as: UInt32.self) else { return errno(EFAULT) }
            if cur != val { return errno(EAGAIN) }
            let w = FutexWaiter(task: self, key: key, bitset: bitset)
            Kernel.futexQueues[key, default: []].append(w)
            defer {
                if !w.woken, var q = Kernel.futexQueues[w.key] {
                    q.removeAll { $0 === w }
                    Kernel.futexQueues[w.key] = q.isEmpty ? nil : q
                }
            }
            while !w.woken {
                if interrupted { return -ERESTARTSYS }
                if let d = deadline, !lessThan(monotonicNow(), d) { return errno(ETIMEDOUT) }
                sleepOnce(deadline: deadline, kind: .targeted)   // woken by futexWake, signals, broadcast
            }
            return 0
        case 1, 10: // FUTEX_WAKE, FUTEX_WAKE_BITSET
            let bitset = cmd == 1 ? UInt32.max : val3
            if bitset == 0 { return errno(EINVAL) }
            return futexWake(task: self, addr: addr, count: Int(val), bitset: bitset)
        case 3, 4: // FUTEX_REQUEUE, FUTEX_CMP_REQUEUE
            guard let key = mm.translate(addr, needProt: 0), let key2 = mm.translate(addr2, needProt: 0) else { return errno(EFAULT) }
            if cmd == 4 {
                guard let cur = mm.read(addr, as: UInt32.self) else { return errno(EFAULT) }
                if cur != val3 { return errno(EAGAIN) }
            }
            let requeueMax = Int(truncatingIfNeeded: timeoutAddr)
            var q = Kernel.futexQueues[key] ?? []
            var woken = 0, moved = 0
            var rest: [FutexWaiter] = []
            for w in q {
                if woken < Int(val) { w.woken = true; kernel.wakeTask(w.task); woken += 1 }
                else if moved < requeueMax { w.key = key2; Kernel.futexQueues[key2, default: []].append(w); moved += 1 }
                else { rest.append(w) }
            }
            q = rest
            Kernel.futexQueues[key] = q.isEmpty ? nil : q
            return woken + moved
        default:
            return errno(ENOSYS)
        }
    }
}
