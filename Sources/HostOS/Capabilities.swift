// Dropping Linux capabilities with libcap, so a service keeps only what it uses.
import CCap
import Glibc
import LinuxABI

public enum Capabilities {
    /// Clears the effective, permitted and inheritable sets except `keeping` (capability numbers, e.g.
    /// 21 = CAP_SYS_ADMIN), clears the ambient set, and removes everything else from the bounding set
    /// when this process may (CAP_SETPCAP); without that privilege the bounding set is left as is,
    /// which is harmless once the permitted set is empty.
    public static func drop(keeping: [Int32] = []) throws(HostError) {
        // Bounding set first: it needs CAP_SETPCAP, which the next step removes.
        if !keeping.contains(8), isPermitted(8) {   // 8 = CAP_SETPCAP
            let last = Int32(cap_max_bits()) - 1
            if last >= 0 {
                for cap in 0...last where !keeping.contains(cap) {
                    _ = try hostCall("cap_drop_bound") { cap_drop_bound(cap_value_t(cap)) }
                }
            }
        }
        _ = cap_reset_ambient()   // fails only on kernels without ambient capabilities
        guard let caps = cap_init() else { throw HostError(call: "cap_init", errno: .ENOMEM) }
        defer { _ = cap_free(UnsafeMutableRawPointer(caps)) }
        if !keeping.isEmpty {
            var values = keeping.map { cap_value_t($0) }
            for flag in [CAP_EFFECTIVE, CAP_PERMITTED] {
                _ = try hostCall("cap_set_flag") { cap_set_flag(caps, flag, Int32(values.count), &values, CAP_SET) }
            }
        }
        _ = try hostCall("cap_set_proc") { cap_set_proc(caps) }
    }

    /// Whether capability `cap` is in this process's permitted set.
    public static func isPermitted(_ cap: Int32) -> Bool {
        guard let caps = cap_get_proc() else { return false }
        defer { _ = cap_free(UnsafeMutableRawPointer(caps)) }
        var value = CAP_CLEAR
        guard cap_get_flag(caps, cap_value_t(cap), CAP_PERMITTED, &value) == 0 else { return false }
        return value == CAP_SET
    }
}
