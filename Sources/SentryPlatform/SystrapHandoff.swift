// How a systrap task thread and its stub hand control to each other. Two placements:
// - split: the stub runs on another CPU than the task thread, and both sides spin (a bounded time,
//   `pause` in the loop) on the mailbox before sleeping in FUTEX_WAIT. A round trip then costs two
//   cache-line transfers instead of two context switches (the futex floor), but only while both
//   sides really run: a spin that ends in sleep costs a cross-CPU wake-up, which on a loaded VM is far
//   dearer (~100 us and more) than a same-CPU switch.
// - same: both on one CPU, no spinning (spinning on one CPU only delays the peer).
// The policy starts split when the Sentry may use two CPUs and watches every hand-off: more than a few
// sleeps in a window of 64 (load, or an application that computes long between system calls) falls
// back to same-CPU at once, for a back-off period that doubles while split keeps failing, then tries
// again. The verdict is shared: a new stub (a new process) starts in the mode the last one chose, so
// short-lived processes on a loaded machine do not each pay a few cross-CPU wake-ups to find out.
import CBulwark
@preconcurrency import Glibc

struct HandoffPolicy {
    enum Mode: Equatable { case split, same }

    /// Spin budget per side in microseconds (BULWARK_SYSTRAP_SPIN_US; 0 turns split placement off).
    static let spinMicros: UInt64 = spinKnob("BULWARK_SYSTRAP_SPIN_US", default: 50)
    /// A spin budget in microseconds from the environment variable `name` (at most 1000), else `default`.
    private static func spinKnob(_ name: String, default value: UInt64) -> UInt64 {
        guard let v = getenv(name), let n = UInt64(String(cString: v)) else { return value }
        return min(n, 1000)
    }
    /// Preemption-aware spinning (BULWARK_SYSTRAP_PREEMPT_US; 0: off): a spin (the stub's, the task
    /// thread's for an event, the readiness spin) that sees a TSC gap larger than this between two of
    /// its iterations was descheduled, i.e. another thread wanted its CPU, and sleeps at once instead of
    /// burning the CPU it just got back. Interrupts on the 2-vCPU VM leave gaps of 1-6 us, so 8 when on.
    /// Such sleeps are not misses (BW_HANDOFF_PREEMPTED, BW_HANDOFF_STUB_PREEMPTED): `record` ignores them.
    /// Off by default: with 8 only 0.1-0.2% of round trips gave up a spin, and redis -c 20 measured the
    /// same req/s and CPU per request (docs, "Platform: preemption-aware spinning (session 11)").
    static let preemptMicros: UInt64 = spinKnob("BULWARK_SYSTRAP_PREEMPT_US", default: 0)
    /// BULWARK_SYSTRAP_HANDOFF=split|same pins the mode (measurements); anything else: adaptive.
    static let forced: Mode? = {
        guard let v = getenv("BULWARK_SYSTRAP_HANDOFF") else { return nil }
        switch String(cString: v) {
        case "split": return .split
        case "same": return .same
        default: return nil
        }
    }()
    /// The stub's own spin budget (BULWARK_SYSTRAP_STUB_SPIN_US; default: the same as the task thread's).
    static let stubSpinMicros: UInt64 = spinKnob("BULWARK_SYSTRAP_STUB_SPIN_US", default: spinMicros)
    /// The task thread's spin for the event on the round trip after a park (BULWARK_SYSTRAP_PARKED_SPIN_US;
    /// default: the same as the task thread's). The parked stub has to be woken first (a cross-CPU
    /// futex wake-up, 8-32 us on the 2-vCPU VM), which the task thread would spin through.
    static let parkedSpinMicros: UInt64 = spinKnob("BULWARK_SYSTRAP_PARKED_SPIN_US", default: spinMicros)
    /// How long a task about to block on the netstack (readiness sleep) spins on the arena's generation
    /// first, in split mode (BULWARK_SYSTRAP_BLOCK_SPIN_US; 0: sleep at once). Default 20: redis -c 20
    /// at load 4-5 used ~7% less sandbox CPU per request (docs, "Platform: blocking path (session 9)").
    static let blockSpinMicros: UInt64 = spinKnob("BULWARK_SYSTRAP_BLOCK_SPIN_US", default: 20)
    /// didWake wakes a parked stub as soon as its task is woken (BULWARK_SYSTRAP_EARLY_WAKE=1). Off by
    /// default: at load 4-6 it saved context switches (unix ping-pong 9.0 -> 7.6 per round trip) but
    /// cost ~12% more CPU (the early stub spins while the task works) and no measurable wall time.
    /// Session 11 (redis -c 20, quiet window): 58.0k req/s and 23.1 us/req against 62.6k and 21.1 off.
    static let earlyWake: Bool = {
        if let v = getenv("BULWARK_SYSTRAP_EARLY_WAKE") { return String(cString: v) == "1" }
        return false
    }()
    /// How long a retried split must hold before the back-off resets (BULWARK_SYSTRAP_RETRY_HOLD_MS;
    /// default 0: one good window resets it, the session 3 rule). Not measured to help on a quiet
    /// machine yet, so it is a knob for the quiet run, not the default.
    static let defaultRetryHoldNs: Int64 = {
        if let v = getenv("BULWARK_SYSTRAP_RETRY_HOLD_MS"), let n = Int64(String(cString: v)) { return min(max(n, 0), 60_000) * 1_000_000 }
        return 0
    }()
    static let window = 64
    /// Misses tolerated per window before split falls back: 3 for a young stub, `maxMissesLongLived`
    /// once it has made `longLived` round trips. A long-running server (redis at load ~3) fell back so
    /// often with 3 that split pinned did better; short-lived processes (fork, exec) got slower with 8.
    static let maxMissesPerWindow = 3
    /// BULWARK_SYSTRAP_MAX_MISSES (default 8; 3 restores the session 3 rule for every stub).
    static let maxMissesLongLived: Int = {
        if let v = getenv("BULWARK_SYSTRAP_MAX_MISSES"), let n = Int(String(cString: v)) { return min(max(n, 0), window) }
        return 8
    }()
    /// Round trips after which a stub counts as long-lived (BULWARK_SYSTRAP_LONG_LIVED, default 500:
    /// past a fork or exec child's few hundred calls, but inside a server's start-up, so a connection storm
    /// right after start-up is met with the long-lived tolerance; 20000 fell back to same-CPU mode there).
    static let longLived: Int = {
        if let v = getenv("BULWARK_SYSTRAP_LONG_LIVED"), let n = Int(String(cString: v)) { return min(max(n, 0), 1_000_000) }
        return 500
    }()
    static let minBackoffNs: Int64 = 50_000_000
    static let maxBackoffNs: Int64 = 2_000_000_000

