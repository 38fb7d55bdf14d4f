// The syscall table is data: one entry per x86-64 number, each supported, partial (with a note), or
// unimplemented.
import LinuxABI
import Testing
@testable import SentryKernel

@Suite("Syscall table")
struct SyscallTableTests {
    @Test func hasAnEntryForEveryNumber() {
        #expect(SyscallTable.entries.count == SyscallNumber.count)
    }

    @Test func coreCallsAreSupported() {
        for call in [SyscallNumber.read, .write, .openat, .mmap, .clone, .execve, .wait4, .futex, .rt_sigaction] {
            #expect(SyscallTable.support(call.rawValue) != .unimplemented, "\(call)")
        }
    }

    @Test func partialEntriesCarryANote() {
        for e in SyscallTable.entries {
            if case .partial(let note) = e { #expect(!note.isEmpty) }
        }
        #expect(SyscallTable.support(-1) == .unimplemented)
        #expect(SyscallTable.support(100_000) == .unimplemented)
    }
}
