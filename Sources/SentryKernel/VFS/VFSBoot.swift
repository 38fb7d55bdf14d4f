// Builds the Sentry's mount tree at start-up: the root through bulwark-gofer (an overlay with a
// tmpfs upper layer by default, or direct with --overlay2 none), bind mounts as further gofer
// mounts, devfs at /dev, tmpfs at /dev/shm (and at /tmp when the image's /tmp is empty), and empty
// read-only directories over /proc and /sys until their providers register. Without --gofer-fd the
// Sentry starts bulwark-gofer itself (next to its own executable) over a socketpair.
import CBulwark
@preconcurrency import Glibc
import GoferServer
import HostOS
import IPC

/// A bind mount from the command line or config.json.
public struct BindMount: Equatable {
    public var source: String
    public var destination: String
    public var readOnly: Bool
    public init(source: String, destination: String, readOnly: Bool) {
        self.source = source
        self.destination = destination
        self.readOnly = readOnly
    }
}

enum VFSBoot {
    /// Starts `bulwark-gofer --channel-fd 3 --root ROOT [--mount ...]`; the Sentry's end of the channel.
    static func spawnGofer(root: String, binds: [BindMount]) -> KResult<Int32> {
        var exe = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &exe, 4095)
        guard n > 0 else { return .failure(errno) }
        let me = String(decoding: exe[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let dir = String(me[..<(me.lastIndex(of: "/") ?? me.startIndex)])
        let gofer = dir + "/bulwark-gofer"
        guard access(gofer, X_OK) == 0 else { return .failure(ENOENT) }
        var fds: [Int32] = [-1, -1]
        guard bw_socketpair_seqpacket(&fds) == 0 else { return .failure(errno) }
        var args: [String] = [gofer, "--channel-fd", "3", "--root", root]
        if !binds.isEmpty {
            args += ["--mount", binds.map { "\($0.source):\($0.destination)\($0.readOnly ? ":ro" : "")" }.joined(separator: ",")]
        }
        args += ServiceFaultSpecs.arguments(for: .gofer)   // --fault IPC specs given to the Sentry (SyscallFaults.swift)
        // The Sentry blocks the signals it forwards; the gofer must not inherit that mask.
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attr, &none)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK))
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[1], 3)
        let argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        fflush(stdout)
        let rc = posix_spawn(&pid, gofer, &actions, &attr, argv, environ)
        Glibc.close(fds[1])
        guard rc == 0 else { Glibc.close(fds[0]); return .failure(rc) }
        return .success(fds[0])
    }

    /// The mount tree for `config`, or a message saying why it cannot be built.
    static func build(_ config: SentryConfig) -> Result<VFS, BootError> {
        let binds = config.bindMounts
        let channelFD: Int32
        var goferMounts: [(destination: String, readOnly: Bool)]
        if let fd = config.goferFD {
            channelFD = fd
            // The launcher started the gofer with the same --mount list it gave us (mount ids 1, 2...).
            goferMounts = config.goferMounts.isEmpty ? binds.map { ($0.destination, $0.readOnly) } : config.goferMounts
        } else {
            switch spawnGofer(root: config.rootfs, binds: binds) {
            case .failure(let e): return .failure(BootError(message: "cannot start bulwark-gofer (errno \(e))"))
            case .success(let fd): channelFD = fd
            }
            goferMounts = binds.map { ($0.destination, $0.readOnly) }
        }
        let client = GoferClient(Channel(OwnedFD(adopting: channelFD)), timeout: .seconds(10))
        let gfs = GoferFS(client: client)
        gfs.readOnly = config.overlay && config.bindMounts.isEmpty && config.goferMounts.isEmpty
        let groot: GoferInode
        switch gfs.attach(mountID: 0, readOnly: config.overlay) {
        case .failure(let e): return .failure(BootError(message: "gofer attach of the root failed (errno \(e))"))
        case .success(let g): groot = g
        }
        AnonDevice.reserve(UInt(makedev_(groot.attrs.devMajor, groot.attrs.devMinor)))
        // The bind mounts' roots first: their host devices are reserved before tmpfs instances get theirs.
        var bindRoots: [KResult<GoferInode>] = []
        for (i, m) in goferMounts.enumerated() {
            let r = gfs.attach(mountID: UInt64(i + 1), readOnly: m.readOnly)
            if case .success(let g) = r { AnonDevice.reserve(UInt(makedev_(g.attrs.devMajor, g.attrs.devMinor))) }
            bindRoots.append(r)
        }
        let vfs: VFS
        if config.overlay {
            vfs = VFS(root: OverlayInode.root(lower: groot), fsType: "overlay", source: "root")
        } else {
            vfs = VFS(root: groot, fsType: "9p", source: "root")
        }
        // /tmp is a tmpfs when the image's /tmp is empty or missing (as runsc does).
        var tmpEmpty = true
        if case .success(let tmp) = groot.lookup(nil, "tmp"), let g = tmp as? GoferInode, g.isDir,
           case .success(let r) = gfs.call({ () throws(IPCError) in try client.getdents(g.fid, count: 1) }), !r.entries.isEmpty {
            tmpEmpty = false
        }
        if tmpEmpty { vfs.mount(TmpfsNode(kind: .dir, mode: 0o1777), at: "/tmp", fsType: "tmpfs", source: "tmpfs", readOnly: false) }
        vfs.mount(DevfsRoot(), at: "/dev", fsType: "devtmpfs", source: "devfs", readOnly: false)
        vfs.mount(TmpfsNode(kind: .dir, mode: 0o1777), at: "/dev/shm", fsType: "tmpfs", source: "shm", readOnly: false)
        // config.json's tmpfs mounts: mode=, uid=, gid= and ro are honoured; size= and nr_inodes= are not
        // enforced (memory is the Sentry's), the other flags are accepted.
        for m in config.tmpfsMounts {
            var mode: UInt32 = 0o1777, uid: UInt32 = 0, gid: UInt32 = 0
            for o in m.options {
                if o.hasPrefix("mode="), let v = UInt32(o.dropFirst(5), radix: 8) { mode = v & 0o7777 }
                if o.hasPrefix("uid="), let v = UInt32(o.dropFirst(4)) { uid = v }
                if o.hasPrefix("gid="), let v = UInt32(o.dropFirst(4)) { gid = v }
            }
            let node = TmpfsNode(kind: .dir, mode: mode)
            node.uid = uid; node.gid = gid
            let r = vfs.mount(node, at: m.destination, fsType: "tmpfs", source: "tmpfs", readOnly: m.options.contains("ro"))
            if r < 0 { return .failure(BootError(message: "tmpfs mount on \(m.destination) failed (errno \(-r))")) }
        }
        // The host's /proc and /sys describe the host: hidden until the procfs provider mounts its own.
        for p in ["/proc", "/sys"] {
            vfs.mount(TmpfsNode(kind: .dir, mode: 0o555), at: p, fsType: "tmpfs", source: "none", readOnly: true, create: false)
        }
        for (i, m) in goferMounts.enumerated() {
            switch bindRoots[i] {
            case .failure(let e):
                fputs("bulwark-sentry: bind mount \(m.destination): gofer attach failed (errno \(e)); skipped\n", stderr)
            case .success(let g):
                let r = g.isDir ? vfs.mount(g, at: m.destination, fsType: "bind", source: m.destination, readOnly: m.readOnly)
                    : vfs.mountFile(g, at: m.destination, source: m.destination, readOnly: m.readOnly)
                if r < 0 { fputs("bulwark-sentry: bind mount \(m.destination): errno \(-r); skipped\n", stderr) }
            }
        }
        return .success(vfs)
    }

    struct BootError: Error { var message: String }
}

