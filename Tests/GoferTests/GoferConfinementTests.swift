// Escape attempts: symlinks out of the root, "..", magic links, a rename race, mounts, read-only.
import Foundation
import Glibc
import GoferServer
import HostOS
import IPC
import LinuxABI
import Protocol
import Testing

@Suite struct GoferConfinementTests {
    @Test func symlinksOutOfTheRootAreReadButNeverFollowed() throws {
        let gofer = try GoferFixture { p in
            let fm = FileManager.default
            try fm.createSymbolicLink(atPath: p.root + "/shadow", withDestinationPath: "/etc/shadow")
            try fm.createSymbolicLink(atPath: p.root + "/up", withDestinationPath: "../../..")
            try fm.createSymbolicLink(atPath: p.root + "/sibling", withDestinationPath: "../outside")
            try fm.createSymbolicLink(atPath: p.root + "/magic", withDestinationPath: "/proc/self/root")
        }
        let c = gofer.client
        let root = try c.attach()
        let shadow = try #require(try c.walk(root.fid, ["shadow"]).first)
        #expect(shadow.stat.mode & S_IFMT_ == UInt32(S_IFLNK))
        #expect(try c.readlink(shadow.fid) == "/etc/shadow")
        // Opening the link itself is refused: nothing reads /etc/shadow.
        #expect(openErrno(c, shadow.fid, flags: O_RDONLY) == .ELOOP)
        #expect(remoteErrno { try c.getXattr(shadow.fid, "user.x") } == .EPERM)
        #expect(remoteErrno { try c.setAttr(Gofer.SetAttr(fid: shadow.fid, mask: 0x2, mode: 0o777)) } == .EOPNOTSUPP)
        // Walking through any symlink fails (ENOTDIR: the link is not a directory to the gofer).
        for (link, next) in [("up", "etc"), ("sibling", "secret"), ("magic", "etc"), ("shadow", "x")] {
            #expect(remoteErrno { try c.walk(root.fid, [link, next]) } == .ENOTDIR, "walk through \(link)")
            #expect(try c.readlink(try #require(try c.walk(root.fid, [link]).first).fid).isEmpty == false)
        }
        #expect(try c.readlink(try #require(try c.walk(root.fid, ["up"]).first).fid) == "../../..")
    }

    @Test func dotDotSlashesAndBadNamesAreRefused() throws {
        let gofer = try GoferFixture { p in
            try FileManager.default.createDirectory(atPath: p.root + "/a", withIntermediateDirectories: true)
        }
        let c = gofer.client
        let root = try c.attach()
        let a = try #require(try c.walk(root.fid, ["a"]).first)
        for name in ["..", ".", "", "a/..", "../outside", "/etc", "x\u{0}y"] {
            #expect(remoteErrno { try c.walk(a.fid, [name]) } == .EINVAL, "walk \(name.debugDescription)")
            #expect(remoteErrno { try c.mkdir(a.fid, name, mode: 0o755) } == .EINVAL, "mkdir \(name.debugDescription)")
        }
        #expect(remoteErrno { try c.walk(root.fid, ["a", ".."]) } == .EINVAL)
        #expect(remoteErrno { try c.walk(root.fid, [String(repeating: "n", count: 256)]) } == .ENAMETOOLONG)
        #expect(remoteErrno { try c.rename(a.fid, "..", root.fid, "x") } == .EINVAL)
        #expect(remoteErrno { try c.attach(path: "/../outside") } == .EINVAL)
        // A failed walk leaves no nodes behind and the gofer keeps serving.
        #expect(try c.walk(root.fid, ["a"]).count == 1)
    }

