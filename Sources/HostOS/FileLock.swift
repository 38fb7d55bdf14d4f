// An advisory exclusive lock (flock(2)) held as long as the value lives: the launcher serialises
// start/delete of one container on its state directory.
import Glibc

public struct FileLock: ~Copyable {
    private let fd: OwnedFD

    /// Blocks until `path` (a file or directory) is locked exclusively by this process.
    public static func exclusive(_ path: String) throws(HostError) -> FileLock {
        let fd = try FileSystem.open(path, flags: O_RDONLY)
        _ = try hostCall("flock", retryOnInterrupt: true) { flock(fd.rawValue, LOCK_EX) }
        return FileLock(fd: fd)
    }

    private init(fd: consuming OwnedFD) { self.fd = fd }

    /// Releases the lock now (closing the descriptor releases it).
    public consuming func release() {}
}
