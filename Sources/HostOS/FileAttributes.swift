// File attributes through descriptors: statx, chmod/chown, timestamps, truncate, statfs, sync,
// fallocate. One raw syscall per wrapper (bulwark_gofer.h).
import CBulwark
import Glibc

public enum FileAttributes {
    /// statx(fd, "", Int32(BW_G_AT_EMPTY_PATH | BW_G_AT_SYMLINK_NOFOLLOW), basic stats + btime): works on O_PATH fds.
    public static func statx(_ fd: Int32) throws(HostError) -> CBulwark.statx {
        var result = CBulwark.statx()
        _ = try hostCall("statx") {
            bw_g_statx(fd, "", Int32(BW_G_AT_EMPTY_PATH | BW_G_AT_SYMLINK_NOFOLLOW), UInt32(STATX_BASIC_STATS | STATX_BTIME), &result)
        }
        return result
    }

    public static func chmod(_ directory: Int32, _ name: String, mode: UInt32) throws(HostError) {
        _ = try hostCall("fchmodat") { bw_g_fchmodat(directory, name, mode) }
    }

    /// fchownat(fd, "", AT_EMPTY_PATH): works on O_PATH fds. UInt32.max leaves an id unchanged.
    public static func chown(_ fd: Int32, uid: UInt32, gid: UInt32) throws(HostError) {
        _ = try hostCall("fchownat") { bw_g_fchownat(fd, "", uid, gid, Int32(BW_G_AT_EMPTY_PATH)) }
    }

    /// utimensat(directory, name, [atime, mtime], flags); nsec may be UTIME_NOW or UTIME_OMIT.
    public static func setTimes(_ directory: Int32, _ name: String, atime: timespec, mtime: timespec,
                                flags: Int32 = 0) throws(HostError) {
        var times = [atime, mtime]
        _ = try hostCall("utimensat") { bw_g_utimensat(directory, name, &times, flags) }
    }

    public static func truncate(_ fd: Int32, _ length: Int64) throws(HostError) {
        _ = try hostCall("ftruncate", retryOnInterrupt: true) { bw_g_ftruncate(fd, length) }
    }

    public static func seek(_ fd: Int32, _ offset: Int64) throws(HostError) {
        _ = try hostCall("lseek") { bw_g_lseek(fd, offset, SEEK_SET) }
    }

    public static func statfs(_ fd: Int32) throws(HostError) -> CBulwark.statfs {
        var result = CBulwark.statfs()
        _ = try hostCall("fstatfs") { bw_g_fstatfs(fd, &result) }
        return result
    }

    public static func sync(_ fd: Int32, dataOnly: Bool) throws(HostError) {
        _ = try hostCall("fsync", retryOnInterrupt: true) { bw_g_fsync(fd, dataOnly ? 1 : 0) }
    }

    public static func allocate(_ fd: Int32, mode: Int32, offset: Int64, length: Int64) throws(HostError) {
        _ = try hostCall("fallocate", retryOnInterrupt: true) { bw_g_fallocate(fd, mode, offset, length) }
    }
}
