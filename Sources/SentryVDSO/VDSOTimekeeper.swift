// The Sentry's side of the vDSO clocks: calibrates the TSC against the host's CLOCK_MONOTONIC and keeps
// the parameters the vvar page publishes. Runs in the Sentry (host code), never in the guest.
import Glibc
import HostOS

/// Calibrates the host TSC and computes the vvar page's parameters; `publish(to:)` (VVarPageUnsafe.swift)
/// writes them.
///
/// Re-calibration: call `update()` and then `publish(to:)` about once a second (`updateIntervalNs`), from one
/// Sentry thread (a timer thread, or the task loop when a second has passed). The vDSO extrapolates with a
/// 128-bit product, so a late update never overflows anything; it only leaves the TSC rate estimate to
/// drift from the host's NTP-disciplined clock (a few ppm: microseconds per second late). Each update
/// re-measures the rate over the whole time since start-up, so the estimate keeps improving.
///
/// CLOCK_MONOTONIC as published never goes backwards across an update: when the host is ahead the
/// published clock steps forward to it; when the published clock is ahead it keeps its value and runs
/// slow (by at most half) until the host catches up within `slewPeriodNs`. REALTIME, BOOTTIME and TAI are
/// MONOTONIC plus offsets read from the host; an offset changes only when the host's moved by more than
/// `offsetStepThresholdNs` (a clock step or a suspend), so sampling jitter never moves them.
///
/// `update()` and `publish(to:)` allocate nothing and take no locks; the struct has one writer.
public struct VDSOTimekeeper: Sendable {
    /// A TSC value and the host's CLOCK_MONOTONIC at the same moment.
    public struct Sample: Sendable, Equatable {
        public var tsc: UInt64
        public var monotonicNs: Int64
    }

    /// Fixed-point shift of `mult`.
    public static let shift: UInt32 = 32
    /// How often the Sentry should call `update()` + `publish(to:)`.
    public static let updateIntervalNs: Int64 = 1_000_000_000
    /// Offsets between clocks that move less than this are sampling noise, not a host clock step.
    public static let offsetStepThresholdNs: Int64 = 100_000
    /// A lead of the published clock over the host's is absorbed over this long.
    public static let slewPeriodNs: Double = 1e9

    public private(set) var mode: VVarLayout.Mode
    public private(set) var getcpuMode: VVarLayout.GetcpuMode
    public private(set) var tscBase: UInt64 = 0
    public private(set) var mult: UInt64 = 0
    public private(set) var monotonicBaseNs: Int64 = 0
    /// CLOCK_REALTIME - CLOCK_MONOTONIC as the host has it.
    public private(set) var hostRealtimeOffsetNs: Int64 = 0
    /// A shift of the sandbox's wall clock from the host's (0: the host's time). Kept across updates.
    public var realtimeShiftNs: Int64 = 0
    /// CLOCK_REALTIME - CLOCK_MONOTONIC as published.
    public var realtimeOffsetNs: Int64 { hostRealtimeOffsetNs &+ realtimeShiftNs }
    public private(set) var boottimeOffsetNs: Int64 = 0
    public private(set) var taiOffsetNs: Int64 = 0
    public private(set) var coarseResolutionNs: UInt32 = 0
    /// Nanoseconds per TSC tick, measured over the longest baseline so far (0 in syscall mode).
    public private(set) var nsPerTick: Double = 0
    /// The first sample: the start of the long baseline.
    private var origin = Sample(tsc: 0, monotonicNs: 0)

    /// Calibrates over `calibrationWindowNs` (the call sleeps that long: 5 ms gives a rate within ~20 ppm,
    /// which later updates refine). Without an invariant TSC the timekeeper stays in syscall mode and the
    /// vDSO passes every clock call to the Sentry.
    public init(calibrationWindowNs: Int64 = 5_000_000, features: HostTimeFeatures = .detect()) {
        getcpuMode = features.rdtscp ? .rdtscp : .syscall
        mode = .syscall
        guard features.invariantTSC else { return }
        let first = Self.sample()
        Self.sleep(nanoseconds: calibrationWindowNs)
        let second = Self.sample()
        let ticks = second.tsc &- first.tsc
        guard Int64(bitPattern: ticks) > 0, second.monotonicNs > first.monotonicNs else { return }
        origin = first
        nsPerTick = Double(second.monotonicNs - first.monotonicNs) / Double(ticks)
        tscBase = second.tsc
        monotonicBaseNs = second.monotonicNs
        mult = Self.multiplier(nsPerTick: nsPerTick)
        coarseResolutionNs = UInt32(clamping: Self.hostResolution(LinuxClock.monotonicCoarse) ?? 1)
        mode = .tsc
        refreshOffsets(initial: true)
    }

