// The Sentry VFS without a gofer: path resolution over tmpfs mounts, the overlay (with a tmpfs
// standing in for the gofer's lower layer), and the MountRegistry seam (a tiny synthetic mount and
// a registered /dev device).
import Glibc
import SentryMemory
import Testing
@testable import SentryKernel

/// A three-entry generated tree: "hello" (a file), "link" -> "hello", "magic" (a magic link).
final class TinySynthetic: SyntheticMount {
    var fsType: String { "tiny" }
    func stat(_ t: Task, _ rel: String, _ st: inout stat) -> Int32 {
        st = Glibc.stat()
        switch rel {
        case "": st.st_mode = S_IFDIR | 0o555
        case "hello": st.st_mode = S_IFREG | 0o444; st.st_size = 5
        case "link", "magic": st.st_mode = S_IFLNK | 0o777
        default: return -ENOENT
        }
        return 0
    }
    func readlink(_ t: Task, _ rel: String) -> KResult<String> {
        switch rel {
        case "link": return .success("hello")
        case "magic": return .success("pipe:[1]")
        default: return .failure(EINVAL)
        }
    }
    func open(_ t: Task, _ rel: String, flags: Int32) -> KResult<FileDescription> {
        rel == "hello" ? .success(DeviceFile(.zero, flags: flags)) : .failure(EISDIR)
    }
    func openMagicLink(_ t: Task, _ rel: String, flags: Int32) -> KResult<FileDescription>? {
        rel == "magic" ? .success(DeviceFile(.full, flags: flags)) : nil
    }
}

@Suite("Sentry VFS", .serialized)
struct VFSTests {
    let memory = MemoryFile(capacity: 1 << 30)!

    /// A kernel whose root is `root`, with devfs at /dev, a tmpfs at /mnt, and one task.
    func makeTask(root: VInode) -> Task {
        let vfs = VFS(root: root, fsType: "tmpfs", source: "test")
        _ = vfs.mkdirAll("/mnt")
        _ = vfs.mkdirAll("/syn")
        vfs.mount(DevfsRoot(), at: "/dev", fsType: "devtmpfs", source: "devfs", readOnly: false)
        vfs.mount(TmpfsNode(kind: .dir, mode: 0o1777), at: "/mnt", fsType: "tmpfs", source: "tmpfs", readOnly: false)
        vfs.mount(TmpfsNode(kind: .dir, mode: 0o555), at: "/ro", fsType: "tmpfs", source: "ro", readOnly: true)
        let kernel = Kernel(config: SentryConfig(rootfs: "/"), memory: memory, vfs: vfs)
        Kernel.shared = kernel
        let tg = ThreadGroup(pid: 1, handlers: SignalHandlers(), pgid: 1, sid: 1, uid: 0, gid: 0)
        return Task(kernel: kernel, tid: 1, tg: tg, mm: AddressSpace(file: memory), fds: FDTable(), fsctx: FSContext(cwd: "/"))
    }

    func errnoOf<T>(_ r: KResult<T>) -> Int32 { if case .failure(let e) = r { return e }; return 0 }

    func resolve(_ t: Task, _ path: String, follow: Bool = true) -> KResult<VTarget> {
        t.kernel.vfs.resolve(t, at: t.kernel.vfs.root, path, follow: follow)
    }

    func make(_ t: Task, _ path: String, _ text: String = "") {
        if case .success(let f) = t.kernel.vfs.open(t, at: t.kernel.vfs.root, path, flags: O_CREAT | O_WRONLY, mode: 0o644) {
            _ = Array(text.utf8).withUnsafeBytes { f.write(t, $0) }
        }
    }

