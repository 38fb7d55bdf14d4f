// The in-memory tmpfs at /tmp: bash file operations, here-documents, python tempfile; compared with
// the same script run natively in a fresh host directory; writes to the root stay in the sandbox.
import Foundation
import Testing
import TestSupport

@Suite("Sentry tmpfs at /tmp")
struct TmpfsTests {
    static let script = """
    mkdir -p "$D/a/b" && cd "$D"
    echo hello > a/b/f
    echo more >> a/b/f
    cat a/b/f
    cat <<XX | wc -l
    one
    two
    XX
    ln -s a/b/f link
    cat link
    mv a/b/f a/g
    ls a
    ls -l a/g | cut -c1-10
    rm a/g; rmdir a/b
    ls -a a
    python3 -c "
    import tempfile
    with tempfile.NamedTemporaryFile(dir='$D') as f:
        f.write(b'abc'); f.flush(); print(open(f.name).read())
    "
    cd /; rm -r "$D"; echo done
    """

    @Test func fileOperationsMatchNative() throws {
        let dir = "/tmp/bulwark-tmpfs-\(UUID().uuidString.prefix(8))"
        let env = ["PATH=/usr/bin:/bin", "D=\(dir)"]
        let sandboxed = try Sentry.run(["/bin/bash", "-c", TmpfsTests.script], env: env)
        let native = try Sentry.native(["/bin/bash", "-c", TmpfsTests.script], env: env)
        #expect(!sandboxed.timedOut)
        #expect(native.stdout.hasSuffix("done\n"))
        #expect(sandboxed.stdout == native.stdout, "\(sandboxed)")
        // Nothing leaked to the host's /tmp.
        #expect(!FileManager.default.fileExists(atPath: dir))
    }

    @Test func scriptWrittenToTmpCanBeExecuted() throws {
        let script = "printf '#!/bin/busybox sh\\necho ran $1\\nexit 6\\n' > /tmp/s.sh; chmod +x /tmp/s.sh; /tmp/s.sh ok"
        let r = try Sentry.run(["/bin/busybox", "sh", "-c", script])
        #expect(r.stdout == "ran ok\n", "\(r)")
        #expect(r.exitCode == 6)
    }

    @Test func writesToTheRootStayInTheSandbox() throws {
        // The default overlay (--overlay2 root:self): the root is writable inside the sandbox,
        // the host's rootfs never changes.
        let name = "/etc/bulwark-overlay-\(UUID().uuidString.prefix(8))"
        let r = try Sentry.run(["/bin/busybox", "sh", "-c", "echo x > \(name) && cat \(name) && rm \(name) && ls \(name) || echo gone"])
        #expect(r.stdout == "x\ngone\n", "\(r)")
        #expect(!FileManager.default.fileExists(atPath: name))
    }
}
