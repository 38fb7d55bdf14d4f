// Process and system information structs: rlimit and rusage (<linux/resource.h>), utsname (the kernel's
// struct new_utsname, <linux/utsname.h>) and sysinfo (<linux/sysinfo.h>).

/// struct rlimit: getrlimit/setrlimit/prlimit64 (RLIM_INFINITY is all ones).
public struct RLimit: ABIStruct {
    public var rlim_cur: UInt64
    public var rlim_max: UInt64
    public init(rlim_cur: UInt64 = 0, rlim_max: UInt64 = 0) { self.rlim_cur = rlim_cur; self.rlim_max = rlim_max }

    /// RLIM_INFINITY.
    public static let infinity = UInt64.max

    public static let size = 16
    public static let layout = ABILayout<RLimit>("struct rlimit", size: 16, [
        .init("rlim_cur", 0, 8, \.rlim_cur), .init("rlim_max", 8, 8, \.rlim_max),
    ])
    @inlinable public init(decoding b: UnsafeRawBufferPointer) throws(ABIError) {
        try ABIError.check(b, 16)
        rlim_cur = b.abiLoad(0); rlim_max = b.abiLoad(8)
    }
    @inlinable public func encode(into b: UnsafeMutableRawBufferPointer) {
        b.abiPrepare(16); b.abiStore(rlim_cur, 0); b.abiStore(rlim_max, 8)
    }
}

/// struct rusage: getrusage/wait4 (144 bytes).
public struct RUsage: ABIStruct {
    public var ru_utime = Timeval()
    public var ru_stime = Timeval()
    public var ru_maxrss: Int64 = 0
    public var ru_ixrss: Int64 = 0
    public var ru_idrss: Int64 = 0
    public var ru_isrss: Int64 = 0
    public var ru_minflt: Int64 = 0
    public var ru_majflt: Int64 = 0
    public var ru_nswap: Int64 = 0
    public var ru_inblock: Int64 = 0
    public var ru_oublock: Int64 = 0
    public var ru_msgsnd: Int64 = 0
    public var ru_msgrcv: Int64 = 0
    public var ru_nsignals: Int64 = 0
    public var ru_nvcsw: Int64 = 0
    public var ru_nivcsw: Int64 = 0
    public init() {}

    public static let size = 144
    public static let layout = ABILayout<RUsage>("struct rusage", size: 144, [
        .init("ru_utime", 0, 16, \.ru_utime), .init("ru_stime", 16, 16, \.ru_stime),
        .init("ru_maxrss", 32, 8, \.ru_maxrss), .init("ru_ixrss", 40, 8, \.ru_ixrss),
        .init("ru_idrss", 48, 8, \.ru_idrss), .init("ru_isrss", 56, 8, \.ru_isrss),
        .init("ru_minflt", 64, 8, \.ru_minflt), .init("ru_majflt", 72, 8, \.ru_majflt),
        .init("ru_nswap", 80, 8, \.ru_nswap), .init("ru_inblock", 88, 8, \.ru_inblock),
        .init("ru_oublock", 96, 8, \.ru_oublock), .init("ru_msgsnd", 104, 8, \.ru_msgsnd),
        .init("ru_msgrcv", 112, 8, \.ru_msgrcv), .init("ru_nsignals", 120, 8, \.ru_nsignals),
        .init("ru_nvcsw", 128, 8, \.ru_nvcsw), .init("ru_nivcsw", 136, 8, \.ru_nivcsw),
    ])
    @inlinable public init(decoding b: UnsafeRawBufferPointer) throws(ABIError) {
        try ABIError.check(b, 144)
        ru_utime = Timeval(embeddedIn: b, at: 0); ru_stime = Timeval(embeddedIn: b, at: 16)
        ru_maxrss = b.abiLoad(32); ru_ixrss = b.abiLoad(40); ru_idrss = b.abiLoad(48); ru_isrss = b.abiLoad(56)
        ru_minflt = b.abiLoad(64); ru_majflt = b.abiLoad(72); ru_nswap = b.abiLoad(80); ru_inblock = b.abiLoad(88)
        ru_oublock = b.abiLoad(96); ru_msgsnd = b.abiLoad(104); ru_msgrcv = b.abiLoad(112)
        ru_nsignals = b.abiLoad(120); ru_nvcsw = b.abiLoad(128); ru_nivcsw = b.abiLoad(136)
    }
    @inlinable public func encode(into b: UnsafeMutableRawBufferPointer) {
        b.abiPrepare(144)
        ru_utime.store(embeddedIn: b, at: 0); ru_stime.store(embeddedIn: b, at: 16)
        b.abiStore(ru_maxrss, 32); b.abiStore(ru_ixrss, 40); b.abiStore(ru_idrss, 48); b.abiStore(ru_isrss, 56)
        b.abiStore(ru_minflt, 64); b.abiStore(ru_majflt, 72); b.abiStore(ru_nswap, 80); b.abiStore(ru_inblock, 88)
        b.abiStore(ru_oublock, 96); b.abiStore(ru_msgsnd, 104); b.abiStore(ru_msgrcv, 112)
        b.abiStore(ru_nsignals, 120); b.abiStore(ru_nvcsw, 128); b.abiStore(ru_nivcsw, 136)
    }
}

