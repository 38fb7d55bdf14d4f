// Targeted wake-ups of blocked tasks. A blocked task sleeps on its own futex word (not on the shared
// kernel condition), so a pipe write wakes the one task reading that pipe instead of every blocked
// task of the sandbox, and the FUTEX_WAKE is issued after the waker releases the kernel lock, so the
// woken thread does not run only to sleep again on the lock its waker still holds (lock convoy).
//
// Who wakes a sleeping task depends on its SleepKind; Kernel.broadcast() still wakes every kind (and
// the kernel condition's waiters), so code that changes state and broadcasts keeps working unchanged:
// - `.any`: `Task.block(deadline:)` without a queue. It may wait for any state, so every targeted
//   wake (WaitQueue.wake) wakes it too, as the old single condition did.
// - `.readiness`: poll/select/epoll (`waitReady`) and blocked inet calls (`block(deadline:net: true)`);
//   woken by the netstack's doorbell and by every targeted wake (they may watch any file). Once the
//   netstack is up they sleep on the socket arena's generation word (a shared futex, `Kernel.netBell`)
//   instead of their own, so the netstack's driver wakes them itself: no Sentry thread between a
//   packet and the task (session 7; before, a waker thread slept on an eventfd doorbell, took the
//   kernel lock and woke every readiness sleeper). All of them share that word: waking one wakes
//   all, which costs nothing more than before (every targeted wake woke every readiness sleeper).
//   Protocol (ArenaDoorbell): the sleeper reads the generation before checking its condition
//   (`Task.netSeen`, kept current by `noteNet()` and after every sleep), announces sleep in the
//   arena, re-reads the generation and sleeps only if it is unchanged; the netstack bumps the
//   generation after a change and FUTEX_WAKEs the word if sleep was announced. A Sentry-side wake
//   bumps the generation under the kernel lock and FUTEX_WAKEs after the unlock.
// - `.targeted`: woken only through its WaitQueue, an explicit `wakeTask` (futex) or broadcast().
// A task's word is bumped under the kernel lock and the sleeper compares it in FUTEX_WAIT against the
// value it read under the lock, so a wake between its unlock and its FUTEX_WAIT is never lost.
import CBulwark
import Glibc
import HostOS

enum SleepKind { case any, readiness, targeted }

/// Tasks waiting for one object's state (a pipe's data or room, a socket's queue).
final class WaitQueue {
    fileprivate(set) var waiters: [Task] = []

    /// Wakes the tasks waiting here and every untargeted sleeper (kernel lock held).
    func wake(_ k: Kernel) {
        for t in waiters { k.wakeTask(t) }
        k.wakeUntargeted()
    }
}

/// Per-task sleep state (a stored property of Task).
struct TaskSleep {
    let word: UnsafeMutablePointer<UInt32> = WakeWords.take()
    var asleep = false
    /// Asleep on the arena's generation word (`Kernel.netBell`) rather than `word`.
    var onNet = false
}

/// Futex words of task sleeps. They are never freed: a FUTEX_WAKE deferred past the kernel lock may
/// still reach the word of a task that has just ended, so the word must stay mapped; an ended task's
/// word goes back to the pool, and its next owner at worst sees one spurious wake-up (every sleeper
/// re-checks its condition).
enum WakeWords {
    private static let lock: UnsafeMutablePointer<pthread_mutex_t> = {
        let p = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        pthread_mutex_init(p, nil)
        return p
    }()
    nonisolated(unsafe) private static var free: [UnsafeMutablePointer<UInt32>] = []

    static func take() -> UnsafeMutablePointer<UInt32> {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        if free.isEmpty {
            let chunk = UnsafeMutablePointer<UInt32>.allocate(capacity: 256)
            chunk.initialize(repeating: 0, count: 256)
            for i in 0..<256 { free.append(chunk + i) }
        }
        return free.removeLast()
    }

    static func give(_ w: UnsafeMutablePointer<UInt32>) {
        pthread_mutex_lock(lock)
        free.append(w)
        pthread_mutex_unlock(lock)
    }
}

