// inotify for changes made on the host behind the Gofer (--overlay2 none, bind mounts): an inotify
// watch on a gofer inode also asks the gofer to watch it on the host (HostWatch, once per inode).
// The gofer keeps only host-side events (creations, deletions, renames, attribute changes; what its
// own requests cause is dropped there, since the VFS reports those itself) and hands out a notifier
// descriptor that is readable while it has some. Instances with such watches pull them (HostEvents)
// before every read, poll and FIONREAD, and poll/epoll/blocking reads look at the notifier every
// few milliseconds (hostPollFD). Not seen: host-side content changes (IN_MODIFY), opens, closes and
// reads; the overlay's lower layer (a snapshot).
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
        for e in events {
            if e.mask & IN_IGNORED_ != 0 { hostWatched[e.wd] = nil; continue }
            guard let list = hostWatched[e.wd] else { continue }
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
}
