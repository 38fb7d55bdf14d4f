// openat2(2) and the other *at calls the gofer makes relative to a directory descriptor. Every call
// is one raw syscall (see bulwark_gofer.h), so the gofer's seccomp allowlist names exactly these.
import CBulwark
import Glibc

public enum OpenAt2 {
    /// RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS: the lookup may not leave
    /// `directory`, and follows no symlink of any kind.
    public static let confined: UInt64 = bw_g_resolve_confined()

    /// openat2 with `resolve` flags; O_CLOEXEC is always added.
    public static func open(_ directory: Int32, _ name: String, flags: Int32, mode: UInt32 = 0,
                            resolve: UInt64 = confined) throws(HostError) -> OwnedFD {
        let fd = try hostCall("openat2", retryOnInterrupt: true) {
            bw_g_openat2(directory, name, UInt64(UInt32(bitPattern: flags | O_CLOEXEC)), UInt64(mode), resolve)
        }
        return OwnedFD(adopting: fd)
    }

    public static func makeDirectory(_ directory: Int32, _ name: String, mode: UInt32) throws(HostError) {
        _ = try hostCall("mkdirat") { bw_g_mkdirat(directory, name, mode) }
    }

    public static func makeNode(_ directory: Int32, _ name: String, mode: UInt32, device: UInt32) throws(HostError) {
        _ = try hostCall("mknodat") { bw_g_mknodat(directory, name, mode, device) }
    }

    public static func symlink(_ target: String, _ directory: Int32, _ name: String) throws(HostError) {
        _ = try hostCall("symlinkat") { bw_g_symlinkat(target, directory, name) }
    }

    public static func link(_ oldDirectory: Int32, _ oldName: String, _ newDirectory: Int32, _ newName: String,
                            flags: Int32) throws(HostError) {
        _ = try hostCall("linkat") { bw_g_linkat(oldDirectory, oldName, newDirectory, newName, flags) }
    }

    public static func unlink(_ directory: Int32, _ name: String, flags: Int32) throws(HostError) {
        _ = try hostCall("unlinkat") { bw_g_unlinkat(directory, name, flags) }
    }

    public static func rename(_ oldDirectory: Int32, _ oldName: String, _ newDirectory: Int32, _ newName: String,
                              flags: UInt32) throws(HostError) {
        _ = try hostCall("renameat2") { bw_g_renameat2(oldDirectory, oldName, newDirectory, newName, flags) }
    }

    /// readlinkat(fd, "") on an O_PATH descriptor of a symlink: its target, at most 4096 bytes.
    public static func readlink(_ fd: Int32, _ name: String = "") throws(HostError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 4097)
        let count = try hostCall("readlinkat") {
            buffer.withUnsafeMutableBytes { b in
                bw_g_readlinkat(fd, name, b.baseAddress!.assumingMemoryBound(to: CChar.self), UInt(b.count))
            }
        }
        guard count < buffer.count else { throw HostError(call: "readlinkat", errno: .ENAMETOOLONG) }
        return Array(buffer[..<count])
    }
}
