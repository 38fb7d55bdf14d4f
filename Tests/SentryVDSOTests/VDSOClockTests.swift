import Glibc
import HostOS
import LinuxABI
import SentryVDSO
import Testing

/// True when this host has a TSC the timekeeper trusts; the tests of the TSC path need one.
let hostHasInvariantTSC = HostTimeFeatures.detect().invariantTSC

/// Runs the real vDSO code mapped into this process with a vvar page written by VDSOTimekeeper, and
/// compares its answers with the host kernel's.
@Suite struct VDSOClockTests {
    static let toleranceNs: Int64 = 5_000_000

    func host(_ clock: Int32) -> Int64 { VDSOTimekeeper.hostNanoseconds(clock)! }

    /// The CPU the kernel says this thread is on (getcpu(2); glibc's sched_getcpu is not imported).
    func kernelCPU() throws -> UInt32 {
        var cpu: UInt32 = .max
        _ = try withUnsafeMutablePointer(to: &cpu) { p in
            try hostSyscall("getcpu", .getcpu, Int(bitPattern: UnsafeMutableRawPointer(p)))
        }
        return cpu
    }

    /// The timekeeper must have found a usable TSC on this machine, or the clocks would be syscalls.
    func calibrated() throws -> (MappedVDSO, VDSOTimekeeper) {
        let mapped = try MappedVDSO()
        let keeper = VDSOTimekeeper()
        try #require(keeper.mode == .tsc, "host lacks an invariant TSC: \(HostTimeFeatures.detect())")
        keeper.publish(to: mapped.vvar)
        return (mapped, keeper)
    }

