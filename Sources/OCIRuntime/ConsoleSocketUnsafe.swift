// --console-socket: like runc, the launcher makes a pseudo-terminal on the host, sends its master to
// the caller's Unix socket (SCM_RIGHTS, with the slave's name as the message) and gives the slave to
// the Sentry, which bridges it to an in-sandbox pty that is the application's stdio (the Sentry's
// ConsoleBridge.swift); the host pty stays in raw mode and only carries bytes.
import Glibc
import HostOS

struct ConsolePair {
    let master: Int32
    let slave: Int32
    let name: String

    static func open() throws(RuntimeError) -> ConsolePair {
        let master = Glibc.open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard master >= 0 else { throw RuntimeError("open /dev/ptmx: \(String(cString: strerror(errno)))") }
        var unlock: Int32 = 0
        var number: UInt32 = 0
        // TIOCSPTLCK (unlock the slave), TIOCGPTN (its number): what unlockpt/ptsname do.
        guard ioctl(master, 0x4004_5431, &unlock) == 0, ioctl(master, 0x8004_5430, &number) == 0 else {
            let e = errno
            close(master)
            throw RuntimeError("unlock pty: \(String(cString: strerror(e)))")
        }
        let name = "/dev/pts/\(number)"
        let slave = Glibc.open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard slave >= 0 else {
            let e = errno
            close(master)
            throw RuntimeError("open \(name): \(String(cString: strerror(e)))")
        }
        // Raw at once: the Sentry's in-sandbox line discipline does echo, editing and signals. Input
        // the engine sends before the Sentry runs would otherwise be echoed by the host pty too.
        var t = termios()
        if tcgetattr(slave, &t) == 0 {
            cfmakeraw(&t)
            _ = tcsetattr(slave, TCSANOW, &t)
        }
        return ConsolePair(master: master, slave: slave, name: name)
    }

    /// Connects to the caller's socket (stream or seqpacket) and sends the master.
    func sendMaster(to socketPath: String) throws(RuntimeError) {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(socketPath.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
            throw RuntimeError("--console-socket \(socketPath): path too long")
        }
        // SAFETY: sun_path is a fixed C array of 108 bytes; we copy fewer bytes than that, NUL after.
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        var lastError: Int32 = 0
        for type in [Int32(SOCK_STREAM.rawValue), Int32(SOCK_SEQPACKET.rawValue)] {
            let fd = socket(AF_UNIX, type | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { lastError = errno; continue }
            defer { close(fd) }
            let rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            if rc != 0 {
                lastError = errno
                if lastError == EPROTOTYPE { continue }
                break
            }
            let nameBytes = Array(name.utf8)
            let fds = [master]
            let result: Result<Int, HostError> = nameBytes.withUnsafeBytes { body in
                fds.withUnsafeBufferPointer { f in
                    do throws(HostError) {
                        return .success(try UnixSocket.send(fd, header: UnsafeRawBufferPointer(start: nil, count: 0), body: body, fds: f))
                    } catch { return .failure(error) }
                }
            }
            if case .failure(let error) = result { throw RuntimeError("send the console to \(socketPath)", error) }
            return
        }
        throw RuntimeError("connect \(socketPath): \(String(cString: strerror(lastError)))")
    }

    func closeAll() {
        close(master)
        close(slave)
    }
}
