// The systrap hand-off policy: split placement (spinning on two CPUs) while spins succeed, a fall-back
// to one CPU when they keep failing, retries after a back-off that doubles while split keeps failing.
import CBulwark
@testable import SentryPlatform
import Testing

@Suite("Systrap hand-off policy", .serialized)
struct HandoffPolicyTests {
    /// Records one window of hand-offs, `misses` of them slept; returns the last mode change.
    func window(_ p: inout HandoffPolicy, misses: Int, at t: Int64) -> HandoffPolicy.Mode? {
        var change: HandoffPolicy.Mode? = nil
        for i in 0..<HandoffPolicy.window {
            if let m = p.record(i < misses ? 1 : 0, now: { t }) { change = m }
        }
        return change
    }

    @Test(.enabled(if: HandoffPolicy.spinMicros > 0 && HandoffPolicy.forced == nil))
    func fallsBackToOneCPUAndRetriesWithGrowingBackoff() {
        HandoffPolicy.sameUntil = 0
        defer { HandoffPolicy.sameUntil = 0 }
        var p = HandoffPolicy(splitPossible: true)
        #expect(p.mode == .split)
        let backoff = HandoffPolicy.minBackoffNs
        #expect(window(&p, misses: 0, at: 0) == nil)
        #expect(window(&p, misses: HandoffPolicy.maxMissesPerWindow, at: 0) == nil, "a few misses are tolerated")
        #expect(window(&p, misses: 20, at: 0) == .same)
        #expect(window(&p, misses: 0, at: backoff - 1) == nil, "no retry before the back-off ends")
        #expect(window(&p, misses: 0, at: backoff) == .split)
        // The retry fails: the back-off doubles.
        #expect(window(&p, misses: 64, at: backoff) == .same)
        #expect(window(&p, misses: 0, at: backoff + backoff) == nil)
        #expect(window(&p, misses: 0, at: backoff + 2 * backoff) == .split)
        // A retry that holds for retryHoldNs resets the back-off.
        let t = backoff + 2 * backoff, hold = p.retryHoldNs
        #expect(window(&p, misses: 0, at: t) == nil)
        #expect(window(&p, misses: 0, at: t + hold) == nil)
        #expect(window(&p, misses: 64, at: t + hold + 1) == .same)
        #expect(window(&p, misses: 0, at: t + hold + 1 + backoff) == .split)
    }