    private(set) var mode: Mode
    private var handoffs = 0
    private var misses = 0
    private var backoffNs = HandoffPolicy.minBackoffNs
    private var retryAt: Int64 = 0
    /// The current split period is a retry after a fallback (a failure doubles the back-off).
    private var retrying = false
    private var splitSince: Int64 = 0
    /// Round trips recorded so far (counted up to `longLived`).
    private var lifetime = 0
    var retryHoldNs = HandoffPolicy.defaultRetryHoldNs

    /// Process-wide verdict: until this time (monotonic ns) new stubs start on their task's CPU, and the
    /// current back-off. Plain words written by task threads; a stale read only delays a switch.
    nonisolated(unsafe) static var sameUntil: Int64 = 0
    nonisolated(unsafe) static var sharedBackoff: Int64 = HandoffPolicy.minBackoffNs

    init(splitPossible: Bool, now: Int64 = 0) {
        guard splitPossible && HandoffPolicy.spinMicros > 0 else { mode = .same; return }
        if let f = HandoffPolicy.forced { mode = f; return }
        let until = HandoffPolicy.sameUntil
        if now < until {
            mode = .same
            retryAt = until
            backoffNs = HandoffPolicy.sharedBackoff
        } else {
            mode = .split
        }
    }

    /// Records one hand-off's flags (BW_HANDOFF_*) at time `now()`; returns the new mode when it changes.
    mutating func record(_ flags: Int32, now: () -> Int64) -> Mode? {
        handoffs += 1
        if lifetime < HandoffPolicy.longLived { lifetime += 1 }
        if flags & Int32(BW_HANDOFF_SLEPT | BW_HANDOFF_STUB_SLEPT) != 0 { misses += 1 }
        if HandoffPolicy.forced != nil { return nil }
        let limit = lifetime < HandoffPolicy.longLived ? HandoffPolicy.maxMissesPerWindow : HandoffPolicy.maxMissesLongLived
        if mode == .split && misses > limit {
            // Too many sleeps already: fall back now, not at the end of the window.
            handoffs = 0; misses = 0
            if retrying { backoffNs = min(backoffNs * 2, HandoffPolicy.maxBackoffNs) }
            retrying = false
            let t = now()
            retryAt = t + backoffNs
            HandoffPolicy.sameUntil = retryAt
            HandoffPolicy.sharedBackoff = backoffNs
            mode = .same
            return .same
        }
        guard handoffs >= HandoffPolicy.window else { return nil }
        defer { handoffs = 0; misses = 0 }
        switch mode {
        case .split:
            // A retry has succeeded once split held for `retryHoldNs` (default 0: one good window,
            // the session 3 rule). A longer hold keeps the back-off growing on a saturated machine,
            // where a window (a few ms) often passes before the next burst of misses.
            if retrying && now() - splitSince >= retryHoldNs {
                retrying = false
                backoffNs = HandoffPolicy.minBackoffNs
                HandoffPolicy.sharedBackoff = backoffNs
            }
            return nil
        case .same:
            let t = now()
            guard retryAt != 0, t >= retryAt else { return nil }
            retrying = true
            splitSince = t
            mode = .split
            return .split
        }
    }

