// What the Sentry reads about its own host process: where its executable is (the services it spawns
// itself live next to it) and small /proc files (thread capabilities, resident memory), read whole
// with one helper instead of a loop per caller.
import Glibc

enum HostSelf {
    /// The executable named `name` in the directory of the running program (/proc/self/exe).
    static func siblingExecutable(_ name: String) -> String? {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        guard n > 0 else { return nil }
        let me = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let slash = me.lastIndex(of: "/") else { return nil }
        return String(me[..<slash]) + "/" + name
    }

    /// The whole of a small file (a /proc file: read until EOF, at most `limit` bytes), or nil if it
    /// cannot be opened (e.g. a thread that exited meanwhile).
    static func readSmallFile(_ path: String, limit: Int = 65536) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while bytes.count < limit {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            bytes += buf[0..<n]
        }
        return String(decoding: bytes.prefix(limit), as: UTF8.self)
    }
}
