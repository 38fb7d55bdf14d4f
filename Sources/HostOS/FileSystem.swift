// Path-based file system calls the launcher needs for its state directory (mkdir, mkfifo, open, rename,
// unlink, fsync), all through the funnel and with CLOEXEC descriptors.
import CBulwark
import Glibc

public enum FileSystem {
    /// mkdir(2); throws EEXIST when the directory exists (used as an atomic "create once").
    public static func makeDirectory(_ path: String, mode: mode_t) throws(HostError) {
        _ = try hostCall("mkdir") { mkdir(path, mode) }
        // The umask may have removed bits we asked for.
        _ = try hostCall("chmod") { chmod(path, mode) }
    }

    /// mkfifo(3).
    public static func makeFifo(_ path: String, mode: mode_t) throws(HostError) {
        _ = try hostCall("mkfifo") { mkfifo(path, mode) }
        _ = try hostCall("chmod") { chmod(path, mode) }
    }

    /// open(2) with O_CLOEXEC added.
    public static func open(_ path: String, flags: Int32, mode: mode_t = 0) throws(HostError) -> OwnedFD {
        let fd = try hostCall("open", retryOnInterrupt: true) { Glibc.open(path, flags | O_CLOEXEC, mode) }
        return OwnedFD(adopting: fd)
    }

    /// rename(2): atomically replaces `to`.
    public static func rename(_ from: String, to: String) throws(HostError) {
        _ = try hostCall("rename") { Glibc.rename(from, to) }
    }

    /// unlink(2).
    public static func unlink(_ path: String) throws(HostError) {
        _ = try hostCall("unlink") { Glibc.unlink(path) }
    }

    /// fsync(2).
    public static func sync(_ fd: borrowing OwnedFD) throws(HostError) {
        _ = try hostCall("fsync", retryOnInterrupt: true) { fsync(fd.rawValue) }
    }

    /// Whether `path` exists (lstat succeeds).
    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    /// Whether `path` is a FIFO.
    public static func isFifo(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFIFO
    }

    /// Writes `bytes` to `path` atomically: a temporary file in the same directory with `mode`, fsync,
    /// then rename over `path`. Readers see the old content or the new one, never a torn file.
    public static func writeAtomically(_ path: String, _ bytes: [UInt8], mode: mode_t) throws(HostError) {
        let temporary = "\(path).tmp-\(getpid())"
        do throws(HostError) {
            let fd = try open(temporary, flags: O_WRONLY | O_CREAT | O_TRUNC | O_EXCL, mode: mode)
            _ = try hostCall("fchmod") { fchmod(fd.rawValue, mode) }
            let raw = fd.rawValue
            let failure: HostError? = bytes.withUnsafeBytes { buffer in
                do throws(HostError) {
                    try FileIO.writeAll(raw, buffer)
                    return nil
                } catch {
                    return error
                }
            }
            if let failure { throw failure }
            try sync(fd)
            fd.close()
            try rename(temporary, to: path)
        } catch {
            _ = Glibc.unlink(temporary)
            throw error
        }
    }

    /// The calling process's executable (readlink /proc/self/exe).
    public static func currentExecutable() throws(HostError) -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = try hostCall("readlink") { readlink("/proc/self/exe", &buffer, buffer.count - 1) }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// access(path, X_OK).
    public static func isExecutable(_ path: String) -> Bool {
        access(path, X_OK) == 0
    }
}