    /// How long a netstack doorbell due after a system call may be held while the application goes on
    /// making calls (BULWARK_SYSTRAP_KICK_HOLD_US; 0: written right after the command, as in session 10).
    /// While held, the netstack (pinned to the task thread's CPU) does not preempt the task thread in
    /// the middle of a burst of calls, and one wake-up serves the whole burst. Default 20: redis -c 20
    /// with the client unplaced won 16 of 20 interleaved rounds, +7% (docs, "Lead: the stub's waits, cross-CPU
    /// wake-ups, holding the netstack's doorbell (session 12)").
    static let kickHoldMicros: UInt64 = spinKnob("BULWARK_SYSTRAP_KICK_HOLD_US", default: 20)
    static func monotonicNs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    /// The CPUs the Sentry may use: read by Platform.setUp on the main thread, before any task thread
    /// pins itself to one.
    nonisolated(unsafe) static var cpus: [Int32] = []

    static func setUp() {
        var buf = [Int32](repeating: 0, count: 1024)
        let n = Int(bw_allowed_cpus(&buf, 1024))
        cpus = Array(buf.prefix(n))
        if cpus.count > 1 && spinMicros > 0 {
            _ = ticksPerMicro
            bw_systrap_set_preempt_ticks(preemptTicks)
        }
    }

    /// The CPU a split stub of a task thread on `cpu` runs on: the next allowed one.
    static func peer(of cpu: Int32) -> Int32? {
        guard cpus.count > 1 else { return nil }
        let i = cpus.firstIndex(of: cpu) ?? 0
        return cpus[(i + 1) % cpus.count]
    }

    static let ticksPerMicro: UInt64 = bw_systrap_tsc_per_us()
    static var spinTicks: UInt64 { spinMicros * ticksPerMicro }
    static var stubSpinTicks: UInt64 { stubSpinMicros * ticksPerMicro }
    static var parkedSpinTicks: UInt64 { parkedSpinMicros * ticksPerMicro }
    static var blockSpinTicks: UInt64 { blockSpinMicros * ticksPerMicro }
    static var preemptTicks: UInt64 { preemptMicros * ticksPerMicro }
    static let kickHoldTicks: UInt64 = kickHoldMicros * ticksPerMicro
}