    /// A thread swaps directory "d" with a symlink to "/" while the client walks ["d", "etc"]: the
    /// walk either finds root/d/etc or fails, never the host's /etc.
    @Test func renameRaceNeverReachesOutsideTheRoot() throws {
        let gofer = try GoferFixture { p in
            try FileManager.default.createDirectory(atPath: p.root + "/d/etc", withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: p.root + "/s", withDestinationPath: "/")
        }
        let c = gofer.client
        let root = try c.attach()
        let hostEtc = try hostStat("/etc")
        let insideEtc = try hostStat(gofer.root + "/d/etc")
        let stop = StopFlag()
        let done = DispatchSemaphore(value: 0)
        let rootPath = gofer.root
        let swapper = Thread {
            while !stop.isSet {
                _ = try? OpenAt2.rename(AT_FDCWD, rootPath + "/d", AT_FDCWD, rootPath + "/s", flags: 2)   // EXCHANGE
            }
            done.signal()
        }
        swapper.start()
        var inside = 0, refused = 0
        let deadline = Date().addingTimeInterval(1.5)
        while Date() < deadline {
            do {
                let inodes = try c.walk(root.fid, ["d", "etc"])
                for inode in inodes {
                    #expect(!(inode.stat.ino == UInt64(hostEtc.st_ino) && inode.stat.devMinor == minorOf(hostEtc.st_dev)),
                            "walk reached the host's /etc")
                }
                if inodes.count == 2 {
                    #expect(inodes[1].stat.ino == UInt64(insideEtc.st_ino))
                    inside += 1
                }
                try c.close(inodes.map(\.fid))
            } catch {
                guard case .remote(let errno, _) = error, errno == .ENOTDIR || errno == .ENOENT else {
                    Issue.record("unexpected failure \(error)")
                    break
                }
                refused += 1
            }
        }
        stop.set()
        #expect(done.wait(timeout: .now() + 5) == .success)
        #expect(inside + refused > 100)
        #expect(refused > 0)   // the race really happened
    }

    @Test func mountsServeOnlyTheirSource() throws {
        let gofer = try GoferFixture(["--mount", "@BASE/shared:/data:ro,@BASE/scratch:/scratch"],
                                     extraDirectories: ["shared/sub", "scratch"]) { p in
            try "shared file".write(toFile: p.base + "/shared/sub/file", atomically: false, encoding: .utf8)
        }
        let c = gofer.client
        let data = try c.attach(mountID: 1)
        #expect(data.stat.ino == UInt64(try hostStat(gofer.base + "/shared").st_ino))
        #expect(remoteErrno { try c.walk(data.fid, [".."]) } == .EINVAL)
        #expect(try c.walk(data.fid, ["outside"]).isEmpty)   // the sibling is not inside the source
        let file = try #require(try c.walk(data.fid, ["sub", "file"]).last)
        let fd = try c.open(file.fid, flags: O_RDONLY)
        #expect(readAll(fd.rawValue) == "shared file")
        fd.close()
        // ":ro" makes the mount read-only whatever the client asks.
        #expect(openErrno(c, file.fid, flags: O_RDWR) == .EROFS)
        #expect(remoteErrno { try c.mkdir(data.fid, "new", mode: 0o755) } == .EROFS)
        // Attach below a mount's root, and its limits.
        let sub = try c.attach(mountID: 1, path: "/sub")
        #expect(sub.stat.ino == UInt64(try hostStat(gofer.base + "/shared/sub").st_ino))
        #expect(remoteErrno { try c.attach(mountID: 1, path: "/sub/file") } == .ENOTDIR)
        #expect(remoteErrno { try c.attach(mountID: 1, path: "/missing") } == .ENOENT)
        #expect(remoteErrno { try c.attach(mountID: 3) } == .ENOENT)
        // The second mount is writable; a read-only attach of it is not.
        let scratch = try c.attach(mountID: 2)
        _ = try c.mkdir(scratch.fid, "made", mode: 0o755)
        #expect(FileManager.default.fileExists(atPath: gofer.base + "/scratch/made"))
        let scratchRO = try c.attach(mountID: 2, readOnly: true)
        #expect(remoteErrno { try c.mkdir(scratchRO.fid, "other", mode: 0o755) } == .EROFS)
    }

    @Test func readOnlyRootRefusesEveryWrite() throws {
        let gofer = try GoferFixture(["--read-only"]) { p in
            try "data".write(toFile: p.root + "/f", atomically: false, encoding: .utf8)
            try FileManager.default.createDirectory(atPath: p.root + "/d", withIntermediateDirectories: true)
        }
        let c = gofer.client
        let root = try c.attach()
        let f = try #require(try c.walk(root.fid, ["f"]).first)
        let d = try #require(try c.walk(root.fid, ["d"]).first)
        #expect(remoteErrno { try c.create(root.fid, "g", flags: O_RDWR, mode: 0o644) } == .EROFS)
        #expect(remoteErrno { try c.mkdir(root.fid, "e", mode: 0o755) } == .EROFS)
        #expect(remoteErrno { try c.mknod(root.fid, "p", mode: UInt32(S_IFIFO) | 0o600) } == .EROFS)
        #expect(remoteErrno { try c.symlink(root.fid, "l", target: "f") } == .EROFS)
        #expect(remoteErrno { try c.link(root.fid, "h", target: f.fid) } == .EROFS)
        #expect(remoteErrno { try c.unlink(root.fid, "f") } == .EROFS)
        #expect(remoteErrno { try c.unlink(root.fid, "d", removeDirectory: true) } == .EROFS)
        #expect(remoteErrno { try c.rename(root.fid, "f", d.fid, "f") } == .EROFS)
        #expect(remoteErrno { try c.setAttr(Gofer.SetAttr(fid: f.fid, mask: 0x200, size: 0)) } == .EROFS)
        #expect(remoteErrno { try c.setXattr(f.fid, "user.a", [1]) } == .EROFS)
        #expect(remoteErrno { try c.fallocate(f.fid, offset: 0, length: 10) } == .EROFS)
        #expect(openErrno(c, f.fid, flags: O_WRONLY) == .EROFS)
        #expect(openErrno(c, f.fid, flags: O_RDONLY | O_TRUNC) == .EROFS)
        let fd = try c.open(f.fid, flags: O_RDONLY)
        #expect(readAll(fd.rawValue) == "data")
        fd.close()
        #expect(try String(contentsOfFile: gofer.root + "/f", encoding: .utf8) == "data")
        #expect(try FileManager.default.contentsOfDirectory(atPath: gofer.root).sorted() == ["d", "f"])
    }
}

func minorOf(_ dev: dev_t) -> UInt32 {
    UInt32((dev & 0xff) | ((dev >> 12) & 0xffff_ff00))
}

final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