extension VFS {
    /// A single-file bind mount: `file` covers the non-directory at `path` (an empty file is made
    /// there, and its directories, when missing, as runc does). 0 or -errno.
    func mountFile(_ file: VInode, at path: String, source: String, readOnly: Bool) -> Int32 {
        var links = 0
        var magic: FileDescription? = nil
        var loc: VLocation
        switch walk(nil, root, path, follow: true, links: &links, magic: &magic) {
        case .success(let l): loc = l
        case .failure(let e):
            guard e == ENOENT, let slash = path.lastIndex(of: "/") else { return -e }
            let dirPath = String(path[..<slash]), name = String(path[path.index(after: slash)...])
            if !dirPath.isEmpty { let r = mkdirAll(dirPath); if r < 0 { return r } }
            guard case .success(let dir) = walk(nil, root, dirPath.isEmpty ? "/" : dirPath, follow: true, links: &links, magic: &magic) else { return -ENOENT }
            if dir.mount.readOnly { return -EROFS }
            dir.dentry.negative.remove(name)
            if case .failure(let e2) = dir.inode.create(nil, name, flags: O_WRONLY, mode: 0o644, uid: 0, gid: 0) { return -e2 }
            guard case .success(let l) = lookupChild(nil, dir, name) else { return -ENOENT }
            loc = l
        }
        if loc.inode.isDir { return -EISDIR }
        let d = Dentry(name: loc.dentry.name, parent: nil, inode: file)
        place(root: d, on: loc, fsType: "bind", source: source, readOnly: readOnly)
        return 0
    }

    /// Path stat for callers that hold an absolute path (sockets' name checks).
    func stat(_ path: String, followLinks: Bool, _ st: inout stat) -> Int32 {
        switch resolve(nil, at: root, path, follow: followLinks) {
        case .failure(let e): return -e
        case .success(let target): return stat(nil, target, &st)
        }
    }
}

extension VFS {
    /// A read-only host descriptor with the contents of the file at absolute `path` (or -errno), for
    /// callers of the former bootstrap file system's API.
    func openHost(_ path: String, flags: Int32) -> Int32 {
        guard flags & O_ACCMODE_ == O_RDONLY else { return -EROFS }
        return openForExec(nil, at: root, path)
    }
}

extension Kernel {
    /// The VFS under the name the socket code used for the bootstrap file system.
    var fs: VFS { vfs }
}

extension VFS {
    /// The initial working directory as a canonical path ("/" when it does not exist).
    func canonicalCwd(_ path: String) -> String {
        if case .success(.loc(let l)) = resolve(nil, at: root, path, follow: true), l.inode.isDir { return pathOf(l) }
        return "/"
    }
}

extension Kernel {
    /// Whether init (pid 1) has been created (read without the lock: a start-up hint only).
    var hasInit: Bool {
        lock()
        defer { unlock() }
        return threadGroups[1] != nil
    }
}