/// struct new_utsname: uname(2) (six NUL-terminated 65-byte fields, 390 bytes).
public struct UTSName: ABIStruct {
    public typealias Field = FixedBytes<65>
    public var sysname = Field()
    public var nodename = Field()
    public var release = Field()
    public var version = Field()
    public var machine = Field()
    public var domainname = Field()
    public init() {}
    /// From strings (each cut to 64 bytes so a NUL follows).
    public init(sysname: String, nodename: String, release: String, version: String, machine: String,
                domainname: String) {
        self.sysname = Field(cString: sysname); self.nodename = Field(cString: nodename)
        self.release = Field(cString: release); self.version = Field(cString: version)
        self.machine = Field(cString: machine); self.domainname = Field(cString: domainname)
    }

    public static let size = 390
    public static let layout = ABILayout<UTSName>("struct new_utsname", size: 390, [
        .init("sysname", 0, 65, \.sysname), .init("nodename", 65, 65, \.nodename),
        .init("release", 130, 65, \.release), .init("version", 195, 65, \.version),
        .init("machine", 260, 65, \.machine), .init("domainname", 325, 65, \.domainname),
    ])
    @inlinable public init(decoding b: UnsafeRawBufferPointer) throws(ABIError) {
        try ABIError.check(b, 390)
        sysname = Field(loading: b, at: 0); nodename = Field(loading: b, at: 65)
        release = Field(loading: b, at: 130); version = Field(loading: b, at: 195)
        machine = Field(loading: b, at: 260); domainname = Field(loading: b, at: 325)
    }
    @inlinable public func encode(into b: UnsafeMutableRawBufferPointer) {
        b.abiPrepare(390)
        sysname.store(into: b, at: 0); nodename.store(into: b, at: 65); release.store(into: b, at: 130)
        version.store(into: b, at: 195); machine.store(into: b, at: 260); domainname.store(into: b, at: 325)
    }
}

/// struct sysinfo: sysinfo(2) (112 bytes).
public struct SysInfo: ABIStruct {
    public var uptime: Int64 = 0
    /// loads[0...2]: 1, 5 and 15 minute load averages, fixed point with 16 fractional bits.
    public var loads0: UInt64 = 0
    public var loads1: UInt64 = 0
    public var loads2: UInt64 = 0
    public var totalram: UInt64 = 0
    public var freeram: UInt64 = 0
    public var sharedram: UInt64 = 0
    public var bufferram: UInt64 = 0
    public var totalswap: UInt64 = 0
    public var freeswap: UInt64 = 0
    public var procs: UInt16 = 0
    public var totalhigh: UInt64 = 0
    public var freehigh: UInt64 = 0
    public var mem_unit: UInt32 = 0
    public init() {}

    public static let size = 112
    public static let layout = ABILayout<SysInfo>("struct sysinfo", size: 112, [
        .init("uptime", 0, 8, \.uptime),
        .init("loads[0]", 8, 8, \.loads0), .init("loads[1]", 16, 8, \.loads1), .init("loads[2]", 24, 8, \.loads2),
        .init("totalram", 32, 8, \.totalram), .init("freeram", 40, 8, \.freeram),
        .init("sharedram", 48, 8, \.sharedram), .init("bufferram", 56, 8, \.bufferram),
        .init("totalswap", 64, 8, \.totalswap), .init("freeswap", 72, 8, \.freeswap),
        .init("procs", 80, 2, \.procs), .padding("pad", 82, 2),
        .init("totalhigh", 88, 8, \.totalhigh), .init("freehigh", 96, 8, \.freehigh),
        .init("mem_unit", 104, 4, \.mem_unit),
    ])
    @inlinable public init(decoding b: UnsafeRawBufferPointer) throws(ABIError) {
        try ABIError.check(b, 112)
        uptime = b.abiLoad(0); loads0 = b.abiLoad(8); loads1 = b.abiLoad(16); loads2 = b.abiLoad(24)
        totalram = b.abiLoad(32); freeram = b.abiLoad(40); sharedram = b.abiLoad(48); bufferram = b.abiLoad(56)
        totalswap = b.abiLoad(64); freeswap = b.abiLoad(72); procs = b.abiLoad(80)
        totalhigh = b.abiLoad(88); freehigh = b.abiLoad(96); mem_unit = b.abiLoad(104)
    }
    @inlinable public func encode(into b: UnsafeMutableRawBufferPointer) {
        b.abiPrepare(112)
        b.abiStore(uptime, 0); b.abiStore(loads0, 8); b.abiStore(loads1, 16); b.abiStore(loads2, 24)
        b.abiStore(totalram, 32); b.abiStore(freeram, 40); b.abiStore(sharedram, 48); b.abiStore(bufferram, 56)
        b.abiStore(totalswap, 64); b.abiStore(freeswap, 72); b.abiStore(procs, 80)
        b.abiStore(totalhigh, 88); b.abiStore(freehigh, 96); b.abiStore(mem_unit, 104)
    }
}
