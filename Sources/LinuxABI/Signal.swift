// Signal structs as the kernel (not glibc) defines them on x86-64, <asm/signal.h>: the 8-byte sigset,
// the rt_sigaction struct (handler, flags, restorer, mask: glibc's user-space struct differs) and
// stack_t for sigaltstack.

/// The kernel's sigset_t: one bit per signal 1...64, bit (n - 1) for signal n (8 bytes; glibc's is 128).
public struct SigSet: ABIStruct, Hashable {
    public var bits: UInt64
    public init(bits: UInt64 = 0) { self.bits = bits }
    /// A set holding the given signal numbers (each in 1...64).
    public init(signals: some Sequence<Int32>) {
        bits = 0
        for s in signals { insert(s) }
    }

    public static let empty = SigSet(bits: 0)
    public static let full = SigSet(bits: ~0)

    /// Whether `signal` (1...64) is in the set; false for numbers outside that range.
    @inlinable public func contains(_ signal: Int32) -> Bool {
        signal >= 1 && signal <= 64 && bits & (1 << UInt64(signal - 1)) != 0
    }
    /// Adds `signal`; numbers outside 1...64 are ignored.
    @inlinable public mutating func insert(_ signal: Int32) {
        if signal >= 1 && signal <= 64 { bits |= 1 << UInt64(signal - 1) }
    }
    /// Removes `signal`; numbers outside 1...64 are ignored.
    @inlinable public mutating func remove(_ signal: Int32) {
        if signal >= 1 && signal <= 64 { bits &= ~(1 << UInt64(signal - 1)) }
    }

    public static let size = 8
    /// sigset_t on x86-64 is a plain `unsigned long`: the single field is the whole value.
    public static let layout = ABILayout<SigSet>("sigset_t", size: 8, [.init("", 0, 8, \.bits)])
    @inlinable public init(decoding b: UnsafeRawBufferPointer) throws(ABIError) {
        try ABIError.check(b, 8)
        bits = b.abiLoad(0)
    }
    @inlinable public func encode(into b: UnsafeMutableRawBufferPointer) {
        b.abiPrepare(8); b.abiStore(bits, 0)
    }
}

/// The kernel's struct sigaction as rt_sigaction(2) reads and writes it (32 bytes): handler (or
/// SIG_DFL = 0 / SIG_IGN = 1), flags (SA_*), restorer (the guest's sigreturn trampoline), mask.
public struct SigAction: ABIStruct {
    public var sa_handler: UInt64
    public var sa_flags: UInt64
    public var sa_restorer: UInt64
    public var sa_mask: SigSet
    public init(sa_handler: UInt64 = 0, sa_flags: UInt64 = 0, sa_restorer: UInt64 = 0, sa_mask: SigSet = .empty) {
        self.sa_handler = sa_handler; self.sa_flags = sa_flags; self.sa_restorer = sa_restorer; self.sa_mask = sa_mask
    }

    /// SIG_DFL and SIG_IGN as handler values.
    public static let defaultHandler: UInt64 = 0
    public static let ignoreHandler: UInt64 = 1

    public static let size = 32
    public static let layout = ABILayout<SigAction>("struct sigaction", size: 32, [
        .init("sa_handler", 0, 8, \.sa_handler), .init("sa_flags", 8, 8, \.sa_flags),
        .init("sa_restorer", 16, 8, \.sa_restorer), .init("sa_mask", 24, 8, \.sa_mask),
    ])
    @inlinable public init(decoding b: UnsafeRawBufferPointer) throws(ABIError) {
        try ABIError.check(b, 32)
        sa_handler = b.abiLoad(0); sa_flags = b.abiLoad(8); sa_restorer = b.abiLoad(16)
        sa_mask = SigSet(bits: b.abiLoad(24))
    }
    @inlinable public func encode(into b: UnsafeMutableRawBufferPointer) {
        b.abiPrepare(32)
        b.abiStore(sa_handler, 0); b.abiStore(sa_flags, 8); b.abiStore(sa_restorer, 16); b.abiStore(sa_mask.bits, 24)
    }
}

/// stack_t for sigaltstack(2) (24 bytes): base, flags (SS_ONSTACK, SS_DISABLE, SS_AUTODISARM), size.
public struct SignalStack: ABIStruct {
    public var ss_sp: UInt64
    public var ss_flags: Int32
    public var ss_size: UInt64
    public init(ss_sp: UInt64 = 0, ss_flags: Int32 = 0, ss_size: UInt64 = 0) {
        self.ss_sp = ss_sp; self.ss_flags = ss_flags; self.ss_size = ss_size
    }

    public static let size = 24
    public static let layout = ABILayout<SignalStack>("stack_t", size: 24, [
        .init("ss_sp", 0, 8, \.ss_sp), .init("ss_flags", 8, 4, \.ss_flags), .init("ss_size", 16, 8, \.ss_size),
    ])
    @inlinable public init(decoding b: UnsafeRawBufferPointer) throws(ABIError) {
        try ABIError.check(b, 24)
        ss_sp = b.abiLoad(0); ss_flags = b.abiLoad(8); ss_size = b.abiLoad(16)
    }
    @inlinable public func encode(into b: UnsafeMutableRawBufferPointer) {
        b.abiPrepare(24); b.abiStore(ss_sp, 0); b.abiStore(ss_flags, 8); b.abiStore(ss_size, 16)
    }
}
