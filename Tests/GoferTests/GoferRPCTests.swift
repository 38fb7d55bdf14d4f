// Every gofer RPC against a scratch directory, checked against what the host file system shows.
import Foundation
import Glibc
import GoferServer
import HostOS
import IPC
import LinuxABI
import Protocol
import Testing

@Suite struct GoferRPCTests {
    @Test func attachWalkAndStatMatchTheHost() throws {
        let gofer = try GoferFixture { p in
            try FileManager.default.createDirectory(atPath: p.root + "/a", withIntermediateDirectories: true)
            try "hello gofer\n".write(toFile: p.root + "/a/b.txt", atomically: false, encoding: .utf8)
        }
        let c = gofer.client
        let root = try c.attach()
        let hostRoot = try hostStat(gofer.root)
        #expect(root.stat.ino == UInt64(hostRoot.st_ino))
        #expect(root.stat.mode & S_IFMT_ == UInt32(S_IFDIR))
        let inodes = try c.walk(root.fid, ["a", "b.txt"])
        #expect(inodes.count == 2)
        let host = try hostStat(gofer.root + "/a/b.txt")
        let s = try #require(inodes.last).stat
        #expect(s.ino == UInt64(host.st_ino))
        #expect(s.size == UInt64(host.st_size))
        #expect(s.mode == UInt32(host.st_mode))
        #expect(s.nlink == UInt32(host.st_nlink))
        #expect(s.uid == host.st_uid && s.gid == host.st_gid)
        #expect(s.mtimeSec == Int64(host.st_mtim.tv_sec) && s.mtimeNsec == UInt32(host.st_mtim.tv_nsec))
        #expect(s.blocks == UInt64(host.st_blocks))
        // Stat on the node agrees with the walk.
        #expect(try c.stat(inodes[1].fid) == s)
        // A missing component ends the walk early without error.
        let partial = try c.walk(root.fid, ["a", "missing", "x"])
        let hostA = try hostStat(gofer.root + "/a")
        #expect(partial.count == 1 && partial[0].stat.ino == UInt64(hostA.st_ino))
        #expect(try c.walk(root.fid, ["nothing"]).isEmpty)
        // WalkStat returns the directory's own attributes first.
        let ws = try c.walkStat(inodes[0].fid, ["b.txt"])
        #expect(ws.dirStat.ino == UInt64(try hostStat(gofer.root + "/a").st_ino))
        #expect(ws.inodes.map(\.stat.ino) == [UInt64(host.st_ino)])
    }

    @Test func donatedDescriptorReadsAndWritesTheHostFile() throws {
        let gofer = try GoferFixture { p in
            try "original".write(toFile: p.root + "/f", atomically: false, encoding: .utf8)
        }
        let c = gofer.client
        let root = try c.attach()
        let f = try #require(try c.walk(root.fid, ["f"]).first)
        let reader = try c.open(f.fid, flags: O_RDONLY)
        #expect(readAll(reader.rawValue) == "original")
        #expect(write(reader.rawValue, "x", 1) == -1)   // read-only descriptor
        let writer = try c.open(f.fid, flags: O_RDWR | O_TRUNC)
        #expect(write(writer.rawValue, "rewritten", 9) == 9)
        #expect(try String(contentsOfFile: gofer.root + "/f", encoding: .utf8) == "rewritten")
        // The host sees the same file through both descriptors.
        #expect(readAll(reader.rawValue) == "rewritten")
        // Flags outside the allowlist and non-regular files are refused.
        #expect(openErrno(c, f.fid, flags: O_RDONLY | O_CREAT) == .EINVAL)
        #expect(openErrno(c, f.fid, flags: O_RDONLY | O_DIRECTORY) == .EINVAL)
        #expect(openErrno(c, root.fid, flags: O_RDONLY) == .EISDIR)
        reader.close()
        writer.close()
        // A node follows its inode, not its name: after a rename, Open still reaches the same file.
        try FileManager.default.moveItem(atPath: gofer.root + "/f", toPath: gofer.root + "/renamed")
        let moved = try c.open(f.fid, flags: O_RDONLY)
        #expect(readAll(moved.rawValue) == "rewritten")
        moved.close()
    }