    /// CLOCK_MONOTONIC in ns at TSC value `tsc`, exactly as the vDSO computes it from these parameters.
    public func monotonicNs(atTSC tsc: UInt64) -> Int64 {
        let delta = Int64(bitPattern: tsc &- tscBase) > 0 ? tsc &- tscBase : 0
        let product = delta.multipliedFullWidth(by: mult)
        let shift = UInt64(Self.shift)
        let scaled = (product.high << (64 &- shift)) | (product.low >> shift)
        return monotonicBaseNs &+ Int64(bitPattern: scaled)
    }

    /// The time of `clock` at TSC value `tsc` as the vDSO computes it, or nil for a clock the vDSO does not
    /// answer (or in syscall mode). The Sentry's clock_gettime handler should answer from this too, so a
    /// program that mixes vDSO calls and real system calls sees one clock, never one step back.
    public func nanoseconds(clock: Int32, atTSC tsc: UInt64) -> Int64? {
        guard mode == .tsc else { return nil }
        let mono = monotonicNs(atTSC: tsc)
        switch clock {
        case LinuxClock.monotonic: return mono
        case LinuxClock.realtime: return mono &+ realtimeOffsetNs
        case LinuxClock.boottime: return mono &+ boottimeOffsetNs
        case LinuxClock.tai: return mono &+ realtimeOffsetNs &+ taiOffsetNs
        case LinuxClock.monotonicCoarse: return coarse(mono)
        case LinuxClock.realtimeCoarse: return coarse(mono &+ realtimeOffsetNs)
        default: return nil
        }
    }

    /// The time of `clock` now, as the vDSO would answer it (nil: ask the host).
    public func now(clock: Int32) -> Int64? { nanoseconds(clock: clock, atTSC: TSC.read()) }

    private func coarse(_ ns: Int64) -> Int64 {
        coarseResolutionNs > 1 ? ns - ns % Int64(coarseResolutionNs) : ns
    }

    /// Re-anchors at a fresh sample of the host clock and refines the TSC rate (see the type's comment).
    public mutating func update() {
        guard mode == .tsc else { return }
        let now = Self.sample()
        let span = now.tsc &- origin.tsc
        if Int64(bitPattern: span) > 0 {
            nsPerTick = Double(now.monotonicNs - origin.monotonicNs) / Double(span)
        }
        let predicted = monotonicNs(atTSC: now.tsc)
        var rate = nsPerTick
        if now.monotonicNs >= predicted {
            monotonicBaseNs = now.monotonicNs
        } else {
            monotonicBaseNs = predicted
            rate *= max(0.5, 1 - Double(predicted - now.monotonicNs) / Self.slewPeriodNs)
        }
        tscBase = now.tsc
        mult = Self.multiplier(nsPerTick: rate)
        refreshOffsets(initial: false)
    }

    // MARK: host clocks

    /// The host's clock `id` in ns, or nil when the host does not have it.
    public static func hostNanoseconds(_ id: Int32) -> Int64? {
        var ts = timespec()
        guard clock_gettime(clockid_t(id), &ts) == 0 else { return nil }
        return Int64(ts.tv_sec) &* 1_000_000_000 &+ Int64(ts.tv_nsec)
    }

    private static func hostResolution(_ id: Int32) -> Int64? {
        var ts = timespec()
        guard clock_getres(clockid_t(id), &ts) == 0 else { return nil }
        return Int64(ts.tv_sec) &* 1_000_000_000 &+ Int64(ts.tv_nsec)
    }

