// Host-side changes for the Sentry's inotify: a host inotify instance in the gofer watches the nodes
// the Sentry asks for (HostWatch; through the node's /proc/self/fd path, which names the node's own
// inode) for creations, deletions, renames, attribute changes, content changes (IN_MODIFY) and closes
// after writing (IN_CLOSE_WRITE). Events the gofer's own requests cause are not host-side changes:
// around each changing request (and an Open with O_TRUNC) the queue is drained, what was there before
// is kept, what the request added is dropped (the Sentry reports those itself). The Sentry's writes
// and closes go through donated descriptors outside any request, so their IN_MODIFY/IN_CLOSE_WRITE
// reach the Sentry, which drops as many as it caused (GoferHostEvents.swift). Reads, opens and
// closes without writing are not watched.
import CBulwark
import Glibc
import HostOS
import LinuxABI
import Protocol
import ServiceKit

extension GoferServer {
    /// IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE |
    /// IN_DELETE_SELF | IN_MOVE_SELF.
    static let hostWatchMask: UInt32 = 0x2 | 0x4 | 0x8 | 0x40 | 0x80 | 0x100 | 0x200 | 0x400 | 0x800
    /// At most this many events are kept between HostEvents calls (then IN_Q_OVERFLOW, wd 0).
    static let maxHostEvents = 4096

    /// Watches node `fid`; returns the host watch descriptor and a descriptor of the instance (a
    /// duplicate, for the Sentry to poll).
    func hostWatch(_ fid: UInt64) throws(ServiceFailure) -> (UInt32, Int32) {
        let fd = try nodes.lookup(fid).fd
        let type = try stat(fd).mode & UInt32(S_IFMT)
        guard type == UInt32(S_IFDIR) || type == UInt32(S_IFREG) else {
            throw ServiceFailure(.EINVAL, "gofer: host watches are for directories and regular files")
        }
        if notify < 0 {
            let n = bw_g_inotify_init()
            if n < 0 { throw ServiceFailure(Errno(rawValue: Glibc.errno), "gofer: inotify_init1") }
            notify = n
        }
        let wd = bw_g_inotify_add_watch(notify, "/proc/self/fd/\(fd)", Self.hostWatchMask)
        if wd < 0 { throw ServiceFailure(Errno(rawValue: Glibc.errno), "gofer: inotify_add_watch") }
        let dup = bw_g_dup(notify)
        if dup < 0 { throw ServiceFailure(Errno(rawValue: Glibc.errno), "gofer: dup") }
        return (UInt32(wd), dup)
    }

    /// The host-side events so far (what is queued now counts: no request of ours is running).
    func takeHostEvents() -> [Gofer.HostEvent] {
        drainHostEvents(keep: true)
        defer { hostEvents = [] }
        return hostEvents
    }

    /// Before a changing request: what is queued happened on the host.
    func beforeOwnChange() { if notify >= 0 { drainHostEvents(keep: true) } }

    /// After it: what it queued is the gofer's own doing.
    func afterOwnChange() { if notify >= 0 { drainHostEvents(keep: false) } }

    private func drainHostEvents(keep: Bool) {
        guard notify >= 0 else { return }
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = buffer.withUnsafeMutableBytes { bw_g_read(notify, $0.baseAddress!, UInt($0.count)) }
            if n <= 0 { return }   // EAGAIN: empty
            guard keep else { continue }
            var off = 0
            while off + 16 <= n {
                let wd = buffer.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: off, as: Int32.self) }
                let mask = buffer.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: off + 4, as: UInt32.self) }
                let cookie = buffer.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: off + 8, as: UInt32.self) }
                let len = Int(buffer.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: off + 12, as: UInt32.self) })
                let nameBytes = buffer[(off + 16)..<min(off + 16 + len, n)].prefix { $0 != 0 }
                off += 16 + len
                if hostEvents.count >= Self.maxHostEvents {
                    if hostEvents.last?.mask != 0x4000 { hostEvents.append(Gofer.HostEvent(wd: 0, mask: 0x4000, cookie: 0, name: "")) }
                    continue
                }
                hostEvents.append(Gofer.HostEvent(wd: UInt32(bitPattern: wd), mask: mask, cookie: cookie,
                                                  name: String(decoding: nameBytes, as: UTF8.self)))
            }
        }
    }
}