    @Test func createMkdirSymlinkLinkMknodMakeHostFiles() throws {
        let gofer = try GoferFixture()
        let c = gofer.client
        let root = try c.attach()
        let made = try c.create(root.fid, "new.txt", flags: O_RDWR, mode: 0o640)
        defer { _ = Glibc.close(made.fd) }
        #expect(write(made.fd, "abc", 3) == 3)
        let host = try hostStat(gofer.root + "/new.txt")
        #expect(made.inode.stat.ino == UInt64(host.st_ino))
        #expect(UInt32(host.st_mode) & 0o7777 == 0o640 & ~UInt32(umaskValue()))
        #expect(try String(contentsOfFile: gofer.root + "/new.txt", encoding: .utf8) == "abc")
        #expect(remoteErrno { try c.create(root.fid, "new.txt", flags: O_RDWR, mode: 0o600) } == .EEXIST)

        let dir = try c.mkdir(root.fid, "sub", mode: 0o755)
        #expect(dir.stat.ino == UInt64(try hostStat(gofer.root + "/sub").st_ino))
        #expect(remoteErrno { try c.mkdir(root.fid, "sub", mode: 0o755) } == .EEXIST)

        let link = try c.symlink(dir.fid, "ln", target: "../new.txt")
        #expect(link.stat.mode & S_IFMT_ == UInt32(S_IFLNK))
        #expect(try c.readlink(link.fid) == "../new.txt")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: gofer.root + "/sub/ln") == "../new.txt")
        #expect(remoteErrno { try c.readlink(dir.fid) } == .EINVAL)

        let hard = try c.link(dir.fid, "hard", target: made.inode.fid)
        #expect(hard.stat.ino == made.inode.stat.ino)
        #expect(try hostStat(gofer.root + "/new.txt").st_nlink == 2)
        #expect(remoteErrno { try c.link(root.fid, "dirlink", target: dir.fid) } == .EPERM)

        let fifo = try c.mknod(root.fid, "fifo", mode: UInt32(S_IFIFO) | 0o600)
        #expect(fifo.stat.mode & S_IFMT_ == UInt32(S_IFIFO))
        #expect(UInt32(try hostStat(gofer.root + "/fifo").st_mode) & S_IFMT_ == UInt32(S_IFIFO))
        #expect(remoteErrno { try c.mknod(root.fid, "dev", mode: UInt32(S_IFCHR) | 0o600) } == .EPERM)
        #expect(openErrno(c, fifo.fid, flags: O_RDONLY) == .EPERM)
    }

    /// CreateTmpfile: an unnamed host file in the directory (link count 0, not listed) whose node Link
    /// names; O_EXCL ones the host kernel refuses to link; read-only mounts and bad flags are refused.
    @Test func createTmpfileAndLinkIt() throws {
        let gofer = try GoferFixture()
        let c = gofer.client
        let root = try c.attach()
        let made = try c.createTmpfile(root.fid, flags: O_RDWR, mode: 0o600)
        defer { _ = Glibc.close(made.fd) }
        #expect(made.inode.stat.nlink == 0)
        #expect(made.inode.stat.mode & S_IFMT_ == UInt32(S_IFREG))
        #expect(write(made.fd, "tmp", 3) == 3)
        #expect(try FileManager.default.contentsOfDirectory(atPath: gofer.root).isEmpty)
        let named = try c.link(root.fid, "named", target: made.inode.fid)
        #expect(named.stat.ino == made.inode.stat.ino)
        #expect(named.stat.nlink == 1)
        #expect(try String(contentsOfFile: gofer.root + "/named", encoding: .utf8) == "tmp")

        let excl = try c.createTmpfile(root.fid, flags: O_WRONLY | O_EXCL, mode: 0o600)
        defer { _ = Glibc.close(excl.fd) }
        #expect(remoteErrno { try c.link(root.fid, "excl", target: excl.inode.fid) } == .ENOENT)
        #expect(!FileManager.default.fileExists(atPath: gofer.root + "/excl"))

        #expect(remoteErrno { try c.createTmpfile(root.fid, flags: O_RDONLY, mode: 0o600) } == .EINVAL)
        #expect(remoteErrno { try c.createTmpfile(root.fid, flags: O_RDWR | O_CREAT, mode: 0o600) } == .EINVAL)
        #expect(remoteErrno { try c.createTmpfile(named.fid, flags: O_RDWR, mode: 0o600) } == .ENOTDIR)
        let ro = try c.attach(readOnly: true)
        #expect(remoteErrno { try c.createTmpfile(ro.fid, flags: O_RDWR, mode: 0o600) } == .EROFS)
    }

