// The temporary bootstrap file system never lets a path escape --rootfs, is read-only, and layers
// the in-memory /tmp over it.
import Foundation
import Glibc
import Testing
import TestSupport
@testable import SentryKernel

@Suite("Bootstrap file system confinement")
struct BootstrapFSTests {
    @Test func symlinksAndDotDotStayInsideTheRoot() throws {
        try TestPaths.withScratchDirectory("bulwark-rootfs") { dir in
            let root = dir.path
            try FileManager.default.createDirectory(atPath: root + "/etc", withIntermediateDirectories: true)
            try "inside\n".write(toFile: root + "/etc/hostname", atomically: true, encoding: .utf8)
            try FileManager.default.createSymbolicLink(atPath: root + "/abs", withDestinationPath: "/etc")
            try FileManager.default.createSymbolicLink(atPath: root + "/up", withDestinationPath: "../../../../..")
            let fs = try #require(BootstrapHostFS(rootfs: root))

            // An absolute symlink resolves inside the root: /abs/hostname is the rootfs's own file.
            let fd = fs.openHost("/abs/hostname", flags: O_RDONLY)
            #expect(fd >= 0)
            var buf = [UInt8](repeating: 0, count: 16)
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, 16) }
            close(fd)
            #expect(String(decoding: buf[0..<max(n, 0)], as: UTF8.self) == "inside\n")

            // ".." through a symlink stops at the root: /up/etc/hostname is still the rootfs's file,
            // and host-only paths do not exist.
            var st = stat()
            #expect(fs.stat("/up/etc/hostname", followLinks: true, &st) == 0)
            #expect(st.st_size == 7)
            #expect(fs.stat("/up/usr/bin", followLinks: true, &st) == -ENOENT)
            #expect(fs.stat("/../../usr", followLinks: true, &st) == -ENOENT)
        }
    }

    @Test func writesAreRefusedOutsideTmp() throws {
        let fs = try #require(BootstrapHostFS(rootfs: "/"))
        if case .failure(let e) = fs.open("/etc/hostname", flags: O_WRONLY) { #expect(e == EROFS) }
        else { Issue.record("write open succeeded") }
        if case .failure(let e) = fs.open("/etc/bulwark-new", flags: O_WRONLY | O_CREAT) { #expect(e == EROFS) }
        else { Issue.record("create succeeded") }
        // /tmp is the in-memory layer: creation works and is invisible on the host.
        let name = "/tmp/bulwark-unit-\(getpid())"
        if case .failure(let e) = fs.open(name, flags: O_WRONLY | O_CREAT, mode: 0o600) { Issue.record("tmpfs create failed: \(e)") }
        var st = stat()
        #expect(fs.stat(name, followLinks: true, &st) == 0)
        #expect(access(name, F_OK) != 0)
    }

    @Test func hostProcIsHidden() throws {
        let fs = try #require(BootstrapHostFS(rootfs: "/"))
        var st = stat()
        #expect(fs.stat("/proc/self/status", followLinks: true, &st) == -ENOENT)
        #expect(fs.openHost("/proc/1/environ", flags: O_RDONLY) == -ENOENT)
    }

    @Test func normalizeIsLexical() {
        #expect(BootstrapHostFS.normalize("/a/./b/../c//d/") == "/a/c/d")
        #expect(BootstrapHostFS.normalize("/../..") == "/")
    }
}
