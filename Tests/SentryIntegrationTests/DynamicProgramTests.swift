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
        // Lines that legitimately differ: /proc's link count follows the host's process count; the
        // sandbox has its own /dev (devfs), /sys and possibly tmpfs on /tmp; "total" sums blocks
        // including those. Column widths follow the widest link count, so compare
        // whitespace-normalized lines.
        func stable(_ s: String) -> [String] {
            s.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
                .filter { !$0.hasSuffix(" proc") && !$0.hasSuffix(" tmp") && !$0.hasSuffix(" dev") && !$0.hasSuffix(" sys") && !$0.hasPrefix("total ") }
        }
        #expect(stable(sandboxed.stdout) == stable(native.stdout))
        #expect(stable(sandboxed.stdout).count > 5)
        #expect(sandboxed.stdout.contains(" tmp\n"))
    }

    @Test func lsLaEtcMatchesNativeExactly() throws {
        let argv = ["/bin/ls", "-la", "--time-style=full-iso", "/etc"]
        let sandboxed = try Sentry.run(argv)
        let native = try Sentry.native(argv)
        #expect(!sandboxed.timedOut)
        #expect(sandboxed.exitCode == 0)
        #expect(sandboxed.stdout == native.stdout)
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