    @Test func unlinkRenameAndTheirErrors() throws {
        let gofer = try GoferFixture { p in
            let fm = FileManager.default
            try fm.createDirectory(atPath: p.root + "/full/inner", withIntermediateDirectories: true)
            try fm.createDirectory(atPath: p.root + "/empty", withIntermediateDirectories: true)
            try "1".write(toFile: p.root + "/one", atomically: false, encoding: .utf8)
            try "2".write(toFile: p.root + "/two", atomically: false, encoding: .utf8)
        }
        let c = gofer.client
        let root = try c.attach()
        #expect(remoteErrno { try c.unlink(root.fid, "full", removeDirectory: true) } == .ENOTEMPTY)
        #expect(remoteErrno { try c.unlink(root.fid, "empty") } == .EISDIR)
        #expect(remoteErrno { try c.unlink(root.fid, "missing") } == .ENOENT)
        #expect(remoteErrno { try c.walk(root.fid, ["one", "x"]) } == .ENOTDIR)
        #expect(remoteErrno { try c.rename(root.fid, "one", root.fid, "two", flags: 1) } == .EEXIST)
        try c.rename(root.fid, "one", root.fid, "two", flags: 2)   // RENAME_EXCHANGE
        #expect(try String(contentsOfFile: gofer.root + "/one", encoding: .utf8) == "2")
        #expect(try String(contentsOfFile: gofer.root + "/two", encoding: .utf8) == "1")
        let full = try #require(try c.walk(root.fid, ["full"]).first)
        try c.rename(root.fid, "two", full.fid, "moved")
        #expect(FileManager.default.fileExists(atPath: gofer.root + "/full/moved"))
        #expect(!FileManager.default.fileExists(atPath: gofer.root + "/two"))
        try c.unlink(root.fid, "empty", removeDirectory: true)
        try c.unlink(root.fid, "one")
        #expect(!FileManager.default.fileExists(atPath: gofer.root + "/empty"))
        #expect(!FileManager.default.fileExists(atPath: gofer.root + "/one"))
        #expect(remoteErrno { try c.rename(root.fid, "full", root.fid, "x", flags: 4) } == .EINVAL)
    }

