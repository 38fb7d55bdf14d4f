// The record-lock table on its own: splitting on partial unlock, merging, conflicts between owners,
// and waits-for cycles. (Behaviour between real processes is compared with Linux in filelocks.c.)
import Glibc
import Testing
@testable import SentryKernel

// Serialized: the tests share the static table (FileLocks.records), and parallel tests writing one
// Dictionary crashed CI once (session 9).
@Suite("File lock table", .serialized)
struct FileLockTableTests {
    func ranges(_ k: FileKey, _ pid: Int32) -> [String] {
        (FileLocks.records[k] ?? []).filter { $0.owner.same(.process(pid)) }.sorted { $0.start < $1.start }
            .map { "\($0.write ? "W" : "R")\($0.start)-\($0.end == Int.max ? "eof" : String($0.end))" }
    }

    @Test func unlockInTheMiddleSplitsAndRelockMerges() {
        let k = FileKey(dev: 0xfeed, ino: 1)
        defer { FileLocks.records[k] = nil }
        FileLocks.apply(k, .process(10), type: Int16(F_WRLCK), 0, 99)
        FileLocks.apply(k, .process(10), type: Int16(F_UNLCK), 40, 59)
        #expect(ranges(k, 10) == ["W0-39", "W60-99"])
        FileLocks.apply(k, .process(10), type: Int16(F_WRLCK), 40, 59)
        #expect(ranges(k, 10) == ["W0-99"])
        // A read lock inside a write lock converts that part only.
        FileLocks.apply(k, .process(10), type: Int16(F_RDLCK), 10, 19)
        #expect(ranges(k, 10) == ["W0-9", "R10-19", "W20-99"])
        FileLocks.apply(k, .process(10), type: Int16(F_UNLCK), 0, Int.max)
        #expect(FileLocks.records[k] == nil)
    }

    @Test func conflictsAreBetweenOwnersAndNeedAWriter() {
        let k = FileKey(dev: 0xfeed, ino: 2)
        defer { FileLocks.records[k] = nil }
        FileLocks.apply(k, .process(1), type: Int16(F_RDLCK), 0, Int.max)
        #expect(FileLocks.conflict(k, .process(2), write: false, 5, 5) == nil)
        #expect(FileLocks.conflict(k, .process(2), write: true, 5, 5) != nil)
        #expect(FileLocks.conflict(k, .process(1), write: true, 5, 5) == nil)   // own locks never conflict
        FileLocks.apply(k, .process(2), type: Int16(F_RDLCK), 0, 9)
        #expect(ranges(k, 1) == ["R0-eof"] && ranges(k, 2) == ["R0-9"])
    }

    @Test func waitsForCyclesAreDeadlocks() {
        FileLocks.waitingFor[900] = 901
        FileLocks.waitingFor[901] = 902
        defer { FileLocks.waitingFor[900] = nil; FileLocks.waitingFor[901] = nil }
        #expect(FileLocks.wouldDeadlock(902, 900))
        #expect(!FileLocks.wouldDeadlock(903, 900))
    }
}