    @Test func symlinkLoopsDotDotAndTrailingSlashes() {
        let t = makeTask(root: TmpfsNode(kind: .dir, mode: 0o755))
        let vfs = t.kernel.vfs
        #expect(vfs.mkdir(t, at: vfs.root, "/a", mode: 0o755) == 0)
        make(t, "/a/f", "x")
        #expect(vfs.symlink(t, target: "l2", at: vfs.root, "/l1") == 0)
        #expect(vfs.symlink(t, target: "l1", at: vfs.root, "/l2") == 0)
        #expect(errnoOf(resolve(t, "/l1")) == ELOOP)
        #expect(errnoOf(resolve(t, "/l1", follow: false)) == 0)
        // 40 links in a chain resolve; 41 do not.
        for i in 0..<41 { _ = vfs.symlink(t, target: i == 0 ? "/a/f" : "c\(i - 1)", at: vfs.root, "/c\(i)") }
        #expect(errnoOf(resolve(t, "/c39")) == 0)
        #expect(errnoOf(resolve(t, "/c40")) == ELOOP)
        #expect(errnoOf(resolve(t, "/a/f/")) == ENOTDIR)
        #expect(errnoOf(resolve(t, "/a/f/..")) == ENOTDIR)
        #expect(errnoOf(resolve(t, "/../../a/./f")) == 0)
        #expect(errnoOf(resolve(t, "/" + String(repeating: "n", count: 256))) == ENAMETOOLONG)
        #expect(errnoOf(resolve(t, String(repeating: "/a", count: 2100))) == ENAMETOOLONG)
        // ".." from a mount's root goes to the parent of the mount point.
        #expect(vfs.mkdir(t, at: vfs.root, "/mnt/d", mode: 0o755) == 0)
        if case .success(.loc(let l)) = resolve(t, "/mnt/d/../../a") { #expect(vfs.pathOf(l) == "/a") } else { Issue.record("mount ..") }
        if case .success(.loc(let l)) = resolve(t, "/mnt/..") { #expect(l == vfs.root) } else { Issue.record("mnt/..") }
        // Renames across mounts are EXDEV; the read-only mount refuses changes.
        #expect(vfs.rename(t, oldAt: vfs.root, "/a/f", newAt: vfs.root, "/mnt/f", flags: 0) == -EXDEV)
        #expect(vfs.mkdir(t, at: vfs.root, "/ro/x", mode: 0o755) == -EROFS)
        #expect(errnoOf(vfs.open(t, at: vfs.root, "/ro/y", flags: O_CREAT | O_WRONLY, mode: 0o644)) == EROFS)
        #expect(vfs.unlink(t, at: vfs.root, "/mnt", dir: true) == -EBUSY)
    }

    @Test func dentryCacheIsBoundedAndKeepsWhatIsInUse() {
        let t = makeTask(root: TmpfsNode(kind: .dir, mode: 0o755))
        let vfs = t.kernel.vfs
        vfs.cacheLimit = 20
        _ = vfs.mkdir(t, at: vfs.root, "/d", mode: 0o755)
        make(t, "/d/keep", "k")
        guard case .success(let kept) = vfs.open(t, at: vfs.root, "/d/keep", flags: O_RDONLY, mode: 0) else { Issue.record("open"); return }
        for i in 0..<100 { make(t, "/d/f\(i)") }
        #expect(vfs.cached <= 21)
        // The open file's dentry (and its parents) stayed: its path is still known.
        #expect(kept.location.map { vfs.pathOf($0) } == "/d/keep")
        #expect(vfs.root.dentry.children["d"]?.children["keep"] === kept.location?.dentry)
        // Pruned names are found again.
        #expect(errnoOf(resolve(t, "/d/f3")) == 0)
    }

    @Test func openFlags() {
        let t = makeTask(root: TmpfsNode(kind: .dir, mode: 0o755))
        let vfs = t.kernel.vfs
        make(t, "/f", "hello")
        _ = vfs.symlink(t, target: "f", at: vfs.root, "/l")
        #expect(errnoOf(vfs.open(t, at: vfs.root, "/l", flags: O_RDONLY | O_NOFOLLOW, mode: 0)) == ELOOP)
        #expect(errnoOf(vfs.open(t, at: vfs.root, "/l", flags: O_PATH | O_NOFOLLOW, mode: 0)) == 0)
        #expect(errnoOf(vfs.open(t, at: vfs.root, "/f", flags: O_CREAT | O_EXCL | O_WRONLY, mode: 0o644)) == EEXIST)
        #expect(errnoOf(vfs.open(t, at: vfs.root, "/f", flags: O_DIRECTORY, mode: 0)) == ENOTDIR)
        #expect(errnoOf(vfs.open(t, at: vfs.root, "/", flags: O_WRONLY, mode: 0)) == EISDIR)
        guard case .success(let f) = vfs.open(t, at: vfs.root, "/f", flags: O_WRONLY | O_TRUNC, mode: 0) else { Issue.record("trunc"); return }
        var st = stat()
        _ = f.stat(&st)
        #expect(st.st_size == 0)
        #expect(f.path == "/f")
        // Creating through a dangling symlink creates its target.
        _ = vfs.symlink(t, target: "made", at: vfs.root, "/dang")
        #expect(errnoOf(vfs.open(t, at: vfs.root, "/dang", flags: O_CREAT | O_WRONLY, mode: 0o600)) == 0)
        #expect(errnoOf(resolve(t, "/made")) == 0)
    }

    @Test func overlayCopiesUpAndWhitesOut() {
        // The lower layer: a tmpfs with /etc/conf and /etc/gone, never changed by the overlay.
        let lower = TmpfsNode(kind: .dir, mode: 0o755)
        let etc = lower.mkdir("etc", mode: 0o755, uid: 0, gid: 0)
        guard case .success(let etcNode) = etc, let etcDir = etcNode as? TmpfsNode else { Issue.record("lower"); return }
        guard case .success(let (c, _)) = etcDir.create(nil, "conf", flags: O_WRONLY, mode: 0o644, uid: 0, gid: 0),
              let conf = c as? TmpfsNode else { Issue.record("lower conf"); return }
        conf.data = Array("lower".utf8)
        _ = etcDir.create(nil, "gone", flags: O_WRONLY, mode: 0o644, uid: 0, gid: 0)
        let t = makeTask(root: OverlayInode.root(lower: lower))
        let vfs = t.kernel.vfs
        guard case .success(let f) = vfs.open(t, at: vfs.root, "/etc/conf", flags: O_WRONLY | O_APPEND, mode: 0) else { Issue.record("open"); return }
        _ = Array("+upper".utf8).withUnsafeBytes { f.write(t, $0) }
        #expect(String(decoding: conf.data, as: UTF8.self) == "lower")
        guard case .success(let r) = vfs.open(t, at: vfs.root, "/etc/conf", flags: O_RDONLY, mode: 0) else { Issue.record("reopen"); return }
        var buf = [UInt8](repeating: 0, count: 32)
        let n = buf.withUnsafeMutableBytes { r.read(t, $0) }
        #expect(String(decoding: buf[0..<max(n, 0)], as: UTF8.self) == "lower+upper")
        // Unlink leaves a whiteout; the lower file stays; a new directory there is opaque.
        #expect(vfs.unlink(t, at: vfs.root, "/etc/gone", dir: false) == 0)
        #expect(errnoOf(resolve(t, "/etc/gone")) == ENOENT)
        #expect(etcDir.children["gone"] != nil)
        #expect(vfs.mkdir(t, at: vfs.root, "/etc/gone", mode: 0o755) == 0)
        guard case .success(.loc(let etcLoc)) = resolve(t, "/etc"), case .success(let list) = etcLoc.inode.readdir(t) else { Issue.record("ls"); return }
        #expect(list.map(\.name).sorted() == ["conf", "gone"])
        // rmdir of a merged directory that still has lower entries is ENOTEMPTY; a lower directory
        // cannot be renamed (EXDEV, as overlayfs).
        #expect(vfs.unlink(t, at: vfs.root, "/etc", dir: true) == -ENOTEMPTY)
        #expect(vfs.rename(t, oldAt: vfs.root, "/etc", newAt: vfs.root, "/etc2", flags: 0) == -EXDEV)
        // A renamed lower file: old name whited out, new name has the data.
        #expect(vfs.rename(t, oldAt: vfs.root, "/etc/conf", newAt: vfs.root, "/conf2", flags: 0) == 0)
        #expect(errnoOf(resolve(t, "/etc/conf")) == ENOENT)
        #expect(String(decoding: conf.data, as: UTF8.self) == "lower")
    }

    @Test func syntheticMountAndRegisteredDevice() {
        let t = makeTask(root: TmpfsNode(kind: .dir, mode: 0o755))
        let vfs = t.kernel.vfs
        t.kernel.mounts.mount(TinySynthetic(), at: "/syn")
        t.kernel.mounts.register(device: "mine", rdev: (5 << 8) | 7) { _, flags in .success(DeviceFile(.null, flags: flags)) }
        var st = stat()
        guard case .success(let target) = resolve(t, "/syn/link") else { Issue.record("syn link"); return }
        #expect(vfs.stat(t, target, &st) == 0)
        #expect(st.st_size == 5 && st.st_mode & S_IFMT == S_IFREG)
        #expect(errnoOf(resolve(t, "/syn/none")) == ENOENT)
        guard case .success(let f) = vfs.open(t, at: vfs.root, "/syn/hello", flags: O_RDONLY, mode: 0) else { Issue.record("open"); return }
        #expect(f.path == "/syn/hello")
        // The magic link opens what it stands for, not its text.
        guard case .success(let m) = vfs.open(t, at: vfs.root, "/syn/magic", flags: O_WRONLY, mode: 0) else { Issue.record("magic"); return }
        #expect((m as? DeviceFile)?.kind == .full)
        // The device registered by name appears in /dev and opens through its opener.
        guard case .success(.loc(let dev)) = resolve(t, "/dev/mine") else { Issue.record("dev"); return }
        _ = dev.inode.getattr(t, &st)
        #expect(st.st_rdev == (5 << 8) | 7 && st.st_mode & S_IFMT == S_IFCHR)
        guard case .success(let d) = vfs.open(t, at: vfs.root, "/dev/mine", flags: O_RDWR, mode: 0) else { Issue.record("dev open"); return }
        #expect((d as? DeviceFile)?.kind == .null)
        Kernel.shared = nil
    }
}