    @Test func setAttrStatFSFsyncAndFallocate() throws {
        let gofer = try GoferFixture { p in
            try "0123456789".write(toFile: p.root + "/f", atomically: false, encoding: .utf8)
        }
        let c = gofer.client
        let root = try c.attach()
        let f = try #require(try c.walk(root.fid, ["f"]).first)
        try c.setAttr(Gofer.SetAttr(fid: f.fid, mask: 0x2 | 0x200 | 0x20 | 0x40, mode: 0o604, size: 4,
                                    atimeSec: 1_000_000, atimeNsec: 5, mtimeSec: 2_000_000, mtimeNsec: 7))
        let host = try hostStat(gofer.root + "/f")
        #expect(UInt32(host.st_mode) & 0o7777 == 0o604)
        #expect(host.st_size == 4)
        #expect(host.st_atim.tv_sec == 1_000_000 && host.st_atim.tv_nsec == 5)
        #expect(host.st_mtim.tv_sec == 2_000_000 && host.st_mtim.tv_nsec == 7)
        let s = try c.stat(f.fid)
        #expect(s.size == 4 && s.mode & 0o7777 == 0o604 && s.mtimeSec == 2_000_000)
        // Owner unchanged (same ids) is allowed without capabilities.
        try c.setAttr(Gofer.SetAttr(fid: f.fid, mask: 0x8 | 0x10, uid: host.st_uid, gid: host.st_gid))
        #expect(remoteErrno { try c.setAttr(Gofer.SetAttr(fid: root.fid, mask: 0x200, size: 0)) } == .EISDIR)
        #expect(remoteErrno { try c.setAttr(Gofer.SetAttr(fid: f.fid, mask: 0x1000)) } == .EINVAL)

        let fs = try c.statfs(root.fid)
        let rootFD = try FileSystem.open(gofer.root, flags: O_RDONLY | O_DIRECTORY)
        let hostFS = try FileAttributes.statfs(rootFD.rawValue)   // the host's own view of the same directory
        rootFD.close()
        #expect(fs.type == UInt64(bitPattern: Int64(hostFS.f_type)))
        #expect(fs.blockSize == UInt64(hostFS.f_bsize) && fs.blocks == UInt64(hostFS.f_blocks))
        #expect(fs.nameLength == UInt64(hostFS.f_namelen))

        try c.fallocate(f.fid, offset: 0, length: 1 << 20)
        #expect(try hostStat(gofer.root + "/f").st_size == 1 << 20)
        try c.fsync(f.fid)
        try c.fsync(f.fid, dataOnly: true)
        try c.fsync(root.fid)
    }

    @Test func getdentsInBatchesListsTheHostDirectory() throws {
        let gofer = try GoferFixture { p in
            try FileManager.default.createDirectory(atPath: p.root + "/d", withIntermediateDirectories: true)
            for i in 0..<300 { _ = FileManager.default.createFile(atPath: p.root + "/d/file-\(i)", contents: nil) }
            try FileManager.default.createDirectory(atPath: p.root + "/d/subdir", withIntermediateDirectories: true)
        }
        let c = gofer.client
        let root = try c.attach()
        let d = try #require(try c.walk(root.fid, ["d"]).first)
        let first = try c.getdents(d.fid, count: 7)
        #expect(first.entries.count == 7 && !first.end)
        let entries = try c.readDirectory(d.fid, batch: 7)
        let host = try FileManager.default.contentsOfDirectory(atPath: gofer.root + "/d")
        #expect(entries.map(\.name).sorted() == host.sorted())
        #expect(Set(entries.map(\.name)).count == entries.count)
        let sub = try #require(entries.first { $0.name == "subdir" })
        let hostSub = try hostStat(gofer.root + "/d/subdir")
        #expect(sub.type == 4 && sub.ino == UInt64(hostSub.st_ino))   // DT_DIR
        #expect(entries.first { $0.name == "file-0" }?.type == 8)   // DT_REG
        #expect(remoteErrno { try c.getdents(d.fid, count: 0) } == .EINVAL)
        let f = try #require(try c.walk(d.fid, ["file-1"]).first)
        #expect(remoteErrno { try c.getdents(f.fid) } == .ENOTDIR)
    }

