// The vvar page as the vDSO reads it: the Swift mirror of tools/vdso/vvar.h (keep the two in step; the
// C side asserts its offsets at compile time, SentryVDSOTests check this side against the image's behaviour).

/// Byte offsets of the vvar page's fields. All little-endian, naturally aligned.
public enum VVarLayout {
    /// UInt32 seqcount: odd while the Sentry writes.
    public static let seq = 0
    /// UInt32 `Mode`.
    public static let mode = 4
    /// UInt64 TSC value at which `monoBaseNs` was true.
    public static let tscBase = 8
    /// UInt64 multiplier: ns = monoBaseNs + ((tsc - tscBase) * mult) >> shift (128-bit product).
    public static let mult = 16
    /// UInt32 shift.
    public static let shift = 24
    /// UInt32 resolution of the _COARSE clocks in ns.
    public static let coarseResolutionNs = 28
    /// Int64 CLOCK_MONOTONIC at tscBase, in ns.
    public static let monoBaseNs = 32
    /// Int64 CLOCK_REALTIME - CLOCK_MONOTONIC in ns.
    public static let realtimeOffsetNs = 40
    /// Int64 CLOCK_BOOTTIME - CLOCK_MONOTONIC in ns.
    public static let boottimeOffsetNs = 48
    /// Int64 CLOCK_TAI - CLOCK_REALTIME in ns.
    public static let taiOffsetNs = 56
    /// UInt32 `GetcpuMode`.
    public static let getcpuMode = 64
    /// Int32 pair reported as gettimeofday's struct timezone.
    public static let timezoneMinutesWest = 68
    public static let timezoneDSTTime = 72
    /// Bytes in use; the rest of the page is zero.
    public static let size = 80

    /// How the vDSO answers clock calls.
    public enum Mode: UInt32, Sendable {
        /// Every call takes the real system call (no invariant TSC, or not calibrated yet).
        case syscall = 0
        /// Clocks are computed from rdtsc with the page's parameters.
        case tsc = 1
    }

    /// How the vDSO answers getcpu.
    public enum GetcpuMode: UInt32, Sendable {
        /// getcpu takes the real system call.
        case syscall = 0
        /// getcpu reads (node << 12) | cpu from IA32_TSC_AUX with rdtscp: the host CPU the thread runs on.
        case rdtscp = 1
    }
}

/// Linux clock ids the vDSO and the timekeeper deal with.
public enum LinuxClock {
    public static let realtime: Int32 = 0
    public static let monotonic: Int32 = 1
    public static let processCPUTime: Int32 = 2
    public static let threadCPUTime: Int32 = 3
    public static let monotonicRaw: Int32 = 4
    public static let realtimeCoarse: Int32 = 5
    public static let monotonicCoarse: Int32 = 6
    public static let boottime: Int32 = 7
    public static let tai: Int32 = 11
    /// The ids the vDSO answers itself; every other id (MONOTONIC_RAW, CPU-time clocks, per-process and
    /// per-thread clocks, invalid ids) goes to the system call.
    public static let handledByVDSO: [Int32] = [realtime, monotonic, realtimeCoarse, monotonicCoarse, boottime, tai]
}
