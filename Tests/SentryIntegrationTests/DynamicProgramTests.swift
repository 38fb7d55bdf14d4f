// Priority 4: dynamically linked programs (PT_INTERP, ld.so, shared libraries) on the same rootfs.
import Foundation
import Testing
import TestSupport

@Suite("Sentry runs dynamic programs")
struct DynamicProgramTests {
    @Test func lsLaRootMatchesNative() throws {
        let argv = ["/bin/ls", "-la", "/"]
        let sandboxed = try Sentry.run(argv)
        let native = try Sentry.native(argv)
        #expect(!sandboxed.timedOut)
        #expect(sandboxed.exitCode == 0)
        // /proc's link count follows the host's process count, which changes between the two runs.
        func stable(_ s: String) -> [String] { s.split(separator: "\n").map(String.init).filter { !$0.hasSuffix(" proc") } }
        #expect(stable(sandboxed.stdout) == stable(native.stdout))
        #expect(stable(sandboxed.stdout).count > 5)
    }

    @Test func bashPipelineAndSubshell() throws {
        let script = "echo start; (cd /etc && pwd; echo sub $((6*7))) | tr a-z A-Z; x=$(echo inner); echo $x; exit 5"
        let argv = ["/bin/bash", "-c", script]
        let sandboxed = try Sentry.run(argv)
        let native = try Sentry.native(argv)
        #expect(!sandboxed.timedOut)
        #expect(sandboxed.stdout == native.stdout)
        #expect(sandboxed.exitCode == 5)
    }
}