    /// A TSC/CLOCK_MONOTONIC pair: the tightest of five brackets tsc, clock, tsc, with the TSC taken at the
    /// bracket's middle.
    public static func sample() -> Sample {
        var best = Sample(tsc: 0, monotonicNs: 0)
        var bestWidth = UInt64.max
        for _ in 0..<5 {
            let before = TSC.read()
            let ns = hostNanoseconds(LinuxClock.monotonic) ?? 0
            let after = TSC.read()
            let width = after &- before
            if width < bestWidth {
                bestWidth = width
                best = Sample(tsc: before &+ width / 2, monotonicNs: ns)
            }
        }
        return best
    }

    /// `clock` minus `reference` in ns, reading the reference on both sides of the clock.
    private static func offset(of clock: Int32, from reference: Int32) -> Int64? {
        guard let r1 = hostNanoseconds(reference), let c = hostNanoseconds(clock),
              let r2 = hostNanoseconds(reference) else { return nil }
        return c &- (r1 &+ (r2 &- r1) / 2)
    }

    private mutating func refreshOffsets(initial: Bool) {
        func adopt(_ current: inout Int64, _ measured: Int64?) {
            guard let measured else { return }
            if initial || abs(measured &- current) > Self.offsetStepThresholdNs { current = measured }
        }
        adopt(&hostRealtimeOffsetNs, Self.offset(of: LinuxClock.realtime, from: LinuxClock.monotonic))
        adopt(&boottimeOffsetNs, Self.offset(of: LinuxClock.boottime, from: LinuxClock.monotonic))
        // The kernel's TAI offset is whole seconds; rounding removes the sampling noise.
        if let tai = Self.offset(of: LinuxClock.tai, from: LinuxClock.realtime) {
            taiOffsetNs = (tai + (tai >= 0 ? 500_000_000 : -500_000_000)) / 1_000_000_000 * 1_000_000_000
        }
    }

    private static func multiplier(nsPerTick: Double) -> UInt64 {
        UInt64(nsPerTick * Double(UInt64(1) << UInt64(shift)) + 0.5)
    }

    private static func sleep(nanoseconds: Int64) {
        var request = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
    }
}

/// What the host CPU offers for user-space timekeeping, from /proc/cpuinfo's flags.
public struct HostTimeFeatures: Sendable, Equatable {
    /// constant_tsc and nonstop_tsc: the TSC ticks at one rate in every power state, so it can be a clock.
    public var invariantTSC: Bool
    /// rdtscp exists (and Linux keeps the cpu number in IA32_TSC_AUX).
    public var rdtscp: Bool

    public init(invariantTSC: Bool, rdtscp: Bool) {
        self.invariantTSC = invariantTSC
        self.rdtscp = rdtscp
    }

    /// Parses the first "flags" line of /proc/cpuinfo's text.
    public init(cpuinfo: String) {
        let line = cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") } ?? ""
        let flags = Set(line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == ":" }))
        invariantTSC = flags.contains("constant_tsc") && flags.contains("nonstop_tsc")
        rdtscp = flags.contains("rdtscp")
    }

    /// Reads this machine's /proc/cpuinfo; a host without it gets no TSC clocks (the syscall path). When
    /// the host kernel has dropped "tsc" from its usable clocksources (it found the TSC unsynchronized
    /// between CPUs or unstable), the TSC is not trusted either, whatever the flags say.
    public static func detect() -> HostTimeFeatures {
        guard let cpuinfo = readHostFile("/proc/cpuinfo") else {
            return HostTimeFeatures(invariantTSC: false, rdtscp: false)
        }
        var features = HostTimeFeatures(cpuinfo: cpuinfo)
        if let sources = readHostFile("/sys/devices/system/clocksource/clocksource0/available_clocksource"),
           !sources.split(whereSeparator: { $0 == " " || $0 == "\n" }).contains("tsc") {
            features.invariantTSC = false
        }
        return features
    }

    /// The first 16 KiB of a host file (the first processor's flags line is all cpuinfo must give), or nil.
    private static func readHostFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        let owned = OwnedFD(adopting: fd)
        var text: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while text.count < 16384 {
            let n = (try? chunk.withUnsafeMutableBytes { buffer in try FileIO.read(owned.rawValue, into: buffer) }) ?? 0
            if n <= 0 { break }
            text.append(contentsOf: chunk[..<n])
        }
        owned.close()
        return String(decoding: text, as: UTF8.self)
    }
}