/// Per-stub hand-off counts, kept and printed (every 100000 round trips and when the stub goes) only
/// with BULWARK_SENTRY_DEBUG or BULWARK_SYSTRAP_STATS=1. With the times, two histograms (log2 buckets
/// of microseconds): the application's gap (command posted -> next event: the stub's wake-up, the
/// application's own work and the signal path; what the task thread spins for) apart for round trips
/// after a park, and the Sentry's work (event -> next command: what the stub spins for).
struct HandoffStats: CustomStringConvertible {
    var calls = 0, splitCalls = 0, slept = 0, stubSlept = 0, parked = 0, earlyWakes = 0, kicksHeld = 0
    /// Spins given up after a preemption: the task thread's (event), the stub's (command; the stub's
    /// own count), all task threads' readiness spins.
    var preempted = 0, stubPreempted: UInt32 = 0, readinessPreempted: UInt64 = 0
    /// The stub's own count of its waits for a command: <1 1 2 4 8 16+ us of spinning, slept.
    var stubWaits: [UInt64] = []
    static let buckets = 10
    var appGap = [Int](repeating: 0, count: HandoffStats.buckets)
    var appGapParked = [Int](repeating: 0, count: HandoffStats.buckets)
    var sentryWork = [Int](repeating: 0, count: HandoffStats.buckets)
    static let enabled = getenv("BULWARK_SENTRY_DEBUG") != nil || getenv("BULWARK_SYSTRAP_STATS") != nil

    mutating func count(_ flags: Int32, split: Bool) {
        calls += 1
        if split { splitCalls += 1 }
        if flags & Int32(BW_HANDOFF_SLEPT) != 0 { slept += 1 }
        if flags & Int32(BW_HANDOFF_STUB_SLEPT) != 0 { stubSlept += 1 }
        if flags & Int32(BW_HANDOFF_PARKED) != 0 { parked += 1 }
        if flags & Int32(BW_HANDOFF_PREEMPTED) != 0 { preempted += 1 }
        if flags & Int32(BW_HANDOFF_KICK_DUE) != 0 { kicksHeld += 1 }
    }
    /// Bucket i holds [2^(i-1), 2^i) microseconds (bucket 0: below 1 us; the last: everything above).
    static func bucket(_ ns: Int64) -> Int {
        let us = max(ns, 0) / 1000
        if us == 0 { return 0 }
        return min(64 - us.leadingZeroBitCount, buckets - 1)
    }
    mutating func time(_ flags: Int32, gapNs: Int64, workNs: Int64?) {
        // After a park the time since the last event includes the task's sleep: not the Sentry's work.
        if flags & Int32(BW_HANDOFF_PARKED) != 0 { appGapParked[HandoffStats.bucket(gapNs)] += 1; return }
        appGap[HandoffStats.bucket(gapNs)] += 1
        if let w = workNs { sentryWork[HandoffStats.bucket(w)] += 1 }
    }
    var description: String {
        func h(_ a: [Int]) -> String { a.map(String.init).joined(separator: " ") }
        return "\(calls) round trips, \(splitCalls) split, task thread slept \(slept), stub woken within its budget \(stubSlept), after a park \(parked), netstack doorbells held past a call \(kicksHeld), woken early \(earlyWakes), preempted spins: task thread \(preempted) stub \(stubPreempted) readiness (all) \(readinessPreempted); us buckets <1 1 2 4 8 16 32 64 128 256+: gap [\(h(appGap))] after a park [\(h(appGapParked))] sentry work [\(h(sentryWork))]; stub's waits <1 1 2 4 8 16+ us, slept: [\(stubWaits.map(String.init).joined(separator: " "))]"
    }
}