    @Test(.enabled(if: hostHasInvariantTSC, "no invariant TSC on this host")) func handledClocksMatchTheHost() throws {
        let (vdso, keeper) = try calibrated()
        for clock in [LinuxClock.realtime, LinuxClock.monotonic, LinuxClock.boottime, LinuxClock.tai,
                      LinuxClock.realtimeCoarse, LinuxClock.monotonicCoarse] {
            // A _COARSE clock is its precise clock rounded down to the coarse resolution, so it is
            // compared with the host's precise clock: the host's own coarse clock follows its tick,
            // which a loaded VM delays past the tolerance (CI: 6.4 ms behind with HZ=250).
            let coarse = clock == LinuxClock.realtimeCoarse || clock == LinuxClock.monotonicCoarse
            let reference = clock == LinuxClock.realtimeCoarse ? LinuxClock.realtime
                : clock == LinuxClock.monotonicCoarse ? LinuxClock.monotonic : clock
            let before = host(reference)
            let (r, ns) = vdso.gettime(clock)
            let after = host(reference)
            let granule = coarse ? Int64(keeper.coarseResolutionNs) : 0
            #expect(r == 0)
            #expect(ns >= before - granule - Self.toleranceNs && ns <= after + Self.toleranceNs,
                    "clock \(clock): vdso \(ns), host \(before)...\(after) (reference clock \(reference))")
        }
    }

    @Test(.enabled(if: hostHasInvariantTSC, "no invariant TSC on this host")) func answersFromTheVVarPageNotTheKernel() throws {
        let mapped = try MappedVDSO()
        var keeper = VDSOTimekeeper()
        try #require(keeper.mode == .tsc)
        let hour: Int64 = 3_600_000_000_000
        keeper.realtimeShiftNs = hour
        keeper.update()  // the shift outlives re-anchoring
        keeper.publish(to: mapped.vvar)
        let (r, ns) = mapped.gettime(LinuxClock.realtime)
        #expect(r == 0)
        #expect(abs(ns - hour - host(LinuxClock.realtime)) < Self.toleranceNs)
        // MONOTONIC is untouched by the realtime offset.
        #expect(abs(mapped.gettime(LinuxClock.monotonic).ns - host(LinuxClock.monotonic)) < Self.toleranceNs)
        #expect(mapped.vvarField(VVarLayout.seq, as: UInt32.self) % 2 == 0)
    }

    @Test(.enabled(if: hostHasInvariantTSC, "no invariant TSC on this host")) func monotonicNeverGoesBackAcross100kCalls() throws {
        let (vdso, _) = try calibrated()
        var last = vdso.gettime(LinuxClock.monotonic).ns
        var backwards = 0
        for _ in 0..<100_000 {
            let now = vdso.gettime(LinuxClock.monotonic).ns
            if now < last { backwards += 1 }
            last = now
        }
        #expect(backwards == 0)
        #expect(abs(last - host(LinuxClock.monotonic)) < Self.toleranceNs)
    }

    /// Re-anchoring (update + publish) between reads keeps MONOTONIC from going back and close to the host.
    @Test(.enabled(if: hostHasInvariantTSC, "no invariant TSC on this host")) func updatesKeepMonotonicSteadyAndTrackTheHost() throws {
        var (vdso, keeper) = try calibrated()
        var last = vdso.gettime(LinuxClock.monotonic).ns
        var backwards = 0
        for i in 0..<50_000 {
            if i % 1000 == 0 {
                keeper.update()
                keeper.publish(to: vdso.vvar)
            }
            let now = vdso.gettime(LinuxClock.monotonic).ns
            if now < last { backwards += 1 }
            last = now
        }
        #expect(backwards == 0)
        #expect(abs(vdso.gettime(LinuxClock.monotonic).ns - host(LinuxClock.monotonic)) < 1_000_000)
    }

    @Test(.enabled(if: hostHasInvariantTSC, "no invariant TSC on this host")) func unhandledClocksFallBackToTheSystemCall() throws {
        let (vdso, _) = try calibrated()
        // MONOTONIC_RAW has no parameters in the vvar page: a right answer can only come from the kernel.
        let before = host(LinuxClock.monotonicRaw)
        let raw = vdso.gettime(LinuxClock.monotonicRaw)
        let after = host(LinuxClock.monotonicRaw)
        #expect(raw.result == 0 && raw.ns >= before && raw.ns <= after)
        let cpuBefore = host(LinuxClock.processCPUTime)
        let cpu = vdso.gettime(LinuxClock.processCPUTime)
        let cpuAfter = host(LinuxClock.processCPUTime)
        #expect(cpu.result == 0 && cpu.ns >= cpuBefore && cpu.ns <= cpuAfter)
        // An invalid id gets the kernel's error, as a negative errno like the raw syscall.
        var ts = timespec()
        #expect(clock_gettime(clockid_t(12345), &ts) == -1 && errno == EINVAL)
        #expect(vdso.gettime(12345).result == -EINVAL)
        #expect(vdso.clockGetres(12345, &ts) == -EINVAL)
    }

    /// A vvar page in syscall mode (what a fresh zero page is) sends every call to the kernel.
    @Test func syscallModePageStillAnswersCorrectly() throws {
        let mapped = try MappedVDSO()
        #expect(mapped.vvarField(VVarLayout.mode, as: UInt32.self) == VVarLayout.Mode.syscall.rawValue)
        let before = host(LinuxClock.realtime)
        let (r, ns) = mapped.gettime(LinuxClock.realtime)
        #expect(r == 0 && ns >= before && ns <= host(LinuxClock.realtime))
        let keeper = VDSOTimekeeper(features: HostTimeFeatures(invariantTSC: false, rdtscp: false))
        #expect(keeper.mode == .syscall)
        keeper.publish(to: mapped.vvar)
        var cpu: UInt32 = .max
        #expect(mapped.getcpu(&cpu, nil, nil) == 0)
        #expect(cpu < UInt32(sysconf(Int32(_SC_NPROCESSORS_CONF))))
        #expect(abs(mapped.gettime(LinuxClock.boottime).ns - host(LinuxClock.boottime)) < Self.toleranceNs)
    }

    @Test(.enabled(if: hostHasInvariantTSC, "no invariant TSC on this host")) func gettimeofdayAndTimeMatchTheHost() throws {
        let (vdso, _) = try calibrated()
        var tv = timeval()
        var tz = (Int32(-1), Int32(-1))
        let r = withUnsafeMutableBytes(of: &tz) { vdso.gettimeofday(&tv, $0.baseAddress) }
        #expect(r == 0)
        let usec = Int64(tv.tv_sec) * 1_000_000 + Int64(tv.tv_usec)
        #expect(abs(usec * 1000 - host(LinuxClock.realtime)) < Self.toleranceNs)
        #expect(tz == (0, 0))
        var stored = 0
        let secs = vdso.time(&stored)
        #expect(secs == stored)
        #expect(abs(Int64(secs) - host(LinuxClock.realtime) / 1_000_000_000) <= 1)
        #expect(vdso.time(nil) >= secs)
    }

    @Test(.enabled(if: hostHasInvariantTSC, "no invariant TSC on this host")) func clockGetresMatchesTheHost() throws {
        let (vdso, _) = try calibrated()
        for clock in LinuxClock.handledByVDSO + [LinuxClock.monotonicRaw] {
            var mine = timespec(), hosts = timespec()
            #expect(vdso.clockGetres(Int(clock), &mine) == 0)
            #expect(clock_getres(clockid_t(clock), &hosts) == 0)
            #expect(mine.tv_sec == hosts.tv_sec && mine.tv_nsec == hosts.tv_nsec, "clock \(clock)")
        }
        #expect(vdso.clockGetres(Int(LinuxClock.monotonic), nil) == 0)
    }

    @Test(.enabled(if: hostHasInvariantTSC, "no invariant TSC on this host")) func getcpuNamesACPUOfThisMachine() throws {
        let (vdso, keeper) = try calibrated()
        var cpu: UInt32 = .max, node: UInt32 = .max
        #expect(vdso.getcpu(&cpu, &node, nil) == 0)
        #expect(cpu < UInt32(sysconf(Int32(_SC_NPROCESSORS_CONF))))
        #expect(node == 0 || node < 64)
        // Threads migrate, so ask until the kernel and the vDSO name the same CPU back to back.
        var agreed = false
        for _ in 0..<1000 where !agreed {
            let kernel = try kernelCPU()
            _ = vdso.getcpu(&cpu, nil, nil)
            agreed = try cpu == kernel && kernel == kernelCPU()
        }
        #expect(agreed, "getcpu mode \(keeper.getcpuMode)")
    }

    /// The Sentry's own answer (for clock_gettime system calls) brackets the vDSO's, clock by clock.
    @Test(.enabled(if: hostHasInvariantTSC, "no invariant TSC on this host")) func timekeeperComputesWhatTheVDSOComputes() throws {
        let (vdso, keeper) = try calibrated()
        for clock in LinuxClock.handledByVDSO {
            let before = try #require(keeper.now(clock: clock))
            let mine = vdso.gettime(clock).ns
            let after = try #require(keeper.now(clock: clock))
            #expect(before <= mine && mine <= after, "clock \(clock): \(before) \(mine) \(after)")
        }
        #expect(keeper.now(clock: LinuxClock.monotonicRaw) == nil)
        #expect(keeper.now(clock: LinuxClock.processCPUTime) == nil)
    }

    @Test func cpuinfoFlagsDecideTheModes() {
        let both = HostTimeFeatures(cpuinfo: "processor\t: 0\nflags\t\t: fpu tsc rdtscp constant_tsc nonstop_tsc\n")
        #expect(both == HostTimeFeatures(invariantTSC: true, rdtscp: true))
        let neither = HostTimeFeatures(cpuinfo: "flags\t\t: fpu tsc constant_tsc\n")
        #expect(neither == HostTimeFeatures(invariantTSC: false, rdtscp: false))
        #expect(HostTimeFeatures(cpuinfo: "") == HostTimeFeatures(invariantTSC: false, rdtscp: false))
    }
}