    @Test func getdentsWalkListsAndLooksUpEveryEntry() throws {
        let gofer = try GoferFixture { p in
            try FileManager.default.createDirectory(atPath: p.root + "/d/subdir", withIntermediateDirectories: true)
            for i in 0..<10 { _ = FileManager.default.createFile(atPath: p.root + "/d/file-\(i)", contents: Data(repeating: 1, count: i)) }
            try FileManager.default.createSymbolicLink(atPath: p.root + "/d/link", withDestinationPath: "/etc/shadow")
        }
        let c = gofer.client
        let root = try c.attach()
        let d = try #require(try c.walk(root.fid, ["d"]).first)
        let first = try c.getdentsWalk(d.fid, count: 5)
        #expect(first.entries.count == 5 && first.inodes.count == 5 && !first.end)
        let rest = try c.getdentsWalk(d.fid, cookie: first.entries.last!.cookie, count: 100)
        #expect(rest.end && rest.inodes.count == rest.entries.count)
        let all = zip(first.entries + rest.entries, first.inodes + rest.inodes)
        #expect(Set(all.map(\.0.name)) == Set(try FileManager.default.contentsOfDirectory(atPath: gofer.root + "/d")))
        for (e, ino) in all {
            // Each inode is the entry itself (same inode number; the symlink is not followed) and a
            // usable fid.
            #expect(ino.fid != 0 && ino.stat.ino == e.ino, "\(e.name)")
            if e.name.hasPrefix("file-") { #expect(ino.stat.size == UInt64(e.name.dropFirst(5))!) }
            if e.name == "link" {
                let target = try c.readlink(ino.fid)
                #expect(ino.stat.mode & 0o170000 == 0o120000 && target == "/etc/shadow")
            }
        }
        let f = try #require(try c.walk(d.fid, ["file-1"]).first)
        #expect(remoteErrno { try c.getdentsWalk(f.fid) } == .ENOTDIR)
        try c.close((first.inodes + rest.inodes).map(\.fid))
    }

    @Test func userXattrsRoundTripAndOthersAreRefused() throws {
        let gofer = try GoferFixture { p in
            _ = FileManager.default.createFile(atPath: p.root + "/f", contents: nil)
        }
        let c = gofer.client
        let root = try c.attach()
        let f = try #require(try c.walk(root.fid, ["f"]).first)
        try c.setXattr(f.fid, "user.color", Array("blue".utf8))
        #expect(try Xattr.get(gofer.root + "/f", "user.color", size: 64).value == Array("blue".utf8))   // host view
        let got = try c.getXattr(f.fid, "user.color")
        #expect(got.value == Array("blue".utf8) && got.size == 4)
        #expect(try c.getXattr(f.fid, "user.color", size: 0).size == 4)
        #expect(try c.listXattr(f.fid) == ["user.color"])
        #expect(remoteErrno { try c.setXattr(f.fid, "user.color", [1], flags: 1) } == .EEXIST)   // XATTR_CREATE
        try c.removeXattr(f.fid, "user.color")
        #expect(try c.listXattr(f.fid).isEmpty)
        #expect(remoteErrno { try c.getXattr(f.fid, "user.color") } == .ENODATA)
        #expect(remoteErrno { try c.setXattr(f.fid, "trusted.x", [1]) } == .EOPNOTSUPP)
        #expect(remoteErrno { try c.getXattr(f.fid, "security.selinux") } == .EOPNOTSUPP)
    }

    @Test func closeReleasesNodesAndUnknownFidsFail() throws {
        let gofer = try GoferFixture { p in
            _ = FileManager.default.createFile(atPath: p.root + "/f", contents: nil)
        }
        let c = gofer.client
        let root = try c.attach()
        let f = try #require(try c.walk(root.fid, ["f"]).first)
        try c.close([f.fid])
        #expect(remoteErrno { try c.stat(f.fid) } == .EBADF)
        #expect(remoteErrno { try c.close([f.fid]) } == .EBADF)
        #expect(remoteErrno { try c.walk(0, ["f"]) } == .EBADF)
        #expect(remoteErrno { try c.stat(0xdead_beef_0000_0001) } == .EBADF)
        // The slot is reused with a new generation: the stale fid stays invalid.
        let again = try #require(try c.walk(root.fid, ["f"]).first)
        #expect(again.fid != f.fid)
        #expect(remoteErrno { try c.stat(f.fid) } == .EBADF)
        #expect(try c.stat(again.fid).ino == f.stat.ino)
    }
}

func umaskValue() -> mode_t {
    let old = umask(0)
    umask(old)
    return old
}
