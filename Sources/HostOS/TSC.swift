// The host CPU's time-stamp counter, read the way Bulwark's vDSO reads it (used to calibrate it).
import CBulwark

public enum TSC {
    /// The current TSC value (lfence; rdtsc).
    @inlinable public static func read() -> UInt64 { bw_rdtsc_ordered() }

    /// The pause instruction (a spin loop's body).
    @inlinable public static func relax() { bw_cpu_relax() }

    /// IA32_TSC_AUX via rdtscp: Linux keeps (node << 12) | cpu there. Only call when the CPU has rdtscp.
    @inlinable public static func auxiliary() -> UInt32 { bw_rdtscp_aux() }

    /// The host kernel has memory protection keys on (CPUID OSPKE): smaps shows "ProtectionKey:" then.
    public static let protectionKeysEnabled: Bool = bw_cpu_ospke() != 0
}
