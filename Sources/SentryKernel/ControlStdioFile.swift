// Stdio of a process started through the Control channel: the host descriptors came with the
// ExecProcess message, so unlike init's stdio (the Sentry's own 0, 1, 2) they are closed when the last
// sandbox descriptor referring to them goes away; the launcher's side (docker exec's pipes) then sees
// end of file.
import Glibc

final class OwnedStreamFile: FileDescription {
    let inner: HostStreamFile
    init(fd: Int32, flags: Int32) {
        inner = HostStreamFile(fd: fd, flags: flags)
        super.init(flags: flags)
    }
    deinit { close(inner.fd) }

    override var hostPollFD: Int32? { inner.fd }
    override func read(_ t: Task, _ buf: UnsafeMutableRawBufferPointer) -> Int {
        inner.statusFlags = statusFlags
        return inner.read(t, buf)
    }
    override func write(_ t: Task, _ buf: UnsafeRawBufferPointer) -> Int {
        inner.statusFlags = statusFlags
        return inner.write(t, buf)
    }
    override func stat(_ st: inout stat) -> Int { inner.stat(&st) }
    override func ioctl(_ t: Task, _ cmd: UInt64, _ arg: UInt64) -> Int { inner.ioctl(t, cmd, arg) }
    override func poll(_ events: Int16) -> Int16 { inner.poll(events) }
}
