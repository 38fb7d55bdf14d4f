// The systrap hand-off policy: split placement (spinning on two CPUs) while spins succeed, a fall-back
// to one CPU when they keep failing, retries after a back-off that doubles while split keeps failing.
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

    @Test(.enabled(if: HandoffPolicy.spinMicros > 0))
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
        // A retry that works resets the back-off.
        #expect(window(&p, misses: 0, at: backoff + 2 * backoff) == nil)
        #expect(window(&p, misses: 64, at: 10 * backoff) == .same)
        #expect(window(&p, misses: 0, at: 11 * backoff) == .split)
    }

    @Test(.enabled(if: HandoffPolicy.spinMicros > 0))
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
}