/// The kernel's sleepers by kind and the FUTEX_WAKEs to issue once the kernel lock is released.
final class WakeState {
    var any: [Task] = []
    var readiness: [Task] = []
    var targeted: [Task] = []
    static let capacity = 64
    let pending = UnsafeMutablePointer<UnsafeMutablePointer<UInt32>>.allocate(capacity: WakeState.capacity)
    var pendingCount = 0
    /// A FUTEX_WAKE of the arena's generation word is due (a task sleeping there was woken).
    var netPending = false
    /// The netstack's doorbell eventfd, when a write to it is due (NetstackConnection.kick; -1: none):
    /// issued after the unlock, or by the task's run loop after it handed the stub its next command.
    var kickFD: Int32 = -1
    /// No kick since the last take wanted its doorbell at once (each was a small send's; a later urgent
    /// kick clears this even when the doorbell was already due): the task's run loop may let the
    /// platform hold it while the application's next calls come quickly (PlatformStub.run(thenWrite:hold:)).
    var kickHoldable = true

    /// Some wake-up or doorbell write waits for the kernel lock's release.
    var due: Bool { pendingCount != 0 || netPending || kickFD >= 0 }

    /// The due doorbell's eventfd (-1: none), now no longer due: its caller writes it.
    func takeKick() -> Int32 {
        let fd = kickFD
        kickFD = -1
        kickHoldable = true
        return fd
    }
}

extension Kernel {
    /// Wakes `t` if it sleeps on its word (kernel lock held); the futex call waits for the unlock.
    func wakeTask(_ t: Task) {
        guard t.sleep.asleep else { return }
        t.sleep.asleep = false
        if t.sleep.onNet, let bell = netBell {
            // Every sleeper on the shared word wakes (they re-check); one FUTEX_WAKE after the unlock.
            if !wakes.netPending { bell.bump(); wakes.netPending = true }
            return
        }
        bw_wake_bump(t.sleep.word)
        if wakes.pendingCount == WakeState.capacity { flushWakes() }
        wakes.pending[wakes.pendingCount] = t.sleep.word
        wakes.pendingCount += 1
    }

    /// Sleepers that may wait for any state: woken by every targeted wake.
    func wakeUntargeted() {
        for t in wakes.any { wakeTask(t) }
        for t in wakes.readiness { wakeTask(t) }
    }

    func wakeAllSleepers() {
        for t in wakes.any { wakeTask(t) }
        for t in wakes.readiness { wakeTask(t) }
        for t in wakes.targeted { wakeTask(t) }
    }

    /// Issues the deferred wakes now, lock held (before a condition wait releases the lock itself).
    func flushWakes() {
        let n = wakes.pendingCount
        wakes.pendingCount = 0
        for i in 0..<n { bw_wake_futex(wakes.pending[i]) }
        if wakes.netPending { wakes.netPending = false; netBell?.wakeSleepers() }
        let kick = wakes.takeKick()
        if kick >= 0 { try? HostOS.EventFD.signal(kick) }
    }

    /// Releases the kernel lock, then issues the deferred wakes.
    func unlockAndWake() {
        let bell = wakes.netPending ? netBell : nil
        wakes.netPending = false
        let kick = wakes.takeKick()
        unlockAndWakeWords()
        bell?.wakeSleepers()
        if kick >= 0 { try? HostOS.EventFD.signal(kick) }
    }

    private func unlockAndWakeWords() {
        let n = wakes.pendingCount
        if n == 0 {
            pthread_mutex_unlock(&mutex)
            return
        }
        if n == 1 {
            let w = wakes.pending[0]
            wakes.pendingCount = 0
            pthread_mutex_unlock(&mutex)
            bw_wake_futex(w)
            return
        }
        withUnsafeTemporaryAllocation(of: UnsafeMutablePointer<UInt32>.self, capacity: n) { buf in
            for i in 0..<n { buf[i] = wakes.pending[i] }
            wakes.pendingCount = 0
            pthread_mutex_unlock(&mutex)
            for i in 0..<n { bw_wake_futex(buf[i]) }
        }
    }

    fileprivate func addSleeper(_ t: Task, _ kind: SleepKind) {
        switch kind {
        case .any: wakes.any.append(t)
        case .readiness: wakes.readiness.append(t)
        case .targeted: wakes.targeted.append(t)
        }
    }

    fileprivate func removeSleeper(_ t: Task, _ kind: SleepKind) {
        func drop(_ a: inout [Task]) {
            if let i = a.lastIndex(where: { $0 === t }) { a.swapAt(i, a.count - 1); a.removeLast() }
        }
        switch kind {
        case .any: drop(&wakes.any)
        case .readiness: drop(&wakes.readiness)
        case .targeted: drop(&wakes.targeted)
        }
    }
}

