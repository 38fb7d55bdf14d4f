import Foundation
import SentryVDSO
import Synchronization
import Testing

/// The seqlock under load: one thread re-anchors and republishes the vvar page as fast as it can (the
/// Sentry does it once a second) while this thread reads clocks through the vDSO.
@Suite struct VDSOSeqlockTests {
    final class Flags: Sendable {
        let stop = Atomic<Bool>(false)
        let publishes = Atomic<Int>(0)
        let done = Atomic<Bool>(false)
    }

    @Test(.enabled(if: hostHasInvariantTSC, "no invariant TSC on this host")) func readersNeverSeeATornOrBackwardClockWhileTheSentryPublishes() throws {
        let vdso = try MappedVDSO()
        let keeper = VDSOTimekeeper()
        try #require(keeper.mode == .tsc)
        keeper.publish(to: vdso.vvar)
        let flags = Flags()
        let page = UInt(bitPattern: vdso.vvar)
        let writer = Thread {
            var k = keeper
            let vvar = UnsafeMutableRawPointer(bitPattern: page)!
            while !flags.stop.load(ordering: .relaxed) {
                k.update()
                k.publish(to: vvar)
                flags.publishes.add(1, ordering: .relaxed)
            }
            flags.done.store(true, ordering: .releasing)
        }
        writer.start()
        defer {
            flags.stop.store(true, ordering: .relaxed)
            // Bounded wait for the writer, so the mapping outlives it.
            for _ in 0..<2000 where !flags.done.load(ordering: .acquiring) { usleep(1000) }
        }
        // The reads must overlap the writer: on a loaded machine (CI runs suites in parallel on 2 CPUs)
        // the new thread may not run before 100000 reads are done, so wait for its first publish and read
        // until it has published 1000 times as well (bounded: 10 s).
        let deadline = Date().addingTimeInterval(10)
        while flags.publishes.load(ordering: .relaxed) == 0 && Date() < deadline { usleep(100) }
        var lastMono = vdso.gettime(LinuxClock.monotonic).ns
        var backwards = 0, farFromHost = 0
        var i = 0
        while i < 100_000 || (flags.publishes.load(ordering: .relaxed) < 1000 && Date() < deadline) {
            defer { i += 1 }
            let mono = vdso.gettime(LinuxClock.monotonic).ns
            if mono < lastMono { backwards += 1 }
            lastMono = mono
            if i % 1000 == 0 {
                let host = VDSOTimekeeper.hostNanoseconds(LinuxClock.realtime)!
                if abs(vdso.gettime(LinuxClock.realtime).ns - host) > 5_000_000 { farFromHost += 1 }
            }
        }
        #expect(backwards == 0)
        #expect(farFromHost == 0)
        #expect(flags.publishes.load(ordering: .relaxed) > 10, "the writer hardly ran")
    }
}
