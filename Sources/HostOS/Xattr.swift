// Extended attributes by path (getxattr/setxattr/listxattr/removexattr). The gofer passes
// "/proc/self/fd/N" for its own O_PATH descriptors, which the f* variants refuse.
import CBulwark
import Glibc

public enum Xattr {
    /// The value of `name`; with `size` 0 only its length (an empty array of that count is not made).
    public static func get(_ path: String, _ name: String, size: Int) throws(HostError) -> (value: [UInt8], size: Int) {
        if size == 0 {
            let length = try hostCall("getxattr") { bw_g_getxattr(path, name, nil, 0) }
            return ([], length)
        }
        var buffer = [UInt8](repeating: 0, count: size)
        let length = try hostCall("getxattr") {
            buffer.withUnsafeMutableBytes { b in bw_g_getxattr(path, name, b.baseAddress, UInt(b.count)) }
        }
        return (Array(buffer[..<length]), length)
    }

    public static func set(_ path: String, _ name: String, _ value: [UInt8], flags: Int32) throws(HostError) {
        _ = try hostCall("setxattr") {
            value.withUnsafeBytes { b in bw_g_setxattr(path, name, b.baseAddress, UInt(b.count), flags) }
        }
    }

    /// The attribute names (the kernel's NUL-separated list, split).
    public static func list(_ path: String) throws(HostError) -> [String] {
        let length = try hostCall("listxattr") { bw_g_listxattr(path, nil, 0) }
        if length == 0 { return [] }
        var buffer = [UInt8](repeating: 0, count: length)
        let got = try hostCall("listxattr") {
            buffer.withUnsafeMutableBytes { b in
                bw_g_listxattr(path, b.baseAddress!.assumingMemoryBound(to: CChar.self), UInt(b.count))
            }
        }
        return buffer[..<got].split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
    }

    public static func remove(_ path: String, _ name: String) throws(HostError) {
        _ = try hostCall("removexattr") { bw_g_removexattr(path, name) }
    }
}