    /// A spin that gave up because it was descheduled (preemption-aware spinning) slept on purpose, to
    /// give its CPU back: such hand-offs are not misses, or a busy client CPU would push a long-lived
    /// server to same-CPU mode. Real misses next to them still count.
    @Test(.enabled(if: HandoffPolicy.spinMicros > 0 && HandoffPolicy.forced == nil))
    func preemptedSpinsAreNotMisses() {
        HandoffPolicy.sameUntil = 0
        defer { HandoffPolicy.sameUntil = 0 }
        var p = HandoffPolicy(splitPossible: true)
        let preempted = Int32(BW_HANDOFF_PREEMPTED | BW_HANDOFF_STUB_PREEMPTED)
        for _ in 0..<(4 * HandoffPolicy.window) { #expect(p.record(preempted, now: { 0 }) == nil) }
        #expect(p.mode == .split)
        var change: HandoffPolicy.Mode? = nil
        for _ in 0..<HandoffPolicy.window {
            if let m = p.record(preempted | Int32(BW_HANDOFF_SLEPT), now: { 0 }) { change = m }
        }
        #expect(change == .same)
    }

    /// With a hold time (BULWARK_SYSTRAP_RETRY_HOLD_MS): on a saturated machine split often survives a
    /// window or two before the next burst of misses; such a short-lived retry still counts as failed,
    /// so the back-off keeps growing instead of the stub flapping between the modes every few windows.
    @Test(.enabled(if: HandoffPolicy.spinMicros > 0 && HandoffPolicy.forced == nil))
    func aShortLivedRetryStillDoublesTheBackoff() {
        HandoffPolicy.sameUntil = 0
        defer { HandoffPolicy.sameUntil = 0 }
        var p = HandoffPolicy(splitPossible: true)
        p.retryHoldNs = 1_000_000_000   // BULWARK_SYSTRAP_RETRY_HOLD_MS=1000
        let backoff = HandoffPolicy.minBackoffNs
        #expect(window(&p, misses: 64, at: 0) == .same)
        #expect(window(&p, misses: 0, at: backoff) == .split)
        // Two good windows, then misses again before retryHoldNs has passed.
        #expect(window(&p, misses: 0, at: backoff + 1) == nil)
        #expect(window(&p, misses: 0, at: backoff + 2) == nil)
        #expect(window(&p, misses: 64, at: backoff + 3) == .same)
        #expect(window(&p, misses: 0, at: backoff + 3 + backoff) == nil, "the back-off doubled")
        #expect(window(&p, misses: 0, at: backoff + 3 + 2 * backoff) == .split)
    }

    /// A stub that has made many round trips (a long-running server) tolerates more misses per window
    /// than a young one (fork/exec children keep the strict rule).
    @Test(.enabled(if: HandoffPolicy.spinMicros > 0 && HandoffPolicy.forced == nil &&
                   HandoffPolicy.maxMissesLongLived > HandoffPolicy.maxMissesPerWindow))
    func aLongLivedStubToleratesMoreMisses() {
        HandoffPolicy.sameUntil = 0
        defer { HandoffPolicy.sameUntil = 0 }
        var young = HandoffPolicy(splitPossible: true)
        #expect(window(&young, misses: HandoffPolicy.maxMissesLongLived, at: 0) == .same)
        HandoffPolicy.sameUntil = 0
        var old = HandoffPolicy(splitPossible: true)
        for _ in 0..<(HandoffPolicy.longLived / HandoffPolicy.window + 1) { _ = window(&old, misses: 0, at: 0) }
        #expect(window(&old, misses: HandoffPolicy.maxMissesLongLived, at: 0) == nil)
        #expect(window(&old, misses: HandoffPolicy.maxMissesLongLived + 1, at: 0) == .same)
    }

    /// BULWARK_SYSTRAP_HANDOFF pins the mode: no fall-back however many misses.
    @Test(.enabled(if: HandoffPolicy.forced != nil))
    func aForcedModeNeverChanges() {
        var p = HandoffPolicy(splitPossible: true)
        let m = p.mode
        #expect(window(&p, misses: 64, at: 0) == nil)
        #expect(p.mode == m)
    }

    @Test(.enabled(if: HandoffPolicy.spinMicros > 0 && HandoffPolicy.forced == nil))
    func aNewStubStartsWithTheLastVerdict() {
        HandoffPolicy.sameUntil = 0
        defer { HandoffPolicy.sameUntil = 0 }
        var p = HandoffPolicy(splitPossible: true, now: 0)
        #expect(window(&p, misses: 64, at: 1000) == .same)
        #expect(HandoffPolicy(splitPossible: true, now: 1001).mode == .same, "a new process starts on one CPU")
        #expect(HandoffPolicy(splitPossible: true, now: 1000 + HandoffPolicy.minBackoffNs).mode == .split)
    }

    @Test func oneCPUNeverSpins() {
        var p = HandoffPolicy(splitPossible: false)
        #expect(p.mode == .same)
        #expect(window(&p, misses: 0, at: Int64.max / 2) == nil)
        #expect(p.mode == .same)
    }

    /// BULWARK_SYSTRAP_STATS: gaps land in log2 buckets of microseconds; a round trip after a park
    /// counts in its own histogram and its time since the last event (the task's sleep) is not the
    /// Sentry's work.
    @Test func statsBucketTheGaps() {
        #expect(HandoffStats.bucket(-5) == 0)
        #expect(HandoffStats.bucket(999) == 0)
        #expect(HandoffStats.bucket(1_000) == 1)
        #expect(HandoffStats.bucket(1_999) == 1)
        #expect(HandoffStats.bucket(2_000) == 2)
        #expect(HandoffStats.bucket(5_000) == 3)
        #expect(HandoffStats.bucket(255_999) == 8)
        #expect(HandoffStats.bucket(256_000) == 9)
        #expect(HandoffStats.bucket(10_000_000_000) == HandoffStats.buckets - 1)
        var s = HandoffStats()
        s.time(0, gapNs: 6_000, workNs: 1_500)
        s.time(0, gapNs: 6_500, workNs: nil)
        s.time(Int32(BW_HANDOFF_PARKED), gapNs: 20_000, workNs: 5_000_000)
        #expect(s.appGap[3] == 2)
        #expect(s.appGapParked[5] == 1)
        #expect(s.sentryWork[1] == 1)
        #expect(s.sentryWork.reduce(0, +) == 1)
    }
}
