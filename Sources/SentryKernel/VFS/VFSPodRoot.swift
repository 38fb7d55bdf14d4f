// A pod member's own root (ControlPods.swift): its bundle's rootfs through its own bulwark-gofer, as a
// mount tree that hangs from no mount of the sandbox's, like a mount namespace of its own (runsc gives
// each container of a pod its own root the same way). The member's tasks have it as their root
// (FSContext.root), so "/" and ".." never leave it. /dev (with /dev/pts and /dev/shm, which a pod
// shares), /proc and /sys are the sandbox's, bound recursively; /tmp is a tmpfs of its own when the
// image's is empty; the container's bind mounts are its gofer's further attachments (1, 2...).
@preconcurrency import Glibc
import GoferServer
import HostOS
import IPC

extension VFS {
    /// Builds the tree over the gofer at `channelFD` (taken over). Kernel lock held.
    func makePodRoot(channelFD: Int32, binds: [(destination: String, readOnly: Bool)], overlay: Bool,
                     log: (String) -> Void) -> KResult<VLocation> {
        let client = GoferClient(Channel(OwnedFD(adopting: channelFD)), timeout: .seconds(10))
        let gfs = GoferFS(client: client)
        gfs.readOnly = overlay && binds.isEmpty
        let groot: GoferInode
        switch gfs.attach(mountID: 0, readOnly: overlay) {
        case .failure(let e): return .failure(e)
        case .success(let g): groot = g
        }
        let top: VInode = overlay ? OverlayInode.root(lower: groot) : groot
        let d = Dentry(name: "/", parent: nil, inode: top)
        let mount = VMount(root: d, parent: nil, point: nil, readOnly: false, fsType: overlay ? "overlay" : "9p", source: "root")
        let root = VLocation(mount: mount, dentry: d)

        // The sandbox's trees, looked up (relative to its root) before lookups start from the member's.
        syncSynthetic()
        var shared: [(path: String, mount: VMount)] = []
        for name in ["dev", "proc", "sys"] {
            var links = 0
            var magic: FileDescription? = nil
            if case .success(let l) = walk(nil, self.root, name, follow: true, links: &links, magic: &magic),
               l.dentry === l.mount.root {
                shared.append(("/" + name, l.mount))
            }
        }
        let saved = requestRoot
        requestRoot = root
        defer { requestRoot = saved }
        for s in shared {
            switch podDirectory(root, s.path) {
            case .failure(let e): log("pod root: \(s.path): errno \(e); not mounted")
            case .success(let point): bindTree(s.mount, on: point)
            }
        }
        var tmpEmpty = true
        if case .success(let tmp) = groot.lookup(nil, "tmp"), let g = tmp as? GoferInode, g.isDir,
           case .success(let r) = gfs.call({ () throws(IPCError) in try client.getdents(g.fid, count: 1) }), !r.entries.isEmpty {
            tmpEmpty = false
        }
        if tmpEmpty, case .success(let point) = podDirectory(root, "/tmp") {
            place(root: Dentry(name: "tmp", parent: nil, inode: TmpfsNode(kind: .dir, mode: 0o1777)), on: point,
                  fsType: "tmpfs", source: "tmpfs", readOnly: false)
        }
        for (i, b) in binds.enumerated() {
            switch gfs.attach(mountID: UInt64(i + 1), readOnly: b.readOnly) {
            case .failure(let e): log("pod root: bind mount \(b.destination): gofer attach failed (errno \(e)); skipped")
            case .success(let g):
                if g.isDir {
                    switch podDirectory(root, b.destination) {
                    case .failure(let e): log("pod root: bind mount \(b.destination): errno \(e); skipped")
                    case .success(let point):
                        place(root: Dentry(name: point.dentry.name, parent: nil, inode: g), on: point,
                              fsType: "bind", source: b.destination, readOnly: b.readOnly)
                    }
                } else {
                    let r = mountFile(g, at: b.destination, source: b.destination, readOnly: b.readOnly)
                    if r < 0 { log("pod root: bind mount \(b.destination): errno \(-r); skipped") }
                }
            }
        }
        podMounts.append(mount)
        return .success(root)
    }

    /// The member is gone: its tree is no longer kept for pruning (it lives on while its last tasks
    /// and open files hold it; then its gofer channel closes).
    func dropPodRoot(_ root: VLocation) {
        podMounts.removeAll { $0 === root.mount }
    }

    /// mkdir -p of `path` under `root` (mount points of the member's tree); the directory's location.
    private func podDirectory(_ root: VLocation, _ path: String) -> KResult<VLocation> {
        var cur = root
        for c in path.split(separator: "/") {
            switch lookupChild(nil, cur, String(c)) {
            case .success(let l): cur = l
            case .failure(let e):
                guard e == ENOENT else { return .failure(e) }
                if cur.mount.readOnly { return .failure(EROFS) }
                cur.dentry.negative.remove(String(c))
                if case .failure(let e2) = cur.inode.mkdir(String(c), mode: 0o755, uid: 0, gid: 0) { return .failure(e2) }
                guard case .success(let l) = lookupChild(nil, cur, String(c)) else { return .failure(ENOENT) }
                cur = l
            }
        }
        return cur.inode.isDir ? .success(cur) : .failure(ENOTDIR)
    }

    /// A recursive bind of `src` (and the mounts on it) on `point`: the same dentries, new mounts.
    private func bindTree(_ src: VMount, on point: VLocation) {
        let m = VMount(root: src.root, parent: point.mount, point: point.dentry, readOnly: src.readOnly,
                       fsType: src.fsType, source: src.source)
        point.mount.children[ObjectIdentifier(point.dentry)] = m
        for child in src.children.values {
            if let covered = child.point { bindTree(child, on: VLocation(mount: m, dentry: covered)) }
        }
    }
}