extension Task {
    /// Sleeps on this task's word (kernel lock held on entry and exit) until woken or `deadline`
    /// (CLOCK_MONOTONIC). Returns false on timeout. Callers re-check their condition (a wake-up may be
    /// spurious) and `interrupted`.
    @discardableResult
    func sleepOnce(deadline: timespec?, kind: SleepKind, queue: WaitQueue? = nil) -> Bool {
        let k = kernel
        if kind == .readiness, let bell = k.netBell { return sleepOnNet(bell, deadline: deadline) }
        if k.oneWayQueued { NetstackConnection.shared?.ringIfQueued() }
        sleep.asleep = true
        k.addSleeper(self, kind)
        queue?.waiters.append(self)
        // A systrap stub spinning for this task's answer would only take a CPU from the task that
        // will wake us: park it now. (No spin before this sleep: the waker is another task thread,
        // which may be pinned to this thread's CPU; the readiness sleep below spins.)
        stub?.willBlock()
        let w = sleep.word
        let seen = bw_wake_load(w)
        k.unlock()
        let r: Int32
        if var d = deadline { r = bw_wake_wait(w, seen, &d) } else { r = bw_wake_wait(w, seen, nil) }
        // Start waking the parked stub now: its wake-up overlaps the work on the answer.
        stub?.didWake()
        k.lock()
        sleep.asleep = false
        k.removeSleeper(self, kind)
        if let q = queue, let i = q.waiters.lastIndex(where: { $0 === self }) { q.waiters.remove(at: i) }
        return r != -1
    }

    /// The generation of the netstack's doorbell, read before a readiness check (kernel lock held):
    /// a change after it makes the next readiness sleep return at once instead of sleeping.
    @inline(__always) func noteNet() {
        if let bell = kernel.netBell { netSeen = bell.current32 }
    }

    /// A readiness sleep on the arena's generation word (see the protocol at the top). `netSeen` was
    /// read before the caller's last check of its condition, so any change since then is seen.
    private func sleepOnNet(_ bell: ArenaDoorbell, deadline: timespec?) -> Bool {
        let k = kernel
        let seen = netSeen
        let spin = stub?.blockSpinTicks ?? 0
        // Without a spin, announce sleep before anything else (a change since `seen` returns at once).
        if spin == 0 && !bell.prepareToSleep(seen32: seen) {
            netSeen = bell.current32   // read before the caller's re-check
            return true
        }
        if k.oneWayQueued { NetstackConnection.shared?.ringIfQueued() }
        sleep.asleep = true
        sleep.onNet = true
        k.addSleeper(self, .readiness)
        // The stub parks at once, also before a spin (one that spun on through the task's spin cost
        // more CPU than it saved: docs, "Platform: blocking path (session 9)").
        stub?.willBlock()
        k.unlock()
        var woken = true
        // With a spin: watch the generation without announcing sleep, so a netstack change within the
        // spin needs no FUTEX_WAKE (it wakes only announced sleepers); a Sentry-side wake bumps the
        // generation too (wakeTask). Then the usual protocol: announce, re-check, sleep.
        if spin == 0 || bw_spin_while_equal(bell.futexWord.assumingMemoryBound(to: UInt32.self), seen, spin) == 0 {
            if spin == 0 || bell.prepareToSleep(seen32: seen) {
                woken = bell.sleep(seen: seen, deadline: deadline)
            }
        }
        // BULWARK_SYSTRAP_EARLY_WAKE=1: wake the parked stub now, also when the spin saw the change (the
        // stub parked before the spin).
        stub?.didWake()
        k.lock()
        sleep.asleep = false
        sleep.onNet = false
        k.removeSleeper(self, .readiness)
        netSeen = bell.current32
        return woken
    }

    /// Blocks until `queue` is woken (or broadcast), the deadline passes, or a signal arrives.
    /// Returns false if interrupted by a signal.
    func block(deadline: timespec?, on queue: WaitQueue) -> Bool {
        if interrupted { return false }
        counters.voluntary &+= 1
        sleepOnce(deadline: deadline, kind: .targeted, queue: queue)
        return !interrupted
    }

    /// Blocks until a broadcast() (signals, exits, children's state changes all broadcast), the
    /// deadline, or a signal: for waits no object's wake-up concerns (nanosleep, pause, sigsuspend,
    /// wait4), which then sleep through other tasks' pipe and socket traffic.
    func blockUntilBroadcast(deadline: timespec?) -> Bool {
        if interrupted { return false }
        counters.voluntary &+= 1
        sleepOnce(deadline: deadline, kind: .targeted)
        return !interrupted
    }
}
