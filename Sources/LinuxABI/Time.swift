// Time structs: timespec and timeval (64-bit x86-64 forms, <linux/time_types.h>), itimerspec,
// itimerval and tms (<linux/times.h>).

/// struct timespec (`__kernel_timespec`): seconds and nanoseconds.
public struct Timespec: ABIStruct {
    public var tv_sec: Int64
    public var tv_nsec: Int64
    public init(tv_sec: Int64 = 0, tv_nsec: Int64 = 0) { self.tv_sec = tv_sec; self.tv_nsec = tv_nsec }

    public static let size = 16
    public static let layout = ABILayout<Timespec>("struct __kernel_timespec", size: 16, [
        .init("tv_sec", 0, 8, \.tv_sec), .init("tv_nsec", 8, 8, \.tv_nsec),
    ])
    @inlinable public init(decoding b: UnsafeRawBufferPointer) throws(ABIError) {
        try ABIError.check(b, 16)
        tv_sec = b.abiLoad(0); tv_nsec = b.abiLoad(8)
    }
    @inlinable public func encode(into b: UnsafeMutableRawBufferPointer) {
        b.abiPrepare(16); b.abiStore(tv_sec, 0); b.abiStore(tv_nsec, 8)
    }
    /// Reads at `o` in a buffer whose length the embedding struct has checked.
    @inlinable @inline(__always) init(embeddedIn b: UnsafeRawBufferPointer, at o: Int) {
        tv_sec = b.abiLoad(o); tv_nsec = b.abiLoad(o + 8)
    }
    /// Writes at `o` in a buffer the embedding struct has prepared.
    @inlinable @inline(__always) func store(embeddedIn b: UnsafeMutableRawBufferPointer, at o: Int) {
        b.abiStore(tv_sec, o); b.abiStore(tv_nsec, o + 8)
    }
    /// True when tv_nsec is in 0..<1_000_000_000 (what the kernel checks before EINVAL).
    public var isValid: Bool { tv_nsec >= 0 && tv_nsec < 1_000_000_000 }
}

/// struct timeval (`__kernel_old_timeval`): seconds and microseconds.
public struct Timeval: ABIStruct {
    public var tv_sec: Int64
    public var tv_usec: Int64
    public init(tv_sec: Int64 = 0, tv_usec: Int64 = 0) { self.tv_sec = tv_sec; self.tv_usec = tv_usec }

    public static let size = 16
    public static let layout = ABILayout<Timeval>("struct __kernel_old_timeval", size: 16, [
        .init("tv_sec", 0, 8, \.tv_sec), .init("tv_usec", 8, 8, \.tv_usec),
    ])
    @inlinable public init(decoding b: UnsafeRawBufferPointer) throws(ABIError) {
        try ABIError.check(b, 16)
        tv_sec = b.abiLoad(0); tv_usec = b.abiLoad(8)
    }
    @inlinable public func encode(into b: UnsafeMutableRawBufferPointer) {
        b.abiPrepare(16); b.abiStore(tv_sec, 0); b.abiStore(tv_usec, 8)
    }
    @inlinable @inline(__always) init(embeddedIn b: UnsafeRawBufferPointer, at o: Int) {
        tv_sec = b.abiLoad(o); tv_usec = b.abiLoad(o + 8)
    }
    @inlinable @inline(__always) func store(embeddedIn b: UnsafeMutableRawBufferPointer, at o: Int) {
        b.abiStore(tv_sec, o); b.abiStore(tv_usec, o + 8)
    }
    /// True when tv_usec is in 0..<1_000_000.
    public var isValid: Bool { tv_usec >= 0 && tv_usec < 1_000_000 }
}

/// struct itimerspec (`__kernel_itimerspec`): timerfd_settime, timer_settime.
public struct ITimerSpec: ABIStruct {
    public var it_interval: Timespec
    public var it_value: Timespec
    public init(it_interval: Timespec = Timespec(), it_value: Timespec = Timespec()) {
        self.it_interval = it_interval; self.it_value = it_value
    }

    public static let size = 32
    public static let layout = ABILayout<ITimerSpec>("struct __kernel_itimerspec", size: 32, [
        .init("it_interval", 0, 16, \.it_interval), .init("it_value", 16, 16, \.it_value),
    ])
    @inlinable public init(decoding b: UnsafeRawBufferPointer) throws(ABIError) {
        try ABIError.check(b, 32)
        it_interval = Timespec(embeddedIn: b, at: 0); it_value = Timespec(embeddedIn: b, at: 16)
    }
    @inlinable public func encode(into b: UnsafeMutableRawBufferPointer) {
        b.abiPrepare(32); it_interval.store(embeddedIn: b, at: 0); it_value.store(embeddedIn: b, at: 16)
    }
}

/// struct itimerval (`__kernel_old_itimerval`): setitimer, getitimer.
public struct ITimerVal: ABIStruct {
    public var it_interval: Timeval
    public var it_value: Timeval
    public init(it_interval: Timeval = Timeval(), it_value: Timeval = Timeval()) {
        self.it_interval = it_interval; self.it_value = it_value
    }

    public static let size = 32
    public static let layout = ABILayout<ITimerVal>("struct __kernel_old_itimerval", size: 32, [
        .init("it_interval", 0, 16, \.it_interval), .init("it_value", 16, 16, \.it_value),
    ])
    @inlinable public init(decoding b: UnsafeRawBufferPointer) throws(ABIError) {
        try ABIError.check(b, 32)
        it_interval = Timeval(embeddedIn: b, at: 0); it_value = Timeval(embeddedIn: b, at: 16)
    }
    @inlinable public func encode(into b: UnsafeMutableRawBufferPointer) {
        b.abiPrepare(32); it_interval.store(embeddedIn: b, at: 0); it_value.store(embeddedIn: b, at: 16)
    }
}

/// struct tms (<linux/times.h>): times(2), in clock ticks.
public struct Tms: ABIStruct {
    public var tms_utime: Int64
    public var tms_stime: Int64
    public var tms_cutime: Int64
    public var tms_cstime: Int64
    public init(tms_utime: Int64 = 0, tms_stime: Int64 = 0, tms_cutime: Int64 = 0, tms_cstime: Int64 = 0) {
        self.tms_utime = tms_utime; self.tms_stime = tms_stime
        self.tms_cutime = tms_cutime; self.tms_cstime = tms_cstime
    }

    public static let size = 32
    public static let layout = ABILayout<Tms>("struct tms", size: 32, [
        .init("tms_utime", 0, 8, \.tms_utime), .init("tms_stime", 8, 8, \.tms_stime),
        .init("tms_cutime", 16, 8, \.tms_cutime), .init("tms_cstime", 24, 8, \.tms_cstime),
    ])
    @inlinable public init(decoding b: UnsafeRawBufferPointer) throws(ABIError) {
        try ABIError.check(b, 32)
        tms_utime = b.abiLoad(0); tms_stime = b.abiLoad(8); tms_cutime = b.abiLoad(16); tms_cstime = b.abiLoad(24)
    }
    @inlinable public func encode(into b: UnsafeMutableRawBufferPointer) {
        b.abiPrepare(32)
        b.abiStore(tms_utime, 0); b.abiStore(tms_stime, 8); b.abiStore(tms_cutime, 16); b.abiStore(tms_cstime, 24)
    }
}
