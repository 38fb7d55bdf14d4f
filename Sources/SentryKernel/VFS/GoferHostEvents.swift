// inotify for changes made on the host behind the Gofer (--overlay2 none, bind mounts): an inotify
// watch on a gofer inode also asks the gofer to watch it on the host (HostWatch, once per inode).
// The gofer keeps only host-side events (creations, deletions, renames, attribute changes, content
// changes and closes after writing; what its own requests cause is dropped there, since the VFS
// reports those itself) and hands out a notifier descriptor that is readable while it has some.
// Instances with such watches pull them (HostEvents) before every read, poll and FIONREAD, and
// poll/epoll/blocking reads look at the notifier every few milliseconds (hostPollFD). The Sentry's own
// writes and closes go through donated descriptors outside any gofer request, so the gofer cannot
// tell their IN_MODIFY / IN_CLOSE_WRITE from the host's: the Sentry counts them per inode
// (OwnContentEvents) and drops that many at the next pull. Not seen: host-side opens, reads and
// closes without writing; the overlay's lower layer (a snapshot).
import Glibc
import GoferServer
import IPC
import Protocol

struct WeakDentry {
    weak var dentry: Dentry?
    init(_ d: Dentry) { dentry = d }
}

extension GoferFS {
    /// Asks the gofer to watch inode `g`, named by `d`, for host-side changes.
    func watchHost(_ g: GoferInode, _ d: Dentry) {
        if readOnly { return }
        if let wd = g.hostWD {
            var list = hostWatched[wd, default: []].filter { $0.dentry != nil }
            if !list.contains(where: { $0.dentry === d }) { list.append(WeakDentry(d)) }
            hostWatched[wd] = list
            return
        }
        guard case .success(let r) = call({ () throws(IPCError) in try client.hostWatch(g.fid) }) else { return }
        if notifier < 0 { notifier = r.notifier } else { Glibc.close(r.notifier) }
        g.hostWD = r.wd
        hostWatched[r.wd, default: []].append(WeakDentry(d))
    }

    /// Pulls the gofer's host-side events, if its notifier says there are some, into the watches: a
    /// child event goes to the directory's watches with the name (and the dentry cache forgets the
    /// name, whose object the host changed), an event on the object itself to its own watches.
    func pumpHostEvents() {
        guard notifier >= 0 else { return }
        var p = pollfd(fd: notifier, events: Int16(POLLIN), revents: 0)
        guard Glibc.poll(&p, 1, 0) > 0 else { return }
        guard case .success(let events) = call({ () throws(IPCError) in try client.hostEvents() }) else { return }
        // Every content event of the Sentry's own writes and closes so far is in this batch (the host
        // queues it before the write or close returns): the counts end with it.
        defer { hostPulls += 1 }
        for e in events {
            if e.mask & IN_IGNORED_ != 0 { hostWatched[e.wd] = nil; continue }
            guard let list = hostWatched[e.wd] else { continue }
            if e.mask & (IN_MODIFY_ | IN_CLOSE_WRITE_) != 0, isOwnContentEvent(e, list) { continue }
            for w in list {
                guard let d = w.dentry else { continue }
                if let g = d.inode as? GoferInode {
                    g.stale = true
                    if !e.name.isEmpty {
                        if g.prefetched.removeValue(forKey: e.name) != nil { prefetchCount -= 1 }
                        g.unfetched[e.name] = nil
                        g.listedNames = nil
                    }
                }
                if !e.name.isEmpty {
                    d.negative.remove(e.name)
                    if e.mask & IN_MODIFY_ != 0, let cg = d.children[e.name]?.inode as? GoferInode { cg.stale = true }
                    if e.mask & IN_DELETE_ != 0, let c = d.children[e.name], let cg = c.inode as? GoferInode {
                        // The host reports IN_DELETE_SELF only when the inode goes, which the gofer's
                        // node for it delays: the last link gone is enough, as for the application.
                        cg.stale = true
                        var st = Glibc.stat()
                        if cg.getattr(nil, &st) != 0 || st.st_nlink == 0 { InotifyHub.deleted(c) }
                    }
                    if e.mask & (IN_DELETE_ | IN_MOVED_FROM_ | IN_MOVED_TO_ | IN_CREATE_) != 0 { Kernel.shared?.vfs.forget(d, e.name) }
                    InotifyHub.inDir(d, e.mask, name: e.name, cookie: e.cookie)
                } else if e.mask & IN_DELETE_SELF_ != 0 {
                    InotifyHub.deleted(d)
                } else {
                    InotifyHub.onSelf(d, e.mask, cookie: e.cookie)
                }
            }
        }
    }

    /// Whether content event `e` (on host watch `list`) is one the Sentry caused: an event on the
    /// file's own watch, or on its directory's with its name, uses up one of the file's own counts.
    private func isOwnContentEvent(_ e: Gofer.HostEvent, _ list: [WeakDentry]) -> Bool {
        guard let d = list.first(where: { $0.dentry != nil })?.dentry else { return false }
        let child = !e.name.isEmpty
        guard let g = (child ? d.children[e.name]?.inode : d.inode) as? GoferInode else { return false }
        return g.ownContent.take(e.mask & (IN_MODIFY_ | IN_CLOSE_WRITE_), child: child, pull: hostPulls)
    }
}

/// The Sentry's own IN_MODIFY and IN_CLOSE_WRITE on one host file since the last pull, counted per
/// kind of watch that sees them (the file's own, its directory's): each write or close adds one event
/// to each. inotify merges an event with an identical one just before it, so a count may exceed the
/// events left; the rest is forgotten at the next pull. A host-side change merged with the Sentry's own
/// (same file, nothing in between) is dropped with it: the application got the Sentry's event.
struct OwnContentEvents {
    var pull = -1
    var modifySelf = 0, modifyChild = 0, closeSelf = 0, closeChild = 0

    mutating func add(_ mask: UInt32, pull now: Int) {
        if pull != now { self = OwnContentEvents(); pull = now }
        if mask & IN_MODIFY_ != 0 { modifySelf += 1; modifyChild += 1 }
        if mask & IN_CLOSE_WRITE_ != 0 { closeSelf += 1; closeChild += 1 }
    }

    mutating func take(_ mask: UInt32, child: Bool, pull now: Int) -> Bool {
        guard pull == now else { return false }
        func use(_ n: inout Int) -> Bool { if n > 0 { n -= 1; return true }; return false }
        if mask & IN_MODIFY_ != 0 { return child ? use(&modifyChild) : use(&modifySelf) }
        return child ? use(&closeChild) : use(&closeSelf)
    }
}

extension GoferInode {
    /// The Sentry wrote (IN_MODIFY) or closed after writing (IN_CLOSE_WRITE) this file through a
    /// donated host descriptor: the host's event for it is not a host-side change. Counted only while
    /// host watches exist.
    func ownContentEvent(_ mask: UInt32) {
        guard fs.notifier >= 0 else { return }
        ownContent.add(mask, pull: fs.hostPulls)
    }
}
